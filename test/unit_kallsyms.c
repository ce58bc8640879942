/* test/unit_kallsyms.c — unit tests of kallsyms.c: the symbol tables,
 * synthetic and in a kernel image. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../kallsyms.h"
#include "../vmcoreinfo.h"

/* ======================================================================
 * kallsyms_load on synthetic tables
 * ====================================================================== */

#define STEXT 0xffffffff81001000ull

/* Token byte -> string: three multi-character tokens, then one token per
 * printable character, empty tokens for the rest. */
static const char *const MULTI_TOKENS[] = { NULL, "init_", "_task", "cpu_" };

static char LONG_NAME[201]; /* 't' + 199 'a': 200 tokens, a two-byte length */

static const struct ksym KSYMS[] = {
	{ "Tstartup_64", RELBASE },
	{ "T_stext", STEXT },
	{ "Tstart_kernel", 0xffffffff83a1b2c0ull },
	{ "Dinit_task", 0xffffffff82a0c940ull },
	{ "texit_task_stack_account", 0xffffffff810a1230ull },
	{ "Dnr_cpu_ids", 0xffffffff82b01234ull },
	{ LONG_NAME, 0xffffffff81234560ull },
	{ "Dcpu_number", 0x2a018 }, /* per-CPU, absolute: rule 0 only, last */
};

/* What the tests look up: every name of KSYMS and of the image tables
 * below, and one that no table has, so that every name is decoded. */
static const char *const WANTED[] = {
	"startup_64", "_stext", "start_kernel", "init_task", "exit_task_stack_account",
	"nr_cpu_ids", LONG_NAME + 1, "cpu_number", "fn_299", "nonexistent",
};

static const char *token_of(unsigned b, char one[2])
{
	if (b > 0 && b < NELEM(MULTI_TOKENS))
		return MULTI_TOKENS[b];
	one[0] = b > 0x20 && b < 0x7f ? (char)b : 0;
	one[1] = 0;
	return one;
}

/* A name as scripts/kallsyms writes it: a length in tokens (two bytes
 * from 128: low 7 bits | 0x80, then the rest), then the tokens. */
static uint32_t encode_name(const char *name, uint8_t *out)
{
	uint8_t tok[600];
	uint32_t n = 0;

	while (*name) {
		unsigned b = (uint8_t)*name;
		size_t len = 1;
		for (unsigned m = 1; m < NELEM(MULTI_TOKENS); m++)
			if (!strncmp(name, MULTI_TOKENS[m], strlen(MULTI_TOKENS[m]))) {
				b = m;
				len = strlen(MULTI_TOKENS[m]);
				break;
			}
		tok[n++] = (uint8_t)b;
		name += len;
	}
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		memcpy(out + 1, tok, n);
		return n + 1;
	}
	out[0] = (uint8_t)(0x80 | (n & 0x7f));
	out[1] = (uint8_t)(n >> 7);
	memcpy(out + 2, tok, n);
	return n + 2;
}

static int32_t encode_offset(int rule, uint64_t addr, uint64_t entry)
{
	switch (rule) {
	case 0: /* absolute per-CPU */
		return addr < RELBASE ? (int32_t)addr : (int32_t)(RELBASE - 1 - addr);
	case 1: /* base-relative */
		return (int32_t)(uint32_t)(addr - RELBASE);
	default: /* place-relative */
		return (int32_t)(addr - entry);
	}
}

