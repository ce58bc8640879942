/* target.c — where guest RAM comes from, and how its physical addresses
 * map onto it.
 *
 *   vm:PATH[,machine=pc|q35][,lowmem=BYTES][,qmp=SOCKET][,vmstate=NODE]
 *       a QEMU guest's RAM file (memory-backend-file, share=on), mapped
 *       shared so that our writes reach the running guest; qmp= and
 *       vmstate= are snapshot.c's (QEMU's QMP socket, the qcow2 node that
 *       holds snapshots' device state);
 *   dump:PATH
 *       an ELF core (QEMU dump-guest-memory, kdump's /proc/vmcore), whose
 *       PT_LOAD segments give the physical ranges, or a raw copy of a RAM
 *       file, which maps like vm:. Dumps are never written;
 *   host
 *       this machine's own RAM: the "System RAM" ranges of /proc/iomem,
 *       mapped from /dev/mem where the kernel allows it (built without
 *       CONFIG_STRICT_DEVMEM), else from /dev/gpufas_pmem, the device of
 *       the companion module kmod/gpufas_pmem.ko, where it is loaded, else
 *       read through /proc/kcore, never written. Mappable memory comes
 *       first: reads are loads, and the GPU engine can register it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "gpufas.h"
#include "libvirt.h"
#include "target.h"
#include "vmcoreinfo.h"

#define GiB (1ull << 30)
#define FOUR_GiB (4 * GiB)
#define PAGE 4096ull
#define IOMEM "/proc/iomem"
#define DEVMEM "/dev/mem"
#define PMEM "/dev/gpufas_pmem"
#define KCORE "/proc/kcore"
/* System RAM lines read from /proc/iomem: real machines have tens. */
#define MAX_IOMEM_RAM 4096


static void target_error(struct gf_target *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->error, sizeof t->error, fmt, ap);
	va_end(ap);
}

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
static uint64_t qemu_lowmem(const struct gf_vm_spec *o, uint64_t ram)
{
	if (o->lowmem)
		return o->lowmem < ram ? o->lowmem : ram;
	if (!strcmp(o->machine, "q35"))
		return ram >= 0xb0000000ull ? 2 * GiB : ram;
	return ram >= 0xe0000000ull ? 3 * GiB : ram;
}

static void map_qemu_ram(struct gf_target *t, const struct gf_vm_spec *o)
{
	uint64_t low = qemu_lowmem(o, t->map_size);

	t->mem.nranges = 0;
	add_range(&t->mem, 0, low, t->map);
	if (t->map_size > low)
		add_range(&t->mem, FOUR_GiB, t->map_size - low, t->map + low);
}

/* A value of an option into dst[len]: not empty, and fitting. GF_OK, or
 * GF_EINVAL. */
static int vm_opt(char *dst, size_t len, const char *value)
{
	if (!*value || strlen(value) >= len)
		return GF_EINVAL;
	strcpy(dst, value);
	return GF_OK;
}

/* GF_OK, or GF_EINVAL for an option it does not know or a bad value. */
static int parse_vm_opts(char *opts, struct gf_vm_spec *o)
{
	char *save = NULL;

	for (char *kv = strtok_r(opts, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strcmp(kv, "machine=pc") || !strcmp(kv, "machine=q35")) {
			strcpy(o->machine, kv + 8);
		} else if (!strncmp(kv, "lowmem=", 7)) {
			o->lowmem = strtoull(kv + 7, &end, 0);
			if (*end || !o->lowmem)
				return GF_EINVAL;
		} else if (!strncmp(kv, "qmp=", 4)) {
			if (vm_opt(o->qmp, sizeof o->qmp, kv + 4))
				return GF_EINVAL;
		} else if (!strncmp(kv, "vmstate=", 8)) {
			if (vm_opt(o->vmstate, sizeof o->vmstate, kv + 8))
				return GF_EINVAL;
		} else {
			return GF_EINVAL;
		}
	}
	return GF_OK;
}

