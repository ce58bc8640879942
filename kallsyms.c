/* kallsyms.c — the kernel's symbol table, decoded from its own memory.
 *
 * The compressed tables that /proc/kallsyms is built from (kernel/kallsyms.c,
 * written by scripts/kallsyms.c at build time):
 *   kallsyms_num_syms     u32, the number of symbols;
 *   kallsyms_names        per symbol a length (one byte, or two when the
 *                         first has bit 7 set, from 6.1) and token numbers;
 *   kallsyms_markers      u32 per 256 symbols: where its entry starts in names;
 *   kallsyms_token_table  NUL-separated token strings;
 *   kallsyms_token_index  u16 offset of each of the 256 tokens;
 *   kallsyms_offsets      s32 per symbol, read by one of the rules below
 *                         (kallsyms_relative_base is the base of two of them).
 * The first character of a decoded name is its type letter ('T', 'D'...).
 * VMCOREINFO gives the tables' addresses from 6.0 on; for older kernels
 * they are found in the kernel image (tables_from_image). How an offset
 * becomes an address changed over the years; rather than guess from the
 * version, each known rule is tried and the one that puts _stext where
 * VMCOREINFO says it is wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "gpufas.h"
#include "kallsyms.h"
#include "vmcoreinfo.h"

#define MAX_SYMS (1u << 21)
#define MAX_NAME 512
#define TOKEN_TABLE_MAX 65536u
#define CHUNK (256u << 10)
#define MAX_NAMES_TABLE (64u << 20) /* real ones are 1-3 MiB */
#define WANTED_SLOTS (4 * KALLSYMS_MAX_WANTED)
#define ADDED UINT32_MAX

/* The symbols asked for, by name: their addresses, found in one pass
 * over the names that stops once every one is found. */
struct gf_symtab {
	uint32_t count;   /* symbols in the kernel's table */
	uint32_t nwanted;
	const char *name[KALLSYMS_MAX_WANTED]; /* the caller's strings */
	uint32_t hash[KALLSYMS_MAX_WANTED];    /* of each name (hash()) */
	uint32_t entry[KALLSYMS_MAX_WANTED];   /* its entry in kallsyms + 1; 0: absent
						  (symtab_add's: ADDED, no entry read) */
	uint64_t addr[KALLSYMS_MAX_WANTED];
	uint8_t slot[WANTED_SLOTS];            /* hash table of wanted index + 1 */
};

/* The names table, copied out of guest memory as the decoding goes: its
 * length is known only once every name has been read. */
struct names {
	const struct gf_kernel *k;
	uint64_t va;
	uint8_t *buf;
	size_t len, cap, pos;
};

/* Makes n more bytes available at pos: GF_OK, GF_EFAULT if guest memory
 * ends first, GF_ECORRUPT past any real table's size, or GF_ENOMEM. */
static int names_need(struct names *r, size_t n)
{
	while (r->len - r->pos < n) {
		size_t chunk = CHUNK - ((r->va + r->len) & 4095);
		if (r->len + chunk > MAX_NAMES_TABLE)
			return GF_ECORRUPT;
		if (r->len + chunk > r->cap) {
			uint8_t *bigger = realloc(r->buf, r->cap * 2 + CHUNK);
			if (!bigger)
				return GF_ENOMEM;
			r->buf = bigger;
			r->cap = r->cap * 2 + CHUNK;
		}
		/* near the end of the table a page may be unmapped: go on
		 * page by page there */
		if (gf_read(r->k, r->va + r->len, r->buf + r->len, (uint32_t)chunk)) {
			chunk = 4096 - ((r->va + r->len) & 4095);
			if (gf_read(r->k, r->va + r->len, r->buf + r->len,
				    (uint32_t)chunk))
				return GF_EFAULT;
		}
		r->len += chunk;
	}
	return GF_OK;
}

struct tables {
	uint32_t num;
	uint16_t token_index[256];
	char token_table[TOKEN_TABLE_MAX];
	uint32_t token_len;
	uint8_t tok_len[256]; /* strlen of each token, checked once */
	/* each token's hash and HASH_BASE^length, and the hash past its
	 * first character (the type letter, where it starts a name) */
	uint32_t tok_hash[256], tok_pow[256], tail_hash[256];
	uint64_t relative_base, offsets_va, names_va;
	int has_base; /* relative_base is known: the place-relative rule needs none */
};

