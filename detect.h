/* detect.h — verdicts (detect.c): the classes, their thresholds, the
 * points and rates they are judged on, and what a verdict holds.
 * Device-safe, like core.h: the watch loop judges on the GPU too.
 */
#ifndef GPUFAS_DETECT_H
#define GPUFAS_DETECT_H

#include "core.h"

enum gf_class {
	GF_F1, GF_F2, GF_F3, GF_F4, GF_F5, GF_F6, /* SHFH, as GRASS reads them */
	GF_CPU_OVERLOAD, GF_MEMORY, GF_THRASHING, GF_PANIC,
	GF_NCLASSES
};

/* Defaults: GRASS's thresholds for F1-F6, GPUSentinel's CPU overload;
 * see gf_detect_defaults() and config.ini [detect]. */
struct gf_thresholds {
	double window_s;          /* F1-F6 look at rates over this window */
	double sys_pct, usr_pct;  /* F2, F3, F5: every CPU */
	double cs_per_s;          /* F3, F5: context switches at most */
	double iowait_pct, blocked; /* F4: all CPUs but one; tasks in D */
	double pswpout_per_s, memfree_mib; /* F6 */
	double overload_pct, overload_s;   /* cpu_overload: every CPU busy */
	double available_pct, swap_free_pct; /* memory: both at most */
	double thrash_swap_per_s, thrash_s;  /* thrashing: swap I/O at least,
						with available_pct reached */
};

/* One look at the target's counters. */
struct gf_point {
	double time; /* seconds, on the clock of whoever sampled */
	struct gf_sample s;
};

/* A ring of cap points, newest last (the watch loop's lives in its arena). */
struct gf_history {
	struct gf_point *point;
	uint32_t cap, count, next;
};

/* Rates between two points. */
struct gf_cpu_rates {
	double usr, sys, iowait, idle; /* fractions of the interval, 0..1 */
	double cs;                     /* context switches per second */
	uint8_t online, idle_now;
};

struct gf_rates {
	double seconds;
	uint32_t ncpus, online;
	struct gf_cpu_rates cpu[GF_MAX_CPUS];
	double cs, pswpin, pswpout, majflt; /* per second, all CPUs */
	uint64_t jiffies;                   /* jiffies passed */
	int64_t blocked;                    /* tasks in D (loadavg's count) */
	uint32_t running;
};

#define GF_MAX_EVIDENCE 6
#define GF_MAX_CULPRITS 3

#define GF_EVIDENCE_NAME 24

struct gf_evidence {
	char name[GF_EVIDENCE_NAME]; /* held, not pointed to: verdicts travel */
	double value;
};

struct gf_culprit {
	int32_t pid;
	uint64_t start_time; /* with pid, names the process for recovery */
	char comm[GF_COMM_LEN];
	uint8_t kthread;
	double cpu_pct;      /* of one CPU, over the detector's window */
	uint64_t rss_kib, swap_kib;
	double growth_kib_s; /* resident + swapped, over the window */
};

struct gf_verdict {
	enum gf_class cls;
	int active;
	uint32_t nevidence, nculprits;
	struct gf_evidence evidence[GF_MAX_EVIDENCE];
	struct gf_culprit culprit[GF_MAX_CULPRITS];
};

GF_HD const char *gf_class_name(enum gf_class c);
void gf_detect_defaults(struct gf_thresholds *th);
GF_HD struct gf_point *gf_history_next(struct gf_history *h);
GF_HD void gf_history_commit(struct gf_history *h);
GF_HD void gf_history_push(struct gf_history *h, const struct gf_point *p);
GF_HD const struct gf_point *gf_history_newest(const struct gf_history *h);
GF_HD const struct gf_point *gf_history_back(const struct gf_history *h,
					  double seconds);
GF_HD void gf_rates_between(const struct gf_point *a, const struct gf_point *b,
			 struct gf_rates *r);
/* gf_detect() itself, and what it reads, are in loop.h */

#endif
