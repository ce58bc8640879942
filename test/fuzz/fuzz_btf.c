/* test/fuzz/fuzz_btf.c — a kernel's BTF as layout.c reads it (libbpf's
 * parser, then every field layout.c looks up). */
#include <string.h>

#include "fuzz.h"

#include "../../core.h"
#include "../../layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gf_layout l = { 0 };
	char err[256] = "";

	if (size > UINT32_MAX)
		return 0;
	layout_from_btf(&l, data, (uint32_t)size, err, sizeof err);
	FUZZ_CHECK(strlen(err) < sizeof err);
	return 0;
}
