/* snapshot.c — a healthy guest's RAM, device state and disks saved at one
 * pause, and restored by writing back only the pages whose hash differs
 * (snapshot.h; README.md, "Snapshot and restore").
 *
 * The .gfsnap file, host byte order:
 *   [0, 4096)            struct snap_header, its own hash last
 *   [4096, ram_off)      the page hashes: XXH3-128 with the header's seed
 *                        (pagehash.h), 16 bytes a page, zero-padded to a
 *                        page
 *   [ram_off, +ram_size) the RAM file's bytes at the pause
 * The header and the hash table are checked before the guest is paused;
 * each page read back is checked against its hash before anything is
 * written, so a damaged file leaves the guest as it was. The passes over
 * the pages, and where they are hashed, are snappages.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "clock.h"
#include "config.h"
#include "discover.h"
#include "gpufas.h"
#include "json.h"
#include "pagehash.h"
#include "qmp.h"
#include "snappages.h"
#include "snapshot.h"
#include "target.h"

#define SNAP_MAGIC "GFSNAP\r\n"
#define SNAP_VERSION 1
#define SNAP_PAGE GF_PAGEHASH_PAGE
#define SNAP_HASH_XXH3_128 1
#define SNAP_HASH GF_PAGEHASH_BYTES /* bytes of one page's hash */
#define SNAP_MAX_DISKS 16
#define SNAP_MAX_FILES 1024    /* .gfsnap files looked at in a directory */
#define SNAP_TAG_PREFIX "gpufas-"

enum { DISK_ROLLED = 1, DISK_CHECKED = 2 };

struct snap_disk {
	char device[48]; /* QEMU's name for it: the drive id, else the qdev */
	char node[48];   /* its format node */
	uint32_t kind;   /* DISK_ROLLED (qcow2, in the snapshot), DISK_CHECKED */
	uint32_t pad;
	uint64_t wr_bytes; /* query-blockstats' at the snapshot */
};

struct snap_header {
	char magic[8];
	uint32_t version, page_size;
	uint64_t ram_size, npages, ram_off;
	uint32_t hash, ndisks;
	uint64_t seed;
	double created;        /* Unix seconds */
	uint64_t kaslr_offset; /* the kernel that was running: a restore's */
	char release[65];
	char name[GF_SNAP_NAME + 1];
	char tag[64];          /* QEMU's internal snapshot */
	char vmstate[48];      /* the node holding the device state */
	struct snap_disk disk[SNAP_MAX_DISKS];
	uint8_t table_hash[SNAP_HASH];
	uint8_t header_hash[SNAP_HASH]; /* of everything above */
};
_Static_assert(sizeof(struct snap_header) <= SNAP_PAGE, "header fits a page");

/* One snapshot's or restore's working set. */
struct snap_run {
	const struct gf_snap_config *sc;
	struct gf_snap_stats *st;
	struct gf_vm_spec sp; /* the target's spec, its qmp= and vmstate= */
	struct gf_qmp q;
	struct gf_target t;
	struct gf_pages pages;
	int fd;
	const uint8_t *file;  /* restore: the snapshot's RAM, mapped */
	double t0;
};

static double ms_since(double t)
{
	return (gf_now_monotonic() - t) * 1e3;
}

static int fail(struct snap_run *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->st->error, sizeof r->st->error, fmt, ap);
	va_end(ap);
	return rc;
}

/* More of the error line, after what fail() said. */
static void append(struct snap_run *r, const char *fmt, ...)
{
	size_t len = strlen(r->st->error);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->st->error + len, sizeof r->st->error - len, fmt, ap);
	va_end(ap);
}

/* ---- settings ---- */

void snap_config_defaults(struct gf_snap_config *c)
{
	memset(c, 0, sizeof *c);
	c->keep = 2;
	c->timeout_ms = 5000;
	c->kernel = GF_KERNEL_REPORT;
	c->hang_s = 10;
	c->ready_s = 10;
}

int gf_snap_has_qmp(const char *spec, char *err, size_t errlen)
{
	struct gf_vm_spec sp;

	if (strncmp(spec, "vm:", 3)) {
		snprintf(err, errlen, "snapshots are of vm:PATH,qmp=SOCKET targets, "
			 "not '%s'", spec);
		return 0;
	}
	if (target_vm_spec(spec, &sp, err, errlen))
		return 0;
	if (!sp.qmp[0]) {
		snprintf(err, errlen, "%s has no QMP socket: add ,qmp=SOCKET to the "
			 "target (QEMU started with -qmp unix:SOCKET,server=on,"
			 "wait=off)", spec);
		return 0;
	}
	return 1;
}

static int valid_name(const char *n)
{
	size_t len = strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789._-");

	return len > 0 && len <= GF_SNAP_NAME && !n[len] && n[0] != '.';
}

/* The snapshot directory: [recover] snapshot_dir, else
 * $GPUFAS_CACHE/snapshots, else ~/.cache/gpufas/snapshots; made 0700.
 * GF_OK; GF_ENOENT (none of them set), GF_ENOSPC (too long a path) or
 * GF_EIO (mkdir, errno saying why). */
