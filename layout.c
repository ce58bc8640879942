/* layout.c — where each field gpufas uses sits in the kernel's structs.
 *
 * One table names every field; the kernel's own BTF (parsed with libbpf)
 * or a [profile] section of config.ini supplies the values under the same
 * names. Differences between kernel versions are decided from the BTF
 * types themselves, never from a version number: task_struct.state became
 * __state in 5.14, mm_struct.rss_stat turned from atomic counters into
 * percpu_counters in 6.2, and in 7.x (seen on 7.2) an idle CPU's time
 * moved from tick_sched into kernel_cpustat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "config.h"
#include "core.h"
#include "gpufas.h"
#include "layout.h"

enum kind {
	MEMBER,  /* "struct.member.member": byte offset in the struct */
	ENUMVAL, /* "ENUMERATOR": its value */
	SIZEOF,  /* "struct": its size */
	DERIVED, /* computed from other BTF types; by name in a profile */
};

/* Tasks and signals need every REQUIRED field. The others come in groups
 * that a kernel may lack without failing the attach: gf_layout's
 * has_metrics and has_printk say whether each group is complete. TICK_IDLE
 * is where idle time was kept until 7.x: without it, it is read from
 * kernel_cpustat (set_groups). MODULES is what helper.c reads to find the
 * in-OS helper: a kernel without CONFIG_MODULES has no struct module. */
enum group { REQUIRED, METRICS, PRINTK, TICK_IDLE, MODULES, NGROUPS };

struct field {
	const char *names; /* alternatives, separated by '|' */
	enum kind kind;
	size_t at;         /* offsetof(struct gf_layout, ...) */
	enum group group;
};

/* where a field goes, and in which group */
#define AT(m) offsetof(struct gf_layout, m), REQUIRED
#define IN(m, group) offsetof(struct gf_layout, m), group

