/* engine.h — the engines behind one interface (engine.c): the CPU's,
 * calling introspect.c, and the GPU's, asking the monitor kernel.
 */
#ifndef GPUFAS_ENGINE_H
#define GPUFAS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct gf_attachment;
struct gf_board;
struct gf_kernel;
struct gf_loop_params;
struct gf_mailbox_opts;
struct gf_sample;
struct gf_target;
struct gf_task;

/* The CPU engine calls introspect.c here; the GPU engine asks the monitor
 * kernel. Front ends see no difference. With loop parameters an engine
 * also runs the watch loop (loop.h): the CPU engine when engine_step()
 * is called, the GPU by itself; either publishes to `pub`. */
struct gf_engine {
	const struct gf_kernel *k; /* the CPU engine's view */
	struct gpu *gpu;           /* NULL: the CPU engine */
	int slot;
	char name[160];            /* "CPU" or "GPU 0 (NVIDIA H100...)" */
	struct gf_loop *loop;      /* the CPU engine's watch loop, or NULL */
	struct gf_pub *pub;        /* where the watch loop publishes, or NULL */
	double clock_offset;       /* wall-clock seconds minus the loop's clock */
};

struct gf_loop_event;
int engines_open(struct gf_engine *e, int n, const char *kind, int gpu_index,
		 const struct gf_target *t, const struct gf_attachment *a,
		 const struct gf_loop_params *lp, const struct gf_mailbox_opts *mb,
		 char *msg, size_t msglen);
void engines_close(struct gf_engine *e, int n);
void engine_step(const struct gf_engine *e);
int engine_retune(const struct gf_engine *e, const struct gf_loop_params *lp);
void engine_board(const struct gf_engine *e, const struct gf_board *b);
int engine_read(const struct gf_engine *e, struct gf_pub *copy);
uint32_t engine_events(const struct gf_engine *e, uint64_t *next,
		       struct gf_loop_event *out, uint32_t max, uint64_t *lost);
int engine_snapshot(const struct gf_engine *e, int threads,
		    struct gf_task **out, uint32_t *count);
int engine_find(const struct gf_engine *e, int32_t pid, struct gf_task *t);
int engine_signal(const struct gf_engine *e, const struct gf_task *t, int sig,
		  int *result);
int engine_counters(const struct gf_engine *e, struct gf_sample *s);
int engine_log_tail(const struct gf_engine *e, uint32_t records, char *buf,
		    uint32_t cap, uint32_t *len);

#endif
