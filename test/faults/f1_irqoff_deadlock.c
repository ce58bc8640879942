// SPDX-License-Identifier: GPL-2.0
/*
 * f1_irqoff_deadlock: SHFH class F1, an infinite loop with interrupts disabled.
 *
 * Models a spinlock deadlock that takes every CPU: one CPU takes a lock with interrupts off and
 * then takes it again (an AA deadlock, e.g. a function called with the lock already held), and
 * every other CPU then wants the same lock with interrupts off. One kthread bound per online
 * CPU does spin_lock_irq(&lock); spin_lock(&lock): whichever gets the lock first deadlocks on
 * itself, the others spin on the lock it holds.
 *
 * Seen from outside: every vCPU spins in the queued-spinlock slow path with IF=0; no timer
 * interrupt is taken anywhere, so jiffies stop, user/system/idle times and context-switch
 * counts freeze, the serial console stops answering. No watchdog can report it (no NMI
 * watchdog under QEMU TCG). Not unloadable.
 *
 * Parameter: delay_ms (default 500), the wait between insmod and the fault, so that insmod
 * returns first. "f1: fault starts" is printed (KERN_INFO) right before.
 */
#include <linux/atomic.h>
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
static DEFINE_PER_CPU(struct task_struct *, thread);
static unsigned int nthreads;
static atomic_t arrived = ATOMIC_INIT(0);

static int deadlock(void *arg)
{
	unsigned int cpu = (unsigned long)arg;

	msleep(delay_ms);
	if (cpu == cpumask_first(cpu_online_mask))
		pr_info("f1: fault starts\n");
	/*
	 * Meet every other CPU first, busy and with interrupts on: a CPU still asleep in msleep()
	 * might need a timer that a frozen CPU was to run (timer migration), and would stay idle.
	 */
	atomic_inc(&arrived);
	while (atomic_read(&arrived) < nthreads)
		cpu_relax();
	spin_lock_irq(&lock);	/* the first CPU here gets it... */
	spin_lock(&lock);	/* ...and takes it again: nobody ever unlocks */
	return 0;		/* not reached */
}

static int __init f1_init(void)
{
	unsigned int cpu;

	/* all threads created before any runs: on a failure none has started, all can stop */
	for_each_online_cpu(cpu) {
		struct task_struct *t = kthread_create(deadlock, (void *)(unsigned long)cpu,
						       "f1/%u", cpu);

		if (IS_ERR(t)) {
			for_each_possible_cpu(cpu)
				if (per_cpu(thread, cpu))
					kthread_stop(per_cpu(thread, cpu));
			return PTR_ERR(t);
		}
		kthread_bind(t, cpu);
		per_cpu(thread, cpu) = t;
		nthreads++;
	}
	for_each_possible_cpu(cpu)
		if (per_cpu(thread, cpu))
			wake_up_process(per_cpu(thread, cpu));
	return 0;
}
module_init(f1_init);	/* no module_exit: the fault is for good, the module stays */

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SHFH F1: spinlock deadlock with interrupts off on every CPU");
