/* test/fuzz/ram.c — the calls fuzz_ram makes on a guest's kernel, and
 * what each must answer: made on images by the target, and on a real
 * guest's kernel by the recorder of its seeds (record.c). */
#include <string.h>

#include "fuzz.h"
#include "image.h"

#include "../../core.h"
#include "../../helper.h"

#define CAP 1024 /* tasks: more than a test guest runs */

int fuzz_ram_calls(struct gf_kernel *k, const struct image_head *head,
		   struct gf_task *t)
{
	static struct gf_task tasks[CAP];
	static struct gf_sample sample;
	static char log[4096], helper[160];
	uint32_t n = 0, len = 0;
	int rc, to, found;

	rc = gf_walk_tasks(k, head->flags & IMAGE_THREADS, tasks, CAP, &n);
	FUZZ_RESULT(rc);
	FUZZ_CHECK(rc || n <= CAP);
	rc = gf_find_task(k, head->pid, t);
	FUZZ_RESULT(rc);
	if ((found = !rc)) {
		/* the group of that pid: its own, or one of its threads' */
		FUZZ_CHECK(t->tgid == head->pid || t->threads > 1);
		FUZZ_RESULT(gf_send_signal(k, t, image_signal(head), &to));
	}
	rc = gf_sample_counters(k, &sample);
	FUZZ_RESULT(rc);
	FUZZ_CHECK(rc || sample.ncpus <= GF_MAX_CPUS);
	rc = gf_log_tail(k, head->flags >> 16, log, sizeof log, &len);
	FUZZ_RESULT(rc);
	FUZZ_CHECK(rc || (len < sizeof log && strlen(log) == len));
	FUZZ_RESULT(gf_helper_describe(k, helper, sizeof helper));
	FUZZ_CHECK(strlen(helper) < sizeof helper);
	return found;
}
