/* helper.c — finds kmod/gpufas_helper.c's mailbox from outside, with no
 * configuration, and posts signal requests to it.
 *
 * How it is found: the kernel's list of modules (the list head `modules`,
 * each struct module on it by module.list) leads to the module named
 * "gpufas_helper", whose own symbol table (module.kallsyms, a struct
 * mod_kallsyms) gives the address of its symbol gpufas_helper_mailbox.
 * The page there must then hold the helper's magic, its own address and a
 * known version. Why this way rather than scanning the module's memory
 * for a magic: it needs no knowledge of how a module's memory is laid out,
 * which changed in 6.4 (commit ac3b43283923, "module: replace
 * module_layout with module_memory": core_layout became mem[MOD_*]). What
 * it relies on is the same in the include/linux/module.h of each of
 * Debian's 5.10, 6.1, 6.12 (both) and 7.2: struct mod_kallsyms { symtab,
 * num_symtab, strtab, typetab }, the types in typetab and so the names
 * alone in strtab; st_value the symbol's final address, as /proc/kallsyms
 * prints it; and `modules` in kallsyms (CONFIG_KALLSYMS_ALL, as Debian
 * builds). Found live on 5.10, 6.1 and 6.12; not yet on trixie's 6.12
 * and 7.2, for which this machine lacks the compilers to build the module
 * (their BTF has every field, and their empty module lists are read).
 * Every offset comes from the kernel's BTF (layout.c, group MODULES); the
 * list, the table and the page are guest memory: untrusted, every loop
 * bounded, and a page that does not check out is no helper.
 *
 * The request protocol is in kmod/gpufas_helper.h, its stores in
 * introspect.c (gf_helper_post, gf_helper_answer: the GPU engine posts
 * too); here the CPU waits for the answers. One writer at a time is
 * assumed: a second one racing can overwrite the first's batch, which then
 * goes unanswered or is answered "task changed" (a pid paired with
 * another's start time matches no task), and its caller falls back on the
 * pseudo-signal.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "core.h"
#include "gpufas.h"
#include "helper.h"
#include "kmod/gpufas_helper.h"

#define MAX_MODULES 4096          /* far more than any kernel loads */
#define MAX_MODULE_SYMBOLS 65536  /* a big module has a few thousand */
#define MODULE_NAME_LEN 56        /* 64 - sizeof(unsigned long): module.h */
#define SYMS_CHUNK 64
#define PAGE_BYTES 4096u
#define POLL_S 250e-6             /* how often the answer is looked for */
#define WAIT_MAX_MS 1000          /* the longest wait for an answer */

struct elf64_sym { /* Elf64_Sym, as the module loader keeps it */
	uint32_t st_name;
	uint8_t st_info, st_other;
	uint16_t st_shndx;
	uint64_t st_value, st_size;
};

/* The struct module named GFH_MODULE on the kernel's list of modules:
 * each link checked against its back link, as CONFIG_DEBUG_LIST does. */
static int find_module(const struct gf_kernel *k, uint64_t *mod)
{
	const struct gf_layout *l = &k->lay;
	uint64_t prev = l->modules, node, back;
	char name[MODULE_NAME_LEN];
	int err;

	if ((err = gf_read(k, prev, &node, 8)))
		return err;
	for (uint32_t i = 0; i < MAX_MODULES && node != l->modules; i++) {
		if ((err = gf_read(k, node + 8, &back, 8)))
			return err;
		if (back != prev)
			return GF_ECORRUPT;
		if ((err = gf_read(k, node - l->mod_list + l->mod_name, name,
				   sizeof name)))
			return err;
		if (!strncmp(name, GFH_MODULE, sizeof name)) {
			*mod = node - l->mod_list;
			return GF_OK;
		}
		prev = node;
		if ((err = gf_read(k, node, &node, 8)))
			return err;
	}
	return node == l->modules ? GF_ESRCH : GF_ECORRUPT;
}

/* Whether the symbol's name in strtab is `want`. */
static int named(const struct gf_kernel *k, uint64_t strtab,
		 const struct elf64_sym *s, const char *want, int *match)
{
	char name[sizeof GFH_SYMBOL];
	int err = gf_read(k, strtab + s->st_name, name, sizeof name);

	*match = !err && !memcmp(name, want, sizeof name);
	return err;
}

