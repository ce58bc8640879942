/* kallsyms.c — the kernel's symbol table, decoded from its own memory.
 *
 * VMCOREINFO (6.0 and later) gives the addresses of the compressed tables
 * that /proc/kallsyms is built from (kernel/kallsyms.c):
 *   kallsyms_names        per symbol a length (one byte, or two when the
 *                         first has bit 7 set, from 6.1) and token numbers;
 *   kallsyms_token_table  NUL-separated token strings;
 *   kallsyms_token_index  u16 offset of each of the 256 tokens;
 *   kallsyms_offsets      s32 per symbol, against kallsyms_relative_base.
 * The first character of a decoded name is its type letter ('T', 'D'...).
 * How an offset becomes an address changed over the years; rather than
 * guess from the version, each known rule is tried and the one that puts
 * _stext where VMCOREINFO says it is wins.
 */
#include <stdlib.h>
#include <string.h>

#include "gpufas.h"

#define MAX_SYMS (1u << 21)
#define MAX_NAME 512
#define TOKEN_TABLE_MAX 65536u
#define CHUNK (256u << 10)
#define MAX_NAMES_TABLE (64u << 20) /* real ones are 1-3 MiB */

struct gf_symtab {
	uint32_t count, mask;
	uint64_t *addr;
	uint32_t *name_at; /* offset in names */
	char *names;
	uint32_t *slot;    /* hash table of index + 1 */
};

/* The names table, copied out of guest memory as the decoding goes: its
 * length is known only once every name has been read. */
struct names {
	const struct gf_kernel *k;
	uint64_t va;
	uint8_t *buf;
	size_t len, cap, pos;
};

/* Makes n more bytes available at pos; -1 if guest memory ends first. */
static int names_need(struct names *r, size_t n)
{
	while (r->len - r->pos < n) {
		size_t chunk = CHUNK - ((r->va + r->len) & 4095);
		if (r->len + chunk > MAX_NAMES_TABLE)
			return -1;
		if (r->len + chunk > r->cap) {
			uint8_t *bigger = realloc(r->buf, r->cap * 2 + CHUNK);
			if (!bigger)
				return -1;
			r->buf = bigger;
			r->cap = r->cap * 2 + CHUNK;
		}
		/* near the end of the table a page may be unmapped: go on
		 * page by page there */
		if (gf_read(r->k, r->va + r->len, r->buf + r->len, (uint32_t)chunk)) {
			chunk = 4096 - ((r->va + r->len) & 4095);
			if (gf_read(r->k, r->va + r->len, r->buf + r->len,
				    (uint32_t)chunk))
				return -1;
		}
		r->len += chunk;
	}
	return 0;
}

struct tables {
	uint32_t num;
	uint16_t token_index[256];
	char token_table[TOKEN_TABLE_MAX];
	uint32_t token_len;
	uint8_t tok_len[256]; /* strlen of each token, checked once */
	int32_t *offsets;
	uint64_t relative_base, offsets_va, names_va;
};

static int sym(const struct vmcoreinfo *vi, const char *name, uint64_t *va)
{
	char key[64];

	snprintf(key, sizeof key, "SYMBOL(%s)", name);
	return vmcoreinfo_hex(vi, key, va);
}

/* Each of the 256 tokens must end inside the table, and be short. */
static int measure_tokens(struct tables *t)
{
	for (int i = 0; i < 256; i++) {
		uint32_t at = t->token_index[i], n = 0;
		while (at + n < t->token_len && t->token_table[at + n] && n < 255)
			n++;
		if (at + n >= t->token_len || t->token_table[at + n])
			return -1;
		t->tok_len[i] = (uint8_t)n;
	}
	return 0;
}

static int read_tables(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		       struct tables *t, char *err, size_t errlen)
{
	uint64_t num_va, tt_va, ti_va, rb_va;

	if (sym(vi, "kallsyms_num_syms", &num_va) ||
	    sym(vi, "kallsyms_names", &t->names_va) ||
	    sym(vi, "kallsyms_token_table", &tt_va) ||
	    sym(vi, "kallsyms_token_index", &ti_va) ||
	    sym(vi, "kallsyms_offsets", &t->offsets_va) ||
	    sym(vi, "kallsyms_relative_base", &rb_va)) {
		snprintf(err, errlen, "VMCOREINFO lists no kallsyms tables "
			 "(kernel older than 6.0?): give symbols in [profile]");
		return -1;
	}
	if (gf_read(k, num_va, &t->num, 4) || gf_read(k, rb_va, &t->relative_base, 8) ||
	    gf_read(k, ti_va, t->token_index, sizeof t->token_index)) {
		snprintf(err, errlen, "kallsyms tables are not readable");
		return -1;
	}
	if (t->num == 0 || t->num > MAX_SYMS) {
		snprintf(err, errlen, "kallsyms: implausible symbol count %u", t->num);
		return -1;
	}
	/* the token table is short; read what is mapped of 64 KiB */
	t->token_len = TOKEN_TABLE_MAX - (uint32_t)(tt_va & 4095);
	while (t->token_len && gf_read(k, tt_va, t->token_table, t->token_len))
		t->token_len = t->token_len > 4096 ? t->token_len - 4096 : 0;
	if (measure_tokens(t)) {
		snprintf(err, errlen, "kallsyms: corrupt token table");
		return -1;
	}
	t->offsets = malloc((size_t)t->num * 4);
	if (!t->offsets ||
	    gf_read(k, t->offsets_va, t->offsets, t->num * 4)) {
		snprintf(err, errlen, "kallsyms tables are not readable");
		return -1;
	}
	return 0;
}

/* Expands the next compressed name into out; returns its length
 * (type letter included), or -1 on a corrupt entry. */
