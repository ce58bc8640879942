/* discover.c — attaching to a kernel found in raw RAM, with no
 * configuration: VMCOREINFO gives the KASLR offset, phys_base and the page
 * tables; kallsyms (decoded from memory) gives the symbols; the kernel's
 * own BTF gives every struct layout. A [profile] section in config.ini can
 * supply or override any of it by hand.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "core.h"
#include "discover.h"
#include "gpufas.h"
#include "helper.h"
#include "kallsyms.h"
#include "layout.h"
#include "profile.h"
#include "target.h"
#include "vmcoreinfo.h"

#define START_KERNEL_MAP 0xffffffff80000000ull
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define MAX_CANDIDATES 8
#define MAX_BTF_SIZE (64u << 20)
#define UTS_LEN 65 /* __NEW_UTS_LEN + 1: sysname, nodename, release... */

/* A symbol from [profile] if given there, else from kallsyms: GF_OK, or
 * GF_ENOENT. */
static int symbol(const struct gf_attachment *a, const struct gf_config *cfg,
		  const char *name, uint64_t *va)
{
	if (!config_profile(cfg, name, va))
		return GF_OK;
	return a->syms ? symtab_lookup(a->syms, name, va) : GF_ENOENT;
}

/* Paging from one VMCOREINFO candidate. init_top_pgt lies in the kernel
 * image, which maps linearly: va - __START_KERNEL_map + phys_base. GF_OK,
 * or GF_ECORRUPT where a value it needs is missing or no number. */
static int paging_from(struct gf_attachment *a, const struct vmcoreinfo *vi)
{
	uint64_t pgt;
	int64_t phys_base, l5 = 0, sme_mask = 0;

	if (vmcoreinfo_hex(vi, "SYMBOL(init_top_pgt)", &pgt) ||
	    vmcoreinfo_dec(vi, "NUMBER(phys_base)", &phys_base) ||
	    vmcoreinfo_hex(vi, "KERNELOFFSET", &a->kaslr_offset) ||
	    vmcoreinfo_get(vi, "OSRELEASE", a->release, sizeof a->release))
		return GF_ECORRUPT;
	vmcoreinfo_dec(vi, "NUMBER(pgtable_l5_enabled)", &l5);
	vmcoreinfo_dec(vi, "NUMBER(sme_mask)", &sme_mask);
	a->phys_base = phys_base;
	a->k.lay.cr3 = pgt - START_KERNEL_MAP + (uint64_t)phys_base;
	a->k.lay.pt_levels = l5 ? 5 : 4;
	a->k.lay.pte_mask = PTE_ADDR_MASK & ~(uint64_t)sme_mask;
	return GF_OK;
}

/* Where new_utsname sits in init_uts_ns. VMCOREINFO gives the offset
 * since it moved to the front of struct uts_namespace (0 on 6.1 and
 * later); before that (5.10) a 4-byte kref came first and VMCOREINFO said
 * nothing: there the struct's first 64 bytes are searched for the sysname
 * "Linux" that the release follows. GF_OK, GF_EFAULT, or GF_ECORRUPT where
 * it is not there. */
static int uts_name_offset(const struct gf_kernel *k, const struct vmcoreinfo *vi,
			   uint64_t uts, uint64_t *off)
{
	char head[64 + sizeof "Linux"];
	int64_t given;

	if (!vmcoreinfo_dec(vi, "OFFSET(uts_namespace.name)", &given)) {
		*off = (uint64_t)given;
		return given >= 0 ? GF_OK : GF_ECORRUPT;
	}
	if (gf_read(k, uts, head, sizeof head))
		return GF_EFAULT;
	for (uint32_t at = 0; at <= 64; at += 4)
		if (!memcmp(head + at, "Linux", sizeof "Linux")) {
			*off = at;
			return GF_OK;
		}
	return GF_ECORRUPT;
}

/* A candidate is the live kernel's if its page tables lead to a
 * utsname that holds the same release string. Stale copies from an
 * earlier boot, or a wrong RAM layout, fail here: GF_ECORRUPT. */
static int validate(struct gf_attachment *a, const struct vmcoreinfo *vi)
{
	uint64_t uts, name_off;
	char release[UTS_LEN];

	if (paging_from(a, vi) ||
	    vmcoreinfo_hex(vi, "SYMBOL(init_uts_ns)", &uts) ||
	    uts_name_offset(&a->k, vi, uts, &name_off) ||
	    gf_read(&a->k, uts + name_off + 2 * UTS_LEN, release, sizeof release))
		return GF_ECORRUPT;
	release[UTS_LEN - 1] = 0;
	return strcmp(release, a->release) ? GF_ECORRUPT : GF_OK;
}

