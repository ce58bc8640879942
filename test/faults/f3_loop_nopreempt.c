// SPDX-License-Identifier: GPL-2.0
/*
 * f3_loop_nopreempt: SHFH class F3, an infinite loop in the kernel with preemption off.
 *
 * Models a kernel path stuck in a loop inside a preempt-disabled section (e.g. under a
 * spinlock, or a per-CPU critical section) with no way out. One kthread bound per online CPU
 * does preempt_disable() and loops forever, with interrupts on.
 *
 * Seen from outside: ticks and jiffies go on, system time 100 % on every CPU, but no CPU ever
 * schedules again: context switches stop, user tasks never run, the shell stops answering.
 * About 21 s later (guest time) "rcu: INFO: rcu_preempt self-detected stall on CPU", and
 * 20-50 s after the onset "watchdog: BUG: soft lockup - CPU#N stuck for NNs!". Not
 * unloadable.
 *
 * Parameter: delay_ms (default 500), the wait between insmod and the fault. "f3: fault
 * starts" is printed (KERN_INFO) right before.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/preempt.h>

static unsigned int delay_ms = 500;
module_param(delay_ms, uint, 0444);
MODULE_PARM_DESC(delay_ms, "milliseconds between insmod and the fault");

static DEFINE_PER_CPU(struct task_struct *, thread);

static int loop(void *arg)
{
	unsigned int cpu = (unsigned long)arg;

	msleep(delay_ms);
	if (cpu == cpumask_first(cpu_online_mask))
		pr_info("f3: fault starts\n");
	preempt_disable();
	for (;;)
		cpu_relax();	/* no preemption point: this CPU never schedules again */
	return 0;
}

static int __init f3_init(void)
{
	unsigned int cpu;

	/* all threads created before any runs: on a failure none has started, all can stop */
	for_each_online_cpu(cpu) {
		struct task_struct *t = kthread_create(loop, (void *)(unsigned long)cpu,
						       "f3/%u", cpu);

		if (IS_ERR(t)) {
			for_each_possible_cpu(cpu)
				if (per_cpu(thread, cpu))
					kthread_stop(per_cpu(thread, cpu));
			return PTR_ERR(t);
		}
		kthread_bind(t, cpu);
		per_cpu(thread, cpu) = t;
	}
	for_each_possible_cpu(cpu)
		if (per_cpu(thread, cpu))
			wake_up_process(per_cpu(thread, cpu));
	return 0;
}
module_init(f3_init);	/* no module_exit: the fault is for good, the module stays */

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SHFH F3: kernel loop with preemption off on every CPU");
