/* gpu.h — the GPU engine's host side (gpu.c): the driver opened at run
 * time, targets in slots of the monitor kernel, requests, and page
 * hashing for snapshots.
 */
#ifndef GPUFAS_GPU_H
#define GPUFAS_GPU_H

#include <stddef.h>
#include <stdint.h>

struct gf_kernel;
struct gf_sample;
struct gf_target;
struct gf_task;

struct gpu;
struct gf_loop_params;
struct gf_pub;
struct gf_board;
struct gf_keys;

/* A watch loop's remote mailbox in GPU memory, served by the GPU itself
 * (devbox.h): the keys it answers to, the file its handle is written to
 * ([remote] gpu_mailbox), and the agent's number for the target. */
struct gf_mailbox_opts {
	const struct gf_keys *keys;
	const char *path;
	int32_t target;
};

int gpu_open(struct gpu **g, int index, char *err, size_t errlen);
int gpu_add_target(struct gpu *g, const struct gf_target *t,
		   const struct gf_kernel *k, const struct gf_loop_params *lp,
		   const struct gf_mailbox_opts *mb, char *err, size_t errlen);
void gpu_remove_target(struct gpu *g, int slot);
int gpu_start(struct gpu *g, char *err, size_t errlen);
int gpu_post(struct gpu *g, int slot, uint32_t op, int32_t arg,
	     const struct gf_task *task);
int gpu_wait(struct gpu *g, int slot);
struct gf_pub *gpu_pub(struct gpu *g, int slot);
void gpu_host_beat(struct gpu *g, int slot);
int gpu_retune(struct gpu *g, int slot, const struct gf_loop_params *lp);
void gpu_board(struct gpu *g, int slot, const struct gf_board *b,
	       double clock_offset);
double gpu_clock_offset(const struct gpu *g);
int gpu_snapshot_result(struct gpu *g, int slot, struct gf_task **out,
			uint32_t *count);
int gpu_snapshot(struct gpu *g, int slot, int threads, struct gf_task **out,
		 uint32_t *count);
int gpu_find(struct gpu *g, int slot, int32_t pid, struct gf_task *t);
int gpu_signal(struct gpu *g, int slot, const struct gf_task *t, int sig,
	       int *result);
int gpu_counters(struct gpu *g, int slot, struct gf_sample *s);
int gpu_log_tail(struct gpu *g, int slot, uint32_t records, char *buf,
		 uint32_t cap, uint32_t *len);
const char *gpu_name(const struct gpu *g);
void gpu_close(struct gpu *g);
/* Page hashes of host memory (pagehash.h), for snapshots: a GPU opened
 * for a region of it, then hashing it (16 bytes a page into out) as often
 * as asked; gpu_close ends it. */
struct gf_pagehash_key;
int gpu_hash_open(struct gpu **g, int index, const void *ram, uint64_t npages,
		  char *err, size_t errlen);
int gpu_hash(struct gpu *g, const struct gf_pagehash_key *key, uint8_t (*out)[16],
	     char *err, size_t errlen);

#endif