static const struct field fields[] = {
	{ "task_struct.thread_info.flags", MEMBER, AT(task_ti_flags) },
	{ "task_struct.__state|task_struct.state", MEMBER, AT(task_state) },
	{ "task_struct.exit_state", MEMBER, AT(task_exit_state) },
	{ "task_struct.flags", MEMBER, AT(task_flags) },
	{ "task_struct.tasks", MEMBER, AT(task_tasks) },
	{ "task_struct.pid", MEMBER, AT(task_pid) },
	{ "task_struct.tgid", MEMBER, AT(task_tgid) },
	{ "task_struct.comm", MEMBER, AT(task_comm) },
	{ "task_struct.mm", MEMBER, AT(task_mm) },
	{ "task_struct.real_parent", MEMBER, AT(task_real_parent) },
	{ "task_struct.signal", MEMBER, AT(task_signal) },
	{ "task_struct.pending", MEMBER, AT(task_pending) },
	{ "task_struct.blocked", MEMBER, AT(task_blocked) },
	{ "task_struct.thread_node", MEMBER, AT(task_thread_node) },
	{ "task_struct.start_time", MEMBER, AT(task_start_time) },
	{ "task_struct.se.sum_exec_runtime", MEMBER, AT(task_sum_exec_runtime) },
	{ "signal_struct.thread_head", MEMBER, AT(signal_thread_head) },
	{ "signal_struct.nr_threads", MEMBER, AT(signal_nr_threads) },
	{ "signal_struct.shared_pending", MEMBER, AT(signal_shared_pending) },
	{ "signal_struct.flags", MEMBER, AT(signal_flags) },
	{ "signal_struct.group_exit_code", MEMBER, AT(signal_group_exit_code) },
	{ "signal_struct.group_stop_count", MEMBER, AT(signal_group_stop_count) },
	{ "signal_struct.sum_sched_runtime", MEMBER, AT(signal_sum_sched_runtime) },
	{ "sigpending.signal", MEMBER, AT(sigpending_signal) },
	{ "percpu_counter.count", MEMBER, AT(pcpu_count) },
	{ "percpu_counter.counters", MEMBER, AT(pcpu_counters) },
	{ "MM_FILEPAGES", ENUMVAL, AT(mm_filepages) },
	{ "MM_ANONPAGES", ENUMVAL, AT(mm_anonpages) },
	{ "MM_SHMEMPAGES", ENUMVAL, AT(mm_shmempages) },
	{ "mm_struct.rss_stat", DERIVED, AT(mm_rss_stat) },
	{ "rss_stride", DERIVED, AT(rss_stride) },
	{ "rss_percpu", DERIVED, AT(rss_percpu) },

	{ "MM_SWAPENTS", ENUMVAL, IN(mm_swapents, METRICS) },
	{ "CPUTIME_USER", ENUMVAL, IN(cpustat_user, METRICS) },
	{ "CPUTIME_NICE", ENUMVAL, IN(cpustat_nice, METRICS) },
	{ "CPUTIME_SYSTEM", ENUMVAL, IN(cpustat_system, METRICS) },
	{ "CPUTIME_SOFTIRQ", ENUMVAL, IN(cpustat_softirq, METRICS) },
	{ "CPUTIME_IRQ", ENUMVAL, IN(cpustat_irq, METRICS) },
	{ "CPUTIME_STEAL", ENUMVAL, IN(cpustat_steal, METRICS) },
	{ "CPUTIME_IDLE", ENUMVAL, IN(cpustat_idle, METRICS) },
	{ "CPUTIME_IOWAIT", ENUMVAL, IN(cpustat_iowait, METRICS) },
	{ "kernel_cpustat.cpustat", MEMBER, IN(kcs_cpustat, METRICS) },
	{ "rq.nr_running", MEMBER, IN(rq_nr_running, METRICS) },
	{ "rq.nr_switches", MEMBER, IN(rq_nr_switches, METRICS) },
	{ "rq.nr_uninterruptible", MEMBER, IN(rq_nr_uninterruptible, METRICS) },
	{ "rq.nr_iowait", MEMBER, IN(rq_nr_iowait, METRICS) },
	{ "rq.curr", MEMBER, IN(rq_curr, METRICS) },
	{ "rq.idle", MEMBER, IN(rq_idle, METRICS) },
	{ "tick_sched.idle_sleeptime", MEMBER, IN(ts_idle_sleeptime, TICK_IDLE) },
	{ "tick_sched.iowait_sleeptime", MEMBER, IN(ts_iowait_sleeptime, TICK_IDLE) },
	{ "PSWPIN", ENUMVAL, IN(ev_pswpin, METRICS) },
	{ "PSWPOUT", ENUMVAL, IN(ev_pswpout, METRICS) },
	{ "PGMAJFAULT", ENUMVAL, IN(ev_pgmajfault, METRICS) },
	{ "NR_FREE_PAGES", ENUMVAL, IN(zs_free_pages, METRICS) },
	{ "NR_ACTIVE_FILE", ENUMVAL, IN(ns_active_file, METRICS) },
	{ "NR_INACTIVE_FILE", ENUMVAL, IN(ns_inactive_file, METRICS) },
	{ "NR_SLAB_RECLAIMABLE_B", ENUMVAL, IN(ns_slab_reclaimable, METRICS) },

	{ "printk_ringbuffer.desc_ring", MEMBER, IN(prb_desc_ring, PRINTK) },
	{ "printk_ringbuffer.text_data_ring", MEMBER, IN(prb_text_data_ring, PRINTK) },
	{ "prb_desc_ring.count_bits", MEMBER, IN(pdr_count_bits, PRINTK) },
	{ "prb_desc_ring.descs", MEMBER, IN(pdr_descs, PRINTK) },
	{ "prb_desc_ring.infos", MEMBER, IN(pdr_infos, PRINTK) },
	{ "prb_desc_ring.head_id", MEMBER, IN(pdr_head_id, PRINTK) },
	{ "prb_desc", SIZEOF, IN(desc_size, PRINTK) },
	{ "prb_desc.state_var", MEMBER, IN(desc_state_var, PRINTK) },
	{ "prb_desc.text_blk_lpos", MEMBER, IN(desc_text_blk_lpos, PRINTK) },
	{ "prb_data_blk_lpos.begin", MEMBER, IN(lpos_begin, PRINTK) },
	{ "prb_data_blk_lpos.next", MEMBER, IN(lpos_next, PRINTK) },
	{ "printk_info", SIZEOF, IN(info_size, PRINTK) },
	{ "printk_info.seq", MEMBER, IN(info_seq, PRINTK) },
	{ "printk_info.ts_nsec", MEMBER, IN(info_ts_nsec, PRINTK) },
	{ "printk_info.text_len", MEMBER, IN(info_text_len, PRINTK) },
	{ "prb_data_ring.size_bits", MEMBER, IN(data_size_bits, PRINTK) },
	{ "prb_data_ring.data", MEMBER, IN(data_data, PRINTK) },

	{ "module.list", MEMBER, IN(mod_list, MODULES) },
	{ "module.name", MEMBER, IN(mod_name, MODULES) },
	{ "module.kallsyms", MEMBER, IN(mod_kallsyms, MODULES) },
	{ "mod_kallsyms.symtab", MEMBER, IN(mk_symtab, MODULES) },
	{ "mod_kallsyms.num_symtab", MEMBER, IN(mk_num_symtab, MODULES) },
	{ "mod_kallsyms.strtab", MEMBER, IN(mk_strtab, MODULES) },
};