/* VMCOREINFO naming the tables, less the key `omit`. */
void ktables_vmcoreinfo(struct ktables *kt, const char *omit, uint64_t stext)
{
	const struct { const char *name; uint64_t va; } syms[] = {
		{ "kallsyms_num_syms", kt->num },
		{ "kallsyms_names", kt->names },
		{ "kallsyms_token_table", kt->token_table },
		{ "kallsyms_token_index", kt->token_index },
		{ "kallsyms_offsets", kt->offsets },
		{ "kallsyms_relative_base", kt->relative_base },
		{ "_stext", stext },
	};
	size_t len = (size_t)snprintf(kt->vi.text, sizeof kt->vi.text,
				      "OSRELEASE=6.8.0\nPAGESIZE=4096\n");

	for (uint32_t i = 0; i < NELEM(syms); i++)
		if (!omit || strcmp(omit, syms[i].name))
			len += (size_t)snprintf(kt->vi.text + len,
				sizeof kt->vi.text - len, "SYMBOL(%s)=%llx\n",
				syms[i].name, (unsigned long long)syms[i].va);
}

/* The tables of syms[0..n) under address rule `rule`, in g's kimg after
 * what it holds, the token table at `token_table` (0: after the others);
 * VMCOREINFO naming them. */
void ktables_put(struct ktables *kt, struct guest *g, const struct ksym *syms,
		 uint32_t n, int rule, uint64_t stext, uint64_t token_table)
{
	static uint8_t names[4096];
	char table[2048], one[2];
	uint16_t index[256];
	uint32_t len = 0;

	memset(kt, 0, sizeof *kt);
	kt->g = g;
	kt->nsyms = n;
	for (uint32_t i = 0; i < n; i++)
		len += encode_name(syms[i].name, names + len);
	for (unsigned b = 0; b < 256; b++) {
		const char *tok = token_of(b, one);
		index[b] = (uint16_t)kt->table_len;
		strcpy(table + kt->table_len, tok);
		kt->table_len += (uint32_t)strlen(tok) + 1;
	}
	kt->num = win_alloc(&g->kimg, 4, 8);
	kt->relative_base = win_alloc(&g->kimg, 8, 8);
	kt->offsets = win_alloc(&g->kimg, 4 * n, 8);
	kt->names = win_alloc(&g->kimg, len, 8);
	kt->token_index = win_alloc(&g->kimg, sizeof index, 8);
	kt->token_table = token_table ? token_table
				      : win_alloc(&g->kimg, kt->table_len, 8);
	w32(g, kt->num, n);
	w64(g, kt->relative_base, RELBASE);
	for (uint32_t i = 0; i < n; i++)
		w32(g, kt->offsets + 4 * i, (uint32_t)encode_offset(rule,
			syms[i].addr, kt->offsets + 4 * i));
	put(g, kt->names, names, len);
	put(g, kt->token_index, index, sizeof index);
	put(g, kt->token_table, table, kt->table_len);
	ktables_vmcoreinfo(kt, NULL, stext);
}

/* The tables of KSYMS for address rule `rule` in a fresh guest. The token
 * table goes at the start of kimg's last page, unmapped memory after. */
static void ktables_build(struct ktables *kt, int rule)
{
	LONG_NAME[0] = 't';
	memset(LONG_NAME + 1, 'a', sizeof LONG_NAME - 2);
	ktables_put(kt, guest_new(4, 0), KSYMS,
		    rule == 0 ? NELEM(KSYMS) : NELEM(KSYMS) - 1, rule, STEXT,
		    KIMG_VA + (KIMG_PAGES - 1) * PAGE + 0x100);
}

/* kallsyms_load expected to fail with `want`, `needle` in its message. */
static void check_load_fails(struct ktables *kt, int want, const char *needle)
{
	struct gf_symtab *s = (struct gf_symtab *)1;
	char err[256] = "";

	CHECK_EQ(kallsyms_load(&kt->g->k, &kt->vi, WANTED, NELEM(WANTED), &s, err, sizeof err), want);
	CHECK(s == NULL);
	CHECK_HAS(err, needle);
}