static int snap_dir(const struct gf_snap_config *sc, char *dir, size_t len)
{
	const char *cache = getenv("GPUFAS_CACHE"), *home = getenv("HOME");
	char parent[256];
	int n;

	if (sc->dir[0])
		n = snprintf(dir, len, "%s", sc->dir);
	else if (cache && *cache)
		n = snprintf(dir, len, "%s/snapshots", cache);
	else if (home && *home)
		n = snprintf(dir, len, "%s/.cache/gpufas/snapshots", home);
	else
		return GF_ENOENT;
	if (n <= 0 || (size_t)n >= len)
		return GF_ENOSPC;
	if (!sc->dir[0] && !(cache && *cache)) {
		snprintf(parent, sizeof parent, "%s/.cache", home);
		mkdir(parent, 0700);
		snprintf(parent, sizeof parent, "%s/.cache/gpufas", home);
		mkdir(parent, 0700);
	} else if (!sc->dir[0]) {
		mkdir(cache, 0700);
	}
	return mkdir(dir, 0700) && errno != EEXIST ? GF_EIO : GF_OK;
}

/* The file name's start: the RAM file's own name, so that each guest's
 * snapshots sit side by side. */
static const char *ram_base(const struct gf_vm_spec *sp)
{
	const char *s = strrchr(sp->path, '/');

	return s ? s + 1 : sp->path;
}

static int snap_path(const char *dir, const struct gf_vm_spec *sp, const char *name,
		     char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s-%s.gfsnap", dir, ram_base(sp), name);

	return n > 0 && (size_t)n < len ? GF_OK : GF_ENOSPC;
}

/* ---- the file's own hashes: of the page hashes, and of the header ---- */

static void table_seal(struct snap_header *h, const void *table, uint64_t len)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(table, len));
	memcpy(h->table_hash, c.digest, SNAP_HASH);
}

static void header_seal(struct snap_header *h)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(h, offsetof(struct snap_header,
							       header_hash)));
	memcpy(h->header_hash, c.digest, SNAP_HASH);
}

static uint64_t table_bytes(uint64_t npages)
{
	return (npages * SNAP_HASH + SNAP_PAGE - 1) / SNAP_PAGE * SNAP_PAGE;
}

/* ---- QEMU's block devices: which are rolled back, which are checked ---- */

struct disks {
	uint32_t n;
	struct snap_disk d[SNAP_MAX_DISKS];
	int vmstate_found;
	int vmstate_has_tag;
	uint32_t qcow2;        /* qcow2 nodes seen, for finding the vmstate */
	char qcow2_node[48];
};