static int expand_name(struct names *r, const struct tables *t, char *out)
{
	uint32_t len, n = 0;
	const uint8_t *p;

	if (names_need(r, 1))
		return -1;
	len = r->buf[r->pos];
	if (len & 0x80) {
		if (names_need(r, 2))
			return -1;
		len = (len & 0x7f) | ((uint32_t)r->buf[r->pos + 1] << 7);
		r->pos++;
	}
	r->pos++;
	if (len == 0 || names_need(r, len))
		return -1;
	p = r->buf + r->pos;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t tl = t->tok_len[p[i]];
		if (n + tl >= MAX_NAME)
			return -1;
		memcpy(out + n, t->token_table + t->token_index[p[i]], tl);
		n += tl;
	}
	r->pos += len;
	out[n] = 0;
	return n ? (int)n : -1;
}

/* The rules, newest last:
 *   0 absolute per-CPU (x86-64 SMP until 6.15): a non-negative offset is
 *     an absolute address, a negative one is relative_base - 1 - offset;
 *   1 base-relative: relative_base + (u32)offset (6.15 on);
 *   2 place-relative: the offset is from the entry itself (7.0 on). */
static uint64_t sym_address(const struct tables *t, int rule, uint32_t i)
{
	int32_t off = t->offsets[i];

	switch (rule) {
	case 0:
		return off >= 0 ? (uint64_t)off : t->relative_base - 1 - off;
	case 1:
		return t->relative_base + (uint32_t)off;
	default:
		return t->offsets_va + 4ull * i + (int64_t)off;
	}
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static void insert(struct gf_symtab *s, uint32_t i)
{
	uint32_t h = hash(s->names + s->name_at[i]) & s->mask;

	while (s->slot[h])
		h = (h + 1) & s->mask;
	s->slot[h] = i + 1;
}

int symtab_lookup(const struct gf_symtab *s, const char *name, uint64_t *va)
{
	for (uint32_t h = hash(name) & s->mask; s->slot[h]; h = (h + 1) & s->mask) {
		uint32_t i = s->slot[h] - 1;
		if (!strcmp(s->names + s->name_at[i], name)) {
			*va = s->addr[i];
			return 0;
		}
	}
	return -1;
}

uint32_t symtab_count(const struct gf_symtab *s)
{
	return s->count;
}

void symtab_free(struct gf_symtab *s)
{
	if (!s)
		return;
	free(s->addr);
	free(s->name_at);
	free(s->names);
	free(s->slot);
	free(s);
}

static struct gf_symtab *symtab_alloc(uint32_t num)
{
	struct gf_symtab *s = calloc(1, sizeof *s);
	uint32_t size = 1;

	while (size < 2 * num)
		size <<= 1;
	if (!s)
		return NULL;
	s->mask = size - 1;
	s->addr = malloc((size_t)num * sizeof *s->addr);
	s->name_at = malloc((size_t)num * sizeof *s->name_at);
	s->slot = calloc(size, sizeof *s->slot);
	if (!s->addr || !s->name_at || !s->slot) {
		symtab_free(s);
		return NULL;
	}
	return s;
}

/* Decodes every name into s->names (without the type letter). */
static int decode_names(const struct gf_kernel *k, const struct tables *t,
			struct gf_symtab *s)
{
	struct names r = { .k = k, .va = t->names_va };
	size_t used = 0, cap = (size_t)t->num * 24;
	char name[MAX_NAME];
	int len, err = 0;

	if (!(s->names = malloc(cap)))
		return -1;
	for (uint32_t i = 0; i < t->num; i++) {
		if ((len = expand_name(&r, t, name)) < 0) {
			err = -1;
			break;
		}
		if (used + (size_t)len > cap) {
			char *bigger = realloc(s->names, cap * 2);
			if (!bigger) {
				err = -1;
				break;
			}
			s->names = bigger;
			cap *= 2;
		}
		memcpy(s->names + used, name + 1, (size_t)len); /* NUL included */
		s->name_at[i] = (uint32_t)used;
		used += (size_t)len;
		s->count++;
	}
	free(r.buf);
	return err;
}

/* Which address rule puts _stext where VMCOREINFO says? -1 if none. */
static int pick_rule(const struct tables *t, const struct gf_symtab *s,
		     uint64_t stext)
{
	for (uint32_t i = 0; i < s->count; i++) {
		if (strcmp(s->names + s->name_at[i], "_stext"))
			continue;
		for (int rule = 0; rule < 3; rule++)
			if (sym_address(t, rule, i) == stext)
				return rule;
	}
	return -1;
}

int kallsyms_load(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		  struct gf_symtab **out, char *err, size_t errlen)
{
	struct tables *t = calloc(1, sizeof *t);
	struct gf_symtab *s = NULL;
	uint64_t stext;
	int rule;

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (read_tables(k, vi, t, err, errlen))
		goto fail;
	if (sym(vi, "_stext", &stext)) {
		snprintf(err, errlen, "VMCOREINFO has no SYMBOL(_stext)");
		goto fail;
	}
	if (!(s = symtab_alloc(t->num)) || decode_names(k, t, s)) {
		snprintf(err, errlen, "kallsyms: corrupt or unreadable names table");
		goto fail;
	}
	if ((rule = pick_rule(t, s, stext)) < 0) {
		snprintf(err, errlen, "kallsyms: no known address encoding "
			 "matches _stext");
		goto fail;
	}
	for (uint32_t i = 0; i < s->count; i++) {
		s->addr[i] = sym_address(t, rule, i);
		insert(s, i);
	}
	free(t->offsets);
	free(t);
	*out = s;
	return 0;
fail:
	symtab_free(s);
	free(t->offsets);
	free(t);
	return -1;
}
