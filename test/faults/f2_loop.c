// SPDX-License-Identifier: GPL-2.0
/*
 * f2_loop: SHFH class F2, an infinite loop in the kernel with interrupts and preemption on.
 *
 * Models a kernel path that never finishes but stays polite, e.g. a driver polling forever for
 * a hardware state that never comes, with cond_resched() in its loop. One kthread bound per
 * online CPU loops forever; cond_resched() each iteration is a preemption point, so other
 * tasks still get their share of the CPUs.
 *
 * Seen from outside: system time near 100 % on every CPU when nothing else runs, user time
 * low; ticks, jiffies and context switches go on; the shell still answers (sharing the CPUs
 * with the loops). rmmod stops the loops.
 *
 * Parameter: delay_ms (default 500), the wait between insmod and the fault. "f2: fault
 * starts" is printed (KERN_INFO) right before.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched.h>

static unsigned int delay_ms = 500;
module_param(delay_ms, uint, 0444);
MODULE_PARM_DESC(delay_ms, "milliseconds between insmod and the fault");

static DEFINE_PER_CPU(struct task_struct *, thread);

static int loop(void *arg)
{
	unsigned int cpu = (unsigned long)arg;

	msleep(delay_ms);
	if (cpu == cpumask_first(cpu_online_mask))
		pr_info("f2: fault starts\n");
	while (!kthread_should_stop()) {
		cpu_relax();
		cond_resched();	/* a preemption point: others still run */
	}
	return 0;
}

static void stop_all(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		if (per_cpu(thread, cpu))
			kthread_stop(per_cpu(thread, cpu));
		per_cpu(thread, cpu) = NULL;
	}
}

static int __init f2_init(void)
{
	unsigned int cpu;

	for_each_online_cpu(cpu) {
		struct task_struct *t = kthread_create(loop, (void *)(unsigned long)cpu,
						       "f2/%u", cpu);

		if (IS_ERR(t)) {
			stop_all();
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

static void __exit f2_exit(void)
{
	stop_all();
	pr_info("f2: loops stopped\n");
}

module_init(f2_init);
module_exit(f2_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SHFH F2: kernel loop on every CPU, interrupts and preemption on");