static int sym(const struct vmcoreinfo *vi, const char *name, uint64_t *va)
{
	char key[64];

	snprintf(key, sizeof key, "SYMBOL(%s)", name);
	return vmcoreinfo_hex(vi, key, va);
}

/* Reads what is mapped of [va, va + max), dropping pages from its end;
 * returns how many bytes were read. */
static uint32_t read_mapped(const struct gf_kernel *k, uint64_t va, void *buf,
			    uint32_t max)
{
	uint32_t len = max;

	while (len && gf_read(k, va, buf, len)) {
		uint32_t in_last = (uint32_t)((va + len) & 4095); /* of the last page */
		len -= in_last ? in_last : len < 4096 ? len : 4096;
	}
	return len;
}

/* A polynomial hash, so that a name's can be folded from its tokens'
 * without expanding them: hash(a b) = hash(a) * HASH_BASE^|b| + hash(b). */
#define HASH_BASE 0x01000193u

static void hash_chars(const char *c, uint32_t n, uint32_t *h, uint32_t *pow)
{
	*h = 0;
	*pow = 1;
	for (uint32_t i = 0; i < n; i++) {
		*h = *h * HASH_BASE + (uint8_t)c[i];
		*pow *= HASH_BASE;
	}
}

static uint32_t hash(const char *s)
{
	uint32_t h, pow;

	hash_chars(s, (uint32_t)strlen(s), &h, &pow);
	return h;
}

/* Each of the 256 tokens must end inside the table, and be short:
 * GF_OK, or GF_ECORRUPT. */
static int measure_tokens(struct tables *t)
{
	for (int i = 0; i < 256; i++) {
		uint32_t at = t->token_index[i], n = 0, tail_pow;
		while (at + n < t->token_len && t->token_table[at + n] && n < 255)
			n++;
		if (at + n >= t->token_len || t->token_table[at + n])
			return GF_ECORRUPT;
		t->tok_len[i] = (uint8_t)n;
		hash_chars(t->token_table + at, n, &t->tok_hash[i], &t->tok_pow[i]);
		hash_chars(t->token_table + at + !!n, n - !!n, &t->tail_hash[i],
			   &tail_pow);
	}
	return GF_OK;
}

/* The token table at tt_va, its index already in t. */
static int read_token_table(const struct gf_kernel *k, uint64_t tt_va,
			    struct tables *t)
{
	t->token_len = read_mapped(k, tt_va, t->token_table, TOKEN_TABLE_MAX);
	return measure_tokens(t);
}

/* ---- Tables named by VMCOREINFO (6.0 on) ----
 * 7.0's place-relative offsets need no base, and its VMCOREINFO names
 * none: kallsyms_relative_base is optional. Returns 1 when VMCOREINFO
 * names no tables. */
static int tables_from_vmcoreinfo(const struct gf_kernel *k,
				  const struct vmcoreinfo *vi, struct tables *t,
				  char *err, size_t errlen)
{
	uint64_t num_va, tt_va, ti_va, rb_va;

	if (sym(vi, "kallsyms_num_syms", &num_va) ||
	    sym(vi, "kallsyms_names", &t->names_va) ||
	    sym(vi, "kallsyms_token_table", &tt_va) ||
	    sym(vi, "kallsyms_token_index", &ti_va) ||
	    sym(vi, "kallsyms_offsets", &t->offsets_va))
		return 1;
	t->has_base = !sym(vi, "kallsyms_relative_base", &rb_va);
	if (gf_read(k, num_va, &t->num, 4) ||
	    (t->has_base && gf_read(k, rb_va, &t->relative_base, 8)) ||
	    gf_read(k, ti_va, t->token_index, sizeof t->token_index)) {
		snprintf(err, errlen, "kallsyms tables are not readable");
		return GF_EFAULT;
	}
	if (read_token_table(k, tt_va, t)) {
		snprintf(err, errlen, "kallsyms: corrupt token table");
		return GF_ECORRUPT;
	}
	return GF_OK;
}

/* ---- Tables found in the kernel image (before 6.0) ----
 * Up to 6.3 scripts/kallsyms.c wrote the tables into .rodata in this
 * order, each label aligned to 8 (ALGN): kallsyms_offsets,
 * kallsyms_relative_base (u64), kallsyms_num_syms, kallsyms_names,
 * kallsyms_markers, kallsyms_token_table, kallsyms_token_index (6.4,
 * "scripts/kallsyms: change the output order", moved the offsets last).
 * The token table is found first: a character that occurs in some name
 * keeps its own code as a one-character token, so the codes of the ten
 * digits hold "0" to "9" back to back, and the index that follows the
 * table must point at every token. From there the markers lead back to
 * the names, and the names to the count and the offsets before them. */

