/* vmcoreinfo.c — finding and reading the kernel's VMCOREINFO text.
 *
 * The kernel writes "OSRELEASE=...\nBUILD-ID=...\nPAGESIZE=...\n..." into a
 * zeroed page at boot (vmcoreinfo_data) and copies it into an ELF note
 * (vmcoreinfo_note) for crash dumps. Both start at a fixed place in a page,
 * so a page-by-page look finds them at once; a full scan is the fallback.
 * Freed pages may still hold stale or partial copies: only complete ones
 * are returned, and the caller validates each against the live kernel.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "gpufas.h"
#include "vmcoreinfo.h"

#define PAGE 4096u
#define MAGIC "OSRELEASE="
#define MAGIC_LEN (sizeof MAGIC - 1)
#define NOTE_TEXT_OFFSET 24 /* Elf64_Nhdr (12) + "VMCOREINFO\0" padded (12) */

static const char *required[] = {
	"OSRELEASE", "KERNELOFFSET", "NUMBER(phys_base)", "SYMBOL(init_top_pgt)",
};

/* The value of "KEY=value\n" in text, or NULL. */
static const char *find_key(const char *text, const char *key, size_t *len)
{
	size_t klen = strlen(key);

	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);
		if (n > klen && !memcmp(line, key, klen) && line[klen] == '=') {
			*len = n - klen - 1;
			return line + klen + 1;
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	return NULL;
}

/* GF_OK, GF_ENOENT (no such key) or GF_ENOSPC (its value does not fit
 * in vallen with its NUL). */
int vmcoreinfo_get(const struct vmcoreinfo *vi, const char *key, char *val,
		   size_t vallen)
{
	size_t n;
	const char *v = find_key(vi->text, key, &n);

	if (!v)
		return GF_ENOENT;
	if (n >= vallen)
		return GF_ENOSPC;
	memcpy(val, v, n);
	val[n] = 0;
	return GF_OK;
}

/* A number's text, for vmcoreinfo_hex and _dec: GF_ENOENT, or GF_ECORRUPT
 * where it is too long to be one. */
static int number_text(const struct vmcoreinfo *vi, const char *key, char *buf,
		       size_t len)
{
	int rc = vmcoreinfo_get(vi, key, buf, len);

	return rc == GF_ENOSPC ? GF_ECORRUPT : rc;
}

/* SYMBOL() and KERNELOFFSET values are hex without 0x. GF_OK, GF_ENOENT,
 * or GF_ECORRUPT for a value that is not one. */
int vmcoreinfo_hex(const struct vmcoreinfo *vi, const char *key,
		   uint64_t *out)
{
	char buf[32], *end;
	int rc;

	if ((rc = number_text(vi, key, buf, sizeof buf)))
		return rc;
	if (!isxdigit((unsigned char)buf[0]))
		return GF_ECORRUPT;
	errno = 0;
	*out = strtoull(buf, &end, 16);
	return *end || errno ? GF_ECORRUPT : GF_OK;
}

/* NUMBER(), OFFSET() and SIZE() values are signed decimal: phys_base is
 * negative on some boots. As vmcoreinfo_hex. */
int vmcoreinfo_dec(const struct vmcoreinfo *vi, const char *key,
		   int64_t *out)
{
	char buf[32], *end;
	int rc;

	if ((rc = number_text(vi, key, buf, sizeof buf)))
		return rc;
	if (!buf[0])
		return GF_ECORRUPT;
	errno = 0;
	*out = strtoll(buf, &end, 10);
	return *end || errno ? GF_ECORRUPT : GF_OK;
}

/* Complete: NUL-terminated printable lines holding every key we need. */
int vmcoreinfo_is_complete(const char *text, size_t len)
{
	size_t n = strnlen(text, len);

	if (n == len || n > VMCOREINFO_MAX || n < MAGIC_LEN ||
	    memcmp(text, MAGIC, MAGIC_LEN))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((text[i] < 0x20 || text[i] > 0x7e) && text[i] != '\n')
			return 0;
	for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
		size_t vlen;
		if (!find_key(text, required[i], &vlen) || !vlen)
			return 0;
	}
	return 1;
}

/* Adds the text at `p` if it is complete and not already a candidate. */
static int consider(const uint8_t *p, size_t avail, uint64_t phys,
		    struct vmcoreinfo *cands, int n, int max)
{
	size_t len = avail < VMCOREINFO_MAX ? avail : VMCOREINFO_MAX;

