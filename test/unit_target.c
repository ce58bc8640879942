/* test/unit_target.c — unit tests of target.c: ELF cores, raw dumps, QEMU
 * RAM files. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../gpufas.h"
#include "../target.h"

/* ======================================================================
 * target_open: ELF cores, raw dumps, QEMU RAM files
 * ====================================================================== */

struct seg {
	uint32_t type;
	uint64_t paddr, offset, filesz;
};

#define CORE_SIZE 0x6000

static const struct seg CORE_SEGS[] = {
	{ PT_NOTE, 0, 0x200, 0x40 },
	{ PT_LOAD, 0, 0x1000, 0x2000 },
	{ PT_LOAD, 0x100000000ull, 0x3000, 0x3000 },
	{ PT_LOAD, 0x200000000ull, CORE_SIZE, 0 }, /* no file bytes: skipped */
};

static void elf_core(uint8_t *img, const struct seg *s, int n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof *eh);

	memset(img, 0, CORE_SIZE);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof *eh;
	eh->e_ehsize = sizeof *eh;
	eh->e_phentsize = sizeof *ph;
	eh->e_phnum = (uint16_t)n;
	for (int i = 0; i < n; i++) {
		ph[i].p_type = s[i].type;
		ph[i].p_paddr = s[i].paddr;
		ph[i].p_vaddr = DMAP4 + s[i].paddr;
		ph[i].p_offset = s[i].offset;
		ph[i].p_filesz = ph[i].p_memsz = s[i].filesz;
		ph[i].p_flags = PF_R | PF_W | PF_X;
	}
	memcpy(img + 0x1010, "low marker", 11);
	memcpy(img + 0x3020, "high marker", 12);
}

static void check_range(const struct gf_target *t, uint32_t i, uint64_t phys,
			uint64_t size, uint64_t file_off)
{
	int before = failures;

	REQUIRE(i < t->mem.nranges);
	CHECK_EQ(t->mem.range[i].phys, phys);
	CHECK_EQ(t->mem.range[i].size, size);
	CHECK(t->mem.range[i].base == t->map + file_off);
	note_case(before, "range %u of %s", i, t->spec);
}

/* target_open expected to fail: want, and nothing left mapped or open. */
static void check_open_fails(const char *spec, int want)
{
	struct gf_target t;
	int fds = count_fds();
	int rc = target_open(&t, spec, 0);

	if (rc != want) {
		report(__FILE__, __LINE__, "target_open(\"%s\") gave %d, not %d", spec,
		       rc, want);
		if (!rc)
			target_close(&t);
		return;
	}
	CHECK(t.map == NULL);
	CHECK_EQ(t.fd, -1);
	CHECK_EQ(count_fds(), fds);
}

static void test_target_elf_core(void)
{
	uint8_t *img = xcalloc(CORE_SIZE);
	char path[128], spec[160], buf[16];
	struct gf_target t;

	elf_core(img, CORE_SEGS, NELEM(CORE_SEGS));
	tmp_file(path, sizeof path, img, CORE_SIZE);
	fuzz_seed_file("fuzz_elfcore", "two-segments", path);
	snprintf(spec, sizeof spec, "dump:%s", path);
	REQUIRE(target_open(&t, spec, 1) == 0);
	CHECK_EQ(t.mem.nranges, 2);
	check_range(&t, 0, 0, 0x2000, 0x1000);
	check_range(&t, 1, 0x100000000ull, 0x3000, 0x3000);
	CHECK_EQ(target_ram_size(&t), 0x5000);
	CHECK_EQ(t.writable, 0); /* dumps are never written */
	CHECK_EQ(gf_phys_read(&t.mem, 0x10, buf, 11), GF_OK);
	CHECK_STR(buf, "low marker");
	CHECK_EQ(gf_phys_read(&t.mem, 0x100000020ull, buf, 12), GF_OK);
	CHECK_STR(buf, "high marker");
	CHECK_EQ(gf_phys_read(&t.mem, 0x2000, buf, 1), GF_EFAULT);
	target_close(&t);
	CHECK(t.map == NULL);
	CHECK_EQ(t.fd, -1);
	unlink(path);
	free(img);
}