#define SCAN_BLOCK (2u << 20)
#define KERNEL_IMAGE_SIZE (1ull << 30) /* x86-64's largest, with KASLR */
#define START_KERNEL_MAP 0xffffffff80000000ull
#define MAX_MARKERS (MAX_SYMS / 256 + 1)
#define MAX_TAIL (256u * (2 + MAX_NAME)) /* the entries after the last marker */
/* Bounds on what hostile memory can make the search try: a real image
 * has a dozen stray digit sequences and one or two places where a count
 * sits before names that might start there. */
#define MAX_ANCHORS 256
#define MAX_NAME_STARTS 8

static const char DIGITS[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";
#define DIGITS_LEN sizeof DIGITS /* with the last NUL */

/* Is the token of code '0' at va the kernel's token table? Walks the
 * tokens after it to the table's end, looks for the index within the 8
 * bytes of alignment that follow, and checks that the index points at
 * each token in turn. Fills t's token table and index: GF_OK, or
 * GF_ENOENT where it is not the table. */
static int token_table_at(const struct gf_kernel *k, uint64_t va, struct tables *t)
{
	char *after = t->token_table; /* until the table itself is read there */
	uint32_t len = read_mapped(k, va, after, TOKEN_TABLE_MAX), end = 0;

	for (int i = '0'; i < 256; i++) {
		const char *nul = memchr(after + end, 0, len - end);
		if (!nul)
			return GF_ENOENT;
		end = (uint32_t)(nul - after) + 1;
	}
	for (uint32_t pad = 0; pad < 8; pad++) {
		uint64_t tt;
		int ok = 1;
		if (gf_read(k, va + end + pad, t->token_index, sizeof t->token_index) ||
		    t->token_index[0] != 0 || t->token_index['0'] > va)
			continue;
		tt = va - t->token_index['0'];
		if (read_token_table(k, tt, t) ||
		    tt + t->token_index[255] + t->tok_len[255] + 1 != va + end)
			continue;
		for (int i = 0; i < 255 && ok; i++)
			ok = t->token_index[i] + t->tok_len[i] + 1u == t->token_index[i + 1];
		if (ok)
			return GF_OK;
	}
	return GF_ENOENT;
}

/* Reads the pages of [va, va + len); unmapped ones read as zeros.
 * Returns how many pages were mapped. */
static uint32_t read_block(const struct gf_kernel *k, uint64_t va, uint8_t *buf,
			   uint32_t len)
{
	uint32_t mapped = 0;

	for (uint32_t at = 0; at < len; at += 4096) {
		if (gf_read(k, va + at, buf + at, 4096))
			memset(buf + at, 0, 4096);
		else
			mapped++;
	}
	return mapped;
}

/* Scans the kernel's mapping from _stext for the token table. Freed gaps
 * in the image are unmapped there (so nothing reused from them is read);
 * a whole block with nothing mapped is past the image. Returns the
 * table's address, or 0. */
static uint64_t find_token_table(const struct gf_kernel *k, uint64_t from,
				 uint64_t to, struct tables *t)
{
	uint8_t *buf = malloc(SCAN_BLOCK + 4096); /* + the next block's first page */
	uint64_t found = 0;
	uint32_t tried = 0;

	for (uint64_t va = from & ~4095ull; buf && !found && va < to && tried < MAX_ANCHORS;
	     va += SCAN_BLOCK) {
		const uint8_t *p = buf;
		if (!read_block(k, va, buf, SCAN_BLOCK + 4096))
			break;
		while (!found && tried < MAX_ANCHORS &&
		       (p = memmem(p, SCAN_BLOCK + 4096 - (size_t)(p - buf), DIGITS,
				   DIGITS_LEN)) && p < buf + SCAN_BLOCK) {
			if (!token_table_at(k, va + (uint64_t)(p - buf), t))
				found = va + (uint64_t)(p - buf) - t->token_index['0'];
			tried++;
			p++;
		}
	}
	free(buf);
	return found;
}

/* The u32 markers end at the token table (after up to 4 bytes of
 * alignment); each is where an entry of 2 bytes or more per symbol
 * begins, the first is 0. Sets *first to markers[0]'s address: GF_OK, or
 * GF_ENOENT where no markers lead back from tt. */
static int find_markers(const struct gf_kernel *k, uint64_t tt, uint64_t *first,
			uint32_t *count, uint32_t *last)
{
	uint64_t at = tt - 4;
	uint32_t v, next = 0, n = 0;

	if (gf_read(k, at, &v, 4))
		return GF_ENOENT;
	if (v == 0 && !(tt & 7))
		at -= 4;
	for (; n < MAX_MARKERS; n++, at -= 4) {
		if (gf_read(k, at, &v, 4) || (n && (v >= next || next - v < 2 * 256)))
			return GF_ENOENT;
		if (n == 0)
			*last = v;
		if (v == 0)
			break;
		next = v;
	}
	if (n == 0 || n == MAX_MARKERS)
		return GF_ENOENT;
	*first = at;
	*count = n + 1;
	return GF_OK;
}

/* Do num names start at names_va, each marker where it says, the last
 * one ending at the markers (less up to 7 bytes of alignment)? GF_OK, or
 * GF_ENOENT. */
static int names_fit(const struct gf_kernel *k, uint64_t names_va, uint32_t num,
		     uint64_t markers, uint32_t nmarkers)
{
	struct names r = { .k = k, .va = names_va };
	uint32_t m;
	int ok = 1;

	for (uint32_t i = 0; i < num && ok; i++) {
		uint32_t size; /* of the entry, its length included */
		if (!(i & 255))
			ok = !gf_read(k, markers + 4 * (i >> 8), &m, 4) && m == r.pos;
		if (!(ok = ok && !names_need(&r, 2)))
			break;
		size = r.buf[r.pos] & 0x80 ? 2 + ((r.buf[r.pos] & 0x7fu) |
						  (uint32_t)r.buf[r.pos + 1] << 7)
					   : 1u + r.buf[r.pos];
		ok = !names_need(&r, size);
		r.pos += size;
	}
	ok = ok && (num + 255) / 256 == nmarkers && names_va + r.pos <= markers &&
	     markers - (names_va + r.pos) < 8;
	free(r.buf);
	return ok ? GF_OK : GF_ENOENT;
}

/* GF_OK, GF_ENOENT where no tables are found, or GF_EFAULT. */
static int tables_from_image(const struct gf_kernel *k, uint64_t stext,
			     struct tables *t)
{
	uint64_t tt, markers, rb_va;
	uint32_t nmarkers, last, starts = 0;

	if (stext < START_KERNEL_MAP ||
	    !(tt = find_token_table(k, stext, START_KERNEL_MAP + KERNEL_IMAGE_SIZE, t)) ||
	    find_markers(k, tt, &markers, &nmarkers, &last))
		return GF_ENOENT;
	/* names start 8-aligned, kallsyms_num_syms 8 bytes before them */
	for (uint64_t names = (markers - last - 2) & ~7ull; starts < MAX_NAME_STARTS &&
	     names + MAX_TAIL > markers - last && names > 16; names -= 8) {
		if (gf_read(k, names - 8, &t->num, 4) || (t->num + 255) / 256 != nmarkers)
			continue;
		starts++;
		if (names_fit(k, names, t->num, markers, nmarkers))
			continue;
		rb_va = names - 16;
		t->names_va = names;
		t->offsets_va = (rb_va - 4ull * t->num) & ~7ull;
		t->has_base = 1;
		return gf_read(k, rb_va, &t->relative_base, 8);
	}
	return GF_ENOENT;
}

/* The tables, from VMCOREINFO or else from the image. */
static int read_tables(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		       uint64_t stext, struct tables *t, char *err, size_t errlen)
{
	int rc = tables_from_vmcoreinfo(k, vi, t, err, errlen);

	if (rc < 0)
		return rc;
	if (rc > 0 && tables_from_image(k, stext, t)) {
		snprintf(err, errlen, "kallsyms tables neither named in VMCOREINFO "
			 "nor found in the kernel image: give symbols in [profile]");
		return GF_ENOENT;
	}
	if (t->num == 0 || t->num > MAX_SYMS) {
		snprintf(err, errlen, "kallsyms: implausible symbol count %u", t->num);
		return GF_ECORRUPT;
	}
	return GF_OK;
}

/* The next entry's token codes, at *p, and how many: GF_OK, GF_ECORRUPT
 * for an empty entry, or names_need()'s error. */
static int next_entry(struct names *r, const uint8_t **p, uint32_t *len)
{
	int rc;

	if ((rc = names_need(r, 1)))
		return rc;
	*len = r->buf[r->pos];
	if (*len & 0x80) {
		if ((rc = names_need(r, 2)))
			return rc;
		*len = (*len & 0x7f) | ((uint32_t)r->buf[r->pos + 1] << 7);
		r->pos++;
	}
	r->pos++;
	if (*len == 0)
		return GF_ECORRUPT;
	if ((rc = names_need(r, *len)))
		return rc;
	*p = r->buf + r->pos;
	r->pos += *len;
	return GF_OK;
}

/* The hash of the name past its type letter, from its tokens. */
static uint32_t name_hash(const struct tables *t, const uint8_t *p, uint32_t len)
{
	uint32_t h = t->tail_hash[p[0]];

	for (uint32_t i = 1; i < len; i++)
		h = h * t->tok_pow[p[i]] + t->tok_hash[p[i]];
	return h;
}

/* Expands an entry's tokens into out, type letter included: GF_OK, or
 * GF_ECORRUPT if the name is empty or too long. */
static int expand(const struct tables *t, const uint8_t *p, uint32_t len, char *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < len; i++) {
		uint32_t tl = t->tok_len[p[i]];
		if (n + tl >= MAX_NAME)
			return GF_ECORRUPT;
		memcpy(out + n, t->token_table + t->token_index[p[i]], tl);
		n += tl;
	}
	out[n] = 0;
	return n ? GF_OK : GF_ECORRUPT;
}

