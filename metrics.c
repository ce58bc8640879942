/* metrics.c — the kernel's own counters, sampled for the detectors, and
 * the tail of its log ring.
 *
 * Like introspect.c this is the one implementation for both engines: gcc
 * builds it for the CPU engine and kernels.cu #includes it for the GPU. It
 * only copies counters out; rates and verdicts are computed from two
 * samples by detect.c. Every address is checked as in introspect.c, and
 * every count read from the guest is bounded before it bounds a loop.
 */
#include "core.h"
#include "gpufas.h"
#include "introspect.h"

/* The printk ring (kernel/printk/printk_ringbuffer.h): the top two bits of
 * a descriptor's state_var hold its state, the rest the record's id. */
#define DESC_STATE_SHIFT 62
#define DESC_ID_MASK (~(3ull << DESC_STATE_SHIFT))
#define DESC_COMMITTED 1ull
#define DESC_FINALIZED 2ull
/* Far beyond any log_buf_len (a 2^30-byte text ring): a larger value read
 * from the guest is garbage. */
#define MAX_COUNT_BITS 24
#define MAX_SIZE_BITS 30
#define MAX_RECORD_TEXT 1024

/* The address of per-CPU variable `sym` on `cpu`. */
GF_HD static int per_cpu(struct reader *r, uint64_t sym, uint32_t cpu,
			 uint64_t *va)
{
	uint64_t off;
	int err = gf_read_u64(r, r->k->lay.per_cpu_offset + 8ull * cpu, &off);

	*va = sym + off;
	return err;
}

GF_HD static int cpustat(struct reader *r, uint64_t base, uint32_t idx,
			 uint64_t *sum)
{
	uint64_t v;
	int err = gf_read_u64(r, base + 8ull * idx, &v);

	*sum += v;
	return err;
}

/* kernel_cpustat is charged a tick at a time on busy CPUs (user, system,
 * irq); an idle CPU with its tick stopped is charged nothing there, its
 * idle and iowait time going, when it wakes, to tick_sched, or from 7.x
 * to kernel_cpustat's own CPUTIME_IDLE and CPUTIME_IOWAIT. */
GF_HD static int read_cpu_time(struct reader *r, uint32_t cpu,
			       struct gf_cpu_counters *c)
{
	const struct gf_layout *l = &r->k->lay;
	uint64_t stat, ts;
	int err;

	c->user_ns = c->system_ns = c->steal_ns = c->idle_ns = c->iowait_ns = 0;
	if ((err = per_cpu(r, l->kernel_cpustat, cpu, &stat)))
		return err;
	stat += l->kcs_cpustat;
	if ((err = cpustat(r, stat, l->cpustat_user, &c->user_ns)) ||
	    (err = cpustat(r, stat, l->cpustat_nice, &c->user_ns)) ||
	    (err = cpustat(r, stat, l->cpustat_system, &c->system_ns)) ||
	    (err = cpustat(r, stat, l->cpustat_irq, &c->system_ns)) ||
	    (err = cpustat(r, stat, l->cpustat_softirq, &c->system_ns)) ||
	    (err = cpustat(r, stat, l->cpustat_steal, &c->steal_ns)))
		return err;
	if (l->idle_in_cpustat)
		return (err = cpustat(r, stat, l->cpustat_idle, &c->idle_ns)) ? err :
		       cpustat(r, stat, l->cpustat_iowait, &c->iowait_ns);
	if ((err = per_cpu(r, l->tick_cpu_sched, cpu, &ts)) ||
	    (err = gf_read_u64(r, ts + l->ts_idle_sleeptime, &c->idle_ns)))
		return err;
	return gf_read_u64(r, ts + l->ts_iowait_sleeptime, &c->iowait_ns);
}

GF_HD static int read_runqueue(struct reader *r, uint32_t cpu,
			       struct gf_cpu_counters *c)
{
	const struct gf_layout *l = &r->k->lay;
	uint64_t rq, curr, idle, online;
	int err;