static int excluded(const struct gf_attachment *a, const struct gf_kernel_id *skip)
{
	return skip && a->kaslr_offset == skip->kaslr_offset &&
	       a->phys_base == skip->phys_base;
}

/* The first candidate: the copy the target carries (/proc/kcore's note),
 * else the first one found in memory. */
static int first_candidate(const struct gf_attachment *a, const struct gf_target *t,
			   struct vmcoreinfo *c)
{
	size_t len = t->vmcoreinfo ? strlen(t->vmcoreinfo) + 1 : 0;

	if (!len)
		return vmcoreinfo_find(&a->k.mem, c, 1);
	if (!vmcoreinfo_is_complete(t->vmcoreinfo, len))
		return 0;
	memcpy(c->text, t->vmcoreinfo, len);
	c->phys = 0;
	return 1;
}

/* The live kernel's VMCOREINFO: GF_OK, GF_ENOENT (no kernel found),
 * GF_ECORRUPT (none found resolves) or GF_ENOMEM, with why in err. */
static int find_kernel(struct gf_attachment *a, const struct gf_target *t,
		       struct vmcoreinfo *vi, const struct gf_kernel_id *skip,
		       char *err, size_t errlen)
{
	struct vmcoreinfo *cands = malloc(MAX_CANDIDATES * sizeof *cands);
	int n, i;

	if (!cands) {
		snprintf(err, errlen, "out of memory");
		return GF_ENOMEM;
	}
	/* The first copy is almost always the live one: look for more only
	 * when it fails to validate. */
	n = first_candidate(a, t, cands);
	if (n == 1 && (validate(a, &cands[0]) || excluded(a, skip)))
		n = vmcoreinfo_find(&a->k.mem, cands, MAX_CANDIDATES);
	for (i = 0; i < n && (validate(a, &cands[i]) || excluded(a, skip)); i++)
		;
	if (i < n)
		*vi = cands[i];
	else if (n == 0)
		snprintf(err, errlen, "no Linux kernel found in memory (no "
			 "VMCOREINFO: not Linux, or the guest is still booting)");
	else
		snprintf(err, errlen, "VMCOREINFO found but its page tables do "
			 "not resolve (wrong machine=/lowmem= for this RAM file?)");
	free(cands);
	return i < n ? GF_OK : n == 0 ? GF_ENOENT : GF_ECORRUPT;
}

/* The kernel's BTF, copied out of its memory and parsed: GF_OK, 1 where
 * the kernel has none, else a GF_E* with why in err. */
static int layout_btf(struct gf_attachment *a, const struct gf_config *cfg,
		      char *err, size_t errlen)
{
	uint64_t start, stop;
	uint8_t *data;
	int rc;

	if (symbol(a, cfg, "__start_BTF", &start) ||
	    symbol(a, cfg, "__stop_BTF", &stop))
		return 1; /* no BTF: the caller falls back on the profile */
	if (stop <= start || stop - start > MAX_BTF_SIZE) {
		snprintf(err, errlen, "implausible BTF size %llu",
			 (unsigned long long)(stop - start));
		return GF_ECORRUPT;
	}
	if (!(data = malloc(stop - start))) {
		snprintf(err, errlen, "out of memory");
		return GF_ENOMEM;
	}
	rc = gf_read(&a->k, start, data, (uint32_t)(stop - start));
	if (rc)
		snprintf(err, errlen, "kernel BTF not readable: %s",
			 gf_strerror(rc));
	else
		rc = layout_from_btf(&a->k.lay, data, (uint32_t)(stop - start),
				     err, errlen);
	free(data);
	return rc;
}

/* TIF_SIGPENDING is a macro, absent from BTF and kallsyms, so it comes
 * from a table of the x86-64 kernels it was checked on: bit 2 from 2.6 up
 * to 6.17 (arch/x86/include/asm/thread_info.h), bit 1 from 6.18, when x86
 * moved to asm-generic/thread_info_tif.h. [profile] TIF_SIGPENDING wins. */
