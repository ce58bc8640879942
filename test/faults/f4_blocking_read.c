// SPDX-License-Identifier: GPL-2.0
/*
 * f4_blocking_read: SHFH class F4, an indefinite wait for a resource that is never released.
 *
 * Models a driver whose read() waits for I/O that never completes (a lost interrupt, a dead
 * device): /dev/f4_block (a misc device, mode 0444) has a read() that waits in
 * io_wait_event() for a condition nobody ever makes true. The reader sleeps uninterruptibly
 * in io_schedule(): state D, counted as iowait; not even SIGKILL ends it.
 *
 * Seen from outside: every process reading the device stays in state D forever; /proc/stat's
 * procs_blocked grows by one per reader; the idle time of each CPU on which a reader went to
 * sleep is counted as iowait; 120-240 s later (one to two hung_task_timeout_secs) the hung-task
 * detector prints "INFO: task cat:PID blocked for more than 120 seconds". The rest of the
 * system works: the fault takes as many processes as read the device, e.g.
 * `for i in $(seq 40); do cat /dev/f4_block & done`.
 *
 * No parameters. Each read prints "f4: fault starts: COMM (pid PID) blocks" (KERN_INFO).
 * rmmod works while nobody has the device open.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/wait.h>

static DECLARE_WAIT_QUEUE_HEAD(waiters);
static bool released;	/* the resource the readers wait for: nobody ever releases it */

static ssize_t f4_read(struct file *file, char __user *buf, size_t len, loff_t *pos)
{
	pr_info("f4: fault starts: %s (pid %d) blocks\n", current->comm, task_pid_nr(current));
	io_wait_event(waiters, READ_ONCE(released));
	return 0;	/* not reached */
}

static const struct file_operations f4_fops = {
	.owner = THIS_MODULE,	/* no rmmod while a reader holds the device open */
	.read = f4_read,
};

static struct miscdevice f4_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "f4_block",
	.fops = &f4_fops,
	.mode = 0444,
};
module_misc_device(f4_dev);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SHFH F4: /dev/f4_block, whose read() waits forever in D state (iowait)");