	if ((err = per_cpu(r, l->runqueues, cpu, &rq)) ||
	    (err = gf_read_u32(r, rq + l->rq_nr_running, &c->running)) ||
	    (err = gf_read_u64(r, rq + l->rq_nr_switches, &c->switches)) ||
	    (err = gf_read_u64(r, rq + l->rq_nr_uninterruptible,
			    (uint64_t *)&c->uninterruptible)) ||
	    (err = gf_read_mem(r, rq + l->rq_nr_iowait, &c->iowaiters, 4)) ||
	    (err = gf_read_u64(r, rq + l->rq_curr, &curr)) ||
	    (err = gf_read_u64(r, rq + l->rq_idle, &idle)) ||
	    (err = gf_read_u64(r, l->cpu_online_mask + 8ull * (cpu / 64), &online)))
		return err;
	c->idle_now = curr == idle;
	c->online = (online >> (cpu % 64)) & 1;
	return GF_OK;
}

/* Sums one vm_event_states counter over the CPUs, as all_vm_events(). */
GF_HD static int vm_event(struct reader *r, uint32_t idx, uint32_t ncpus,
			  uint64_t *sum)
{
	uint64_t va, v;
	int err;

	*sum = 0;
	for (uint32_t cpu = 0; cpu < ncpus; cpu++) {
		if ((err = per_cpu(r, r->k->lay.vm_event_states, cpu, &va)) ||
		    (err = gf_read_u64(r, va + 8ull * idx, &v)))
			return err;
		*sum += v;
	}
	return GF_OK;
}

