/* introspect.c — reading and writing a Linux kernel's data in guest RAM.
 *
 * This is the one implementation of the introspection logic: gcc builds it
 * for the CPU engine, and kernels.cu #includes it for the GPU engine. So it
 * uses no libc, no recursion and no host-only types: only struct gf_kernel.
 *
 * Guest memory is untrusted and live. Every address is translated and
 * bounds-checked, every list walk is bounded and checks its back links, and
 * nothing read is cached from one call to the next.
 */

#include "core.h"
#include "gang.h"
#include "gpufas.h"
#include "helper.h"
#include "introspect.h"
#include "kmod/gpufas_helper.h"

#define PAGE_SIZE 4096ull
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PTE_PRESENT 0x1ull
#define PTE_LARGE 0x80ull /* PS bit: 1 GiB page at level 3, 2 MiB at 2 */

/* Bounds for walking lists in guest memory: no list of a kernel's tasks
 * is longer than GF_MAX_TASKS, so a longer one means a cycle; and for a
 * whole walk, whose processes may each pass that bound and still add up
 * to 2^44 hops (a hostile guest's lists sharing one thread list): a walk
 * makes a hop per thread and two more per process. */
#define MAX_PROCESSES GF_MAX_TASKS
#define MAX_THREADS_PER_PROCESS GF_MAX_TASKS
#define MAX_WALK_HOPS (3u * GF_MAX_TASKS)

/* Flag and state values from include/linux/sched.h: the same from 4.14 to
 * 6.12, but for TASK_RTLOCK_WAIT (5.15) and TASK_FROZEN (6.1), which
 * older kernels never set. */
#define PF_KTHREAD 0x00200000u
#define TASK_REPORT 0x7fu
#define TASK_UNINTERRUPTIBLE 0x2u
#define TASK_IDLE 0x402u
#define TASK_RTLOCK_WAIT 0x1000u
#define TASK_FROZEN 0x8000u
#define SIGNAL_GROUP_EXIT 0x4u
#define SIGKILL 9

/* Reads from RAM that the guest changes under us: volatile, so a compiler
 * never merges or hoists them, on the host or on the GPU. Each step takes
 * the widest naturally aligned unit it can: from a GPU every load is a
 * PCIe round trip, and a 4-byte field must not cost four. */
GF_HD void gf_copy_volatile(void *dst, const volatile uint8_t *src,
				uint32_t len)
{
	uint8_t *d = (uint8_t *)dst;

	for (uint32_t i = 0; i < len;) {
		uintptr_t align = (uintptr_t)(src + i) | (uintptr_t)(d + i);
		uint32_t left = len - i;

		if (!(align & 7) && left >= 8) {
			*(uint64_t *)(d + i) = *(const volatile uint64_t *)(src + i);
			i += 8;
		} else if (!(align & 3) && left >= 4) {
			*(uint32_t *)(d + i) = *(const volatile uint32_t *)(src + i);
			i += 4;
		} else if (!(align & 1) && left >= 2) {
			*(uint16_t *)(d + i) = *(const volatile uint16_t *)(src + i);
			i += 2;
		} else {
			d[i] = src[i];
			i++;
		}
	}
}

GF_HD volatile uint8_t *gf_phys_ptr(const struct gf_mem *m, uint64_t pa,
				     uint32_t len)
{
	for (uint32_t i = 0; i < m->nranges && i < GF_MAX_RANGES; i++) {
		const struct gf_range *r = &m->range[i];
		if (pa >= r->phys && pa - r->phys < r->size &&
		    len <= r->size - (pa - r->phys))
			return r->base + (pa - r->phys);
	}
	return 0;
}

GF_HD int gf_phys_read(const struct gf_mem *m, uint64_t pa, void *dst,
		       uint32_t len)
{
	volatile uint8_t *p;

#ifndef __CUDA_ARCH__
	if (m->read) /* RAM that cannot be mapped, read with pread (host only) */
		return m->read(m, pa, dst, len);
#endif
	if (!(p = gf_phys_ptr(m, pa, len)))
		return GF_EFAULT;
	gf_copy_volatile(dst, p, len);
	return GF_OK;
}

