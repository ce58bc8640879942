/* introspect.h — the reading primitives that introspect.c (tasks and
 * signals) and metrics.c (counters and the kernel log) share. Both files
 * are compiled for the CPU and, included by kernels.cu, for the GPU.
 */
#ifndef GPUFAS_INTROSPECT_H
#define GPUFAS_INTROSPECT_H

#include "gpufas.h"

#define TLB_ENTRIES 8

/* One walk's view of the kernel: the kernel plus its last page
 * translations. Lives on the stack for one call. */
struct reader {
	const struct gf_kernel *k;
	struct {
		uint64_t tag, pa;
		uint32_t shift; /* 0: empty */
	} tlb[TLB_ENTRIES];
	uint32_t next;
};

/* Reads memory that another party changes under us (the guest's RAM, a
 * mailbox): volatile, in the widest aligned units. */
GF_HD void copy_volatile(void *dst, const volatile uint8_t *src, uint32_t len);
GF_HD struct reader *reader_init(struct reader *r, const struct gf_kernel *k);
GF_HD int read_mem(struct reader *r, uint64_t va, void *dst, uint32_t len);
GF_HD int read_u64(struct reader *r, uint64_t va, uint64_t *v);
GF_HD int read_u32(struct reader *r, uint64_t va, uint32_t *v);

#endif
