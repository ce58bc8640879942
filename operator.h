/* operator.h — an operator's signal, with the refusals every front end
 * makes (operator.c).
 */
#ifndef GPUFAS_OPERATOR_H
#define GPUFAS_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

struct gf_engine;

struct kill_opts {
	int32_t pid;
	int sig;
	int dry_run;
	int force;
};

/* Signals the process kill(2) would for o->pid, after the refusals every
 * front end makes; start_time, when not 0, must still match (the process
 * the operator saw, not a successor with its pid). msg says what was
 * written, or why nothing was; read_only_why is the target's reason for
 * being read-only. */
int operator_signal(const struct gf_engine *e, const struct kill_opts *o,
		    uint64_t start_time, const char *read_only_why,
		    char *msg, size_t len);
/* One process of operator_signal_all(), and what became of it. */
struct op_signal {
	int32_t pid;
	uint64_t start_time; /* the process the operator saw, or 0: any */
	int err;             /* GF_OK once sent or written (or, with
				o->dry_run, allowed) */
	char msg[256];       /* what was done, or why nothing was */
};
/* operator_signal() for each of s[0..n) (o->pid unused), together: one
 * walk finds them, and the in-OS helper takes them in batches. */
void operator_signal_all(const struct gf_engine *e, const struct kill_opts *o,
			 const char *read_only_why, struct op_signal *s, uint32_t n);

#endif