int target_vm_spec(const char *spec, struct gf_vm_spec *vs, char *err,
		   size_t errlen)
{
	char buf[sizeof ((struct gf_target *)0)->spec], *opts;

	memset(vs, 0, sizeof *vs);
	strcpy(vs->machine, "pc");
	if (strncmp(spec, "vm:", 3) || strlen(spec) >= sizeof buf) {
		snprintf(err, errlen, "'%s' is not a vm:PATH target", spec);
		return GF_EINVAL;
	}
	strcpy(buf, spec + 3);
	if ((opts = strchr(buf, ',')))
		*opts++ = 0;
	if (!*buf || strlen(buf) >= sizeof vs->path) {
		snprintf(err, errlen, "target '%s' names no file", spec);
		return GF_EINVAL;
	}
	strcpy(vs->path, buf);
	if (opts && parse_vm_opts(opts, vs)) {
		snprintf(err, errlen, "bad vm: option in '%s' (machine=pc|q35,"
			 "lowmem=BYTES,qmp=SOCKET,vmstate=NODE)", spec);
		return GF_EINVAL;
	}
	return GF_OK;
}

/* The PT_LOAD segments of an ELF core, each checked against the file:
 * GF_OK, GF_ECORRUPT (no PT_LOAD, or truncated) or GF_ENOSPC (more than
 * GF_MAX_RANGES). */
static int map_elf_core(struct gf_target *t)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)t->map;
	uint64_t phoff = eh->e_phoff;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_CORE ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    phoff > t->map_size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > t->map_size - phoff)
		return GF_ECORRUPT;
	t->mem.nranges = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph; /* copied: e_phoff need not be aligned */

		memcpy(&ph, t->map + phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
			continue;
		if (ph.p_offset > t->map_size ||
		    ph.p_filesz > t->map_size - ph.p_offset)
			return GF_ECORRUPT;
		if (t->mem.nranges == GF_MAX_RANGES)
			return GF_ENOSPC;
		add_range(&t->mem, ph.p_paddr, ph.p_filesz,
			  t->map + ph.p_offset);
	}
	return t->mem.nranges ? GF_OK : GF_ECORRUPT;
}

static int is_elf(const struct gf_target *t)
{
	return t->map_size >= sizeof(Elf64_Ehdr) &&
	       !memcmp(t->map, ELFMAG, SELFMAG);
}

/* GF_OK; GF_EIO (open, fstat, mmap) or GF_EINVAL (not a file, or too
 * small), with t->error. */
static int map_file(struct gf_target *t, const char *path, int writable)
{
	struct stat st;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	t->fd = open(path, writable ? O_RDWR : O_RDONLY);
	if (t->fd < 0 && writable && errno == EACCES) {
		snprintf(t->read_only, sizeof t->read_only, "%s is not writable "
			 "for us", path);
		writable = 0;
		prot = PROT_READ;
		t->fd = open(path, O_RDONLY);
	}
	if (t->fd < 0) {
		target_error(t, "%s: %s", path, strerror(errno));
		return GF_EIO;
	}
	if (fstat(t->fd, &st)) {
		target_error(t, "%s: %s", path, strerror(errno));
		return GF_EIO;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 4096) {
		target_error(t, "%s: not a RAM file or dump (%s)",
			path, S_ISREG(st.st_mode) ? "too small" : "not a file");
		return GF_EINVAL;
	}
	t->map_size = (uint64_t)st.st_size;
	t->map = mmap(NULL, t->map_size, prot, MAP_SHARED, t->fd, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		target_error(t, "%s: mmap: %s", path, strerror(errno));
		return GF_EIO;
	}
	t->writable = writable;
	snprintf(t->path, sizeof t->path, "%s", path);
	return GF_OK;
}

/* ---- host: this machine's physical memory ---- */

