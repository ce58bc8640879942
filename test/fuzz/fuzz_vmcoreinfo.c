/* test/fuzz/fuzz_vmcoreinfo.c — VMCOREINFO text: the completeness check,
 * every key that discover.c reads, and the search through RAM (the input
 * as the first page of one RAM range, its end the range's end). */
#include <string.h>

#include "fuzz.h"

#include "../../core.h"
#include "../../vmcoreinfo.h"

static const char *const hex_keys[] = {
	"SYMBOL(init_top_pgt)", "KERNELOFFSET", "SYMBOL(init_uts_ns)",
	"SYMBOL(_stext)", "SYMBOL(kallsyms_names)",
};
static const char *const dec_keys[] = {
	"NUMBER(phys_base)", "NUMBER(pgtable_l5_enabled)", "NUMBER(sme_mask)",
	"OFFSET(uts_namespace.name)",
};
static const char *const text_keys[] = { "OSRELEASE", "BUILD-ID" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmcoreinfo vi, cands[4];
	struct gf_mem m = { .nranges = 1, .fd = -1 };
	uint8_t *ram = malloc(size ? size : 1);
	char val[64];
	uint64_t h;
	int64_t d;
	int n;

	if (!ram)
		return 0;
	memcpy(ram, data, size);
	vmcoreinfo_is_complete((const char *)ram, size);
	n = size < VMCOREINFO_MAX ? (int)size : VMCOREINFO_MAX;
	memcpy(vi.text, data, (size_t)n);
	vi.text[n] = 0;
	for (size_t i = 0; i < sizeof hex_keys / sizeof *hex_keys; i++)
		vmcoreinfo_hex(&vi, hex_keys[i], &h);
	for (size_t i = 0; i < sizeof dec_keys / sizeof *dec_keys; i++)
		vmcoreinfo_dec(&vi, dec_keys[i], &d);
	for (size_t i = 0; i < sizeof text_keys / sizeof *text_keys; i++)
		if (!vmcoreinfo_get(&vi, text_keys[i], val, sizeof val))
			FUZZ_CHECK(strlen(val) < sizeof val);
	m.range[0] = (struct gf_range){ .phys = 0x1000, .size = size, .base = ram };
	n = vmcoreinfo_find(&m, cands, 4);
	FUZZ_CHECK(n >= 0 && n <= 4);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(vmcoreinfo_is_complete(cands[i].text, sizeof cands[i].text));
	free(ram);
	return 0;
}