GF_HD static uint64_t positive(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

/* MemAvailable as si_mem_available() estimates it: free pages above the
 * reserve, plus the half of page cache and reclaimable slab that can go
 * without thrashing. The kernel's low watermarks are approximated by the
 * reserve (totalreserve_pages), which is of the same size. */
GF_HD static int read_memory(struct reader *r, struct gf_sample *s)
{
	const struct gf_layout *l = &r->k->lay;
	int64_t total, free, reserve, active, inactive, slab, swap_free, swap_total;
	int err;

	if ((err = gf_read_u64(r, l->totalram_pages, (uint64_t *)&total)) ||
	    (err = gf_read_u64(r, l->vm_zone_stat + 8ull * l->zs_free_pages,
			    (uint64_t *)&free)) ||
	    (err = gf_read_u64(r, l->totalreserve_pages, (uint64_t *)&reserve)) ||
	    (err = gf_read_u64(r, l->vm_node_stat + 8ull * l->ns_active_file,
			    (uint64_t *)&active)) ||
	    (err = gf_read_u64(r, l->vm_node_stat + 8ull * l->ns_inactive_file,
			    (uint64_t *)&inactive)) ||
	    (err = gf_read_u64(r, l->vm_node_stat + 8ull * l->ns_slab_reclaimable,
			    (uint64_t *)&slab)) ||
	    (err = gf_read_u64(r, l->nr_swap_pages, (uint64_t *)&swap_free)) ||
	    (err = gf_read_u64(r, l->total_swap_pages, (uint64_t *)&swap_total)))
		return err;
	if (total <= 0)
		return GF_ECORRUPT;
	s->total_pages = (uint64_t)total;
	s->free_pages = positive(free);
	s->swap_total_pages = positive(swap_total);
	s->swap_free_pages = positive(swap_free);
	{
		uint64_t cache = positive(active) + positive(inactive);
		uint64_t reclaimable = positive(slab), low = positive(reserve);
		/* summed unsigned: a hostile guest's counts wrap, never overflow */
		uint64_t avail = (uint64_t)free - (uint64_t)reserve;

		avail += cache - (cache / 2 < low ? cache / 2 : low);
		avail += reclaimable - (reclaimable / 2 < low ? reclaimable / 2 : low);
		s->available_pages = positive((int64_t)avail);
	}
	return GF_OK;
}

/* One sample of every counter the detectors use. GF_EINVAL if this
 * kernel's layout lacks them. */
GF_HD_OUTLINE int gf_sample_counters(const struct gf_kernel *k, struct gf_sample *s)
{
	struct reader rd, *r = gf_reader_init(&rd, k);
	const struct gf_layout *l = &k->lay;
	int err;

	if (!l->has_metrics)
		return GF_EINVAL;
	s->ncpus = l->nr_cpu_ids < GF_MAX_CPUS ? l->nr_cpu_ids : GF_MAX_CPUS;
	for (uint32_t cpu = 0; cpu < s->ncpus; cpu++)
		if ((err = read_cpu_time(r, cpu, &s->cpu[cpu])) ||
		    (err = read_runqueue(r, cpu, &s->cpu[cpu])))
			return err;
	if ((err = gf_read_u64(r, l->jiffies, &s->jiffies)) ||
	    (err = gf_read_mem(r, l->panic_cpu, &s->panic_cpu, 4)) ||
	    (err = gf_read_u64(r, l->tainted_mask, &s->tainted)) ||
	    (err = vm_event(r, l->ev_pswpin, s->ncpus, &s->pswpin)) ||
	    (err = vm_event(r, l->ev_pswpout, s->ncpus, &s->pswpout)) ||
	    (err = vm_event(r, l->ev_pgmajfault, s->ncpus, &s->pgmajfault)))
		return err;
	return read_memory(r, s);
}

/* ---- The kernel log ---- */

/* The ring's geometry, read once per call and bounded. */
struct log_ring {
	uint64_t descs, infos, data, head_id;
	uint32_t count_bits, size_bits;
};

GF_HD static int read_ring(struct reader *r, struct log_ring *ring)
{
	const struct gf_layout *l = &r->k->lay;
	uint64_t rb, desc_ring, text_ring;
	int err;

	if ((err = gf_read_u64(r, l->prb, &rb)))
		return err;
	desc_ring = rb + l->prb_desc_ring;
	text_ring = rb + l->prb_text_data_ring;
	if ((err = gf_read_u32(r, desc_ring + l->pdr_count_bits, &ring->count_bits)) ||
	    (err = gf_read_u64(r, desc_ring + l->pdr_descs, &ring->descs)) ||
	    (err = gf_read_u64(r, desc_ring + l->pdr_infos, &ring->infos)) ||
	    (err = gf_read_u64(r, desc_ring + l->pdr_head_id, &ring->head_id)) ||
	    (err = gf_read_u32(r, text_ring + l->data_size_bits, &ring->size_bits)) ||
	    (err = gf_read_u64(r, text_ring + l->data_data, &ring->data)))
		return err;
	if (ring->count_bits > MAX_COUNT_BITS || ring->size_bits > MAX_SIZE_BITS ||
	    ring->size_bits < 4)
		return GF_ECORRUPT;
	return GF_OK;
}

/* One log record: its time stamp and where its text lies. */
struct log_record {
	uint64_t ts_nsec, text;
	uint32_t len;
};

/* Record `id`, if it is complete (committed or finalized) and holds text:
 * 1, 0 if not, or an error. Mirrors get_data() in printk_ringbuffer.c,
 * including a block that wraps to the start of the data ring. */
GF_HD static int read_record(struct reader *r, const struct log_ring *ring,
			     uint64_t id, struct log_record *rec)
{
	const struct gf_layout *l = &r->k->lay;
	const uint64_t idx = id & ((1ull << ring->count_bits) - 1);
	const uint64_t size = 1ull << ring->size_bits;
	uint64_t desc = ring->descs + idx * l->desc_size;
	uint64_t info = ring->infos + idx * l->info_size;
	uint64_t sv, state, begin, next, off, block;
	uint16_t text_len;
	int err;

	if ((err = gf_read_u64(r, desc + l->desc_state_var, &sv)))
		return err;
	state = sv >> DESC_STATE_SHIFT;
	if ((sv & DESC_ID_MASK) != (id & DESC_ID_MASK) ||
	    (state != DESC_COMMITTED && state != DESC_FINALIZED))
		return 0;
	if ((err = gf_read_u64(r, desc + l->desc_text_blk_lpos + l->lpos_begin, &begin)) ||
	    (err = gf_read_u64(r, desc + l->desc_text_blk_lpos + l->lpos_next, &next)) ||
	    (err = gf_read_u64(r, info + l->info_ts_nsec, &rec->ts_nsec)) ||
	    (err = gf_read_mem(r, info + l->info_text_len, &text_len, 2)))
		return err;
	if ((begin & 1) && (next & 1))
		return 0; /* a record without text */
	if (begin >> ring->size_bits == next >> ring->size_bits) {
		off = begin & (size - 1);
		block = next - begin;
	} else if ((begin + size) >> ring->size_bits == next >> ring->size_bits) {
		off = 0;
		block = next & (size - 1);
	} else {
		return 0;
	}
	if (block < 8 || block > size || off + block > size)
		return 0;
	rec->text = ring->data + off + 8; /* after the block's id */
	rec->len = text_len < block - 8 ? text_len : (uint32_t)(block - 8);
	if (rec->len > MAX_RECORD_TEXT)
		rec->len = MAX_RECORD_TEXT;
	return 1;
}

GF_HD static void put_char(char *buf, uint32_t cap, uint32_t *at, char c)
{
	if (*at < cap)
		buf[*at] = c;
	++*at;
}

GF_HD static void put_decimal(char *buf, uint32_t cap, uint32_t *at,
			      uint64_t v, int width, char pad)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < 20);
	for (; width > n; width--)
		put_char(buf, cap, at, pad);
	while (n)
		put_char(buf, cap, at, digits[--n]);
}