static int by_phys(const void *a, const void *b)
{
	const struct gf_range *x = a, *y = b;

	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

/* One top-level "System RAM" line of /proc/iomem, trimmed to whole pages
 * (the first range ends mid-page, at 0x9fbff); 0 if there is none. Nested
 * lines (two spaces deeper) are parts of their parent: Kernel code, ... */
static int iomem_line(char *line, struct gf_range *r, int *hidden)
{
	unsigned long long first, last, end;
	int name = 0;

	line[strcspn(line, "\n")] = 0;
	if (line[0] == ' ' ||
	    sscanf(line, "%llx-%llx : %n", &first, &last, &name) != 2 ||
	    !name || strcmp(line + name, "System RAM"))
		return 0;
	if (first == 0 && last == 0) { /* what a reader without root sees */
		*hidden = 1;
		return 0;
	}
	if (last < first || last == ~0ull)
		return 0;
	r->phys = (first + PAGE - 1) & ~(PAGE - 1);
	end = (last + 1) & ~(PAGE - 1);
	r->size = end > r->phys ? end - r->phys : 0;
	r->base = NULL;
	return r->size != 0;
}

/* Adjacent ranges become one, so that a read across their border works;
 * past GF_MAX_RANGES the smallest go: firmware leaves scraps of a few
 * pages between its areas, while the kernel lives in the large ranges. */
static void merge_and_bound(struct gf_range *r, uint32_t *n)
{
	uint32_t out = 0;

	qsort(r, *n, sizeof *r, by_phys);
	for (uint32_t i = 0; i < *n; i++) {
		uint64_t end = r[i].phys + r[i].size;
		if (out && r[i].phys <= r[out - 1].phys + r[out - 1].size) {
			if (end > r[out - 1].phys + r[out - 1].size)
				r[out - 1].size = end - r[out - 1].phys;
		} else {
			r[out++] = r[i];
		}
	}
	while (out > GF_MAX_RANGES) {
		uint32_t min = 0;
		for (uint32_t i = 1; i < out; i++)
			if (r[i].size < r[min].size)
				min = i;
		memmove(&r[min], &r[min + 1], (out - min - 1) * sizeof *r);
		out--;
	}
	*n = out;
}

/* t->mem from /proc/iomem, bases not set yet: GF_OK; GF_ENOMEM, GF_EIO,
 * GF_EREFUSED (its addresses hidden from us) or GF_ENOENT (no RAM there),
 * with t->error. */
static int iomem_ram(struct gf_target *t)
{
	struct gf_mem *m = &t->mem;
	struct gf_range *r = malloc(MAX_IOMEM_RAM * sizeof *r);
	FILE *f = fopen(IOMEM, "r");
	char *line = NULL;
	size_t len = 0;
	uint32_t n = 0;
	int hidden = 0, rc;

	if (!r || !f) {
		target_error(t, "host: %s: %s", IOMEM,
			strerror(r ? errno : ENOMEM));
		rc = r ? GF_EIO : GF_ENOMEM;
		goto out;
	}
	while (getline(&line, &len, f) > 0 && n < MAX_IOMEM_RAM)
		n += (uint32_t)iomem_line(line, &r[n], &hidden);
	merge_and_bound(r, &n);
	if (n == 0) {
		target_error(t, "host: %s", hidden ?
			IOMEM " hides its addresses: run as root" :
			"no System RAM in " IOMEM);
		rc = hidden ? GF_EREFUSED : GF_ENOENT;
		goto out;
	}
	m->nranges = n;
	memcpy(m->range, r, n * sizeof *r);
	rc = GF_OK;
out:
	free(line);
	free(r);
	if (f)
		fclose(f);
	return rc;
}

/* Opens dev read-write when asked, else read-only; read-only too when a
 * writable open is refused (EACCES: gpufas_pmem loaded without write=1),
 * as map_file() does for RAM files. Never O_SYNC: /dev/mem would then map
 * RAM uncached. GF_OK, or GF_EIO with errno. */
static int open_dev(struct gf_target *t, const char *dev, int want_write)
{
	t->fd = open(dev, want_write ? O_RDWR : O_RDONLY);
	if (t->fd < 0 && want_write && errno == EACCES) {
		snprintf(t->read_only, sizeof t->read_only, "%s refuses writing%s",
			 dev, strcmp(dev, PMEM) ? "" : " (load the module with write=1)");
		return open_dev(t, dev, 0);
	}
	if (t->fd < 0)
		return GF_EIO;
	t->writable = want_write;
	return GF_OK;
}

/* Maps every range of t->mem from dev at file offset = physical address,
 * one after another inside one reservation that target_close() unmaps in
 * one go. 0 on success; else an errno, with *bad the range whose mmap
 * failed (-1: the open failed) and nothing left open or mapped. */
static int map_phys(struct gf_target *t, const char *dev, int want_write,
		    int *bad)
{
	uint64_t total = target_ram_size(t), off = 0;
	uint8_t *res;
	int err;

	*bad = -1;
	if (open_dev(t, dev, want_write))
		return errno;
	res = mmap(NULL, total, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		goto fail;
	t->map = res;
	t->map_size = total;
	for (uint32_t i = 0; i < t->mem.nranges; i++) {
		struct gf_range *r = &t->mem.range[i];
		int prot = PROT_READ | (t->writable ? PROT_WRITE : 0);
		if (mmap(res + off, r->size, prot, MAP_SHARED | MAP_FIXED,
			 t->fd, (off_t)r->phys) == MAP_FAILED) {
			*bad = (int)i;
			goto fail;
		}
		r->base = res + off;
		off += r->size;
	}
	return 0;
fail:
	err = errno;
	target_close(t);
	t->writable = 0;
	return err;
}

/* Why /dev/mem could not be used, for the error that follows. A kernel
 * with STRICT_DEVMEM maps RAM below 1 MiB (the first range) but answers
 * EPERM to an mmap() of any range holding RAM above it: a failed mmap is
 * the sign, not the contents (read() of low RAM gives zeros, of the rest
 * EPERM too). */
static const char *devmem_why(int err, int bad)
{
	static char why[128];

	if (err == ENOENT)
		return "there is no " DEVMEM;
	if (err == EPERM && bad >= 0)
		return DEVMEM " refuses RAM (CONFIG_STRICT_DEVMEM)";
	snprintf(why, sizeof why, DEVMEM ": %s", strerror(err));
	return why;
}

/* ---- host through /proc/kcore ----
 * An ELF core of the running kernel (fs/proc/kcore.c), open to root with
 * CAP_SYS_RAWIO and refused under lockdown. Its PT_LOAD segments of RAM
 * (KCORE_RAM) carry their physical address in p_paddr; the others have
 * -1 there but the kernel text (KCORE_TEXT), a second view of RAM at
 * __START_KERNEL_map. Since 4.19 a note holds VMCOREINFO. It cannot be
 * mapped: every read is a pread(), of live memory. Never written. */

#define START_KERNEL_MAP 0xffffffff80000000ull
#define KCORE_MAX_PHDRS 4096
#define KCORE_MAX_NOTES (64u << 10)

static int kcore_read(const struct gf_mem *m, uint64_t pa, void *dst, uint32_t len)
{
	for (uint32_t i = 0; i < m->nranges; i++) {
		const struct gf_range *r = &m->range[i];
		if (pa >= r->phys && pa - r->phys < r->size &&
		    len <= r->size - (pa - r->phys))
			return pread(m->fd, dst, len, (off_t)(r->offset + pa - r->phys)) ==
			       (ssize_t)len ? GF_OK : GF_EFAULT;
	}
	return GF_EFAULT;
}

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	return pread(fd, buf, len, (off_t)off) == (ssize_t)len ? GF_OK : GF_EIO;
}

/* The VMCOREINFO note's text among the notes of one PT_NOTE segment. */
static char *vmcoreinfo_note(const uint8_t *notes, uint64_t size)
{
	for (uint64_t at = 0; size - at >= sizeof(Elf64_Nhdr);) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(notes + at);
		uint64_t name = at + sizeof *nh, desc = name + ((nh->n_namesz + 3ull) & ~3ull);
		char *text;
		if (desc > size || nh->n_descsz > size - desc)
			return NULL;
		if (nh->n_namesz == sizeof "VMCOREINFO" &&
		    !memcmp(notes + name, "VMCOREINFO", sizeof "VMCOREINFO") &&
		    nh->n_descsz <= VMCOREINFO_MAX && (text = malloc(nh->n_descsz + 1))) {
			memcpy(text, notes + desc, nh->n_descsz);
			text[nh->n_descsz] = 0;
			return text;
		}
		at = desc + ((nh->n_descsz + 3ull) & ~3ull);
	}
	return NULL;
}

