/* test/fuzz/fuzz_ram.c — the task walk, the lookup of a task, a signal,
 * the counters, the kernel log and the lookup of the in-OS helper, over a
 * guest RAM image (image.h; the calls: ram.c). The RAM after them differs
 * from the RAM before only where the signal may write (fuzz_check_writes),
 * and nowhere in a read-only image. */
#include "fuzz.h"
#include "image.h"

#include "../../core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_head head;
	struct gf_kernel k, before;
	struct gf_task t;
	int found;

	if (image_load(data, size, &head, &k))
		return 0;
	FUZZ_CHECK(!image_copy(&k, &before));
	found = fuzz_ram_calls(&k, &head, &t);
	fuzz_check_writes(&before, &k, found ? &t : NULL, image_signal(&head), 0);
	image_free(&before);
	image_free(&k);
	return 0;
}
