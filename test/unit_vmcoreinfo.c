/* test/unit_vmcoreinfo.c — unit tests of vmcoreinfo.c: the note's text, and
 * finding it in guest RAM. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../vmcoreinfo.h"

/* ======================================================================
 * VMCOREINFO
 * ====================================================================== */

#define VI_TEXT "OSRELEASE=6.8.0-gpufas\nPAGESIZE=4096\n" \
	"KERNELOFFSET=1e000000\nNUMBER(phys_base)=-123456\n" \
	"SYMBOL(init_top_pgt)=ffffffff83a2e000\n"

static int complete(const char *text)
{
	return vmcoreinfo_is_complete(text, strlen(text) + 1);
}

static void test_vmcoreinfo_complete(void)
{
	CHECK_EQ(complete(VI_TEXT), 1);
	CHECK_EQ(complete(VI_TEXT "SYMBOL(init_task)=ffffffff82a0c940\n"), 1);
	CHECK_EQ(vmcoreinfo_is_complete(VI_TEXT "\0garbage", sizeof VI_TEXT + 8), 1);
	/* no NUL within the length */
	CHECK_EQ(vmcoreinfo_is_complete(VI_TEXT, strlen(VI_TEXT)), 0);
	/* keys missing, empty, or only as a prefix of another key */
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=1e000000\n"
			  "NUMBER(phys_base)=0\n"), 0);
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=\nNUMBER(phys_base)=0\n"
			  "SYMBOL(init_top_pgt)=ffffffff83a2e000\n"), 0);
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=1\nNUMBER(phys_base_x)=0\n"
			  "SYMBOL(init_top_pgt)=ffffffff83a2e000\n"), 0);
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=1\nXNUMBER(phys_base)=0\n"
			  "SYMBOL(init_top_pgt)=ffffffff83a2e000\n"), 0);
	/* not at the start, too short, not printable */
	CHECK_EQ(complete("X" VI_TEXT), 0);
	CHECK_EQ(complete("OSREL"), 0);
	CHECK_EQ(complete(""), 0);
	CHECK_EQ(complete(VI_TEXT "BUILD-ID=\x01\n"), 0);
	CHECK_EQ(complete(VI_TEXT "BUILD-ID=\x80\n"), 0);
	CHECK_EQ(complete(VI_TEXT "BUILD-ID=\tx\n"), 0);
	CHECK_EQ(complete(VI_TEXT "\x7f"), 0);
}

/* A text longer than struct vmcoreinfo holds: the kernel's is at most a
 * page, so it is not VMCOREINFO; answering must not overflow anything. */
static void test_vmcoreinfo_long_text(void)
{
	size_t len = 3 * VMCOREINFO_MAX;
	char *text = xcalloc(len);
	size_t n = strlen(VI_TEXT);
	int r;

	memcpy(text, VI_TEXT, n);
	while (n + 16 < 2 * VMCOREINFO_MAX)
		n += (size_t)sprintf(text + n, "NUMBER(x%05zu)=1\n", n);
	r = vmcoreinfo_is_complete(text, len);
	CHECK(r == 0 || r == 1);
	free(text);
}

static void test_vmcoreinfo_values(void)
{
	struct vmcoreinfo vi = { .phys = 0 };
	char val[16];
	uint64_t h = 7;
	int64_t d = 7;

	snprintf(vi.text, sizeof vi.text, "%s",
		 "OSRELEASE_X=5\nKERNELOFFSET_OLD=deadbeef\n"
		 VI_TEXT
		 "SYMBOL(init_task_x)=1111\n"
		 "SYMBOL(init_task)=ffffffff82a0c940\n"
		 "NUMBER(phys_base_x)=77\n"
		 "OFFSET(task_struct.pid)=2464\n"
		 "SYMBOL(bad)=12zz\n"
		 "SYMBOL(empty)=\n"
		 "SYMBOL(long)=0000000000000000000000000000000000000001\n"
		 "NUMBER(hexy)=0x10\n"
		 "NUMBER(last)=42");
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_task)", &h), 0);
	CHECK_EQ(h, 0xffffffff82a0c940ull);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_task_x)", &h), 0);
	CHECK_EQ(h, 0x1111);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_tas)", &h), GF_ENOENT);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_task", &h), GF_ENOENT);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_top_pgt)", &h), 0);
	CHECK_EQ(h, 0xffffffff83a2e000ull);
	CHECK_EQ(vmcoreinfo_hex(&vi, "KERNELOFFSET", &h), 0);
	CHECK_EQ(h, 0x1e000000);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(phys_base)", &d), 0);
	CHECK_EQ(d, -123456);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(phys_base_x)", &d), 0);
	CHECK_EQ(d, 77);
	CHECK_EQ(vmcoreinfo_dec(&vi, "OFFSET(task_struct.pid)", &d), 0);
	CHECK_EQ(d, 2464);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(last)", &d), 0);
	CHECK_EQ(d, 42);
	/* bad, empty, overlong, wrong base, missing */
	h = 5;
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(bad)", &h), GF_ECORRUPT);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(empty)", &h), GF_ECORRUPT);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(long)", &h), GF_ECORRUPT);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(nowhere)", &h), GF_ENOENT);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(hexy)", &d), GF_ECORRUPT);
	CHECK_EQ(vmcoreinfo_dec(&vi, "SYMBOL(init_task)", &d), GF_ECORRUPT);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(nowhere)", &d), GF_ENOENT);
	/* vmcoreinfo_get: the value must fit with its NUL */
	CHECK_EQ(vmcoreinfo_get(&vi, "KERNELOFFSET", val, 8), GF_ENOSPC);
	CHECK_EQ(vmcoreinfo_get(&vi, "KERNELOFFSET", val, 9), 0);
	CHECK_STR(val, "1e000000");
	CHECK_EQ(vmcoreinfo_get(&vi, "OSRELEASE", val, sizeof val), 0);
	CHECK_STR(val, "6.8.0-gpufas");
}