	if (n >= max || !vmcoreinfo_is_complete((const char *)p, len))
		return n;
	for (int i = 0; i < n; i++)
		if (!strcmp(cands[i].text, (const char *)p))
			return n;
	strcpy(cands[n].text, (const char *)p);
	cands[n].phys = phys;
	return n + 1;
}

/* A page start in RAM, the ranges taken in order as one run of pages. */
struct cursor {
	uint32_t range;
	uint64_t off;
};

static uint64_t pages_in(const struct gf_range *r)
{
	return r->size / PAGE;
}

/* Moves c one page up (dir 1) or down (-1), over ranges of no page. The
 * caller never moves it past either end. */
static void step(const struct gf_mem *m, struct cursor *c, int dir)
{
	if (dir > 0 && c->off + PAGE < pages_in(&m->range[c->range]) * PAGE) {
		c->off += PAGE;
		return;
	}
	if (dir < 0 && c->off >= PAGE) {
		c->off -= PAGE;
		return;
	}
	do
		c->range += (uint32_t)dir;
	while (c->range < m->nranges && !pages_in(&m->range[c->range]));
	if (c->range < m->nranges)
		c->off = dir > 0 ? 0 : (pages_in(&m->range[c->range]) - 1) * PAGE;
}

static int at_page(const struct gf_mem *m, const struct cursor *c,
		   struct vmcoreinfo *cands, int n, int max)
{
	static const uint32_t offsets[] = { 0, NOTE_TEXT_OFFSET };
	const struct gf_range *r = &m->range[c->range];

	for (int i = 0; i < 2; i++) {
		const uint8_t *p = r->base + c->off + offsets[i];
		if (!memcmp(p, MAGIC, MAGIC_LEN))
			n = consider(p, r->size - c->off - offsets[i],
				     r->phys + c->off + offsets[i], cands, n, max);
	}
	return n;
}

/* Page starts from both ends of RAM inwards, a page from the top, then
 * one from the bottom, until they meet: the kernel allocates both copies
 * early in boot, and they were seen within 25 MiB of the top on some
 * boots and of the bottom on others (6.12, 7.2: where depends on where
 * KASLR put the kernel), so either end's copy is met after a few
 * thousand pages, and RAM is not touched whole for one near the bottom. */
static int scan_page_starts(const struct gf_mem *m, struct vmcoreinfo *c, int max)
{
	struct cursor lo = { 0, 0 }, hi = { m->nranges - 1, 0 };
	uint64_t total = 0;
	int n = 0;

	for (uint32_t i = 0; i < m->nranges; i++)
		total += pages_in(&m->range[i]);
	if (!total)
		return 0;
	if (!pages_in(&m->range[0]))
		step(m, &lo, 1);
	hi.off = pages_in(&m->range[hi.range]) * PAGE; /* one past its last page */
	step(m, &hi, -1);
	for (uint64_t i = 0; i < total && n < max; i++) {
		struct cursor *at = i & 1 ? &lo : &hi;
		n = at_page(m, at, c, n, max);
		if (i + 2 < total) /* this cursor's next page is still unseen */
			step(m, at, i & 1 ? 1 : -1);
	}
	return n;
}

static int scan_everywhere(const struct gf_range *r, struct vmcoreinfo *c,
			   int n, int max)
{
	const uint8_t *p = r->base, *end = r->base + r->size;

	while (n < max && (p = memmem(p, (size_t)(end - p), MAGIC, MAGIC_LEN))) {
		n = consider(p, (size_t)(end - p), r->phys + (uint64_t)(p - r->base),
			     c, n, max);
		p += MAGIC_LEN;
	}
	return n;
}

/* Fills up to `max` distinct complete candidates; returns how many. RAM
 * read through a file (m->read: /proc/kcore) is not scanned: such a
 * target brings its own copy (gf_target.vmcoreinfo). */
int vmcoreinfo_find(const struct gf_mem *m, struct vmcoreinfo *cands, int max)
{
	int n = 0;

	if (m->read)
		return 0;
	n = scan_page_starts(m, cands, max);
	for (uint32_t i = 0; i < m->nranges && n == 0; i++)
		n = scan_everywhere(&m->range[i], cands, n, max);
	return n;
}