static uint32_t tif_sigpending(const char *release, const struct gf_config *c)
{
	unsigned major = 0, minor = 0;
	uint64_t v;

	if (!config_profile(c, "TIF_SIGPENDING", &v))
		return (uint32_t)v;
	sscanf(release, "%u.%u", &major, &minor);
	return (major > 6 || (major == 6 && minor >= 18)) ? 1 : 2;
}

/* init_task is pid 0, "swapper/0", with no mm: a cheap proof that the
 * symbols and offsets agree with the memory. GF_OK, GF_EFAULT, or
 * GF_ECORRUPT where they do not. */
static int check_init_task(const struct gf_kernel *k)
{
	char comm[GF_COMM_LEN];
	int32_t pid;
	uint64_t mm;

	if (gf_read(k, k->lay.init_task + k->lay.task_pid, &pid, 4) ||
	    gf_read(k, k->lay.init_task + k->lay.task_comm, comm, sizeof comm) ||
	    gf_read(k, k->lay.init_task + k->lay.task_mm, &mm, 8))
		return GF_EFAULT;
	return pid == 0 && mm == 0 && !strncmp(comm, "swapper", 7) ? GF_OK : GF_ECORRUPT;
}

/* Symbols of the optional layout groups (layout.c): a group one of them
 * is missing from is switched off, and the attach goes on without it. */
static const struct {
	const char *name;
	size_t at;  /* offsetof(struct gf_layout, ...) */
	size_t has; /* the group's flag: offsetof(struct gf_layout, has_...) */
} group_symbols[] = {
#define SYM(name, member, group) \
	{ name, offsetof(struct gf_layout, member), offsetof(struct gf_layout, group) }
	SYM("kernel_cpustat", kernel_cpustat, has_metrics),
	SYM("runqueues", runqueues, has_metrics),
	SYM("tick_cpu_sched", tick_cpu_sched, has_metrics),
	SYM("vm_event_states", vm_event_states, has_metrics),
	SYM("vm_zone_stat", vm_zone_stat, has_metrics),
	SYM("vm_node_stat", vm_node_stat, has_metrics),
	SYM("nr_swap_pages", nr_swap_pages, has_metrics),
	SYM("total_swap_pages", total_swap_pages, has_metrics),
	SYM("_totalram_pages", totalram_pages, has_metrics),
	SYM("totalreserve_pages", totalreserve_pages, has_metrics),
	SYM("jiffies_64", jiffies, has_metrics),
	SYM("panic_cpu", panic_cpu, has_metrics),
	SYM("tainted_mask", tainted_mask, has_metrics),
	SYM("__cpu_online_mask", cpu_online_mask, has_metrics),
	SYM("prb", prb, has_printk),
	SYM("modules", modules, has_modules), /* kernel/module/main.c's list */
#undef SYM
};

/* Every symbol an attach looks up: kallsyms decodes names only until it
 * has them all. */
static uint32_t wanted_symbols(const char **names)
{
	static const char *const required[] = {
		"__start_BTF", "__stop_BTF", "init_task", "__per_cpu_offset", "nr_cpu_ids",
		"linux_banner", /* not required: what profile_fits reads */
	};
	uint32_t n = 0;

	for (size_t i = 0; i < sizeof required / sizeof *required; i++)
		names[n++] = required[i];
	for (size_t i = 0; i < sizeof group_symbols / sizeof *group_symbols; i++)
		names[n++] = group_symbols[i].name;
	return n;
}

static void read_group_symbols(struct gf_attachment *a, const struct gf_config *cfg)
{
	struct gf_layout *l = &a->k.lay;

	for (size_t i = 0; i < sizeof group_symbols / sizeof *group_symbols; i++) {
		uint64_t *va = (uint64_t *)((char *)l + group_symbols[i].at);
		if (symbol(a, cfg, group_symbols[i].name, va))
			*(uint32_t *)((char *)l + group_symbols[i].has) = 0;
	}
}