#define NFIELDS (sizeof fields / sizeof *fields)

static void set(struct gf_layout *l, const struct field *f, uint32_t v)
{
	*(uint32_t *)((char *)l + f->at) = v;
}

/* Copies alternative number `i` of `names` into buf: GF_OK, or GF_ENOENT
 * past the last. */
static int alternative(const char *names, int i, char *buf, size_t len)
{
	const char *p = names, *bar;

	for (; i > 0; i--) {
		if (!(p = strchr(p, '|')))
			return GF_ENOENT;
		p++;
	}
	bar = strchr(p, '|');
	snprintf(buf, len, "%.*s", (int)(bar ? (size_t)(bar - p) : strlen(p)), p);
	return GF_OK;
}

/* ---- BTF ---- */

/* How deep anonymous members nest: a few levels in any kernel; a BTF
 * whose anonymous member is its own struct would recurse forever. */
#define MAX_ANON_DEPTH 8

/* Finds `name` among the members of composite type `id`, looking inside
 * anonymous structs and unions as C does, `depth` of them down already.
 * Adds its bit offset to *bits and returns its type id, or -1. */
static int find_member(const struct btf *btf, int id, const char *name,
		       uint64_t *bits, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, id));
	const struct btf_member *m;

	if (!t || !btf_is_composite(t) || depth > MAX_ANON_DEPTH)
		return -1;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		uint64_t inner = 0;
		int found;

		if (mname && *mname) {
			if (strcmp(mname, name))
				continue;
			*bits += btf_member_bit_offset(t, i);
			return (int)m->type;
		}
		found = find_member(btf, (int)m->type, name, &inner, depth + 1);
		if (found >= 0) {
			*bits += btf_member_bit_offset(t, i) + inner;
			return found;
		}
	}
	return -1;
}

/* The BTF with the struct ids looked up so far: libbpf searches every
 * type for a name, and the field table names the same few structs again
 * and again (a tenth of an attach on 7.2 went there). */
#define MAX_STRUCTS 64

struct view {
	const struct btf *btf;
	uint32_t n;
	char name[MAX_STRUCTS][64];
	int id[MAX_STRUCTS];
};

static int struct_id(struct view *v, const char *name)
{
	int id;

	for (uint32_t i = 0; i < v->n; i++)
		if (!strcmp(v->name[i], name))
			return v->id[i];
	id = btf__find_by_name_kind(v->btf, name, BTF_KIND_STRUCT);
	if (v->n < MAX_STRUCTS && strlen(name) < sizeof v->name[0]) {
		strcpy(v->name[v->n], name);
		v->id[v->n++] = id;
	}
	return id;
}

/* "struct.a.b": the byte offset of a.b in struct, and b's type id. The
 * BTF lookups below answer GF_OK, or GF_ENOENT where BTF has no such
 * thing (a bit-field has no byte offset). */
static int member_offset(struct view *v, const char *path, uint32_t *offset,
			 int *type)
{
	char buf[128], *save = NULL, *part;
	uint64_t bits = 0;
	int id;

	snprintf(buf, sizeof buf, "%s", path);
	part = strtok_r(buf, ".", &save);
	id = struct_id(v, part);
	while (id >= 0 && (part = strtok_r(NULL, ".", &save)))
		id = find_member(v->btf, id, part, &bits, 0);
	if (id < 0 || bits % 8)
		return GF_ENOENT;
	*offset = (uint32_t)(bits / 8);
	if (type)
		*type = id;
	return GF_OK;
}