/* Walks the page tables from cr3; *shift is the page's size (12, 21, 30). */
GF_HD static int walk_page_tables(const struct gf_kernel *k, uint64_t va,
				  uint64_t *pa, uint32_t *shift)
{
	uint64_t table = k->lay.cr3 & PAGE_MASK;
	uint32_t levels = k->lay.pt_levels == 5 ? 5 : 4;
	uint32_t unused = levels == 5 ? 7 : 16; /* bits above the top index */

	/* a non-canonical address faults on x86: bits 63..47 (56) agree */
	if ((uint64_t)((int64_t)(va << unused) >> unused) != va)
		return GF_EFAULT;
	for (uint32_t level = levels; level >= 1; level--) {
		uint64_t entry;

		*shift = 12 + 9 * (level - 1);
		if (gf_phys_read(&k->mem, table + ((va >> *shift) & 511) * 8,
				 &entry, 8))
			return GF_EFAULT;
		if (!(entry & PTE_PRESENT))
			return GF_EFAULT;
		if ((level == 3 || level == 2) && (entry & PTE_LARGE)) {
			uint64_t off = va & ((1ull << *shift) - 1);
			*pa = (entry & k->lay.pte_mask & ~((1ull << *shift) - 1)) + off;
			return GF_OK;
		}
		table = entry & k->lay.pte_mask;
	}
	*pa = table | (va & ~PAGE_MASK);
	return GF_OK;
}

GF_HD int gf_virt_to_phys(const struct gf_kernel *k, uint64_t va,
			  uint64_t *pa)
{
	uint32_t shift;

	return walk_page_tables(k, va, pa, &shift);
}

/* A walk reads through a struct reader (introspect.h), which keeps the
 * last few page translations: a walk touches the same slab and per-CPU
 * pages over and over, and each page-table level costs a dependent read
 * (a PCIe round trip from a GPU). Memory itself is never cached;
 * translations live only as long as the walk. */
GF_HD struct reader *gf_reader_init(struct reader *r,
					const struct gf_kernel *k)
{
	r->k = k;
	r->next = 0;
	for (int i = 0; i < TLB_ENTRIES; i++)
		r->tlb[i].shift = 0;
	return r;
}

GF_HD_OUTLINE static int translate(struct reader *r, uint64_t va, uint64_t *pa)
{
	uint32_t shift;
	int err;

	for (int i = 0; i < TLB_ENTRIES; i++)
		if (r->tlb[i].shift && va >> r->tlb[i].shift == r->tlb[i].tag) {
			*pa = r->tlb[i].pa + (va & ((1ull << r->tlb[i].shift) - 1));
			return GF_OK;
		}
	if ((err = walk_page_tables(r->k, va, pa, &shift)))
		return err;
	r->tlb[r->next].tag = va >> shift;
	r->tlb[r->next].pa = *pa & ~((1ull << shift) - 1);
	r->tlb[r->next].shift = shift;
	r->next = (r->next + 1) % TLB_ENTRIES;
	return GF_OK;
}

/* Translates page by page, since virtually contiguous memory (vmalloc,
 * per-CPU areas) need not be physically contiguous. */
GF_HD_OUTLINE int gf_read_mem(struct reader *r, uint64_t va, void *dst,
			  uint32_t len)
{
	uint8_t *d = (uint8_t *)dst;

	if (va + len < va)
		return GF_EFAULT;
	while (len) {
		uint64_t pa;
		uint32_t chunk = (uint32_t)(PAGE_SIZE - (va & ~PAGE_MASK));
		int err;

		if (chunk > len)
			chunk = len;
		if ((err = translate(r, va, &pa)) ||
		    (err = gf_phys_read(&r->k->mem, pa, d, chunk)))
			return err;
		va += chunk;
		d += chunk;
		len -= chunk;
	}
	return GF_OK;
}

/* One read with no walk around it (discovery uses it). */
GF_HD int gf_read(const struct gf_kernel *k, uint64_t va, void *dst,
		  uint32_t len)
{
	struct reader r;

	return gf_read_mem(gf_reader_init(&r, k), va, dst, len);
}

GF_HD int gf_read_u64(struct reader *r, uint64_t va, uint64_t *v)
{
	return gf_read_mem(r, va, v, 8);
}

GF_HD int gf_read_u32(struct reader *r, uint64_t va, uint32_t *v)
{
	return gf_read_mem(r, va, v, 4);
}

/* Writes go through an atomic OR or a plain store of naturally aligned
 * words, so the guest's CPUs never see a torn value. */
GF_HD static int phys_or64(struct reader *r, uint64_t va,
			   uint64_t bits)
{
	uint64_t pa;
	volatile uint8_t *p;

	if (!r->k->writable || (va & 7))
		return GF_EINVAL;
	if (translate(r, va, &pa) || !(p = gf_phys_ptr(&r->k->mem, pa, 8)))
		return GF_EFAULT;
#ifdef __CUDA_ARCH__
	atomicOr_system((unsigned long long *)p, (unsigned long long)bits);
#else
	__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_SEQ_CST);