static void test_kallsyms_rules(void)
{
	for (int rule = 0; rule < 3; rule++) {
		struct ktables kt;
		struct gf_symtab *s = NULL;
		char err[256] = "";
		int before = failures;

		ktables_build(&kt, rule);
		snprintf(err, sizeof err, "rule-%d", rule);
		fuzz_seed("fuzz_kallsyms", err, kt.g, kt.vi.text, 0, 0);
		CHECK_EQ(kallsyms_load(&kt.g->k, &kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err), 0);
		if (!s) {
			printf("      (rule %d: %s)\n", rule, err);
			guest_free(kt.g);
			continue;
		}
		CHECK_EQ(symtab_count(s), kt.nsyms);
		for (uint32_t i = 0; i < kt.nsyms; i++) {
			uint64_t va = 0;
			CHECK_EQ(symtab_lookup(s, KSYMS[i].name + 1, &va), 0);
			CHECK_EQ(va, KSYMS[i].addr);
		}
		note_case(before, "with address rule %d", rule);
		symtab_free(s);
		guest_free(kt.g);
	}
}

static void test_kallsyms_unknown_name(void)
{
	static const char *const unknown[] = {
		"nonexistent", "", "_stex", "_stext2", "T_stext", "init", "a",
	};
	struct ktables kt;
	struct gf_symtab *s = NULL;
	char err[256] = "";
	uint64_t va = 0x1234;

	ktables_build(&kt, 1);
	REQUIRE(kallsyms_load(&kt.g->k, &kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err) == 0);
	for (uint32_t i = 0; i < NELEM(unknown); i++)
		CHECK_EQ(symtab_lookup(s, unknown[i], &va), GF_ENOENT);
	CHECK_EQ(va, 0x1234);
	CHECK_EQ(symtab_lookup(s, "startup_64", &va), 0);
	symtab_free(s);
	guest_free(kt.g);
}

static void test_kallsyms_corrupt_names(void)
{
	struct ktables kt;
	const uint64_t kimg_end = KIMG_VA + KIMG_PAGES * PAGE;
	uint8_t xs[256];

	/* a token index beyond the (readable) token table */
	ktables_build(&kt, 1);
	w16(kt.g, kt.token_index + 2 * 's', 0x2000);
	check_load_fails(&kt, GF_ECORRUPT, "corrupt");
	guest_free(kt.g);
	/* a token running to the end of what is mapped, unterminated */
	ktables_build(&kt, 1);
	memset(xs, 'x', sizeof xs);
	for (uint64_t va = kt.token_table + kt.table_len; va < kimg_end;
	     va += sizeof xs)
		put(kt.g, va, xs, kimg_end - va < sizeof xs ? kimg_end - va
							    : sizeof xs);
	w16(kt.g, kt.token_index + 2 * 's', (uint16_t)kt.table_len);
	check_load_fails(&kt, GF_ECORRUPT, "corrupt");
	guest_free(kt.g);
	/* fewer names than kallsyms_num_syms says */
	ktables_build(&kt, 1);
	w32(kt.g, kt.num, kt.nsyms + 50);
	check_load_fails(&kt, GF_ECORRUPT, "names");
	guest_free(kt.g);
	/* the names table not mapped */
	ktables_build(&kt, 1);
	kt.names = VMALLOC_VA;
	ktables_vmcoreinfo(&kt, NULL, STEXT);
	check_load_fails(&kt, GF_EFAULT, "names");
	guest_free(kt.g);
}

static void test_kallsyms_bad_count(void)
{
	static const uint32_t bad[] = { 0, (1u << 21) + 1, 0x7fffffff, UINT32_MAX };

	for (uint32_t i = 0; i < NELEM(bad); i++) {
		struct ktables kt;
		ktables_build(&kt, 1);
		w32(kt.g, kt.num, bad[i]);
		check_load_fails(&kt, GF_ECORRUPT, "implausible");
		guest_free(kt.g);
	}
}