static void test_target_elf_bad(void)
{
	const size_t ph2 = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	const struct { const char *what; size_t at, size; uint64_t v; } edit[] = {
		{ "segment past the end", ph2 + offsetof(Elf64_Phdr, p_filesz), 8, 0x4000 },
		{ "offset past the end", ph2 + offsetof(Elf64_Phdr, p_offset), 8, 0x10000 },
		{ "filesz wrapping", ph2 + offsetof(Elf64_Phdr, p_filesz), 8,
		  0xfffffffffffff000ull },
		{ "e_phnum too big", offsetof(Elf64_Ehdr, e_phnum), 2, 0xffff },
		{ "e_phoff past the end", offsetof(Elf64_Ehdr, e_phoff), 8, 0x7000 },
		{ "e_phoff wrapping", offsetof(Elf64_Ehdr, e_phoff), 8,
		  0xffffffffffffffc0ull },
		{ "wrong e_phentsize", offsetof(Elf64_Ehdr, e_phentsize), 2, 32 },
		{ "not a core", offsetof(Elf64_Ehdr, e_type), 2, ET_EXEC },
		{ "ELF32", EI_CLASS, 1, ELFCLASS32 },
		{ "no PT_LOAD", offsetof(Elf64_Ehdr, e_phnum), 2, 1 },
	};
	uint8_t *img = xcalloc(CORE_SIZE);
	char path[128], spec[160];

	quiet_stderr();
	for (uint32_t i = 0; i < NELEM(edit); i++) {
		int before = failures;
		elf_core(img, CORE_SEGS, NELEM(CORE_SEGS));
		memcpy(img + edit[i].at, &edit[i].v, edit[i].size); /* LE */
		tmp_file(path, sizeof path, img, CORE_SIZE);
		snprintf(spec, sizeof spec, "dump:%s", path);
		check_open_fails(spec, GF_ECORRUPT);
		note_case(before, "%s", edit[i].what);
		unlink(path);
	}
	free(img);
}

/* A raw copy of RAM as a dump, and a RAM file written through. */
static void test_target_raw(void)
{
	static uint8_t data[3 * PAGE];
	char path[128], spec[160];
	struct gf_target t;
	uint8_t b = 0;
	int fd;

	memcpy(data, "\x7f" "ELX", 4); /* almost ELF */
	tmp_file(path, sizeof path, data, sizeof data);
	snprintf(spec, sizeof spec, "dump:%s", path);
	REQUIRE(target_open(&t, spec, 1) == 0);
	CHECK_EQ(t.mem.nranges, 1);
	check_range(&t, 0, 0, sizeof data, 0);
	CHECK_EQ(t.writable, 0);
	target_close(&t);

	snprintf(spec, sizeof spec, "vm:%s", path);
	REQUIRE(target_open(&t, spec, 1) == 0);
	CHECK_EQ(t.writable, 1);
	check_range(&t, 0, 0, sizeof data, 0);
	t.mem.range[0].base[PAGE + 5] = 0x42; /* reaches the file: MAP_SHARED */
	target_close(&t);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, &b, 1, PAGE + 5) == 1);
	CHECK_EQ(b, 0x42);
	close(fd);

	REQUIRE(target_open(&t, spec, 0) == 0);
	CHECK_EQ(t.writable, 0);
	target_close(&t);
	unlink(path);
}