static int read_symbols(struct gf_attachment *a, const struct gf_config *cfg,
			char *err, size_t errlen)
{
	uint64_t nr_cpu_ids, totalram;
	int64_t pages = 0;

	if (symbol(a, cfg, "init_task", &a->k.lay.init_task) ||
	    symbol(a, cfg, "__per_cpu_offset", &a->k.lay.per_cpu_offset) ||
	    symbol(a, cfg, "nr_cpu_ids", &nr_cpu_ids) ||
	    gf_read(&a->k, nr_cpu_ids, &a->k.lay.nr_cpu_ids, 4)) {
		snprintf(err, errlen, "kernel symbols init_task, __per_cpu_offset "
			 "or nr_cpu_ids not found (kernel without "
			 "CONFIG_KALLSYMS_ALL? give them in [profile])");
		return GF_ENOENT;
	}
	if (a->k.lay.nr_cpu_ids == 0 || a->k.lay.nr_cpu_ids > 8192) {
		snprintf(err, errlen, "implausible nr_cpu_ids %u",
			 a->k.lay.nr_cpu_ids);
		return GF_ECORRUPT;
	}
	a->ncpus = a->k.lay.nr_cpu_ids;
	read_group_symbols(a, cfg);
	if (!symbol(a, cfg, "_totalram_pages", &totalram))
		gf_read(&a->k, totalram, &pages, 8);
	a->ram_bytes = pages > 0 ? (uint64_t)pages * 4096 : 0;
	return GF_OK;
}

/* Full discovery: kallsyms and BTF decoded from memory, [profile] over
 * them. */
static int discover(struct gf_attachment *a, const struct gf_config *cfg,
		    const struct vmcoreinfo *vi, const char **names, uint32_t nnames,
		    char *err, size_t errlen)
{
	int btf, rc;

	if ((rc = kallsyms_load(&a->k, vi, names, nnames, &a->syms, err, errlen)))
		return rc;
	if ((btf = layout_btf(a, cfg, err, errlen)) < 0)
		return btf;
	if ((rc = layout_from_profile(&a->k.lay, cfg, btf, err, errlen)) ||
	    (rc = read_symbols(a, cfg, err, errlen)))
		return rc;
	strcpy(a->layout_source, btf ? "profile" : cfg->nprofile ? "btf+profile" : "btf");
	return GF_OK;
}

/* What the profile cache needs of VMCOREINFO: the build and _stext. */
struct build {
	char id[GF_BUILD_ID_MAX + 1];
	uint64_t stext;
	char dir[512]; /* where its profile is kept */
};

/* Whether this attach reads and writes a cached profile: not when told
 * --no-cache, nor when [profile] gives values by hand (discovery is then
 * partly the operator's), nor for a kernel that names no build. */
static int cacheable(const struct gf_config *cfg, const struct vmcoreinfo *vi,
		     struct build *b)
{
	return !cfg->no_cache && !cfg->nprofile &&
	       !vmcoreinfo_get(vi, "BUILD-ID", b->id, sizeof b->id) &&
	       !vmcoreinfo_hex(vi, "SYMBOL(_stext)", &b->stext) &&
	       !profile_dir(b->dir, sizeof b->dir);
}

/* The profile's layout and symbols in place of BTF and kallsyms, kept only
 * if they fit this memory: GF_OK, GF_ENOENT (no profile), GF_ENOMEM, or a
 * GF_E* with a->note saying why the profile there was not used. */
static int attach_cached(struct gf_attachment *a, const struct gf_config *cfg,
			 const char **names, uint32_t nnames, const struct build *b)
{
	struct gf_profile *p = malloc(sizeof *p);
	struct gf_layout paging = a->k.lay;
	uint64_t banner = 0;
	char why[256];
	int rc;

	if (!p)
		return GF_ENOMEM;
	if ((rc = profile_load(b->dir, b->id, b->stext, p, why, sizeof why)) > 0) {
		free(p);
		return GF_ENOENT;
	}
	if (!rc && strcmp(p->release, a->release)) {
		snprintf(why, sizeof why, "cached profile of %s is for %s, not %s",
			 b->id, p->release, a->release);
		rc = GF_ECORRUPT;
	}
	if (!rc && !(a->syms = symtab_new(p->kallsyms))) {
		snprintf(why, sizeof why, "out of memory");
		rc = GF_ENOMEM;
	}
	for (uint32_t i = 0; !rc && i < nnames; i++)
		for (uint32_t j = 0; j < p->nsyms; j++)
			if (!strcmp(p->sym[j].key, names[i]))
				symtab_add(a->syms, names[i], p->sym[j].value);
	if (!rc && !(rc = layout_from_pairs(&a->k.lay, p->field, p->nfields, 1,
					    "cached profile", why, sizeof why)))
		rc = read_symbols(a, cfg, why, sizeof why);
	if (!rc) {
		symtab_lookup(a->syms, "linux_banner", &banner);
		if ((rc = profile_fits(&a->k, a->release, banner, why, sizeof why)))
			snprintf(why + strlen(why), sizeof why - strlen(why),
				 " (cached profile of %s)", b->id);
	}
	free(p);
	if (!rc)
		return GF_OK;
	snprintf(a->note, sizeof a->note, "%s: full discovery instead", why);
	symtab_free(a->syms);
	a->syms = NULL;
	a->k.lay = paging;
	return rc;
}

