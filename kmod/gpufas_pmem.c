// SPDX-License-Identifier: GPL-2.0
/*
 * gpufas_pmem — this machine's System RAM, for `gpufas --target host`.
 *
 * /dev/gpufas_pmem lets root mmap any page the kernel lists as "System RAM"
 * in /proc/iomem, at file offset = physical address. That is what /dev/mem
 * gives on a kernel built without CONFIG_STRICT_DEVMEM, and it is just as
 * powerful: whoever maps it reads all of RAM (keys, passwords, every
 * process's memory) and, with write=1, can change any of it, the kernel
 * included. This file is kept short so that it can be read in full before
 * it is loaded. What limits it:
 *
 *   - the node is 0600 root, and open() also wants CAP_SYS_RAWIO, the
 *     capability /dev/mem asks for;
 *   - only System RAM is mapped, never MMIO (a read of a device register
 *     can have side effects) nor holes or firmware areas: every page of a
 *     mapping must lie in System RAM;
 *   - read-only unless loaded with write=1, fixed for the module's life:
 *     a writable open is refused, so no shared mapping can become writable;
 *   - shared mappings only (a private one would copy-on-write RAM pages
 *     into anonymous memory: nothing gpufas needs);
 *   - no read(), write() or ioctl(): mmap is the one way in.
 *
 * Like /dev/mem it pins nothing: a mapping outlives RAM hot-removed under
 * it. Loading it twice fails: the module loader refuses a second module of
 * this name, and misc_register() a second device "gpufas_pmem" (a copy
 * built under another name).
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/ioport.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>

static bool write;
module_param(write, bool, 0444); /* 0444: cannot be changed once loaded */
MODULE_PARM_DESC(write, "allow writable mappings (default: read-only)");

static int pmem_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_RAWIO))
		return -EPERM;
	if ((file->f_mode & FMODE_WRITE) && !write)
		return -EACCES;
	return 0;
}

/* Called for each System RAM resource in the range, in address order and
 * clipped to it: *next is where the previous one ended, so a resource that
 * starts later means a gap, a page that is not RAM. */
static int contiguous(struct resource *res, void *arg)
{
	u64 *next = arg;

	if (res->start != *next)
		return 1;
	*next = res->end + 1;
	return 0;
}

static bool all_system_ram(u64 start, u64 size)
{
	u64 next = start;

	walk_iomem_res_desc(IORES_DESC_NONE,
			    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
			    start, start + size - 1, &next, contiguous);
	return next == start + size;
}

static int pmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	u64 start = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 size = vma->vm_end - vma->vm_start;

	if (!(vma->vm_flags & VM_MAYSHARE)) /* MAP_PRIVATE (VM_SHARED is */
		return -EINVAL;              /* dropped on read-only files) */
	if ((vma->vm_flags & VM_WRITE) && !write) /* open() already refused */
		return -EACCES;
	if (start >> PAGE_SHIFT != vma->vm_pgoff || start + size < start ||
	    !all_system_ram(start, size))
		return -EPERM;
	/* RAM keeps its own caching (write-back): vm_page_prot, as mmap made
	 * it; on x86 remap_pfn_range() matches it to the page's PAT type. */
	return remap_pfn_range(vma, vma->vm_start, vma->vm_pgoff, size,
			       vma->vm_page_prot);
}

static const struct file_operations pmem_fops = {
	.owner = THIS_MODULE,
	.open = pmem_open,
	.mmap = pmem_mmap,
};

static struct miscdevice pmem_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "gpufas_pmem",
	.fops = &pmem_fops,
	.mode = 0600,
};

static int __init pmem_init(void)
{
	int err = misc_register(&pmem_dev);

	if (!err) /* in the kernel log: who can read RAM, and how */
		pr_info("gpufas_pmem: System RAM mappable by root at /dev/%s (%s)\n",
			pmem_dev.name, write ? "read-write" : "read-only");
	return err;
}

static void __exit pmem_exit(void)
{
	misc_deregister(&pmem_dev);
}

module_init(pmem_init);
module_exit(pmem_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("System RAM for gpufas --target host, to root only");