/* QEMU's RAM split (hw/i386/pc_piix.c, pc_q35.c), on sparse files. */
static void test_target_vm_layout(void)
{
	static const struct { const char *opts; uint64_t size, low; } c[] = {
		{ "", 4 * GiB + 512 * MiB, 3 * GiB },
		{ ",machine=pc", 4 * GiB + 512 * MiB, 3 * GiB },
		{ ",machine=q35", 4 * GiB + 512 * MiB, 2 * GiB },
		{ ",lowmem=0x80000000", 4 * GiB + 512 * MiB, 2 * GiB },
		{ ",machine=q35,lowmem=1073741824", 4 * GiB + 512 * MiB, 1 * GiB },
		{ ",lowmem=0x200000000", 4 * GiB + 512 * MiB, 4 * GiB + 512 * MiB },
		{ "", 0xe0000000ull, 3 * GiB },
		{ "", 0xe0000000ull - PAGE, 0xe0000000ull - PAGE },
		{ ",machine=q35", 0xb0000000ull, 2 * GiB },
		{ ",machine=q35", 0xb0000000ull - PAGE, 0xb0000000ull - PAGE },
		{ "", 1 * GiB, 1 * GiB },
		{ ",", 1 * GiB, 1 * GiB },
	};
	char path[128], spec[192];
	int fd = tmp_open(path, sizeof path);

	close(fd);
	for (uint32_t i = 0; i < NELEM(c); i++) {
		struct gf_target t;
		tmp_resize(path, c[i].size);
		snprintf(spec, sizeof spec, "vm:%s%s", path, c[i].opts);
		if (target_open(&t, spec, 0)) {
			report(__FILE__, __LINE__, "target_open(\"%s\") failed", spec);
			continue;
		}
		CHECK_EQ(t.mem.nranges, c[i].low < c[i].size ? 2 : 1);
		check_range(&t, 0, 0, c[i].low, 0);
		if (c[i].low < c[i].size)
			check_range(&t, 1, 4 * GiB, c[i].size - c[i].low, c[i].low);
		CHECK_EQ(target_ram_size(&t), c[i].size);
		target_close(&t);
	}
	unlink(path);
}

static void test_target_errors(void)
{
	static const char *const opts[] = {
		",machine=foo", ",machine=", ",lowmem=0", ",lowmem=12x", ",lowmem=",
		",cache=1", ",machine=pc,bogus",
	};
	static uint8_t small[PAGE];
	char path[128], spec[256], big[300];
	struct gf_target t;

	quiet_stderr();
	check_open_fails("foo:x", GF_EINVAL);
	check_open_fails("", GF_EINVAL);
	check_open_fails("vm:", GF_EINVAL);
	check_open_fails("dump:", GF_EINVAL);
	check_open_fails("vm:/nonexistent/gpufas-unit.ram", GF_EIO);
	snprintf(spec, sizeof spec, "vm:%s", scratch); /* a directory */
	check_open_fails(spec, GF_EINVAL);
	snprintf(spec, sizeof spec, "dump:%s", scratch);
	check_open_fails(spec, GF_EINVAL);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	memcpy(big, "vm:/", 4);
	check_open_fails(big, GF_EINVAL);

	tmp_file(path, sizeof path, small, PAGE - 1); /* smaller than a page */
	snprintf(spec, sizeof spec, "vm:%s", path);
	check_open_fails(spec, GF_EINVAL);
	tmp_resize(path, PAGE);
	for (uint32_t i = 0; i < NELEM(opts); i++) {
		snprintf(spec, sizeof spec, "vm:%s%s", path, opts[i]);
		check_open_fails(spec, GF_EINVAL);
	}
	snprintf(spec, sizeof spec, "dump:%s,machine=q35", path); /* no options */
	check_open_fails(spec, GF_EIO);
	snprintf(spec, sizeof spec, "vm:%s", path);               /* a page: fine */
	CHECK_EQ(target_open(&t, spec, 0), 0);
	target_close(&t);
	unlink(path);
}

static const struct test tests[] = {
	T(target_elf_core),
	T(target_elf_bad),
	T(target_raw),
	T(target_vm_layout),
	T(target_errors),
};

const struct suite suite_target = SUITE(tests);