/* Guest RAM for vmcoreinfo_find: two ranges of our own. */
struct vmem {
	struct gf_mem m;
	uint8_t *a, *b;
};

#define VA_PHYS 0x1000000ull
#define VA_SIZE (64 * KiB)
#define VB_PHYS 0x100000000ull
#define VB_SIZE (32 * KiB)

static void vmem_init(struct vmem *v)
{
	v->a = xcalloc(VA_SIZE);
	v->b = xcalloc(VB_SIZE);
	memset(&v->m, 0, sizeof v->m);
	v->m.nranges = 2;
	v->m.range[0] = (struct gf_range){ .phys = VA_PHYS, .size = VA_SIZE, .base = v->a };
	v->m.range[1] = (struct gf_range){ .phys = VB_PHYS, .size = VB_SIZE, .base = v->b };
}

static void vmem_free(struct vmem *v)
{
	free(v->a);
	free(v->b);
}

/* The note form: Elf64_Nhdr, "VMCOREINFO\0" padded, then the text. */
static void put_note(uint8_t *at, const char *text)
{
	static const uint8_t nhdr[24] = { 11, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0,
		'V', 'M', 'C', 'O', 'R', 'E', 'I', 'N', 'F', 'O', 0, 0 };

	memcpy(at, nhdr, sizeof nhdr);
	strcpy((char *)at + sizeof nhdr, text);
}

#define VI_OTHER "OSRELEASE=5.15.0-old\nKERNELOFFSET=8000000\n" \
	"NUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=ffffffff8260a000\n"

/* The candidate holding `text`, or -1: the scan order is the finder's
 * business (top-down, as it happens), so tests do not depend on it. */
static int cand_index(const struct vmcoreinfo *c, int n, const char *text)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].text, text))
			return i;
	return -1;
}

static void test_vmcoreinfo_find(void)
{
	struct vmem v;
	struct vmcoreinfo *c = xcalloc(4 * sizeof *c);
	int i, j;

	vmem_init(&v);
	strcpy((char *)v.a + 0x2000, VI_TEXT);                  /* the data page */
	put_note(v.a + 0x5000, VI_TEXT);                        /* its note copy */
	strcpy((char *)v.a + 0x7000, "OSRELEASE=6.8.0\nKERNELOFFSET=1e0"); /* stale */
	memset(v.a + 0xf000, 'x', 0x1000);                      /* no NUL to the end */
	memcpy(v.a + 0xf000, VI_TEXT, strlen(VI_TEXT));
	put_note(v.b + 0x1000, VI_OTHER);                       /* another kernel's */

	REQUIRE(vmcoreinfo_find(&v.m, c, 4) == 2);
	i = cand_index(c, 2, VI_TEXT);
	j = cand_index(c, 2, VI_OTHER);
	REQUIRE(i >= 0 && j >= 0);
	CHECK(c[i].phys == VA_PHYS + 0x2000 || c[i].phys == VA_PHYS + 0x5000 + 24);
	CHECK_EQ(c[j].phys, VB_PHYS + 0x1000 + 24);
	/* room for one: one of them */
	memset(c, 0, 4 * sizeof *c);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 1), 1);
	CHECK(cand_index(c, 1, VI_TEXT) == 0 || cand_index(c, 1, VI_OTHER) == 0);
	CHECK_EQ(c[1].text[0], 0);
	vmem_free(&v);
	free(c);
}

/* Anywhere but a page start or offset 24: found by the full scan, which
 * runs only when the quick one found nothing. */
static void test_vmcoreinfo_find_anywhere(void)
{
	struct vmem v;
	struct vmcoreinfo *c = xcalloc(4 * sizeof *c);

	vmem_init(&v);
	strcpy((char *)v.a + 0x1000, "OSRELEASE=partial\n");
	strcpy((char *)v.a + 0x3100, VI_TEXT);
	strcpy((char *)v.b + 0x4321, VI_TEXT);                  /* a duplicate */
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 1);
	CHECK(c[0].phys == VA_PHYS + 0x3100 || c[0].phys == VB_PHYS + 0x4321);
	CHECK_STR(c[0].text, VI_TEXT);
	/* with one at a page start, the odd place is not looked at */
	strcpy((char *)v.b + 0x2000, VI_OTHER);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 1);
	CHECK_EQ(c[0].phys, VB_PHYS + 0x2000);
	/* nothing at all */
	memset(v.a, 0, VA_SIZE);
	memset(v.b, 0, VB_SIZE);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 0);
	/* a magic right at the end of a range, cut short */
	memcpy(v.b + VB_SIZE - 10, "OSRELEASE=", 10);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 0);
	vmem_free(&v);
	free(c);
}

static const struct test tests[] = {
	T(vmcoreinfo_complete),
	T(vmcoreinfo_long_text),
	T(vmcoreinfo_values),
	T(vmcoreinfo_find),
	T(vmcoreinfo_find_anywhere),
};

const struct suite suite_vmcoreinfo = SUITE(tests);