static int enum_value(const struct btf *btf, const char *name, uint32_t *v)
{
	uint32_t n = btf__type_cnt(btf);

	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e;

		if (!btf_is_enum(t))
			continue;
		e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++, e++) {
			/* NULL for an offset outside the strings: libbpf's
			 * checks at btf__new let such an enumerator through */
			const char *ename = btf__name_by_offset(btf, e->name_off);

			if (ename && !strcmp(ename, name)) {
				*v = (uint32_t)e->val;
				return GF_OK;
			}
		}
	}
	return GF_ENOENT;
}

static int struct_size(struct view *view, const char *name, uint32_t *v)
{
	int id = struct_id(view, name);
	long size = id < 0 ? -1 : btf__resolve_size(view->btf, id);

	if (size <= 0 || size > UINT32_MAX)
		return GF_ENOENT;
	*v = (uint32_t)size;
	return GF_OK;
}

static int btf_value(struct view *view, enum kind kind, const char *name,
		     uint32_t *v)
{
	switch (kind) {
	case MEMBER:  return member_offset(view, name, v, NULL);
	case ENUMVAL: return enum_value(view->btf, name, v);
	case SIZEOF:  return struct_size(view, name, v);
	default:      return GF_EINVAL;
	}
}

static int btf_field(struct view *view, const struct field *f, uint32_t *v)
{
	char name[128];

	for (int i = 0; !alternative(f->names, i, name, sizeof name); i++)
		if (!btf_value(view, f->kind, name, v))
			return GF_OK;
	return GF_ENOENT;
}

/* Sets has_metrics, has_printk and has_modules: a group is there if none of its
 * fields is missing. An idle CPU's time is in tick_sched where it has the
 * fields, else in kernel_cpustat.cpustat[CPUTIME_IDLE/IOWAIT]: 7.x's
 * kcpustat_idle_stop() (Frederic Weisbecker's idle cputime series) charges
 * each idle stretch there as it ends, as tick_nohz_stop_idle() charged
 * tick_sched before. */
static void set_groups(struct gf_layout *l, const int missing[NGROUPS])
{
	l->has_metrics = !missing[METRICS];
	l->has_printk = !missing[PRINTK];
	l->has_modules = !missing[MODULES];
	l->idle_in_cpustat = missing[TICK_IDLE] > 0;
}

/* mm_struct.rss_stat: struct mm_rss_stat { atomic_long_t count[]; } up to
 * 6.1, struct percpu_counter rss_stat[] from 6.2. Told apart by its type:
 * GF_OK, GF_ENOENT (a member missing) or GF_ECORRUPT (another type). */
static int btf_rss(struct view *view, struct gf_layout *l)
{
	const struct btf *btf = view->btf;
	const struct btf_type *t;
	uint32_t count_off;
	int type;

	if (member_offset(view, "mm_struct.rss_stat", &l->mm_rss_stat, &type))
		return GF_ENOENT;
	t = btf__type_by_id(btf, btf__resolve_type(btf, type));
	if (t && btf_is_array(t)) {
		int elem = btf__resolve_type(btf, btf_array(t)->type);
		const struct btf_type *e = btf__type_by_id(btf, elem);
		const char *name = e ? btf__name_by_offset(btf, e->name_off) : NULL;
		if (!name || strcmp(name, "percpu_counter"))
			return GF_ECORRUPT;
		l->rss_percpu = 1;
		l->rss_stride = (uint32_t)btf__resolve_size(btf, elem);
		return GF_OK;
	}
	if (member_offset(view, "mm_rss_stat.count", &count_off, NULL))
		return GF_ENOENT;
	l->rss_percpu = 0;
	l->mm_rss_stat += count_off;
	l->rss_stride = 8; /* atomic_long_t */
	return GF_OK;
}

/* GF_OK; or GF_ECORRUPT (no BTF), GF_ENOMEM, GF_ENOENT (a required field
 * missing) or btf_rss()'s error, with why in err. */