static void test_kallsyms_missing(void)
{
	static const char *const keys[] = {
		"kallsyms_num_syms", "kallsyms_names", "kallsyms_token_table",
		"kallsyms_token_index", "kallsyms_offsets", "kallsyms_relative_base",
		"_stext",
	};
	struct ktables kt;

	for (uint32_t i = 0; i < NELEM(keys); i++) {
		ktables_build(&kt, 1);
		ktables_vmcoreinfo(&kt, keys[i], STEXT);
		/* with no relative base only the place-relative rule is
		 * tried, which these tables (rule 1) do not follow */
		check_load_fails(&kt, strcmp(keys[i], "kallsyms_relative_base") ?
				 GF_ENOENT : GF_ECORRUPT,
				 i + 1 < NELEM(keys) ? "kallsyms" : "_stext");
		guest_free(kt.g);
	}
	/* _stext where no rule puts it */
	ktables_build(&kt, 1);
	ktables_vmcoreinfo(&kt, NULL, STEXT + 4);
	check_load_fails(&kt, GF_ECORRUPT, "no known address encoding");
	guest_free(kt.g);
	/* the offsets table not mapped */
	ktables_build(&kt, 1);
	kt.offsets = VMALLOC_VA;
	ktables_vmcoreinfo(&kt, NULL, STEXT);
	check_load_fails(&kt, GF_EFAULT, "not readable");
	guest_free(kt.g);
}

/* 7.0's place-relative offsets need no base: VMCOREINFO names none, and
 * only that rule may be tried then. */
static void test_kallsyms_no_relative_base(void)
{
	for (int rule = 0; rule < 3; rule++) {
		struct ktables kt;
		struct gf_symtab *s = NULL;
		char err[256] = "";
		uint64_t va = 0;

		ktables_build(&kt, rule);
		ktables_vmcoreinfo(&kt, "kallsyms_relative_base", STEXT);
		if (rule < 2) {
			check_load_fails(&kt, GF_ECORRUPT, "no known address encoding");
		} else {
			CHECK_EQ(kallsyms_load(&kt.g->k, &kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err), 0);
			CHECK_EQ(s ? symtab_lookup(s, "init_task", &va) : -1, 0);
			CHECK_EQ(va, 0xffffffff82a0c940ull);
			symtab_free(s);
		}
		guest_free(kt.g);
	}
}

/* Before 6.0 VMCOREINFO names no table: they are found in the image, laid
 * out as scripts/kallsyms.c did before 6.4 (5.10): offsets, relative
 * base, count, names, markers, token table and index, each 8-aligned.
 * IMG_SYMS symbols need two markers; the first is _stext, where the
 * image starts. */
#define IMG_SYMS 300u

struct kimage {
	struct ktables kt;
	uint64_t stext, markers;
};

static uint64_t img_sym_addr(const struct kimage *ki, uint32_t i)
{
	return ki->stext + 16ull * i;
}

static void kimage_build(struct kimage *ki)
{
	static uint8_t names[IMG_SYMS * 16];
	char table[2048], one[2], name[32];
	uint32_t len = 0, markers[2] = { 0 };
	uint16_t index[256];
	struct ktables *kt = &ki->kt;
	struct guest *g;

	memset(ki, 0, sizeof *ki);
	g = kt->g = guest_new(4, 0);
	kt->nsyms = IMG_SYMS;
	for (uint32_t i = 0; i < IMG_SYMS; i++) {
		if (i == 256)
			markers[1] = len;
		snprintf(name, sizeof name, i ? "tfn_%u" : "T_stext", i);
		len += encode_name(name, names + len);
	}
	for (unsigned b = 0; b < 256; b++) {
		const char *tok = token_of(b, one);
		index[b] = (uint16_t)kt->table_len;
		strcpy(table + kt->table_len, tok);
		kt->table_len += (uint32_t)strlen(tok) + 1;
	}
	/* the image's first page holds a decoy: the digits with no index */
	ki->stext = win_alloc(&g->kimg, PAGE, PAGE);
	put(g, ki->stext + 64, "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0"
	    "8\0" "9", 20);
	kt->offsets = win_alloc(&g->kimg, 4 * IMG_SYMS, 8);
	kt->relative_base = win_alloc(&g->kimg, 8, 8);
	kt->num = win_alloc(&g->kimg, 4, 8);
	kt->names = win_alloc(&g->kimg, len, 8);
	ki->markers = win_alloc(&g->kimg, sizeof markers, 8);
	kt->token_table = win_alloc(&g->kimg, kt->table_len, 8);
	kt->token_index = win_alloc(&g->kimg, sizeof index, 8);
	for (uint32_t i = 0; i < IMG_SYMS; i++)
		w32(g, kt->offsets + 4 * i,
		    (uint32_t)(int32_t)(RELBASE - 1 - img_sym_addr(ki, i)));
	w64(g, kt->relative_base, RELBASE);
	w32(g, kt->num, IMG_SYMS);
	put(g, kt->names, names, len);
	put(g, ki->markers, markers, sizeof markers);
	put(g, kt->token_table, table, kt->table_len);
	put(g, kt->token_index, index, sizeof index);
	snprintf(kt->vi.text, sizeof kt->vi.text,
		 "OSRELEASE=5.10.0\nPAGESIZE=4096\nSYMBOL(_stext)=%llx\n",
		 (unsigned long long)ki->stext);
}

