/* target.c — where guest RAM comes from, and how its physical addresses
 * map onto it.
 *
 *   vm:PATH[,machine=pc|q35][,lowmem=BYTES]
 *       a QEMU guest's RAM file (memory-backend-file, share=on), mapped
 *       shared so that our writes reach the running guest;
 *   dump:PATH
 *       an ELF core (QEMU dump-guest-memory, kdump's /proc/vmcore), whose
 *       PT_LOAD segments give the physical ranges, or a raw copy of a RAM
 *       file, which maps like vm:. Dumps are never written.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpufas.h"

#define GiB (1ull << 30)
#define FOUR_GiB (4 * GiB)

struct vm_opts {
	char machine[8];
	uint64_t lowmem; /* 0: from the machine type */
};

static void add_range(struct gf_mem *m, uint64_t phys, uint64_t size,
		      uint8_t *base)
{
	struct gf_range *r = &m->range[m->nranges++];

	r->phys = phys;
	r->size = size;
	r->base = base;
}

/* How much RAM QEMU puts below 4 GiB; the rest starts at 4 GiB. From
 * hw/i386/pc_piix.c and pc_q35.c (QEMU 7.2, still so in 9.x):
 *   pc:  all of it up to 3.5 GiB; a larger guest gets 3 GiB low.
 *   q35: all of it below 2.75 GiB; a larger guest gets 2 GiB low. */
static uint64_t qemu_lowmem(const struct vm_opts *o, uint64_t ram)
{
	if (o->lowmem)
		return o->lowmem < ram ? o->lowmem : ram;
	if (!strcmp(o->machine, "q35"))
		return ram >= 0xb0000000ull ? 2 * GiB : ram;
	return ram >= 0xe0000000ull ? 3 * GiB : ram;
}

static void map_qemu_ram(struct gf_target *t, const struct vm_opts *o)
{
	uint64_t low = qemu_lowmem(o, t->map_size);

	t->mem.nranges = 0;
	add_range(&t->mem, 0, low, t->map);
	if (t->map_size > low)
		add_range(&t->mem, FOUR_GiB, t->map_size - low, t->map + low);
}

static int parse_vm_opts(char *opts, struct vm_opts *o)
{
	char *save = NULL;

	strcpy(o->machine, "pc");
	o->lowmem = 0;
	for (char *kv = strtok_r(opts, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strcmp(kv, "machine=pc") || !strcmp(kv, "machine=q35")) {
			strcpy(o->machine, kv + 8);
		} else if (!strncmp(kv, "lowmem=", 7)) {
			o->lowmem = strtoull(kv + 7, &end, 0);
			if (*end || !o->lowmem)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* The PT_LOAD segments of an ELF core, each checked against the file. */
static int map_elf_core(struct gf_target *t)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)t->map;
	uint64_t phoff = eh->e_phoff;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_CORE ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    phoff > t->map_size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > t->map_size - phoff)
		return -1;
	t->mem.nranges = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			(const Elf64_Phdr *)(t->map + phoff) + i;
		if (ph->p_type != PT_LOAD || ph->p_filesz == 0)
			continue;
		if (ph->p_offset > t->map_size ||
		    ph->p_filesz > t->map_size - ph->p_offset ||
		    t->mem.nranges == GF_MAX_RANGES)
			return -1;
		add_range(&t->mem, ph->p_paddr, ph->p_filesz,
			  t->map + ph->p_offset);
	}
	return t->mem.nranges ? 0 : -1;
}

static int is_elf(const struct gf_target *t)
{
	return t->map_size >= sizeof(Elf64_Ehdr) &&
	       !memcmp(t->map, ELFMAG, SELFMAG);
}

static int map_file(struct gf_target *t, const char *path, int writable)
{
	struct stat st;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	t->fd = open(path, writable ? O_RDWR : O_RDONLY);
	if (t->fd < 0 && writable && errno == EACCES) {
		writable = 0;
		prot = PROT_READ;
		t->fd = open(path, O_RDONLY);
	}
	if (t->fd < 0) {
		fprintf(stderr, "gpufas: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(t->fd, &st)) {
		fprintf(stderr, "gpufas: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 4096) {
		fprintf(stderr, "gpufas: %s: not a RAM file or dump (%s)\n",
			path, S_ISREG(st.st_mode) ? "too small" : "not a file");
		return -1;
	}
	t->map_size = (uint64_t)st.st_size;
	t->map = mmap(NULL, t->map_size, prot, MAP_SHARED, t->fd, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		fprintf(stderr, "gpufas: %s: mmap: %s\n", path, strerror(errno));
		return -1;
	}
	t->writable = writable;
	return 0;
}

/* Opens "vm:PATH[,opts]" or "dump:PATH". Prints its own error. */
int target_open(struct gf_target *t, const char *spec, int want_write)
{
	char buf[sizeof t->spec], *path, *opts;
	struct vm_opts vo;
	int vm;

	memset(t, 0, sizeof *t);
	t->fd = -1;
	if (strlen(spec) >= sizeof t->spec) {
		fprintf(stderr, "gpufas: target spec too long\n");
		return -1;
	}
	strcpy(t->spec, spec);
	strcpy(buf, spec);
	vm = !strncmp(buf, "vm:", 3);
	if (!vm && strncmp(buf, "dump:", 5)) {
		fprintf(stderr, "gpufas: unknown target '%s' (expected vm:PATH "
				"or dump:PATH)\n", spec);
		return -1;
	}
	path = buf + (vm ? 3 : 5);
	opts = vm ? strchr(path, ',') : NULL;
	if (opts)
		*opts++ = 0;
	if (parse_vm_opts(opts ? opts : (char[]){ 0 }, &vo)) {
		fprintf(stderr, "gpufas: bad vm: option in '%s' (machine=pc|q35,"
				"lowmem=BYTES)\n", spec);
		return -1;
	}
	if (!*path) {
		fprintf(stderr, "gpufas: target '%s' names no file\n", spec);
		return -1;
	}
	if (map_file(t, path, vm && want_write))
		goto fail;
	if (!vm && is_elf(t)) {
		if (map_elf_core(t)) {
			fprintf(stderr, "gpufas: %s: not a usable ELF core "
					"(no PT_LOAD, or truncated)\n", path);
			goto fail;
		}
	} else {
		map_qemu_ram(t, &vo);
	}
	return 0;
fail:
	target_close(t);
	return -1;
}

void target_close(struct gf_target *t)
{
	if (t->map)
		munmap(t->map, t->map_size);
	if (t->fd >= 0)
		close(t->fd);
	t->map = NULL;
	t->fd = -1;
}

uint64_t target_ram_size(const struct gf_target *t)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < t->mem.nranges; i++)
		sum += t->mem.range[i].size;
	return sum;
}
