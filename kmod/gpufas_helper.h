/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gpufas_helper.h — the mailbox of kmod/gpufas_helper.c, as the helper and
 * gpufas (helper.c, from outside the guest) both see it: the helper's
 * header, then a batch of slots, each a request gpufas writes and the
 * answer the helper writes back. Seven pages, virtually contiguous (module
 * memory), so gpufas translates each page on its own; the header and the
 * first slot lie in the first. x86-64 only: both sides are
 * little-endian with 8-byte alignment, and the stores of each side reach
 * the other in order (TSO).
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
#define GFH_VERSION 2  /* 2: a batch of requests; 1 had room for one */
#define GFH_SLOTS 1024 /* the GPUfas paper kills 1 000 processes at once */
#define GFH_SYMBOL "gpufas_helper_mailbox" /* the mailbox, among the module's symbols */
#define GFH_MODULE "gpufas_helper"

/* a slot's result */
enum gfh_result {
	GFH_NONE,      /* no answer yet */
	GFH_DONE,      /* signalled through the kernel's own path */
	GFH_NO_TASK,   /* no task has that pid */
	GFH_CHANGED,   /* a task has the pid, with another start time */
	GFH_REFUSED,   /* pid 1, a kernel thread, or a bad signal number */
};

/* One victim: gpufas's request, then the helper's answer. */
struct gfh_slot {
	gfh_u64 start_time; /* task_struct.start_time of the victim */
	gfh_s32 pid;        /* in the initial pid namespace */
	gfh_s32 sig;
	gfh_s32 result;     /* enum gfh_result */
	gfh_u32 pad;
};

struct gfh_mailbox {
	/* the helper's: written at load and again at every poll */
	gfh_u64 magic;      /* GFH_MAGIC */
	gfh_u64 self;       /* the mailbox's kernel virtual address */
	gfh_u32 version;    /* GFH_VERSION */
	gfh_u32 period_ms;  /* between polls, as the timer really waits */
	gfh_u32 hz;         /* the kernel's HZ: the unit of beat */
	gfh_u32 slots;      /* GFH_SLOTS */
	gfh_u64 beat;       /* jiffies_64 at the last poll */
	gfh_u64 polls;      /* polls since load */
	/* the batch: gpufas's; rq_seq written last, and only rq_seq says
	 * there is a new one */
	gfh_u64 rq_magic;   /* GFH_RQ_MAGIC: anything else is garbage */
	gfh_u32 rq_count;   /* slots in the batch: 1..GFH_SLOTS */
	gfh_u32 rq_seq;
	/* the helper's: every slot's result first, ans_seq last */
	gfh_u32 ans_seq;    /* the rq_seq answered */
	gfh_u32 pad;
	struct gfh_slot slot[GFH_SLOTS];
};

/* The header, up to the slots. */
#define GFH_HEADER_BYTES ((gfh_u32)__builtin_offsetof(struct gfh_mailbox, slot))

#endif