static size_t array_len(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static int image_has_tag(json_object *inserted, const char *tag)
{
	json_object *snaps = gf_qmp_get(gf_qmp_obj(inserted, "image"), "snapshots");

	for (size_t i = 0; i < array_len(snaps); i++) {
		const char *name = gf_qmp_str(json_object_array_get_idx(snaps, i), "name");
		if (name && !strcmp(name, tag))
			return 1;
	}
	return 0;
}

/* One query-block entry: a writable qcow2 disk is rolled back with the
 * memory, another writable disk is checked; read-only ones do not matter.
 * The vmstate node holds the device state, and is never the guest's. */
static int add_disk(struct snap_run *r, struct disks *ds, json_object *dev,
		    const char *tag)
{
	json_object *in = gf_qmp_obj(dev, "inserted"), *ro = gf_qmp_get(in, "ro");
	const char *name = gf_qmp_str(dev, "device"), *qdev = gf_qmp_str(dev, "qdev");
	const char *node = gf_qmp_str(in, "node-name"), *drv = gf_qmp_str(in, "drv");
	struct snap_disk *d;

	if (!in)
		return 0; /* an empty drive (a CD-ROM with no disc) */
	if (!node || !drv || !json_object_is_type(ro, json_type_boolean))
		return fail(r, GF_ECORRUPT, "QMP: query-block without node-name, drv "
			    "or ro");
	if (!strcmp(drv, "qcow2") && ds->qcow2++ == 0)
		snprintf(ds->qcow2_node, sizeof ds->qcow2_node, "%s", node);
	if (r->sp.vmstate[0] && !strcmp(node, r->sp.vmstate)) {
		ds->vmstate_found = 1;
		ds->vmstate_has_tag = tag && image_has_tag(in, tag);
		return 0;
	}
	if (json_object_get_boolean(ro))
		return 0;
	if (ds->n == SNAP_MAX_DISKS)
		return fail(r, GF_ENOSPC, "more than %d writable disks", SNAP_MAX_DISKS);
	d = &ds->d[ds->n++];
	memset(d, 0, sizeof *d);
	snprintf(d->device, sizeof d->device, "%s", name && *name ? name : qdev ? qdev : "");
	snprintf(d->node, sizeof d->node, "%s", node);
	d->kind = strcmp(drv, "qcow2") ? DISK_CHECKED : DISK_ROLLED;
	return 0;
}

/* query-blockstats' bytes written, by device (or qdev) name. */
static int wr_bytes(struct snap_run *r, struct disks *ds)
{
	json_object *stats;
	int rc = gf_qmp_call(&r->q, "query-blockstats", NULL, &stats, r->st->error,
			     sizeof r->st->error);

	if (rc)
		return rc;
	for (size_t i = 0; i < array_len(stats); i++) {
		json_object *s = json_object_array_get_idx(stats, i);
		const char *dev = gf_qmp_str(s, "device"), *qdev = gf_qmp_str(s, "qdev");
		json_object *wr = gf_qmp_get(gf_qmp_obj(s, "stats"), "wr_bytes");
		for (uint32_t k = 0; k < ds->n; k++)
			if ((dev && *dev && !strcmp(dev, ds->d[k].device)) ||
			    (qdev && !strcmp(qdev, ds->d[k].device)))
				ds->d[k].wr_bytes = (uint64_t)json_object_get_int64(wr);
	}
	json_object_put(stats);
	return GF_OK;
}

/* Every block device QEMU has, sorted as add_disk() says. The vmstate
 * node, when the spec names none, is the guest's only qcow2 node. */
static int list_disks(struct snap_run *r, struct disks *ds, const char *tag)
{
	json_object *devs;
	int rc = gf_qmp_call(&r->q, "query-block", NULL, &devs, r->st->error,
			     sizeof r->st->error);

	memset(ds, 0, sizeof *ds);
	if (rc)
		return rc;
	for (size_t i = 0; i < array_len(devs) && !rc; i++)
		rc = add_disk(r, ds, json_object_array_get_idx(devs, i), tag);
	json_object_put(devs);
	if (rc)
		return rc;
	if (!r->sp.vmstate[0]) {
		if (ds->qcow2 != 1)
			return fail(r, GF_EINVAL, "%s: %s qcow2 drive: say which holds the "
				    "device state with ,vmstate=NODE (a small qcow2 "
				    "attached with -drive file=F.qcow2,if=none,id=ID,"
				    "node-name=NODE)", r->sp.qmp,
				    ds->qcow2 ? "more than one" : "no");
		snprintf(r->sp.vmstate, sizeof r->sp.vmstate, "%s", ds->qcow2_node);
		return list_disks(r, ds, tag);
	}
	if (!ds->vmstate_found)
		return fail(r, GF_EINVAL, "QEMU has no block node '%s' to hold the device "
			    "state (query-block lists no such node-name)", r->sp.vmstate);
	return wr_bytes(r, ds);
}

/* snapshot-save/-load/-delete's arguments: the vmstate node and every
 * disk rolled back with the memory. */
static json_object *job_args(const char *job, const char *tag, const char *vmstate,
			     const struct snap_disk *d, uint32_t n, int with_vmstate)
{
	json_object *a = json_object_new_object(), *devs = json_object_new_array();

	json_object_array_add(devs, json_object_new_string(vmstate));
	for (uint32_t i = 0; i < n; i++)
		if (d[i].kind == DISK_ROLLED)
			json_object_array_add(devs, json_object_new_string(d[i].node));
	json_object_object_add(a, "job-id", json_object_new_string(job));
	json_object_object_add(a, "tag", json_object_new_string(tag));
	if (with_vmstate)
		json_object_object_add(a, "vmstate", json_object_new_string(vmstate));
	json_object_object_add(a, "devices", devs);
	return a;
}

static int job_timeout(const struct snap_run *r)
{
	return 12 * r->sc->timeout_ms;
}

static int ignore_shared(struct snap_run *r)
{
	json_object *cap = json_object_new_object(), *caps = json_object_new_array();
	json_object *args = json_object_new_object();

	json_object_object_add(cap, "capability", json_object_new_string("x-ignore-shared"));
	json_object_object_add(cap, "state", json_object_new_boolean(1));
	json_object_array_add(caps, cap);
	json_object_object_add(args, "capabilities", caps);
	return gf_qmp_call(&r->q, "migrate-set-capabilities", args, NULL, r->st->error,
			   sizeof r->st->error);
}

/* ---- one run's setup and teardown ---- */

static int run_open(struct snap_run *r, const char *spec, int want_write,
		    const struct gf_snap_config *sc, struct gf_snap_stats *st)
{
	memset(r, 0, sizeof *r);
	r->sc = sc;
	r->st = st;
	r->fd = -1;
	r->q.fd = -1;
	r->t.fd = -1;
	r->t0 = gf_now_monotonic();
	memset(st, 0, sizeof *st);
	st->outcome = "failed";
	st->disk_dropped = -1;
	if (!gf_snap_has_qmp(spec, st->error, sizeof st->error) ||
	    target_vm_spec(spec, &r->sp, st->error, sizeof st->error))
		return GF_EINVAL;
	if (target_open(&r->t, spec, want_write))
		return fail(r, GF_EINVAL, "%s", r->t.error);
	if (want_write && !r->t.writable)
		return fail(r, GF_EINVAL, "%s: %s: restoring needs write access",
			    spec, r->t.read_only);
	if (r->t.map_size % SNAP_PAGE)
		return fail(r, GF_EINVAL, "%s: RAM file of %" PRIu64 " bytes, not whole "
			    "pages", spec, r->t.map_size);
	st->pages = r->t.map_size / SNAP_PAGE;
	return gf_qmp_open(&r->q, r->sp.qmp, sc->timeout_ms, st->error, sizeof st->error);
}

static void run_close(struct snap_run *r)
{
	gf_qmp_close(&r->q);
	gf_pages_close(&r->pages);
	if (r->file)
		munmap((void *)(uintptr_t)r->file, r->t.map_size);
	target_close(&r->t);
	if (r->fd >= 0)
		close(r->fd);
	r->st->ms_total = ms_since(r->t0);
}

/* Where the pages are hashed: [engine] kind and gpu, as for watching. */
static void open_pages(struct snap_run *r, uint64_t seed, const struct gf_config *cfg)
{
	gf_pages_open(&r->pages, r->t.map, r->st->pages, seed, cfg->engine, cfg->gpu);
	snprintf(r->st->hashed_on, sizeof r->st->hashed_on, "%s", r->pages.engine);
}

/* The guest runs again; a failure here is said, not hidden. */
static int resume(struct snap_run *r, char *why, size_t whylen)
{
	double t = gf_now_monotonic();
	int rc = gf_qmp_call(&r->q, "cont", NULL, NULL, why, whylen);

	r->st->ms_cont = ms_since(t);
	r->st->paused = rc != 0;
	return rc;
}

static int pause_guest(struct snap_run *r, int *was_running)
{
	char state[32];
	double t = gf_now_monotonic();
	int rc = gf_qmp_status(&r->q, state, sizeof state, was_running, r->st->error,
			       sizeof r->st->error);

	if (!rc)
		rc = gf_qmp_call(&r->q, "stop", NULL, NULL, r->st->error,
				 sizeof r->st->error);
	r->st->ms_stop = ms_since(t);
	r->st->paused = !rc;
	return rc;
}

/* ---- snapshot ---- */

/* All len bytes at off, read into buf or written from it, in pieces of at
 * most 1 GiB (what one call moves). GF_OK, or GF_EIO with errno. */
static int move_all(int fd, uint8_t *buf, uint64_t len, uint64_t off, int writing)
{
	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = writing ? pwrite(fd, buf, chunk, (off_t)off)
				    : pread(fd, buf, chunk, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return GF_EIO;
		buf += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return GF_OK;
}

static int write_all(int fd, const void *buf, uint64_t len, uint64_t off)
{
	return move_all(fd, (uint8_t *)(uintptr_t)buf, len, off, 1); /* only read */
}

static int read_all(int fd, void *buf, uint64_t len, uint64_t off)
{
	return move_all(fd, buf, len, off, 0);
}

/* A header for this guest: its size, the kernel it runs, the disks. */
static int header_new(struct snap_run *r, struct snap_header *h, const char *name,
		      const struct disks *ds, const struct gf_config *cfg)
{
	struct gf_attachment a;
	char why[512];

	memset(h, 0, sizeof *h);
	memcpy(h->magic, SNAP_MAGIC, sizeof h->magic);
	h->version = SNAP_VERSION;
	h->page_size = SNAP_PAGE;
	h->ram_size = r->t.map_size;
	h->npages = r->st->pages;
	h->ram_off = SNAP_PAGE + table_bytes(h->npages);
	h->hash = SNAP_HASH_XXH3_128;
	h->created = gf_now_wall();
	if (getrandom(&h->seed, sizeof h->seed, 0) != sizeof h->seed)
		return fail(r, GF_EIO, "getrandom: %s", strerror(errno));
	snprintf(h->name, sizeof h->name, "%s", name);
	snprintf(h->tag, sizeof h->tag, SNAP_TAG_PREFIX "%s", name);
	snprintf(h->vmstate, sizeof h->vmstate, "%s", r->sp.vmstate);
	h->ndisks = ds->n;
	memcpy(h->disk, ds->d, sizeof ds->d);
	if (gf_attach(&a, &r->t, cfg, why, sizeof why))
		return fail(r, GF_EINVAL, "%s: no healthy kernel to snapshot: %s",
			    r->t.spec, why);
	h->kaslr_offset = r->st->kaslr_offset = a.kaslr_offset;
	snprintf(h->release, sizeof h->release, "%s", a.release);
	snprintf(r->st->release, sizeof r->st->release, "%s", a.release);
	gf_detach(&a);
	return GF_OK;
}

/* Every page of the RAM file touched once, before the pause: our fresh
 * mapping's page tables filled (a fault costs microseconds, a million of
 * them seconds), and a page the guest never used, a hole, filled by tmpfs. */
static void prefault(const uint8_t *ram, uint64_t size)
{
	volatile uint8_t sink = 0;

	for (uint64_t off = 0; off < size; off += SNAP_PAGE)
		sink ^= ram[off];
	(void)sink;
}

/* The pause: the RAM copied into memory and hashed, then QEMU's
 * snapshot; the copy goes to the file after the guest runs again. */
static int save_paused(struct snap_run *r, struct snap_header *h,
		       uint8_t (*table)[SNAP_HASH], uint8_t *copy)
{
	double t = gf_now_monotonic();
	char job[64];

	int rc;

	if ((rc = gf_pages_save(&r->pages, copy, table, r->st->error,
				sizeof r->st->error)))
		return rc;
	r->st->ms_copy = ms_since(t);
	t = gf_now_monotonic();
	snprintf(job, sizeof job, "gpufas-save-%d", (int)getpid());
	rc = gf_qmp_job(&r->q, "snapshot-save", job_args(job, h->tag, h->vmstate,
			h->disk, h->ndisks, 1), job, job_timeout(r),
			r->st->error, sizeof r->st->error);
	if (rc)
		return rc;
	r->st->ms_devices = ms_since(t);
	return GF_OK;
}

/* A snapshot of this name replaces the one before: QEMU's tag first. */
static void delete_tag(struct snap_run *r, const struct snap_header *h)
{
	char job[64], why[256];

	snprintf(job, sizeof job, "gpufas-delete-%d", (int)getpid());
	gf_qmp_job(&r->q, "snapshot-delete", job_args(job, h->tag, h->vmstate, h->disk,
		   h->ndisks, 0), job, job_timeout(r), why, sizeof why);
}

/* A snapshot's header, read and checked: GF_OK, GF_EIO, or GF_ECORRUPT
 * where it is no snapshot's or damaged. */
static int read_header(int fd, struct snap_header *h)
{
	struct snap_header copy;
	int rc;

	if ((rc = read_all(fd, h, sizeof *h, 0)))
		return rc;
	if (memcmp(h->magic, SNAP_MAGIC, 8))
		return GF_ECORRUPT;
	copy = *h;
	header_seal(&copy);
	return memcmp(copy.header_hash, h->header_hash, SNAP_HASH) ? GF_ECORRUPT : GF_OK;
}

/* The newest `keep` snapshots of this guest stay; older ones go, with
 * their QEMU tags. Files that are not snapshots are left alone. */
static void prune(struct snap_run *r, const char *dir)
{
	struct { char file[300]; struct snap_header h; } *f;
	char prefix[300], path[600];
	struct dirent *e;
	uint32_t n = 0;
	DIR *d = opendir(dir);

	if (!d || !(f = calloc(SNAP_MAX_FILES, sizeof *f))) {
		if (d)
			closedir(d);
		return;
	}
	snprintf(prefix, sizeof prefix, "%s-", ram_base(&r->sp));
	while ((e = readdir(d)) && n < SNAP_MAX_FILES) {
		size_t len = strlen(e->d_name);
		int fd;
		if (strncmp(e->d_name, prefix, strlen(prefix)) || len < 8 ||
		    strcmp(e->d_name + len - 7, ".gfsnap") ||
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (!read_header(fd, &f[n].h)) {
			snprintf(f[n].file, sizeof f[n].file, "%s", e->d_name);
			n++;
		}
		close(fd);
	}
	closedir(d);
	for (uint32_t kept = 0; kept < r->sc->keep && n; kept++) {
		uint32_t newest = 0;
		for (uint32_t i = 1; i < n; i++)
			if (f[i].h.created > f[newest].h.created)
				newest = i;
		f[newest] = f[--n];
	}
	for (uint32_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, f[i].file);
		delete_tag(r, &f[i].h);
		unlink(path);
	}
	free(f);
}

static void default_name(char *name, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(name, len, "%04d%02d%02d-%02d%02d%02d-%03ld", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

static int save(struct snap_run *r, const char *name, const struct gf_config *cfg)
{
	char dir[256], tmp[340], why[512];
	struct snap_header h;
	struct disks ds;
	uint8_t (*table)[SNAP_HASH] = NULL;
	uint8_t *copy = MAP_FAILED;
	int running = 0, rc;

	if (!valid_name(name))
		return fail(r, GF_EINVAL, "snapshot name '%s': letters, digits, '.', "
			    "'_' and '-' only, at most %d", name, GF_SNAP_NAME);
	snprintf(r->st->name, sizeof r->st->name, "%s", name);
	if (snap_dir(r->sc, dir, sizeof dir) ||
	    snap_path(dir, &r->sp, name, r->st->path, sizeof r->st->path))
		return fail(r, GF_EINVAL, "no snapshot directory: set [recover] "
			    "snapshot_dir, GPUFAS_CACHE or HOME (%s)", strerror(errno));
	snprintf(tmp, sizeof tmp, "%s.tmp", r->st->path);
	if ((rc = list_disks(r, &ds, NULL)) || (rc = header_new(r, &h, name, &ds, cfg)))
		return rc;
	/* faulted in now, not in the pause: a fault costs microseconds */
	copy = mmap(NULL, h.ram_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	prefault(r->t.map, h.ram_size);
	if (copy == MAP_FAILED || !(table = calloc(1, table_bytes(h.npages)))) {
		rc = fail(r, GF_ENOMEM, "a snapshot needs the guest's RAM size (%" PRIu64
			  " MiB) of free memory for a moment", h.ram_size >> 20);
		goto out;
	}
	open_pages(r, h.seed, cfg);
	r->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		rc = fail(r, GF_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	delete_tag(r, &h);
	if ((rc = ignore_shared(r)) || (rc = pause_guest(r, &running)))
		goto out;
	rc = save_paused(r, &h, table, copy);
	if (running && resume(r, why, sizeof why) && !rc)
		rc = fail(r, GF_EINVAL, "snapshot taken, but the guest stays paused: %s",
			  why);
	r->st->ms_paused = r->st->ms_stop + r->st->ms_copy + r->st->ms_devices +
			   r->st->ms_cont;
	if (rc)
		goto out;
	table_seal(&h, table, h.npages * SNAP_HASH);
	header_seal(&h);
	if (write_all(r->fd, copy, h.ram_size, h.ram_off) ||
	    write_all(r->fd, table, table_bytes(h.npages), SNAP_PAGE) ||
	    write_all(r->fd, &h, sizeof h, 0) || fsync(r->fd) || rename(tmp, r->st->path)) {
		rc = fail(r, GF_EIO, "%s: %s", tmp, strerror(errno));
		delete_tag(r, &h);
		goto out;
	}
	r->st->file_bytes = h.ram_off + h.ram_size;
	for (uint32_t i = 0; i < h.ndisks; i++)
		r->st->disks_rolled += h.disk[i].kind == DISK_ROLLED;
	r->st->outcome = "saved";
	prune(r, dir);
out:
	if (rc)
		unlink(tmp);
	if (copy != MAP_FAILED)
		munmap(copy, h.ram_size);
	free(table);
	return rc;
}

int gf_snap_save(const char *spec, const char *name, const struct gf_snap_config *sc,
		 const struct gf_config *cfg, struct gf_snap_stats *st)
{
	struct snap_run r;
	char auto_name[GF_SNAP_NAME + 1];
	int rc = run_open(&r, spec, 0, sc, st);

	if (!rc) {
		if (!name) {
			default_name(auto_name, sizeof auto_name);
			name = auto_name;
		}
		rc = save(&r, name, cfg);
	}
	run_close(&r);
	return rc;
}

/* ---- restore ---- */

/* The newest snapshot of this guest in dir, or the one named. */
static int find_snapshot(struct snap_run *r, const char *dir, const char *name)
{
	char prefix[300];
	double newest = -1;
	struct dirent *e;
	DIR *d;

	if (name) {
		if (!valid_name(name))
			return fail(r, GF_EINVAL, "snapshot name '%s': letters, digits, "
				    "'.', '_' and '-' only", name);
		if (snap_path(dir, &r->sp, name, r->st->path, sizeof r->st->path))
			return fail(r, GF_EINVAL, "snapshot path too long");
		return GF_OK;
	}
	if (!(d = opendir(dir)))
		return fail(r, GF_ESRCH, "no snapshot of %s: %s: %s", r->sp.path, dir,
			    strerror(errno));
	snprintf(prefix, sizeof prefix, "%s-", ram_base(&r->sp));
	for (int i = 0; i < SNAP_MAX_FILES && (e = readdir(d)); i++) {
		size_t len = strlen(e->d_name);
		struct snap_header h;
		char path[sizeof r->st->path];
		int fd;
		if (strncmp(e->d_name, prefix, strlen(prefix)) || len < 8 ||
		    strcmp(e->d_name + len - 7, ".gfsnap") ||
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (!read_header(fd, &h) && h.created > newest) {
			newest = h.created;
			memcpy(r->st->path, path, sizeof path);
		}
		close(fd);
	}
	closedir(d);
	if (newest < 0)
		return fail(r, GF_ESRCH, "no snapshot of %s in %s (take one with "
			    "--snapshot)", r->sp.path, dir);
	return GF_OK;
}

/* The file whole and made for this guest: header, size, hash table. */
static int check_file(struct snap_run *r, struct snap_header *h,
		      uint8_t (**table)[SNAP_HASH])
{
	const char *path = r->st->path;
	struct stat sb;
	XXH128_canonical_t c;

	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(r, errno == ENOENT ? GF_ESRCH : GF_EIO, "%s: %s", path,
			    strerror(errno));
	if (fstat(r->fd, &sb) || read_header(r->fd, h))
		return fail(r, GF_ECORRUPT, "%s: not a gpufas snapshot, or its header "
			    "is damaged", path);
	if (h->version != SNAP_VERSION || h->page_size != SNAP_PAGE ||
	    h->hash != SNAP_HASH_XXH3_128 || h->ndisks > SNAP_MAX_DISKS ||
	    h->npages != h->ram_size / SNAP_PAGE ||
	    h->ram_off != SNAP_PAGE + table_bytes(h->npages))
		return fail(r, GF_ECORRUPT, "%s: snapshot version %u, not one this "
			    "gpufas reads", path, h->version);
	if ((uint64_t)sb.st_size != h->ram_off + h->ram_size)
		return fail(r, GF_ECORRUPT, "%s: %" PRIu64 " bytes, a whole snapshot "
			    "has %" PRIu64 ": truncated?", path, (uint64_t)sb.st_size,
			    h->ram_off + h->ram_size);
	if (h->ram_size != r->t.map_size)
		return fail(r, GF_EINVAL, "%s: a snapshot of %" PRIu64 " MiB of RAM, "
			    "the guest has %" PRIu64 " MiB", path, h->ram_size >> 20,
			    r->t.map_size >> 20);
	if (!(*table = malloc(table_bytes(h->npages))))
		return fail(r, GF_ENOMEM, "out of memory for the page hashes");
	if (read_all(r->fd, *table, table_bytes(h->npages), SNAP_PAGE))
		return fail(r, GF_ECORRUPT, "%s: cannot read the page hashes", path);
	XXH128_canonicalFromHash(&c, XXH3_128bits(*table, h->npages * SNAP_HASH));
	if (memcmp(c.digest, h->table_hash, SNAP_HASH))
		return fail(r, GF_ECORRUPT, "%s: page hashes damaged", path);
	snprintf(r->st->name, sizeof r->st->name, "%s", h->name);
	snprintf(r->st->release, sizeof r->st->release, "%s", h->release);
	r->st->kaslr_offset = h->kaslr_offset;
	return GF_OK;
}

/* The snapshot's copy of the RAM, mapped: the pages a restore writes are
 * checked and copied from the page cache, with no buffer between. */
static int map_file(struct snap_run *r, const struct snap_header *h)
{
	void *m = mmap(NULL, h->ram_size, PROT_READ, MAP_SHARED, r->fd,
		       (off_t)h->ram_off);

	if (m == MAP_FAILED)
		return fail(r, GF_EIO, "%s: cannot map it: %s", r->st->path,
			    strerror(errno));
	r->file = m;
	return GF_OK;
}

/* The disk rule: the rolled-back disks must still hold the snapshot's
 * tag; a checked (non-qcow2) writable disk must not have been written
 * since, unless forced. Sets what rolling back will drop. */
static int check_disks(struct snap_run *r, const struct snap_header *h, int force)
{
	struct disks ds;
	int64_t dropped = 0;
	int rc;

	if (strcmp(r->sp.vmstate, h->vmstate) && r->sp.vmstate[0])
		return fail(r, GF_EINVAL, "%s: the device state is in node %s, the "
			    "target says vmstate=%s", r->st->path, h->vmstate,
			    r->sp.vmstate);
	snprintf(r->sp.vmstate, sizeof r->sp.vmstate, "%s", h->vmstate);
	if ((rc = list_disks(r, &ds, h->tag)))
		return rc;
	if (!ds.vmstate_has_tag)
		return fail(r, GF_ESRCH, "QEMU's node %s has no snapshot %s (was QEMU "
			    "started with another vmstate drive?)", h->vmstate, h->tag);
	for (uint32_t i = 0; i < h->ndisks; i++) {
		const struct snap_disk *was = &h->disk[i], *now = NULL;
		for (uint32_t k = 0; k < ds.n; k++)
			if (!strcmp(ds.d[k].node, was->node))
				now = &ds.d[k];
		if (!now)
			return fail(r, GF_EINVAL, "disk %s (node %s) of the snapshot is "
				    "gone from QEMU", was->device, was->node);
		if (now->wr_bytes < was->wr_bytes)
			dropped = -1; /* another QEMU: its counts began again */
		else if (dropped >= 0 && was->kind == DISK_ROLLED)
			dropped += (int64_t)(now->wr_bytes - was->wr_bytes);
		if (was->kind == DISK_CHECKED && now->wr_bytes != was->wr_bytes && !force)
			return fail(r, GF_EREFUSED, "refused: disk %s (not qcow2, so not "
				    "rolled back) was written since the snapshot: its "
				    "filesystem would no longer match the memory "
				    "(disks = force, or --force, restores anyway)",
				    was->device);
	}
	r->st->disk_dropped = dropped;
	r->st->disks_rolled = 0;
	for (uint32_t i = 0; i < h->ndisks; i++)
		r->st->disks_rolled += h->disk[i].kind == DISK_ROLLED;
	return GF_OK;
}

/* Paused: compare, check what will be written, write, load the devices.
 * Before the first write a failure may resume the guest (*written 0);
 * after it, never. */
static int restore_paused(struct snap_run *r, const struct snap_header *h,
			  uint8_t (*table)[SNAP_HASH], int *written)
{
	uint8_t *differ = calloc(h->npages, 1);
	uint64_t ndiffer, bad;
	double t = gf_now_monotonic();
	char job[64];
	int rc = GF_OK;

	*written = 0;
	if (!differ)
		return fail(r, GF_ENOMEM, "out of memory");
	if ((rc = gf_pages_compare(&r->pages, table, differ, r->fd, h->ram_off,
				   &ndiffer, r->st->error, sizeof r->st->error)))
		goto out;
	r->st->compared = h->npages;
	r->st->ms_compare = ms_since(t);
	t = gf_now_monotonic();
	if ((rc = gf_pages_verify(&r->pages, r->file, table, differ, &bad)))
		fail(r, rc, "%s: page %" PRIu64 " does not match its hash: the "
		     "snapshot is damaged", r->st->path, bad);
	r->st->ms_verify = ms_since(t);
	if (rc)
		goto out;
	t = gf_now_monotonic();
	*written = 1;
	r->st->written = gf_pages_write(&r->pages, r->file, differ);
	r->st->ms_write = ms_since(t);
	t = gf_now_monotonic();
	snprintf(job, sizeof job, "gpufas-load-%d", (int)getpid());
	rc = gf_qmp_job(&r->q, "snapshot-load", job_args(job, h->tag, h->vmstate,
			h->disk, h->ndisks, 1), job, job_timeout(r),
			r->st->error, sizeof r->st->error);
	r->st->ms_devices = ms_since(t);
out:
	free(differ);
	return rc;
}

static int restore(struct snap_run *r, const char *name, int force,
		   const struct gf_config *cfg)
{
	char dir[256], why[512];
	struct snap_header h;
	uint8_t (*table)[SNAP_HASH] = NULL;
	double t = gf_now_monotonic();
	int running = 0, written, rc;

	if (snap_dir(r->sc, dir, sizeof dir))
		return fail(r, GF_EINVAL, "no snapshot directory: set [recover] "
			    "snapshot_dir, GPUFAS_CACHE or HOME");
	if ((rc = find_snapshot(r, dir, name)) || (rc = check_file(r, &h, &table)) ||
	    (rc = check_disks(r, &h, force || r->sc->force_disks)) ||
	    (rc = ignore_shared(r)) || (rc = map_file(r, &h))) {
		r->st->ms_check = ms_since(t);
		if (!strncmp(r->st->error, "refused", 7))
			r->st->outcome = "refused";
		goto out;
	}
	prefault(r->t.map, h.ram_size);
	open_pages(r, h.seed, cfg);
	r->st->ms_check = ms_since(t);
	if ((rc = pause_guest(r, &running)))
		goto out;
	rc = restore_paused(r, &h, table, &written);
	if (rc && written)
		append(r, "; the guest stays paused: its memory is part-restored");
	else if (rc && running && resume(r, why, sizeof why))
		append(r, "; nothing written, but the guest stays paused: %s", why);
	else if (rc)
		append(r, "; nothing written, the guest %s", running ? "runs on" :
		       "stays paused as it was");
	else if (resume(r, why, sizeof why)) /* restored: it runs, paused before or not */
		rc = fail(r, GF_EINVAL, "restored, but the guest stays paused: %s", why);
	r->st->ms_paused = r->st->ms_stop + r->st->ms_compare + r->st->ms_verify +
			   r->st->ms_write + r->st->ms_devices + r->st->ms_cont;
	if (!rc)
		r->st->outcome = "restored";
out:
	free(table);
	return rc;
}

int gf_snap_restore(const char *spec, const char *name, const struct gf_snap_config *sc,
		    const struct gf_config *cfg, int force, struct gf_snap_stats *st)
{
	struct snap_run r;
	int rc = run_open(&r, spec, 1, sc, st);

	if (!rc)
		rc = restore(&r, name, force, cfg);
	run_close(&r);
	return rc;
}

int gf_snap_reset(const char *spec, const struct gf_snap_config *sc, char *err,
		  size_t errlen)
{
	struct gf_vm_spec sp;
	struct gf_qmp q;
	int rc;

	if (!gf_snap_has_qmp(spec, err, errlen) || target_vm_spec(spec, &sp, err, errlen))
		return GF_EINVAL;
	if ((rc = gf_qmp_open(&q, sp.qmp, sc->timeout_ms, err, errlen)))
		return rc;
	rc = gf_qmp_call(&q, "system_reset", NULL, NULL, err, errlen);
	gf_qmp_close(&q);
	return rc;
}

/* A snapshot's or restore's own keys: counts, disks, time per phase. */
static void stats_json(FILE *f, const char *event, const struct gf_snap_stats *st)
{
	fputs(",\"name\":", f);
	json_string(f, st->name, sizeof st->name);
	fputs(",\"file\":", f);
	json_string(f, st->path, sizeof st->path);
	fputs(",\"release\":", f);
	json_string(f, st->release, sizeof st->release);
	fprintf(f, ",\"kaslr_offset\":\"0x%" PRIx64 "\",\"pages\":%" PRIu64,
		st->kaslr_offset, st->pages);
	fputs(",\"hashed_on\":", f);
	json_string(f, st->hashed_on, sizeof st->hashed_on);
	if (!strcmp(event, "restore"))
		fprintf(f, ",\"pages_compared\":%" PRIu64 ",\"pages_written\":%" PRIu64
			",\"disk_bytes_dropped\":%" PRId64, st->compared, st->written,
			st->disk_dropped);
	else
		fprintf(f, ",\"file_bytes\":%" PRIu64, st->file_bytes);
	fprintf(f, ",\"disks_rolled_back\":%u,\"ms\":{\"check\":%.1f,\"stop\":%.1f,"
		"\"copy\":%.1f,\"compare\":%.1f,\"verify\":%.1f,\"write\":%.1f,"
		"\"devices\":%.1f,\"cont\":%.1f,\"paused\":%.1f,\"total\":%.1f},"
		"\"paused\":%s", st->disks_rolled, st->ms_check, st->ms_stop, st->ms_copy,
		st->ms_compare, st->ms_verify, st->ms_write, st->ms_devices, st->ms_cont,
		st->ms_paused, st->ms_total, st->paused ? "true" : "false");
}

void gf_snap_json(FILE *f, const char *spec, const char *event,
		  const struct gf_snap_stats *st)
{
	fprintf(f, "{\"time\":%.3f,\"target\":", gf_now_wall());
	json_string(f, spec, 256);
	fprintf(f, ",\"event\":\"%s\",\"outcome\":\"%s\"", event, st->outcome);
	if (strcmp(event, "reset"))
		stats_json(f, event, st);
	else
		fprintf(f, ",\"ms\":{\"total\":%.1f}", st->ms_total);
	if (st->error[0]) {
		fputs(",\"error\":", f);
		json_string(f, st->error, sizeof st->error);
	}
	fputs("}\n", f);
	fflush(f);
}
