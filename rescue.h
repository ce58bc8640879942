/* rescue.h — the one-shot rescue commands (rescue.c): --info, --ps,
 * --log, --detect, --kill.
 */
#ifndef GPUFAS_RESCUE_H
#define GPUFAS_RESCUE_H

#include <stdint.h>

struct gf_attachment;
struct gf_config;
struct gf_engine;
struct gf_target;
struct gf_task;
struct gf_verdict;
struct kill_opts;

int rescue_info(const struct gf_attachment *a, const struct gf_engine *e,
		int json);
int rescue_ps(const struct gf_engine *e, int json, int threads);
int rescue_log(const struct gf_engine *e, uint32_t records);
int rescue_detect(const char *target, const struct gf_config *cfg, int json);

#define GF_MAX_KILL 4096 /* pids in one --kill: four of the helper's batches */
int rescue_kill(const struct gf_engine *e, const struct gf_target *t,
		const struct kill_opts *o, const int32_t *pids, uint32_t n);

/* shared with the viewer */
void rescue_ps_print(const struct gf_task *t, uint32_t n, int json);
void gf_verdict_text(const struct gf_verdict *v);

#endif
