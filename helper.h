/* helper.h — kmod/gpufas_helper.c seen from outside: found in the guest's
 * module list, asked to signal through the kernel's own path (helper.c).
 * Host only: it waits for the answer.
 */
#ifndef GPUFAS_HELPER_CLIENT_H
#define GPUFAS_HELPER_CLIENT_H

#include "core.h"
#include "kmod/gpufas_helper.h"

/* The helper as found. */
struct gf_helper {
	uint64_t va;        /* its mailbox page */
	uint32_t version, period_ms, hz;
};

/* GF_OK and *h filled where the helper is loaded and its mailbox checks
 * out; GF_ESRCH where it is not loaded; GF_EINVAL where this kernel's BTF
 * or symbols do not describe the module list; else why the list or the
 * mailbox could not be read. */
int gf_helper_find(const struct gf_kernel *k, struct gf_helper *h);

/* The helper's answer to one request. */
enum gf_helper_answer {
	GF_HELPER_DONE = GFH_DONE, /* the guest kernel signalled it */
	GF_HELPER_NO_TASK = GFH_NO_TASK,
	GF_HELPER_CHANGED = GFH_CHANGED,
	GF_HELPER_REFUSED = GFH_REFUSED,
	GF_HELPER_SILENT,          /* no answer in time: the helper stopped? */
};

/* Asks the helper to send sig to each of t[0..n) (by pid, with its start
 * time; n at most GFH_SLOTS) and waits up to gf_helper_wait_ms(h) for the
 * answers, in answers[0..n). An error where the batch could not be posted
 * (the target read-only or not mapped). */
int gf_helper_signal(const struct gf_kernel *k, const struct gf_helper *h,
		     const struct gf_task *t, uint32_t n, int sig, int32_t *answers);
uint32_t gf_helper_wait_ms(const struct gf_helper *h);
const char *gf_helper_answer_name(int answer);

/* One line for --info and the attach event: found (version, period), or
 * why not; returns what gf_helper_find() did. */
int gf_helper_describe(const struct gf_kernel *k, char *buf, size_t len);

#endif