/* The rules, newest last, for the offset `off` of entry i:
 *   0 absolute per-CPU (x86-64 SMP until 6.15): a non-negative offset is
 *     an absolute address, a negative one is relative_base - 1 - offset;
 *   1 base-relative: relative_base + (u32)offset (6.15 on);
 *   2 place-relative: the offset is from the entry itself (7.0 on). */
static uint64_t sym_address(const struct tables *t, int rule, uint32_t i,
			    int32_t off)
{
	switch (rule) {
	case 0:
		return off >= 0 ? (uint64_t)off : t->relative_base - 1 - off;
	case 1:
		return t->relative_base + (uint32_t)off;
	default:
		return t->offsets_va + 4ull * i + (int64_t)off;
	}
}

/* The wanted index of a name of hash h, or -1. name NULL: of the name
 * that entry p, len of t expands to (expanded only if its hash is one
 * wanted). */
static int wanted_by_hash(const struct gf_symtab *s, uint32_t h, const char *name,
			  const struct tables *t, const uint8_t *p, uint32_t len)
{
	char buf[MAX_NAME];

	for (uint32_t i = h % WANTED_SLOTS; s->slot[i]; i = (i + 1) % WANTED_SLOTS) {
		int w = s->slot[i] - 1;
		if (s->hash[w] != h)
			continue;
		if (!name && expand(t, p, len, buf))
			return -1;
		if (!strcmp(s->name[w], name ? name : buf + 1))
			return w;
	}
	return -1;
}