/* One program header: a RAM range, or the VMCOREINFO note. GF_OK, or
 * GF_ENOSPC past GF_MAX_RANGES. */
static int kcore_segment(struct gf_target *t, const Elf64_Phdr *ph)
{
	uint8_t *notes;

	if (ph->p_type == PT_NOTE && !t->vmcoreinfo && ph->p_filesz <= KCORE_MAX_NOTES &&
	    (notes = malloc(ph->p_filesz))) {
		if (!read_exact(t->fd, notes, ph->p_filesz, ph->p_offset))
			t->vmcoreinfo = vmcoreinfo_note(notes, ph->p_filesz);
		free(notes);
	}
	if (ph->p_type != PT_LOAD || ph->p_paddr == ~0ull || ph->p_filesz == 0 ||
	    ph->p_vaddr >= START_KERNEL_MAP)
		return 0;
	if (t->mem.nranges == GF_MAX_RANGES)
		return GF_ENOSPC;
	add_range(&t->mem, ph->p_paddr, ph->p_filesz, NULL);
	t->mem.range[t->mem.nranges - 1].offset = ph->p_offset;
	return GF_OK;
}

/* Why /proc/kcore could not be used, or NULL when it is open. */
static const char *kcore_open(struct gf_target *t)
{
	static char why[128];
	Elf64_Phdr *ph = NULL;
	Elf64_Ehdr eh;
	int bad = 0;

	if ((t->fd = open(KCORE, O_RDONLY)) < 0) {
		snprintf(why, sizeof why, KCORE ": %s%s", strerror(errno),
			 errno == EPERM ? " (lockdown, or no CAP_SYS_RAWIO)" : "");
		return why;
	}
	t->mem.nranges = 0;
	if (read_exact(t->fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_CORE ||
	    eh.e_phentsize != sizeof *ph || eh.e_phnum == 0 || eh.e_phnum > KCORE_MAX_PHDRS ||
	    !(ph = malloc(eh.e_phnum * sizeof *ph)) ||
	    read_exact(t->fd, ph, eh.e_phnum * sizeof *ph, eh.e_phoff))
		bad = 1;
	for (int i = 0; !bad && i < eh.e_phnum; i++)
		bad = kcore_segment(t, &ph[i]);
	free(ph);
	if (bad || !t->mem.nranges || !t->vmcoreinfo) {
		target_close(t);
		return bad || !t->mem.nranges ? KCORE ": not a usable ELF core"
					      : KCORE ": no VMCOREINFO note";
	}
	t->mem.read = kcore_read;
	t->mem.fd = t->fd;
	t->writable = 0;
	return NULL;
}

/* GF_OK; GF_ENOLIB where no way to physical memory is there (no /dev/mem
 * that maps RAM, no gpufas_pmem, no /proc/kcore to read), else iomem_ram()'s
 * error or GF_EIO; with t->error. */
static int host_open(struct gf_target *t, int want_write)
{
	const struct gf_range *r;
	const char *why, *kcore = "";
	int err, bad;

	if ((err = iomem_ram(t)))
		return err;
	if (!(err = map_phys(t, DEVMEM, want_write, &bad)))
		return GF_OK;
	why = devmem_why(err, bad);
	if (!(err = map_phys(t, PMEM, want_write, &bad)))
		return GF_OK;
	if (err == ENOENT && !(kcore = kcore_open(t))) {
		if (want_write)
			snprintf(t->read_only, sizeof t->read_only, "read through "
				 KCORE ", which is never written: %s and there is "
				 "no " PMEM " (load kmod/gpufas_pmem.ko write=1)", why);
		return GF_OK;
	}
	if (err == ENOENT) {
		target_error(t, "host: no access to physical memory: %s, %s "
			"and there is no " PMEM "; load kmod/gpufas_pmem.ko%s "
			"(README: Bare metal)", why, kcore, strstr(why, "STRICT") ?
			" or boot a kernel built without CONFIG_STRICT_DEVMEM" : "");
		return GF_ENOLIB;
	}
	if (bad < 0) {
		target_error(t, "host: %s: %s", PMEM, strerror(err));
		return GF_EIO;
	}
	r = &t->mem.range[bad];
	target_error(t, "host: %s: mmap of System RAM %#llx-%#llx: %s",
		PMEM, (unsigned long long)r->phys,
		(unsigned long long)(r->phys + r->size - 1), strerror(err));
	return GF_EIO;
}

static int open_libvirt(struct gf_target *t, const char *name, int want_write)
{
	struct libvirt_ram ram;
	struct gf_vm_spec vo = { .lowmem = 0 };
	char why[sizeof t->error];
	int rc;

	if ((rc = libvirt_find_ram(name, &ram, why, sizeof why))) {
		target_error(t, "%s: %s", t->spec, why);
		return rc;
	}
	strcpy(vo.machine, ram.machine);
	if ((rc = map_file(t, ram.path, want_write))) {
		snprintf(why, sizeof why, "%s", t->error);
		target_error(t, "%s: %s", t->spec, why);
		target_close(t);
		return rc;
	}
	map_qemu_ram(t, &vo);
	return GF_OK;
}

/* Opens "vm:PATH[,opts]", "libvirt:NAME", "dump:PATH" or "host": GF_OK,
 * or a GF_E* (GF_EINVAL: not a target spec) and t->error says why, in
 * one line. */
int target_open(struct gf_target *t, const char *spec, int want_write)
{
	char buf[sizeof t->spec], *path;
	struct gf_vm_spec vo;
	int vm, rc;

	memset(t, 0, sizeof *t);
	t->fd = -1;
	if (strlen(spec) >= sizeof t->spec) {
		target_error(t, "target spec too long");
		return GF_EINVAL;
	}
	strcpy(t->spec, spec);
	strcpy(buf, spec);
	if (!strcmp(buf, "host"))
		return host_open(t, want_write);
	if (!strncmp(buf, "libvirt:", 8))
		return open_libvirt(t, buf + 8, want_write);
	vm = !strncmp(buf, "vm:", 3);
	if (!vm && strncmp(buf, "dump:", 5)) {
		target_error(t, "unknown target '%s' (expected vm:PATH, "
				"libvirt:NAME, dump:PATH or host)", spec);
		return GF_EINVAL;
	}
	path = buf + 5;
	if (vm && (rc = target_vm_spec(spec, &vo, t->error, sizeof t->error)))
		return rc;
	if (vm)
		path = vo.path;
	if (!*path) {
		target_error(t, "target '%s' names no file", spec);
		return GF_EINVAL;
	}
	if ((rc = map_file(t, path, vm && want_write)))
		goto fail;
	if (!vm && is_elf(t)) {
		if ((rc = map_elf_core(t))) {
			target_error(t, "%s: not a usable ELF core "
					"(no PT_LOAD, or truncated)", path);
			goto fail;
		}
	} else {
		map_qemu_ram(t, &vo);
	}
	return GF_OK;
fail:
	target_close(t);
	return rc;
}

void target_close(struct gf_target *t)
{
	if (t->map)
		munmap(t->map, t->map_size);
	if (t->fd >= 0)
		close(t->fd);
	free(t->vmcoreinfo);
	t->map = NULL;
	t->fd = -1;
	t->vmcoreinfo = NULL;
	t->mem.read = NULL;
}

uint64_t target_ram_size(const struct gf_target *t)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < t->mem.nranges; i++)
		sum += t->mem.range[i].size;
	return sum;
}

/* Is the file we mapped gone, or another file now under its name? A QEMU
 * started again makes a new RAM file: ours then holds the old guest's
 * memory, frozen. Always 0 for the host. */
int target_replaced(const struct gf_target *t)
{
	struct stat now, ours;

	if (!t->path[0])
		return 0;
	if (stat(t->path, &now) || fstat(t->fd, &ours))
		return 1;
	return now.st_ino != ours.st_ino || now.st_dev != ours.st_dev ||
	       (uint64_t)now.st_size != t->map_size;
}
