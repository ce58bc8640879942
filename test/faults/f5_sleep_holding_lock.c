// SPDX-License-Identifier: GPL-2.0
/*
 * f5_sleep_holding_lock: SHFH class F5, a wait while holding a lock that every CPU then needs.
 *
 * Models code that takes a spinlock and then sleeps (a blocking call made under the lock).
 * One kthread, "f5/holder", takes the lock and sleeps in an msleep() loop, never unlocking;
 * the kernel flags its first sleep with "BUG: scheduling while atomic: f5/holder/...".
 * Then one kthread bound per online CPU takes the same lock with spin_lock() (preemption off)
 * and spins: once every CPU spins, nothing can be scheduled any more, not even the holder.
 *
 * Seen from outside: "scheduling while atomic" on the console; then every CPU spins in the
 * spinlock slow path with interrupts on: ticks and jiffies go on, system time 100 %, context
 * switches stop, the shell stops answering; after about 21 s RCU stall reports, after 20-50 s
 * soft-lockup reports. Not unloadable.
 *
 * Parameter: delay_ms (default 500), the wait between insmod and the holder taking the lock.
 * "f5: fault starts" is printed (KERN_INFO) right after the lock is taken, before the sleep.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>

static unsigned int delay_ms = 500;
module_param(delay_ms, uint, 0444);
MODULE_PARM_DESC(delay_ms, "milliseconds between insmod and the fault");

static DEFINE_SPINLOCK(lock);
static bool held;	/* set once the holder has the lock */
static struct task_struct *holder_thread;
static DEFINE_PER_CPU(struct task_struct *, waiter_thread);

static int holder(void *unused)
{
	msleep(delay_ms);
	spin_lock(&lock);
	pr_info("f5: fault starts\n");
	WRITE_ONCE(held, true);
	for (;;)
		msleep(100);	/* sleeping with a spinlock held: never unlocks */
	return 0;		/* not reached */
}

static int waiter(void *unused)
{
	while (!READ_ONCE(held))
		msleep(10);
	spin_lock(&lock);	/* preemption off; spins forever */
	return 0;		/* not reached */
}

static void stop_all(void)
{
	unsigned int cpu;

	if (holder_thread)
		kthread_stop(holder_thread);
	for_each_possible_cpu(cpu)
		if (per_cpu(waiter_thread, cpu))
			kthread_stop(per_cpu(waiter_thread, cpu));
}

static int __init f5_init(void)
{
	unsigned int cpu;

	/* all threads created before any runs: on a failure none has started, all can stop */
	holder_thread = kthread_create(holder, NULL, "f5/holder");
	if (IS_ERR(holder_thread)) {
		int err = PTR_ERR(holder_thread);

		holder_thread = NULL;
		return err;
	}
	for_each_online_cpu(cpu) {
		struct task_struct *t = kthread_create(waiter, NULL, "f5/%u", cpu);

		if (IS_ERR(t)) {
			stop_all();
			return PTR_ERR(t);
		}
		kthread_bind(t, cpu);
		per_cpu(waiter_thread, cpu) = t;
	}
	wake_up_process(holder_thread);
	for_each_possible_cpu(cpu)
		if (per_cpu(waiter_thread, cpu))
			wake_up_process(per_cpu(waiter_thread, cpu));
	return 0;
}
module_init(f5_init);	/* no module_exit: the fault is for good, the module stays */

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SHFH F5: sleep while holding a spinlock that every CPU then spins on");
