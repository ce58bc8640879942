/* test/fuzz/fuzz_ram.c — the task walk, the lookup of a task, a signal,
 * the counters and the kernel log, over a guest RAM image (image.h). The
 * RAM after them differs from the RAM before only where the signal may
 * write (fuzz_check_writes), and nowhere in a read-only image. */
#include <string.h>

#include "fuzz.h"
#include "image.h"

#include "../../core.h"

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gf_task tasks[CAP];
	static struct gf_sample sample;
	static char log[4096];
	struct image_head head;
	struct gf_kernel k, before;
	struct gf_task t;
	uint32_t n = 0, len = 0;
	int rc, to, found, sig;

	if (image_load(data, size, &head, &k))
		return 0;
	FUZZ_CHECK(!image_copy(&k, &before));
	sig = (int)(head.flags >> 8) % 33;
	rc = gf_walk_tasks(&k, head.flags & IMAGE_THREADS, tasks, CAP, &n);
	FUZZ_RESULT(rc);
	FUZZ_CHECK(rc || n <= CAP);
	rc = gf_find_task(&k, head.pid, &t);
	FUZZ_RESULT(rc);
	if ((found = !rc)) {
		/* the group of that pid: its own, or one of its threads' */
		FUZZ_CHECK(t.tgid == head.pid || t.threads > 1);
		FUZZ_RESULT(gf_send_signal(&k, &t, sig, &to));
	}
	rc = gf_sample_counters(&k, &sample);
	FUZZ_RESULT(rc);
	FUZZ_CHECK(rc || sample.ncpus <= GF_MAX_CPUS);
	rc = gf_log_tail(&k, head.flags >> 16, log, sizeof log, &len);
	FUZZ_RESULT(rc);
	FUZZ_CHECK(rc || (len < sizeof log && strlen(log) == len));
	fuzz_check_writes(&before, &k, found ? &t : NULL, sig, 0);
	image_free(&before);
	image_free(&k);
	return 0;
}