#endif
	return GF_OK;
}

/* Orders this processor's stores to the guest's RAM, as its CPUs see
 * them. */
GF_HD static void fence_system(void)
{
#ifdef __CUDA_ARCH__
	__threadfence_system();
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

GF_HD static int store_u32(struct reader *r, uint64_t va,
			   uint32_t v)
{
	uint64_t pa;
	volatile uint8_t *p;

	if (!r->k->writable || (va & 3))
		return GF_EINVAL;
	if (translate(r, va, &pa) || !(p = gf_phys_ptr(&r->k->mem, pa, 4)))
		return GF_EFAULT;
	*(volatile uint32_t *)p = v;
	fence_system();
	return GF_OK;
}

/* A struct list_head's next, checked against the back link the way
 * CONFIG_DEBUG_LIST does: next->prev must point at us. */
GF_HD static int list_next(struct reader *r, uint64_t node,
			   uint64_t *next)
{
	uint64_t back;
	int err;

	if ((err = gf_read_u64(r, node, next)) || (err = gf_read_u64(r, *next + 8, &back)))
		return err;
	return back == node ? GF_OK : GF_ECORRUPT;
}

/* A bounded walk of a circular kernel list: a list longer than `max` is a
 * cycle that does not pass through its head, i.e. corrupted. */
struct list_iter {
	uint64_t head, node;
	uint32_t seen, max;
};

GF_HD static struct list_iter list_iter(uint64_t head, uint32_t max)
{
	struct list_iter it = { head, head, 0, max };
	return it;
}

/* Yields the next node: 1 with *node set, 0 at the end, or an error. */
GF_HD static int list_step(struct reader *r, struct list_iter *it,
			   uint64_t *node)
{
	int err;

	if ((err = list_next(r, it->node, &it->node)))
		return err;
	if (it->node == it->head)
		return 0;
	if (++it->seen > it->max)
		return GF_ECORRUPT;
	*node = it->node;
	return 1;
}

/* The letter ps shows, as the kernel's __task_state_index() computes it:
 * idle kernel threads as I, frozen and rtlock-waiting tasks as D. */
GF_HD static char state_letter(uint32_t state, uint32_t exit_state)
{
	const char letters[] = "RSDTtXZPI";
	uint32_t s = (state | exit_state) & TASK_REPORT;
	uint32_t idx = 0;

	if ((state & TASK_IDLE) == TASK_IDLE)
		s = TASK_REPORT + 1;
	if (state & (TASK_RTLOCK_WAIT | TASK_FROZEN))
		s = TASK_UNINTERRUPTIBLE;
	while (s) {
		idx++;
		s >>= 1;
	}
	return letters[idx < 9 ? idx : 0];
}

GF_HD static int read_counter(struct reader *r, uint64_t mm,
			      uint32_t idx, int64_t *value)
{
	const struct gf_layout *l = &r->k->lay;
	uint64_t base = mm + l->mm_rss_stat + (uint64_t)idx * l->rss_stride;
	uint64_t counters, off, sum;
	int32_t cpu_part;
	int err;

	if (!l->rss_percpu)
		return gf_read_u64(r, base, (uint64_t *)value);
	/* percpu_counter_sum(): the shared count plus every CPU's delta,
	 * summed unsigned: a hostile guest's counts wrap, never overflow */
	if ((err = gf_read_u64(r, base + l->pcpu_count, &sum)) ||
	    (err = gf_read_u64(r, base + l->pcpu_counters, &counters)))
		return err;
	for (uint32_t cpu = 0; cpu < l->nr_cpu_ids; cpu++) {
		if ((err = gf_read_u64(r, l->per_cpu_offset + 8ull * cpu, &off)) ||
		    (err = gf_read_mem(r, counters + off, &cpu_part, 4)))
			return err;
		sum += (uint64_t)(int64_t)cpu_part;
	}
	*value = (int64_t)sum;
	return GF_OK;
}

GF_HD static uint64_t rss_pages(struct reader *r, uint64_t mm)
{
	const uint32_t idx[3] = { r->k->lay.mm_filepages, r->k->lay.mm_anonpages,
				  r->k->lay.mm_shmempages };
	uint64_t total = 0; /* unsigned, as in read_counter */
	int64_t v;

	if (!mm)
		return 0;
	for (int i = 0; i < 3; i++)
		if (read_counter(r, mm, idx[i], &v) == GF_OK && v > 0)
			total += (uint64_t)v;
	return total;
}

/* Fills the per-thread part of a task record. */
GF_HD static int read_thread(struct reader *r, uint64_t task,
			     struct gf_task *t)
{
	const struct gf_layout *l = &r->k->lay;
	uint32_t state, exit_state, flags;
	int err;

	t->addr = task;
	if ((err = gf_read_mem(r, task + l->task_pid, &t->pid, 4)) ||
	    (err = gf_read_mem(r, task + l->task_tgid, &t->tgid, 4)) ||
	    (err = gf_read_u32(r, task + l->task_state, &state)) ||
	    (err = gf_read_u32(r, task + l->task_exit_state, &exit_state)) ||
	    (err = gf_read_u32(r, task + l->task_flags, &flags)) ||
	    (err = gf_read_u64(r, task + l->task_start_time, &t->start_time)) ||
	    (err = gf_read_u64(r, task + l->task_sum_exec_runtime, &t->cpu_ns)) ||
	    (err = gf_read_mem(r, task + l->task_comm, t->comm, GF_COMM_LEN)))
		return err;
	if (t->pid < 0 || t->tgid < 0)
		return GF_ECORRUPT;
	t->comm[GF_COMM_LEN - 1] = 0;
	t->state = state_letter(state, exit_state);
	t->kthread = (flags & PF_KTHREAD) != 0;
	return GF_OK;
}

/* Fills the process-wide part: parent, threads, resident memory, from
 * the leader `task` and its signal_struct. */
GF_HD static int read_group(struct reader *r, uint64_t task, uint64_t signal,
			    struct gf_task *t)
{
	const struct gf_layout *l = &r->k->lay;
	uint64_t parent, mm;
	int64_t swapped;
	int err;

	if ((err = gf_read_u64(r, task + l->task_real_parent, &parent)) ||
	    (err = gf_read_mem(r, parent + l->task_tgid, &t->ppid, 4)) ||
	    (err = gf_read_mem(r, signal + l->signal_nr_threads, &t->threads, 4)) ||
	    (err = gf_read_u64(r, task + l->task_mm, &mm)))
		return err;
	t->rss_pages = rss_pages(r, mm);
	t->swap_pages = 0;
	if (mm && l->has_metrics &&
	    read_counter(r, mm, l->mm_swapents, &swapped) == GF_OK && swapped > 0)
		t->swap_pages = (uint64_t)swapped;
	return GF_OK;
}

GF_HD static int read_process(struct reader *r, uint64_t task,
			      uint64_t *signal, struct gf_task *t)
{
	int err = gf_read_u64(r, task + r->k->lay.task_signal, signal);

	return err ? err : read_group(r, task, *signal, t);
}

GF_HD static struct list_iter process_iter(struct reader *r)
{
	return list_iter(r->k->lay.init_task + r->k->lay.task_tasks, MAX_PROCESSES);
}

GF_HD static struct list_iter thread_iter(struct reader *r,
					  uint64_t signal)
{
	return list_iter(signal + r->k->lay.signal_thread_head,
			 MAX_THREADS_PER_PROCESS);
}

/* ---- The walk (introspect.h): chase, gather, fold ---- */

GF_HD static void walk_start(struct gf_walk *w, const struct gf_kernel *k,
			     int threads, struct gf_task *out, uint32_t cap)
{
	w->k = k;
	gf_reader_init(&w->r, k);
	w->out = out;
	w->cap = cap;
	w->threads = threads;
	w->process_node = k->lay.init_task + k->lay.task_tasks;
	w->processes_seen = w->threads_seen = w->assigned = w->hops = 0;
	w->process = -1;
	w->in_threads = w->chased_all = 0;
	w->chase_err = GF_OK;
	w->n = 0;
	w->cpu_ns = 0;
	w->count = 0;
	w->rc = GF_OK;
	w->done = 0;
}

GF_HD static struct gf_hop *add_hop(struct gf_walk *w, uint32_t kind,
				    uint64_t node, uint64_t prev)
{
	struct gf_hop *h = &w->hop[w->n++];

	h->kind = kind;
	h->node = node;
	h->prev = prev;
	h->signal = 0;
	h->process = w->process;
	h->out = 0;
	h->err = GF_OK;
	return h;
}

/* The next hop along init_task's list: a process, or the end. */
GF_HD static int chase_process(struct gf_walk *w, struct reader *r)
{
	const struct gf_layout *l = &w->k->lay;
	uint64_t head = l->init_task + l->task_tasks, next;
	struct gf_hop *h;
	int err;

	if ((err = gf_read_u64(r, w->process_node, &next)))
		return err;
	if (next == head) {
		add_hop(w, GF_HOP_END, head, w->process_node);
		w->chased_all = 1;
		return GF_OK;
	}
	if (++w->processes_seen > MAX_PROCESSES)
		return GF_ECORRUPT;
	w->process = (int32_t)w->n;
	h = add_hop(w, GF_HOP_PROCESS, next, w->process_node);
	w->process_node = next;
	if ((err = gf_read_u64(r, next - l->task_tasks + l->task_signal, &h->signal)))
		return err;
	w->thread_head = w->thread_node = h->signal + l->signal_thread_head;
	w->threads_seen = 0;
	w->in_threads = 1;
	return GF_OK;
}

/* The next hop along the current process's thread list. A record is
 * given to each thread (threads) or to each process at its list's end. */
GF_HD static int chase_thread(struct gf_walk *w, struct reader *r)
{
	struct gf_hop *h;
	uint64_t next;
	int err;

	if ((err = gf_read_u64(r, w->thread_node, &next)))
		return err;
	if (next == w->thread_head) {
		if (!w->threads && w->assigned >= w->cap)
			return GF_ENOSPC;
		h = add_hop(w, GF_HOP_THREADS_END, next, w->thread_node);
		if (!w->threads)
			h->out = w->assigned++;
		w->in_threads = 0;
		return GF_OK;
	}
	if (++w->threads_seen > MAX_THREADS_PER_PROCESS)
		return GF_ECORRUPT;
	if (w->threads && w->assigned >= w->cap)
		return GF_ENOSPC;
	h = add_hop(w, GF_HOP_THREAD, next, w->thread_node);
	if (w->threads)
		h->out = w->assigned++;
	w->thread_node = next;
	return GF_OK;
}

/* Rank 0: the next chunk of hops. The pointers are only followed here;
 * whether they hold is the gather's to check. */
GF_HD static void chase(struct gf_walk *w)
{
	int err = GF_OK;

	w->n = 0;
	w->process = -1; /* a process going on from the last chunk: the fold's */
	while (!err && !w->chased_all && w->n < GF_WALK_CHUNK)
		err = ++w->hops > MAX_WALK_HOPS ? GF_ECORRUPT
		      : w->in_threads ? chase_thread(w, &w->r) : chase_process(w, &w->r);
	w->chase_err = err;
}

/* Any rank: hop i's back link and fields. A process's record takes the
 * time its exited threads left in signal_struct as cpu_ns; its live
 * threads' times are its thread hops'. */
GF_HD static void gather(struct gf_walk *w, struct reader *r, uint32_t i)
{
	const struct gf_layout *l = &w->k->lay;
	struct gf_hop *h = &w->hop[i];
	struct gf_task *t = &w->rec[i];
	uint64_t back;
	int err;

	if ((err = gf_read_u64(r, h->node + 8, &back)))
		goto out;
	if (back != h->prev) {
		err = GF_ECORRUPT;
		goto out;
	}
	if (h->kind == GF_HOP_PROCESS) {
		uint64_t task = h->node - l->task_tasks;
		if (!(err = read_thread(r, task, t)) &&
		    !(err = read_group(r, task, h->signal, t)))
			err = gf_read_u64(r, h->signal + l->signal_sum_sched_runtime,
				       &t->cpu_ns);
	} else if (h->kind == GF_HOP_THREAD) {
		err = read_thread(r, h->node - l->task_thread_node, t);
	}
out:
	h->err = err;
}

/* Any rank, after the gather: a thread belongs to its leader's group,
 * and (listing threads) its record is the leader's with its own fields. */
GF_HD static void emit(struct gf_walk *w, uint32_t i)
{
	struct gf_hop *h = &w->hop[i];
	const struct gf_task *t = &w->rec[i], *leader;

	if (h->kind != GF_HOP_THREAD || h->err)
		return;
	leader = h->process >= 0 ? &w->rec[h->process] : &w->leader;
	if (h->process >= 0 && w->hop[h->process].err)
		return; /* the fold stops at the leader */
	if (t->tgid != leader->tgid) {
		h->err = GF_ECORRUPT;
		return;
	}
	if (w->threads) {
		struct gf_task *o = &w->out[h->out];
		*o = *t;
		o->ppid = leader->ppid;
		o->threads = leader->threads;
		o->rss_pages = leader->rss_pages;
		o->swap_pages = leader->swap_pages;
	}
}

/* Rank 0: the chunk in list order, up to its first error. */
GF_HD static void fold(struct gf_walk *w)
{
	for (uint32_t i = 0; i < w->n; i++) {
		const struct gf_hop *h = &w->hop[i];
		const struct gf_task *t = &w->rec[i];

		if (h->err) {
			w->rc = h->err;
			w->done = 1;
			return;
		}
		switch (h->kind) {
		case GF_HOP_PROCESS:
			w->leader = *t;
			w->cpu_ns = 0;
			break;
		case GF_HOP_THREAD:
			w->cpu_ns += t->cpu_ns;
			if (w->threads)
				w->count = h->out + 1;
			break;
		case GF_HOP_THREADS_END:
			if (!w->threads) {
				w->out[h->out] = w->leader;
				w->out[h->out].cpu_ns += w->cpu_ns;
				w->count = h->out + 1;
			}
			break;
		case GF_HOP_END:
			w->done = 1;
			return;
		}
	}
	if (w->chase_err) {
		w->rc = w->chase_err;
		w->done = 1;
	}
}

/* Lists every process (its thread-group leader, with the CPU time of all
 * its threads) or every thread, from init_task's tasks list. The idle
 * task (pid 0) is not listed, as in ps. */
GF_HD_OUTLINE int gf_walk_gang(const struct gf_kernel *k, int threads,
			       struct gf_task *out, uint32_t cap,
			       uint32_t *count, struct gf_walk *w)
{
	struct reader rd, *r = &rd;
	uint32_t rank = gf_gang_rank(), size = gf_gang_size(), n;
	int rc;

	/* rank 0 gathers through the chase's reader: on a CPU, where it
	 * does all, one set of translations serves both */
	if (rank == 0) {
		walk_start(w, k, threads, out, cap);
		r = &w->r;
	} else {
		gf_reader_init(&rd, k);
	}
	gf_gang_sync();
	while (!w->done) {
		if (rank == 0)
			chase(w);
		gf_gang_sync();
		for (uint32_t i = rank; i < w->n; i += size)
			gather(w, r, i);
		gf_gang_sync();
		for (uint32_t i = rank; i < w->n; i += size)
			emit(w, i);
		gf_gang_sync();
		if (rank == 0)
			fold(w);
		gf_gang_sync();
	}
	n = w->count;
	rc = w->rc;
	gf_gang_sync(); /* every rank has read them before w is used again */
	*count = n;
	return rc;
}

#ifndef __CUDACC__
/* The walk on one CPU thread (the CPU engine and the tools). */
int gf_walk_tasks(const struct gf_kernel *k, int threads, struct gf_task *out,
		  uint32_t cap, uint32_t *count)
{
	struct gf_walk w;

	return gf_walk_gang(k, threads, out, cap, count, &w);
}
#endif

/* Is `pid` one of the threads on this thread list? 1, 0 or an error. */
GF_HD static int has_thread(struct reader *r, uint64_t signal,
			    int32_t pid)
{
	struct list_iter it = thread_iter(r, signal);
	uint64_t node;
	int32_t tid;
	int rc;

	while ((rc = list_step(r, &it, &node)) > 0) {
		if ((rc = gf_read_mem(r, node - r->k->lay.task_thread_node +
					    r->k->lay.task_pid, &tid, 4)))
			return rc;
		if (tid == pid)
			return 1;
	}
	return rc;
}

/* Finds the process that kill(2) would signal for `pid`: the thread group
 * of the task with that pid. Returns its leader's record. */
GF_HD_OUTLINE int gf_find_task(const struct gf_kernel *k, int32_t pid,
		       struct gf_task *out)
{
	struct reader rd, *r = gf_reader_init(&rd, k);
	struct list_iter it = process_iter(r);
	uint64_t node, signal;
	int rc;

	if (pid <= 0)
		return GF_EINVAL;
	while ((rc = list_step(r, &it, &node)) > 0) {
		uint64_t task = node - r->k->lay.task_tasks;
		if ((rc = read_thread(r, task, out)) ||
		    (rc = read_process(r, task, &signal, out)))
			return rc;
		if (out->tgid == pid)
			return GF_OK;
		if (out->threads > 1 && (rc = has_thread(r, signal, pid)))
			return rc > 0 ? GF_OK : rc;
	}
	return rc < 0 ? rc : GF_ESRCH;
}

/* Re-reads the task right before a write: the same pid, thread group and
 * start time, or the pid was reused and we must not touch it. */
GF_HD static int still_same(struct reader *r, const struct gf_task *t)
{
	struct gf_task now;
	int err = read_thread(r, t->addr, &now);

	if (err)
		return err;
	if (now.pid != t->pid || now.tgid != t->tgid ||
	    now.start_time != t->start_time)
		return GF_ESTALE;
	return GF_OK;
}

/* Every thread we write to must still belong to the group we looked up:
 * a signal_struct freed and reused in between would lead elsewhere. */
GF_HD static int same_group(struct reader *r, uint64_t task,
			    int32_t tgid)
{
	int32_t now;
	int err = gf_read_mem(r, task + r->k->lay.task_tgid, &now, 4);

	return err ? err : now == tgid ? GF_OK : GF_ESTALE;
}

/* ORs `bits` into the word at `offset` in every thread of the group, each
 * checked to belong to it first; *threads counts them. With bits == 0 it
 * writes nothing: a dry walk that proves the whole list sound. */
GF_HD static int or_threads(struct reader *r, uint64_t signal,
			    int32_t tgid, uint32_t offset, uint64_t bits,
			    int *threads)
{
	struct list_iter it = thread_iter(r, signal);
	uint64_t node;
	int rc;

	*threads = 0;
	while ((rc = list_step(r, &it, &node)) > 0) {
		uint64_t task = node - r->k->lay.task_thread_node;
		if ((rc = same_group(r, task, tgid)) ||
		    (bits && (rc = phys_or64(r, task + offset, bits))))
			return rc;
		++*threads;
	}
	return rc;
}

/* SIGKILL the whole thread group, as complete_signal() does for a fatal
 * signal: SIGKILL pending in every thread, the group marked as exiting,
 * then TIF_SIGPENDING in every thread. On its next return to user mode each
 * thread finds SIGNAL_GROUP_EXIT in get_signal() and calls do_group_exit().
 * The list is walked once without writing, so that a broken one leaves the
 * process untouched; the pending bits go before the flags, so no thread
 * sees TIF_SIGPENDING without them. */
GF_HD static int kill_group(struct reader *r, uint64_t signal,
			    int32_t tgid, int *threads)
{
	const struct gf_layout *l = &r->k->lay;
	uint32_t flags;
	int rc;

	if ((rc = or_threads(r, signal, tgid, 0, 0, threads)) ||
	    (rc = or_threads(r, signal, tgid, l->task_pending + l->sigpending_signal,
			    1ull << (SIGKILL - 1), threads)) ||
	    (rc = gf_read_u32(r, signal + l->signal_flags, &flags)))
		return rc;
	/* a group exit already under way keeps its exit code, as in the kernel */
	if (!(flags & SIGNAL_GROUP_EXIT) &&
	    ((rc = store_u32(r, signal + l->signal_group_exit_code, SIGKILL)) ||
	     (rc = store_u32(r, signal + l->signal_group_stop_count, 0)) ||
	     (rc = store_u32(r, signal + l->signal_flags, SIGNAL_GROUP_EXIT))))
		return rc;
	return or_threads(r, signal, tgid, l->task_ti_flags,
			  1ull << l->tif_sigpending, threads);
}

/* A catchable signal goes to the process's shared pending set; the kernel
 * delivers a non-realtime signal from the bit alone (collect_signal() finds
 * no queue entry and reports SI_USER). TIF_SIGPENDING goes to the first
 * thread that does not block it; if all block it, it stays pending, as it
 * would after kill(2). *tid is that thread, or 0. */
GF_HD static int signal_process(struct reader *r, uint64_t signal,
				int32_t tgid, int sig, int *tid)
{
	const struct gf_layout *l = &r->k->lay;
	const uint64_t bit = 1ull << (sig - 1);
	struct list_iter it = thread_iter(r, signal);
	uint64_t node, blocked, target = 0;
	int rc;

	*tid = 0;
	while ((rc = list_step(r, &it, &node)) > 0) {
		uint64_t task = node - l->task_thread_node;
		if ((rc = same_group(r, task, tgid)) ||
		    (rc = gf_read_u64(r, task + l->task_blocked, &blocked)))
			return rc;
		if (!(blocked & bit)) {
			target = task;
			break;
		}
	}
	if (rc < 0)
		return rc;
	if ((rc = phys_or64(r, signal + l->signal_shared_pending +
				      l->sigpending_signal, bit)))
		return rc;
	if (!target)
		return GF_OK;
	if ((rc = gf_read_mem(r, target + l->task_pid, tid, 4)))
		return rc;
	return phys_or64(r, target + l->task_ti_flags, 1ull << l->tif_sigpending);
}

/* ---- The in-OS helper's mailbox (kmod/gpufas_helper.h; helper.c finds
 * it). Posting is plain stores, so the GPU engine posts as the CPU does. */

/* The mailbox's header at va, where this engine can write it and it is
 * still the helper's (a module unloaded since it was found left no
 * magic). */
GF_HD static volatile struct gfh_mailbox *helper_header(struct reader *r,
						       uint64_t va)
{
	volatile struct gfh_mailbox *mb;
	uint64_t pa;

	if (!r->k->writable || translate(r, va, &pa) ||
	    !(mb = (volatile struct gfh_mailbox *)(volatile void *)
		   gf_phys_ptr(&r->k->mem, pa, GFH_HEADER_BYTES)))
		return 0;
	return mb->magic == GFH_MAGIC && mb->self == va ? mb : 0;
}

/* Plain stores, page by page, of what the helper reads only after a later
 * store (rq_seq) says it is there. */
GF_HD static int store_mem(struct reader *r, uint64_t va, const void *src,
			   uint32_t len)
{
	const uint8_t *s = (const uint8_t *)src;

	while (len) {
		uint64_t pa;
		volatile uint8_t *p;
		uint32_t chunk = (uint32_t)(PAGE_SIZE - (va & ~PAGE_MASK));

		if (chunk > len)
			chunk = len;
		if (translate(r, va, &pa) || !(p = gf_phys_ptr(&r->k->mem, pa, chunk)))
			return GF_EFAULT;
		for (uint32_t i = 0; i < chunk; i++)
			p[i] = s[i];
		va += chunk;
		s += chunk;
		len -= chunk;
	}
	return GF_OK;
}

GF_HD_OUTLINE int gf_helper_post(const struct gf_kernel *k, uint64_t mailbox,
				 const struct gf_task *t, uint32_t n, int sig,
				 uint32_t *seq)
{
	struct reader rd, *r = gf_reader_init(&rd, k);
	volatile struct gfh_mailbox *mb = helper_header(r, mailbox);
	uint64_t slot = mailbox + GFH_HEADER_BYTES;
	int err;

	if (!mb)
		return k->writable ? GF_EFAULT : GF_EINVAL;
	if (!n || n > GFH_SLOTS)
		return GF_EINVAL;
	for (uint32_t i = 0; i < n; i++, slot += sizeof(struct gfh_slot)) {
		struct gfh_slot rq = { t[i].start_time, t[i].pid, sig, GFH_NONE, 0 };
		if ((err = store_mem(r, slot, &rq, sizeof rq)))
			return err;
	}
	*seq = mb->rq_seq + 1;
	mb->rq_magic = GFH_RQ_MAGIC;
	mb->rq_count = n;
	fence_system(); /* the batch before the sequence number */
	mb->rq_seq = *seq;
	fence_system();
	return GF_OK;
}

GF_HD_OUTLINE int gf_helper_answers(const struct gf_kernel *k, uint64_t mailbox,
				    uint32_t seq, uint32_t n, int32_t *answers)
{
	struct reader rd, *r = gf_reader_init(&rd, k);
	volatile struct gfh_mailbox *mb = helper_header(r, mailbox);

	uint64_t result = mailbox + GFH_HEADER_BYTES +
			  __builtin_offsetof(struct gfh_slot, result);

	if (!mb || mb->ans_seq != seq || n > GFH_SLOTS)
		return 0;
	fence_system(); /* the results were written before ans_seq */
	for (uint32_t i = 0; i < n; i++, result += sizeof(struct gfh_slot)) {
		if (gf_read_mem(r, result, &answers[i], 4))
			return 0;
		if (answers[i] < GFH_DONE || answers[i] > GFH_REFUSED)
			answers[i] = GFH_NONE;
	}
	return 1;
}

GF_HD int gf_helper_answer(const struct gf_kernel *k, uint64_t mailbox,
			   uint32_t seq)
{
	int32_t answer;

	return gf_helper_answers(k, mailbox, seq, 1, &answer) ? answer : GFH_NONE;
}

/* Pseudo-sends `sig` to the process led by `t` (from gf_find_task): writes
 * the kernel's own pending-signal state so that the guest kernel delivers
 * it. For SIGKILL, *result is the number of threads marked; otherwise the
 * thread chosen to take the signal (0: all block it, left pending). */
GF_HD_OUTLINE int gf_send_signal(const struct gf_kernel *k, const struct gf_task *t,
			 int sig, int *result)
{
	struct reader rd, *r = gf_reader_init(&rd, k);
	uint64_t signal;
	int err;

	if (sig < 1 || sig > 31)
		return GF_EINVAL;
	if ((err = gf_read_u64(r, t->addr + r->k->lay.task_signal, &signal)) ||
	    (err = still_same(r, t)))
		return err;
	if (sig == SIGKILL)
		return kill_group(r, signal, t->tgid, result);
	return signal_process(r, signal, t->tgid, sig, result);
}