/* "[   12.345678] text\n", the way dmesg prints it; control characters
 * from the guest become '?'. */
GF_HD static int put_record(struct reader *r, const struct log_record *rec,
			    char *buf, uint32_t cap, uint32_t *at)
{
	char text[MAX_RECORD_TEXT];
	int err = gf_read_mem(r, rec->text, text, rec->len);

	if (err)
		return err;
	put_char(buf, cap, at, '[');
	put_decimal(buf, cap, at, rec->ts_nsec / 1000000000u, 5, ' ');
	put_char(buf, cap, at, '.');
	put_decimal(buf, cap, at, rec->ts_nsec / 1000u % 1000000u, 6, '0');
	put_char(buf, cap, at, ']');
	put_char(buf, cap, at, ' ');
	for (uint32_t i = 0; i < rec->len; i++)
		put_char(buf, cap, at, (uint8_t)text[i] < 32 || text[i] == 127
					       ? '?' : text[i]);
	put_char(buf, cap, at, '\n');
	return GF_OK;
}

/* The last `max` records of the kernel log, oldest first, as text in buf
 * (NUL-terminated; the oldest lines are left out if it is too small). */
GF_HD_OUTLINE int gf_log_tail(const struct gf_kernel *k, uint32_t max, char *buf,
		      uint32_t cap, uint32_t *len)
{
	struct reader rd, *r = gf_reader_init(&rd, k);
	struct log_ring ring;
	struct log_record rec;
	uint64_t first, need = 1, id;
	uint32_t at = 0, found = 0;
	int err, ok;

	*len = 0;
	if (!k->lay.has_printk || cap == 0)
		return GF_EINVAL;
	if ((err = read_ring(r, &ring)))
		return err;
	if (max > GF_LOG_RECORDS_MAX)
		max = GF_LOG_RECORDS_MAX;
	if (max > 1u << ring.count_bits)
		max = 1u << ring.count_bits;
	/* Backwards from the head, to the oldest record that still fits. */
	first = ring.head_id + 1;
	for (uint32_t i = 0; i < max && found < max; i++) {
		id = ring.head_id - i;
		if ((ok = read_record(r, &ring, id, &rec)) < 0)
			return ok;
		if (!ok)
			continue;
		need += 16 + rec.len;
		if (need > cap)
			break;
		first = id;
		found++;
	}
	for (id = first; found && id != ring.head_id + 1; id++) {
		if ((ok = read_record(r, &ring, id, &rec)) < 0)
			return ok;
		if (ok && (err = put_record(r, &rec, buf, cap - 1, &at)))
			return err;
	}
	*len = at < cap - 1 ? at : cap - 1;
	buf[*len] = 0;
	return GF_OK;
}