static int wanted(const struct gf_symtab *s, const char *name)
{
	return wanted_by_hash(s, hash(name), name, NULL, NULL, 0);
}

/* Adds a name to look for, once. */
static void want(struct gf_symtab *s, const char *name)
{
	uint32_t h = hash(name) % WANTED_SLOTS;

	if (s->nwanted == KALLSYMS_MAX_WANTED || wanted(s, name) >= 0)
		return;
	while (s->slot[h])
		h = (h + 1) % WANTED_SLOTS;
	s->name[s->nwanted] = name;
	s->hash[s->nwanted] = hash(name);
	s->slot[h] = (uint8_t)++s->nwanted;
}

/* GF_OK with *va, or GF_ENOENT: not asked for, or not in the kernel. */
int symtab_lookup(const struct gf_symtab *s, const char *name, uint64_t *va)
{
	int w = wanted(s, name);

	if (w < 0 || !s->entry[w])
		return GF_ENOENT;
	*va = s->addr[w];
	return GF_OK;
}

uint32_t symtab_count(const struct gf_symtab *s)
{
	return s->count;
}

/* A table of names resolved elsewhere (a profile), for a kernel whose
 * kallsyms holds count symbols; filled with symtab_add. */
struct gf_symtab *symtab_new(uint32_t count)
{
	struct gf_symtab *s = calloc(1, sizeof *s);

