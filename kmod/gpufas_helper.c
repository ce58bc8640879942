// SPDX-License-Identifier: GPL-2.0
/*
 * gpufas_helper — the minimal in-OS recovery helper of gpufas.
 *
 * gpufas repairs a guest from outside by writing its memory, and a memory
 * write cannot wake a sleeping task: a pseudo-signal reaches a process
 * asleep in read() or nanosleep() only when it next wakes. This module lets
 * gpufas ask the kernel itself instead. It owns its mailbox
 * (gpufas_helper.h), a few pages, and looks at it every period_ms from
 * delayed work. A batch holds up to GFH_SLOTS requests, each a pid, that
 * task's start time and a signal; the helper looks each task up again and
 * sends the signal with send_sig_info(), the path kill(2) takes, which
 * wakes the task wherever it sleeps interruptibly or killably. The answers
 * (done, no such task, task changed, refused) go back into the mailbox,
 * the whole batch in one poll.
 *
 * What limits it:
 *   - it never signals pid 1 nor a kernel thread, nor a task whose start
 *     time differs from the request's (the pid was reused), nor with a
 *     signal number outside 1.._NSIG;
 *   - the mailbox is kernel memory with no file, ioctl or mapping: nothing in
 *     user space can reach it. Who can write the guest's RAM from outside
 *     (the hypervisor, gpufas) can post requests; they could write any
 *     kernel memory anyway;
 *   - a batch without the request magic, or with no requests or more than
 *     GFH_SLOTS, is garbage: ignored, and said once in the kernel log.
 *
 * gpufas finds the mailbox from outside as the module's symbol GFH_SYMBOL
 * (helper.c). Exporting it makes loading twice fail: the module loader
 * refuses a second module of this name, and a copy built under another
 * name for exporting a symbol that this one already exports.
 */
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/workqueue.h>

#include "gpufas_helper.h"

static unsigned int period_ms = 4; /* one jiffy at HZ=250: every 8 ms */
module_param(period_ms, uint, 0444); /* 0444: fixed once loaded */
MODULE_PARM_DESC(period_ms, "delay between looks at the mailbox, in ms (default 4)");

union gfh_pages {
	struct gfh_mailbox mb;
	u8 bytes[PAGE_ALIGN(sizeof(struct gfh_mailbox))];
};

/* pages of its own, page-aligned: what gpufas reads and writes */
union gfh_pages gpufas_helper_mailbox __aligned(PAGE_SIZE);
EXPORT_SYMBOL_GPL(gpufas_helper_mailbox);

static unsigned long period; /* in jiffies */
static unsigned int every_ms; /* what the helper really waits, below */
static u32 last_seq;         /* the last rq_seq looked at */
static bool garbage_said;
static void poll_mailbox(struct work_struct *work);
static DECLARE_DELAYED_WORK(poll_work, poll_mailbox);

/* The task with this pid in the initial namespace, with a reference. */
static struct task_struct *task_of(pid_t pid)
{
	struct task_struct *t;

	rcu_read_lock();
	t = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID);
	if (t)
		get_task_struct(t);
	rcu_read_unlock();
	return t;
}

/* Carries out one request of the batch; returns its answer. */
static int carry_out(const struct gfh_slot *rq)
{
	pid_t pid = READ_ONCE(rq->pid);
	int sig = READ_ONCE(rq->sig);
	u64 start_time = READ_ONCE(rq->start_time);
	struct task_struct *t;
	int result;

	if (pid <= 1 || sig < 1 || sig > _NSIG)
		return GFH_REFUSED;
	t = task_of(pid);
	if (!t)
		return GFH_NO_TASK;
	if ((t->flags & PF_KTHREAD) || is_global_init(t))
		result = GFH_REFUSED;
	else if (t->start_time != start_time)
		result = GFH_CHANGED;
	else /* SEND_SIG_PRIV: from the kernel, as the OOM killer sends */
		result = send_sig_info(sig, SEND_SIG_PRIV, t) ? GFH_NO_TASK : GFH_DONE;
	put_task_struct(t);
	return result;
}

/* The header, rewritten at every poll: garbage written over it is gone
 * by the next one, and beat tells gpufas the helper still runs. */
static void write_header(struct gfh_mailbox *mb)
{
	WRITE_ONCE(mb->magic, GFH_MAGIC);
	WRITE_ONCE(mb->self, (u64)(unsigned long)mb);
	WRITE_ONCE(mb->version, GFH_VERSION);
	WRITE_ONCE(mb->period_ms, every_ms);
	WRITE_ONCE(mb->hz, HZ);
	WRITE_ONCE(mb->slots, GFH_SLOTS);
	WRITE_ONCE(mb->polls, mb->polls + 1);
	WRITE_ONCE(mb->beat, get_jiffies_64());
}

/* Answers batch seq: every slot's result, then ans_seq. */
static void answer_batch(struct gfh_mailbox *mb, u32 seq)
{
	u32 count = READ_ONCE(mb->rq_count), i;

	if (READ_ONCE(mb->rq_magic) != GFH_RQ_MAGIC || !count || count > GFH_SLOTS) {
		if (!garbage_said)
			pr_warn("gpufas_helper: garbage in the mailbox ignored "
				"(said once)\n");
		garbage_said = true;
		return;
	}
	for (i = 0; i < count; i++)
		WRITE_ONCE(mb->slot[i].result, carry_out(&mb->slot[i]));
	smp_wmb(); /* the answers before the sequence number */
	WRITE_ONCE(mb->ans_seq, seq);
}

static void poll_mailbox(struct work_struct *work)
{
	struct gfh_mailbox *mb = &gpufas_helper_mailbox.mb;
	u32 seq = READ_ONCE(mb->rq_seq);

	write_header(mb);
	if (seq != last_seq) {
		last_seq = seq;
		smp_rmb(); /* the batch was written before rq_seq */
		answer_batch(mb, seq);
	}
	schedule_delayed_work(&poll_work, period);
}

static int __init helper_init(void)
{
	period = msecs_to_jiffies(period_ms ? period_ms : 1);
	/* A timer of n jiffies fires after n + 1 ticks: the timer wheel rounds
	 * its expiry up by its granularity, one jiffy at the first level, so
	 * that it never fires early (calc_index() in kernel/time/timer.c, the
	 * non-cascading wheel of 4.8 on). Seen on 6.1 and 6.12: 125 polls a
	 * second at HZ=250 with period = 1. */
	every_ms = jiffies_to_msecs(period + 1);
	write_header(&gpufas_helper_mailbox.mb);
	schedule_delayed_work(&poll_work, period);
	pr_info("gpufas_helper: mailbox polled every %u ms\n", every_ms);
	return 0;
}

static void __exit helper_exit(void)
{
	cancel_delayed_work_sync(&poll_work);
	/* a gpufas that still looks finds no magic, and no beat */
	WRITE_ONCE(gpufas_helper_mailbox.mb.magic, 0);
}

module_init(helper_init);
module_exit(helper_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpufas's in-OS recovery helper: signals through the kernel's own path");