/* The address of `want` among the module's own symbols. */
static int module_symbol(const struct gf_kernel *k, uint64_t mod,
			 const char *want, uint64_t *va)
{
	const struct gf_layout *l = &k->lay;
	struct elf64_sym sym[SYMS_CHUNK];
	uint64_t ks, symtab, strtab;
	uint32_t num;
	int err, match;

	if ((err = gf_read(k, mod + l->mod_kallsyms, &ks, 8)) ||
	    (err = gf_read(k, ks + l->mk_symtab, &symtab, 8)) ||
	    (err = gf_read(k, ks + l->mk_num_symtab, &num, 4)) ||
	    (err = gf_read(k, ks + l->mk_strtab, &strtab, 8)))
		return err;
	if (num > MAX_MODULE_SYMBOLS)
		return GF_ECORRUPT;
	for (uint32_t i = 0; i < num; i += SYMS_CHUNK) {
		uint32_t n = num - i < SYMS_CHUNK ? num - i : SYMS_CHUNK;
		if ((err = gf_read(k, symtab + (uint64_t)i * sizeof *sym, sym,
				   n * (uint32_t)sizeof *sym)))
			return err;
		for (uint32_t j = 0; j < n; j++) {
			if ((err = named(k, strtab, &sym[j], want, &match)) &&
			    err != GF_EFAULT) /* a name off the map: not ours */
				return err;
			if (match) {
				*va = sym[j].st_value;
				return GF_OK;
			}
		}
	}
	return GF_ESRCH;
}

/* The mailbox at va is the helper's: its magic, its own address and the
 * version this gpufas speaks, with the batch size of that version. */
static int check_mailbox(const struct gf_kernel *k, uint64_t va,
			 struct gf_helper *h)
{
	struct gfh_mailbox mb;
	int err;

	if (va & (PAGE_BYTES - 1))
		return GF_ECORRUPT;
	if ((err = gf_read(k, va, &mb, GFH_HEADER_BYTES)))
		return err;
	if (mb.magic != GFH_MAGIC || mb.self != va)
		return GF_ECORRUPT;
	if (mb.version != GFH_VERSION || mb.slots != GFH_SLOTS)
		return GF_EINVAL;
	h->va = va;
	h->version = mb.version;
	h->period_ms = mb.period_ms;
	h->hz = mb.hz;
	return GF_OK;
}

int gf_helper_find(const struct gf_kernel *k, struct gf_helper *h)
{
	uint64_t mod, va;
	int err;

	memset(h, 0, sizeof *h);
	if (!k->lay.has_modules)
		return GF_EINVAL;
	if ((err = find_module(k, &mod)) ||
	    (err = module_symbol(k, mod, GFH_SYMBOL, &va)))
		return err;
	return check_mailbox(k, va, h);
}

/* Ten of its periods and 0.1 s more, at most WAIT_MAX_MS: the period is
 * the mailbox's, guest memory, and the wait holds the agent's loop, which
 * watches every target. */
uint32_t gf_helper_wait_ms(const struct gf_helper *h)
{
	uint64_t ms = 100 + 10ull * h->period_ms;

	return ms < WAIT_MAX_MS ? (uint32_t)ms : WAIT_MAX_MS;
}

const char *gf_helper_answer_name(int answer)
{
	switch (answer) {
	case GF_HELPER_DONE:    return "done";
	case GF_HELPER_NO_TASK: return "no such task";
	case GF_HELPER_CHANGED: return "the task changed (pid reused)";
	case GF_HELPER_REFUSED: return "refused (pid 1, a kernel thread or a bad signal)";
	default:                return "no answer";
	}
}

int gf_helper_signal(const struct gf_kernel *k, const struct gf_helper *h,
		     const struct gf_task *t, uint32_t n, int sig, int32_t *answers)
{
	double end = gf_now_monotonic() + gf_helper_wait_ms(h) / 1e3;
	uint32_t seq;
	int err, answered;

	if ((err = gf_helper_post(k, h->va, t, n, sig, &seq)))
		return err;
	while (!(answered = gf_helper_answers(k, h->va, seq, n, answers)) &&
	       gf_now_monotonic() < end)
		gf_sleep(POLL_S);
	for (uint32_t i = 0; i < n; i++) /* unanswered, or answered garbage */
		if (!answered || answers[i] == GFH_NONE)
			answers[i] = GF_HELPER_SILENT;
	return GF_OK;
}

int gf_helper_describe(const struct gf_kernel *k, char *buf, size_t len)
{
	struct gf_helper h;
	int err = gf_helper_find(k, &h);

	if (!err)
		snprintf(buf, len, "in-OS helper %s version %u, polled every %u ms",
			 GFH_MODULE, h.version, h.period_ms);
	else if (err == GF_ESRCH)
		snprintf(buf, len, "no in-OS helper (%s not loaded)", GFH_MODULE);
	else if (err == GF_EINVAL && !k->lay.has_modules)
		snprintf(buf, len, "no in-OS helper (this kernel's BTF or symbols "
			 "do not describe its module list)");
	else
		snprintf(buf, len, "no in-OS helper (%s: %s)", GFH_MODULE,
			 err == GF_EINVAL ? "a version this gpufas does not speak"
					  : gf_strerror(err));
	return err;
}
