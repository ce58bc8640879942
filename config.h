/* config.h — config.ini (config.c, read with inih): every section but
 * [recover]'s snapshot settings (snapshot.h), and [remote].
 */
#ifndef GPUFAS_CONFIG_H
#define GPUFAS_CONFIG_H

#include <stddef.h>

#include "detect.h"
#include "recover.h"

struct gf_loop_params;

#define GF_MAX_PROFILE 64

struct gf_profile_entry {
	char key[64];
	uint64_t value;
};

struct gf_config {
	char target[256];   /* [target] default */
	int signal;         /* [kill] signal */
	char engine[8];     /* [engine] kind: auto, cpu or gpu */
	int gpu;            /* [engine] gpu: which GPU */
	struct gf_thresholds detect; /* [detect] */
	struct gf_policy recover;    /* [recover] */
	double interval_s;  /* [agent] interval_ms: one sample per target */
	char textfile[256]; /* [agent] textfile: metrics for node_exporter */
	double textfile_s;  /* [agent] textfile_ms: how often it is written */
	double metrics_s;   /* [agent] metrics_ms: a metrics event (0: none) */
	double host_stall_s; /* [agent] host_stall_ms: the GPU's word on a
				stalled host (0: never) */
	uint32_t max_tasks; /* [agent] max_tasks: processes a target may have */
	char events[256];   /* [agent] events: a file instead of stdout */
	uint32_t nprofile;  /* [profile] key = value, by hand */
	struct gf_profile_entry profile[GF_MAX_PROFILE];
	int no_cache;       /* --no-cache: no cached profile read or written */
};

void config_defaults(struct gf_config *c);
int config_load(struct gf_config *c, const char *path, char *err,
		size_t errlen);
int config_profile(const struct gf_config *c, const char *key,
		   uint64_t *value);
int config_override(struct gf_config *c, const char *engine, int gpu,
		    char *err, size_t errlen);

#define GF_MAX_LISTEN 8

/* [remote] of config.ini, and the command line's say over it. */
struct gf_remote {
	char listen[GF_MAX_LISTEN][128];
	int nlisten;
	char key[256], read_key[256]; /* operator and read-only key files */
	char gpu_mailbox[256]; /* where the GPU engine tells its mailboxes'
				  handles (devbox.h), or empty: none */
	double heartbeat_s, timeout_s;
	int max_clients;
};

void remote_defaults(struct gf_remote *r);
int remote_needs_key(const struct gf_remote *r);
int remote_config_load(struct gf_remote *r, const char *path, char *err,
		       size_t errlen);

/* The watch loop's parameters (loop.h) for one target of this config. */
int loop_params_from(const struct gf_config *c, const char *spec,
		     struct gf_loop_params *p, char *err, size_t errlen);

#endif
