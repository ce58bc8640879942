/* test/fuzz/fuzz_elfcore.c — a crash dump's ELF headers (dump:PATH), then
 * the VMCOREINFO search over the RAM they describe. The input is the
 * file (zero-padded to the 4 KiB that target_open asks of one). Since the
 * file is mapped, where ASan does not look, every range is checked to lie
 * within the mapping. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#include "../../core.h"
#include "../../target.h"
#include "../../vmcoreinfo.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gf_target t;
	static struct vmcoreinfo cands[2];
	static const uint8_t zeros[4096];
	char spec[80];
	int fd;

	if (!path[0])
		snprintf(path, sizeof path, "/tmp/gpufas-fuzz-elfcore.%d", (int)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size ||
	    (size < sizeof zeros &&
	     write(fd, zeros, sizeof zeros - size) != (ssize_t)(sizeof zeros - size))) {
		close(fd);
		return 0;
	}
	close(fd);
	snprintf(spec, sizeof spec, "dump:%s", path);
	if (target_open(&t, spec, 0)) {
		FUZZ_CHECK(t.error[0] && strlen(t.error) < sizeof t.error);
		return 0;
	}
	FUZZ_CHECK(t.mem.nranges <= GF_MAX_RANGES);
	for (uint32_t i = 0; i < t.mem.nranges; i++) {
		const struct gf_range *r = &t.mem.range[i];

		FUZZ_CHECK(r->base >= t.map && r->size <= t.map_size &&
			   (uint64_t)(r->base - t.map) <= t.map_size - r->size);
	}
	vmcoreinfo_find(&t.mem, cands, 2);
	target_close(&t);
	return 0;
}
