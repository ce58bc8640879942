/* snapshot.h — snapshots of a QEMU guest taken while its kernel is
 * healthy, and restores of them that write back only the pages that
 * changed (README.md, "Snapshot and restore").
 *
 * A vm: target with qmp=SOCKET (and vmstate=NODE, or one qcow2 drive that
 * QEMU lists) is snapshotted in three parts, all at one pause of the guest:
 *   - its RAM, copied from the RAM file gpufas maps, with a hash per page,
 *     into DIR/<RAM file name>-<NAME>.gfsnap;
 *   - QEMU's device and CPU state without the RAM (migration capability
 *     x-ignore-shared), an internal snapshot "gpufas-NAME" in the vmstate
 *     qcow2 drive;
 *   - the guest's writable qcow2 disks, snapshotted under the same tag and
 *     rolled back with the memory; writable disks of other formats are
 *     recorded (bytes written so far) and a restore is refused once they
 *     moved on, unless forced (disks = force, or --force).
 */
#ifndef GPUFAS_SNAPSHOT_H
#define GPUFAS_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>

struct gf_config;

#define GF_SNAP_NAME 48

/* [recover] settings of snapshots and restores (config.c's
 * snap_config_load), and the kernel-failure policy of the agent. */
enum gf_kernel_response { GF_KERNEL_REPORT, GF_KERNEL_RESTORE, GF_KERNEL_RESET };

struct gf_snap_config {
	char dir[256];      /* snapshot_dir: where .gfsnap files are kept */
	uint32_t keep;      /* snapshot_keep: per target, the newest kept */
	int force_disks;    /* disks = force: restore over a moved-on disk */
	int timeout_ms;     /* qmp_timeout_ms: each QMP wait */
	enum gf_kernel_response kernel; /* kernel = report|restore|reset */
	double hang_s;      /* hang_ms: F1/F3/F5 lasting this long is a failure */
	int snapshot_ready; /* snapshot = ready: the agent takes one itself */
	double ready_s;     /* ready_ms: healthy for this long first */
	char ready_process[16]; /* ready_process: and this comm running */
};

void snap_config_defaults(struct gf_snap_config *c);
int snap_config_load(struct gf_snap_config *c, const char *path, char *err,
		     size_t errlen);

/* What one snapshot or restore did: counts, time per phase, outcome. */
struct gf_snap_stats {
	char name[GF_SNAP_NAME + 1];
	char path[320];
	char release[65];     /* the snapshot's kernel: its release and KASLR */
	uint64_t kaslr_offset; /* offset (a restored guest runs that kernel) */
	uint64_t pages;       /* pages of guest RAM */
	uint64_t compared;    /* restore: pages hashed and compared */
	uint64_t written;     /* restore: pages written back */
	uint64_t file_bytes;  /* snapshot: the .gfsnap file's size */
	int64_t disk_dropped; /* restore: bytes the guest wrote to rolled-back
				 disks since the snapshot (-1: unknown) */
	uint32_t disks_rolled; /* qcow2 disks snapshotted with the memory */
	char hashed_on[200];  /* where the pages were hashed, in words */
	double ms_check, ms_stop, ms_copy, ms_compare, ms_verify, ms_write,
	       ms_devices, ms_cont, ms_paused, ms_total;
	int paused;           /* the guest was left paused */
	const char *outcome;  /* "saved", "restored", "refused", "failed" */
	char error[512];
};

int gf_snap_save(const char *spec, const char *name, const struct gf_snap_config *sc,
		 const struct gf_config *cfg, struct gf_snap_stats *st);
/* cfg's [engine] says where the pages are hashed (snappages.h), as for
 * watching: on a GPU where kind is gpu, or auto and one can be used. */
int gf_snap_restore(const char *spec, const char *name, const struct gf_snap_config *sc,
		    const struct gf_config *cfg, int force, struct gf_snap_stats *st);
/* QMP system_reset: the full boot that a restore is measured against.
 * Agent events of it are gf_snap_json()'s with outcome "reset". */
int gf_snap_reset(const char *spec, const struct gf_snap_config *sc,
		  char *err, size_t errlen);
/* Whether the spec names a QMP socket; if not, err says what to add. */
int gf_snap_has_qmp(const char *spec, char *err, size_t errlen);

/* One JSON line: {"event":"snapshot"|"restore"|"reset", ...}. */
void gf_snap_json(FILE *f, const char *spec, const char *event,
		  const struct gf_snap_stats *st);

#endif
