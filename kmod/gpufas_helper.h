/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gpufas_helper.h — the mailbox page of kmod/gpufas_helper.c, as the helper
 * and gpufas (helper.c, from outside the guest) both see it. One page:
 * the helper's header, a request gpufas writes, the answer the helper
 * writes back. x86-64 only: both sides are little-endian with 8-byte
 * alignment, and the stores of each side reach the other in order (TSO).
 */
#ifndef GPUFAS_HELPER_H
#define GPUFAS_HELPER_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef u64 gfh_u64;
typedef u32 gfh_u32;
typedef s32 gfh_s32;
#else
#include <stdint.h>
typedef uint64_t gfh_u64;
typedef uint32_t gfh_u32;
typedef int32_t gfh_s32;
#endif

#define GFH_MAGIC 0x7366687361667067ull    /* "gpfashfs" */
#define GFH_RQ_MAGIC 0x7571657273616667ull /* "gfasrequ" */
#define GFH_VERSION 1
#define GFH_SYMBOL "gpufas_helper_mailbox" /* the page, in the module's symbols */
#define GFH_MODULE "gpufas_helper"

/* ans_result */
enum gfh_result {
	GFH_NONE,      /* no answer yet */
	GFH_DONE,      /* signalled through the kernel's own path */
	GFH_NO_TASK,   /* no task has that pid */
	GFH_CHANGED,   /* a task has the pid, with another start time */
	GFH_REFUSED,   /* pid 1, a kernel thread, or a bad signal number */
};

struct gfh_mailbox {
	/* the helper's: written at load and again at every poll */
	gfh_u64 magic;      /* GFH_MAGIC */
	gfh_u64 self;       /* this page's kernel virtual address */
	gfh_u32 version;    /* GFH_VERSION */
	gfh_u32 period_ms;  /* between polls, as the timer really waits */
	gfh_u32 hz;         /* the kernel's HZ: the unit of beat */
	gfh_u32 pad0;
	gfh_u64 beat;       /* jiffies_64 at the last poll */
	gfh_u64 polls;      /* polls since load */
	/* the request: gpufas's; rq_seq written last, and only rq_seq says
	 * there is a new one */
	gfh_u64 rq_magic;   /* GFH_RQ_MAGIC: anything else is garbage */
	gfh_u64 rq_start_time; /* task_struct.start_time of the victim */
	gfh_s32 rq_pid;     /* in the initial pid namespace */
	gfh_s32 rq_sig;
	gfh_u32 rq_seq;
	/* the answer: the helper's; ans_result first, ans_seq last */
	gfh_u32 ans_seq;    /* the rq_seq answered */
	gfh_s32 ans_result; /* enum gfh_result */
	gfh_u32 pad1;
};

#endif