static void test_kallsyms_from_image(void)
{
	struct kimage ki;
	struct gf_symtab *s = NULL;
	char err[256] = "";
	uint64_t va = 0;

	kimage_build(&ki);
	fuzz_seed("fuzz_kallsyms", "from-image", ki.kt.g, ki.kt.vi.text, 0, 0);
	CHECK_EQ(kallsyms_load(&ki.kt.g->k, &ki.kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err), 0);
	if (s) {
		CHECK_EQ(symtab_count(s), IMG_SYMS);
		CHECK_EQ(symtab_lookup(s, "_stext", &va), 0);
		CHECK_EQ(va, ki.stext);
		CHECK_EQ(symtab_lookup(s, "fn_299", &va), 0);
		CHECK_EQ(va, img_sym_addr(&ki, 299));
	} else {
		printf("      (%s)\n", err);
	}
	symtab_free(s);
	guest_free(ki.kt.g);
}

/* Tables that do not hang together are not taken. */
static void test_kallsyms_image_broken(void)
{
	struct kimage ki;

	/* a token the index does not point at */
	kimage_build(&ki);
	w16(ki.kt.g, ki.kt.token_index + 2 * 'q', 0);
	check_load_fails(&ki.kt, GF_ENOENT, "nor found in the kernel image");
	guest_free(ki.kt.g);
	/* a count the markers disagree with */
	kimage_build(&ki);
	w32(ki.kt.g, ki.kt.num, 600);
	check_load_fails(&ki.kt, GF_ENOENT, "nor found in the kernel image");
	guest_free(ki.kt.g);
	/* a marker off by one */
	kimage_build(&ki);
	w32(ki.kt.g, ki.markers + 4, 77);
	check_load_fails(&ki.kt, GF_ENOENT, "nor found in the kernel image");
	guest_free(ki.kt.g);
	/* _stext not where the scan can start */
	kimage_build(&ki);
	snprintf(ki.kt.vi.text, sizeof ki.kt.vi.text,
		 "OSRELEASE=5.10.0\nSYMBOL(_stext)=%llx\n", (unsigned long long)VMALLOC_VA);
	check_load_fails(&ki.kt, GF_ENOENT, "nor found in the kernel image");
	guest_free(ki.kt.g);
}

static const struct test tests[] = {
	T(kallsyms_rules),
	T(kallsyms_unknown_name),
	T(kallsyms_corrupt_names),
	T(kallsyms_bad_count),
	T(kallsyms_missing),
	T(kallsyms_no_relative_base),
	T(kallsyms_from_image),
	T(kallsyms_image_broken),
};

const struct suite suite_kallsyms = SUITE(tests);