/* Keeps what full discovery derived, if it would pass as a profile. */
static void cache(struct gf_attachment *a, const char **names, uint32_t nnames,
		  const struct build *b)
{
	struct gf_profile *p = calloc(1, sizeof *p);
	uint64_t banner = 0;
	char why[256];

	symtab_lookup(a->syms, "linux_banner", &banner);
	if (!p || profile_fits(&a->k, a->release, banner, why, sizeof why)) {
		free(p);
		return;
	}
	strcpy(p->build_id, b->id);
	strcpy(p->release, a->release);
	p->kallsyms = symtab_count(a->syms);
	p->nfields = layout_to_pairs(&a->k.lay, p->field, GF_PROFILE_FIELDS);
	for (uint32_t i = 0; i < nnames; i++)
		if (!symtab_lookup(a->syms, names[i], &p->sym[p->nsyms].value))
			strcpy(p->sym[p->nsyms++].key, names[i]);
	if (profile_save(b->dir, p, b->stext, why, sizeof why))
		snprintf(a->note, sizeof a->note, "%s", why);
	free(p);
}

int gf_attach(struct gf_attachment *a, const struct gf_target *t,
	      const struct gf_config *cfg, char *err, size_t errlen)
{
	return gf_attach_except(a, t, cfg, NULL, err, errlen);
}

/* Attaches to a kernel other than `skip` (NULL: any): after a restart the
 * stopped kernel's image stays in RAM beside the new one. A cached profile
 * of the kernel's build stands in for kallsyms and BTF when it fits.
 * GF_OK, or the GF_E* of the first step that failed, with why in err. */
int gf_attach_except(struct gf_attachment *a, const struct gf_target *t,
		     const struct gf_config *cfg, const struct gf_kernel_id *skip,
		     char *err, size_t errlen)
{
	struct vmcoreinfo *vi = malloc(sizeof *vi);
	struct build *b = malloc(sizeof *b);
	const char *names[KALLSYMS_MAX_WANTED];
	struct gf_helper helper;
	double t0 = gf_now_monotonic();
	uint32_t nnames = wanted_symbols(names);
	int cached = 0, use_cache, rc;

	memset(a, 0, sizeof *a);
	a->k.mem = t->mem;
	a->k.writable = (uint32_t)t->writable;
	if (!vi || !b) {
		snprintf(err, errlen, "out of memory");
		rc = GF_ENOMEM;
		goto fail;
	}
	if ((rc = find_kernel(a, t, vi, skip, err, errlen)))
		goto fail;
	use_cache = cacheable(cfg, vi, b);
	if (use_cache && !attach_cached(a, cfg, names, nnames, b)) {
		cached = 1;
		strcpy(a->layout_source, "profile-cache");
	} else if ((rc = discover(a, cfg, vi, names, nnames, err, errlen))) {
		goto fail;
	}
	a->k.lay.tif_sigpending = tif_sigpending(a->release, cfg);
	if (a->k.lay.tif_sigpending > 63) {
		snprintf(err, errlen, "[profile] TIF_SIGPENDING = %u: thread_info.flags "
			 "has 64 bits", a->k.lay.tif_sigpending);
		rc = GF_EINVAL;
		goto fail;
	}
	if ((rc = check_init_task(&a->k))) {
		snprintf(err, errlen, "init_task does not look like swapper/0: "
			 "symbols or offsets do not match this kernel");
		goto fail;
	}
	if (use_cache && !cached)
		cache(a, names, nnames, b);
	if (!gf_helper_find(&a->k, &helper)) /* for the watch loop's recovery */
		a->k.helper = helper.va;
	free(vi);
	free(b);
	a->attach_ms = (gf_now_monotonic() - t0) * 1e3;
	return GF_OK;
fail:
	free(vi);
	free(b);
	gf_detach(a);
	return rc;
}

void gf_detach(struct gf_attachment *a)
{
	symtab_free(a->syms);
	a->syms = NULL;
}