	if (s)
		s->count = count;
	return s;
}

/* Adds name (a string that outlives the table) at va: GF_OK, or
 * GF_ENOSPC when full. */
int symtab_add(struct gf_symtab *s, const char *name, uint64_t va)
{
	int w;

	want(s, name);
	if ((w = wanted(s, name)) < 0)
		return GF_ENOSPC;
	s->entry[w] = ADDED;
	s->addr[w] = va;
	return GF_OK;
}

void symtab_free(struct gf_symtab *s)
{
	free(s);
}

/* Reads the names in order until every wanted one is found (the first
 * of a name that occurs twice), expanding only those whose hash is one
 * wanted: GF_OK, or next_entry()'s error. */
static int find_wanted(const struct gf_kernel *k, const struct tables *t,
		       struct gf_symtab *s)
{
	struct names r = { .k = k, .va = t->names_va };
	uint32_t left = s->nwanted, len;
	const uint8_t *p;
	int err = GF_OK;

	for (uint32_t i = 0; i < t->num && left && !err; i++) {
		int w;
		if (!(err = next_entry(&r, &p, &len)) &&
		    (w = wanted_by_hash(s, name_hash(t, p, len), NULL, t, p, len)) >= 0 &&
		    !s->entry[w]) {
			s->entry[w] = i + 1;
			left--;
		}
	}
	free(r.buf);
	return err;
}

/* The address of wanted name w under rule, from its entry's offset. */
static int address(const struct gf_kernel *k, const struct tables *t,
		   const struct gf_symtab *s, int rule, int w, uint64_t *va)
{
	uint32_t i = s->entry[w] - 1;
	int32_t off;

	if (gf_read(k, t->offsets_va + 4ull * i, &off, 4))
		return GF_EFAULT;
	*va = sym_address(t, rule, i, off);
	return GF_OK;
}

/* Which address rule puts _stext (wanted 0) where VMCOREINFO says?
 * GF_ECORRUPT if none, GF_EFAULT if its offset is unreadable. */
static int pick_rule(const struct gf_kernel *k, const struct tables *t,
		     const struct gf_symtab *s, uint64_t stext)
{
	uint64_t va;

	if (!s->entry[0])
		return GF_ECORRUPT;
	for (int rule = t->has_base ? 0 : 2; rule < 3; rule++) {
		if (address(k, t, s, rule, 0, &va))
			return GF_EFAULT;
		if (va == stext)
			return rule;
	}
	return GF_ECORRUPT;
}

int kallsyms_load(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		  const char *const *names, uint32_t nnames,
		  struct gf_symtab **out, char *err, size_t errlen)
{
	struct tables *t = calloc(1, sizeof *t);
	struct gf_symtab *s = calloc(1, sizeof *s);
	uint64_t stext;
	int rule, rc;

	*out = NULL;
	if (!t || !s) {
		snprintf(err, errlen, "out of memory");
		rc = GF_ENOMEM;
		goto fail;
	}
	if ((rc = sym(vi, "_stext", &stext))) {
		snprintf(err, errlen, "VMCOREINFO has no SYMBOL(_stext)");
		goto fail;
	}
	if ((rc = read_tables(k, vi, stext, t, err, errlen)))
		goto fail;
	s->count = t->num;
	want(s, "_stext");
	for (uint32_t i = 0; i < nnames; i++)
		want(s, names[i]);
	if ((rc = find_wanted(k, t, s))) {
		snprintf(err, errlen, "kallsyms: corrupt or unreadable names table");
		goto fail;
	}
	if ((rule = rc = pick_rule(k, t, s, stext)) < 0) {
		snprintf(err, errlen, rc == GF_ECORRUPT ? "kallsyms: no known address "
			 "encoding matches _stext" : "kallsyms tables are not readable");
		goto fail;
	}
	for (uint32_t w = 1; w < s->nwanted; w++)
		if (s->entry[w] && address(k, t, s, rule, (int)w, &s->addr[w]))
			s->entry[w] = 0;
	s->addr[0] = stext;
	free(t);
	*out = s;
	return GF_OK;
fail:
	free(s);
	free(t);
	return rc;
}
