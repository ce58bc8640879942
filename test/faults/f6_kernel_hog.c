// SPDX-License-Identifier: GPL-2.0
/*
 * f6_kernel_hog: SHFH class F6, abnormal consumption of a resource (memory) by the kernel.
 *
 * Models a kernel memory leak, or a driver that takes memory much faster than it gives it
 * back. A kthread allocates pages 1 MiB at a time (alloc_page, GFP_KERNEL, no OOM killer),
 * writes every page, and holds them, until only `leave_mib` MiB of free memory are left or
 * `mib` MiB are held; then it holds them forever. rmmod frees them.
 *
 * Seen from outside: MemFree drops to about leave_mib; the memory is in no process and in no
 * /proc/meminfo field but MemTotal (no RSS anywhere, not in Slab: kernel pages), so killing
 * processes does not give it back. User processes that need memory then make the kernel
 * reclaim, swap out (pswpout) or OOM-kill.
 *
 * Parameters: delay_ms (default 500) before the first allocation; leave_mib (default 32) of
 * free memory left; mib (default 0: no cap) the most to take; mib_per_sec (default 0: as fast
 * as it can) the pace of a slow leak. Prints "f6: fault starts" (KERN_INFO) before the first
 * allocation and "f6: holding N MiB, M MiB free" once done.
 */
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>

static unsigned int delay_ms = 500;
module_param(delay_ms, uint, 0444);
MODULE_PARM_DESC(delay_ms, "milliseconds between insmod and the first allocation");
static unsigned int leave_mib = 32;
module_param(leave_mib, uint, 0444);
MODULE_PARM_DESC(leave_mib, "stop when free memory is down to this many MiB");
static unsigned int mib;
module_param(mib, uint, 0444);
MODULE_PARM_DESC(mib, "take at most this many MiB (0: no cap)");
static unsigned int mib_per_sec;
module_param(mib_per_sec, uint, 0444);
MODULE_PARM_DESC(mib_per_sec, "allocation pace in MiB/s (0: as fast as possible)");

#define PAGES_PER_MIB (SZ_1M / PAGE_SIZE)

static LIST_HEAD(pages);	/* every page held, linked through page->lru */
static unsigned long held_mib;
static struct task_struct *thread;

static unsigned long free_mib(void)
{
	struct sysinfo i;

	si_meminfo(&i);	/* freeram in pages */
	return i.freeram >> (20 - PAGE_SHIFT);
}

/* Takes 1 MiB more; false when the kernel has no more to give. */
static bool take_mib(void)
{
	unsigned long n;

	for (n = 0; n < PAGES_PER_MIB; n++) {
		struct page *page = alloc_page(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);

		if (!page)
			return false;
		memset(page_address(page), 0x5a, PAGE_SIZE);	/* touched: really in use */
		list_add(&page->lru, &pages);
	}
	return true;
}

static int hog(void *unused)
{
	unsigned long start;

	msleep(delay_ms);
	pr_info("f6: fault starts\n");
	start = jiffies;
	while (!kthread_should_stop() && (!mib || held_mib < mib) && free_mib() > leave_mib &&
	       take_mib()) {
		held_mib++;
		if (mib_per_sec) {	/* absolute deadlines: the pace does not drift */
			long left = start + held_mib * HZ / mib_per_sec - jiffies;

			if (left > 0)
				schedule_timeout_interruptible(left);
		}
		cond_resched();
	}
	pr_info("f6: holding %lu MiB, %lu MiB free\n", held_mib, free_mib());
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);	/* state S: no load, no iowait */
	return 0;
}

static int __init f6_init(void)
{
	thread = kthread_run(hog, NULL, "f6/hog");
	return PTR_ERR_OR_ZERO(thread);
}

static void __exit f6_exit(void)
{
	struct page *page, *next;

	kthread_stop(thread);
	list_for_each_entry_safe(page, next, &pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	pr_info("f6: freed %lu MiB\n", held_mib);
}

module_init(f6_init);
module_exit(f6_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SHFH F6: the kernel takes most of the free memory and holds it");