int layout_from_btf(struct gf_layout *l, const void *data, uint32_t size,
		    char *err, size_t errlen)
{
	struct btf *btf = btf__new(data, size);
	struct view *view;
	int missing[NGROUPS] = { 0 };
	uint32_t seq;
	int rc = GF_OK;

	if (!btf) {
		snprintf(err, errlen, "kernel BTF does not parse: %s",
			 strerror(errno));
		return GF_ECORRUPT;
	}
	if (!(view = calloc(1, sizeof *view))) {
		snprintf(err, errlen, "out of memory");
		btf__free(btf);
		return GF_ENOMEM;
	}
	view->btf = btf;
	for (size_t i = 0; i < NFIELDS && !rc; i++) {
		uint32_t v;
		if (fields[i].kind == DERIVED)
			continue;
		if (!btf_field(view, &fields[i], &v)) {
			set(l, &fields[i], v);
		} else if (fields[i].group != REQUIRED) {
			missing[fields[i].group]++;
		} else {
			snprintf(err, errlen, "kernel BTF has no %s", fields[i].names);
			rc = GF_ENOENT;
		}
	}
	/* no tick_sched idle time: kernel_cpustat must be the 7.x one */
	if (missing[TICK_IDLE] &&
	    member_offset(view, "kernel_cpustat.idle_sleeptime_seq", &seq, NULL))
		missing[METRICS]++;
	set_groups(l, missing);
	if (!rc && (rc = btf_rss(view, l)))
		snprintf(err, errlen, "kernel BTF: unknown mm_struct.rss_stat type");
	btf__free(btf);
	free(view);
	return rc;
}

/* ---- [profile] and cached profiles: fields by name ---- */

static int pair_value(const struct gf_profile_entry *e, uint32_t n,
		      const char *name, uint64_t *v)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(e[i].key, name)) {
			*v = e[i].value;
			return GF_OK;
		}
	return GF_ENOENT;
}

/* Overrides fields with the values of pairs named as in the table (any
 * alternative); `what` names their source in errors. With `complete`,
 * every field must be given (there is no BTF to fall back on). GF_OK,
 * GF_EINVAL (a value too large) or GF_ENOENT (a field missing). */
int layout_from_pairs(struct gf_layout *l, const struct gf_profile_entry *e,
		      uint32_t n, int complete, const char *what, char *err,
		      size_t errlen)
{
	int missing[NGROUPS] = { 0 };

	for (size_t i = 0; i < NFIELDS; i++) {
		char name[128];
		uint64_t v;
		int found = 0;

		for (int a = 0; !found && !alternative(fields[i].names, a, name,
							sizeof name); a++)
			found = !pair_value(e, n, name, &v);
		if (found && v > UINT32_MAX) {
			snprintf(err, errlen, "%s %s = %llu is too large", what, name,
				 (unsigned long long)v);
			return GF_EINVAL;
		}
		if (found) {
			set(l, &fields[i], (uint32_t)v);
		} else if (fields[i].group != REQUIRED) {
			missing[fields[i].group]++;
		} else if (complete) {
			snprintf(err, errlen, "no BTF and %s lacks %s", what,
				 fields[i].names);
			return GF_ENOENT;
		}
	}
	if (complete)
		set_groups(l, missing);
	return GF_OK;
}

int layout_from_profile(struct gf_layout *l, const struct gf_config *c,
			int complete, char *err, size_t errlen)
{
	return layout_from_pairs(l, c->profile, c->nprofile, complete,
				 "[profile]", err, errlen);
}

/* Is the field's group one the layout has? (The inverse of set_groups.) */
static int in_effect(const struct gf_layout *l, enum group g)
{
	switch (g) {
	case METRICS:   return l->has_metrics != 0;
	case PRINTK:    return l->has_printk != 0;
	case MODULES:   return l->has_modules != 0;
	case TICK_IDLE: return !l->idle_in_cpustat;
	default:        return 1;
	}
}

/* The fields in effect in l, by their first name: the required ones and
 * those of each group l has, so that layout_from_pairs(complete) gives
 * back the same layout. Returns how many; cap must hold them all. */
uint32_t layout_to_pairs(const struct gf_layout *l, struct gf_profile_entry *out,
			 uint32_t cap)
{
	uint32_t n = 0;

	for (size_t i = 0; i < NFIELDS && n < cap; i++) {
		if (!in_effect(l, fields[i].group))
			continue;
		alternative(fields[i].names, 0, out[n].key, sizeof out[n].key);
		out[n++].value = *(const uint32_t *)((const char *)l + fields[i].at);
	}
	return n;
}
