/* test/fuzz/fuzz_kallsyms.c — the kallsyms tables, found through a
 * VMCOREINFO text or by scanning the kernel image. The input is that
 * text up to its first NUL (none: no text), then a RAM image (image.h). */
#include <string.h>

#include "fuzz.h"
#include "image.h"

#include "../../core.h"
#include "../../kallsyms.h"
#include "../../vmcoreinfo.h"

static const char *const wanted[] = {
	"_stext", "init_task", "__per_cpu_offset", "nr_cpu_ids", "init_top_pgt",
	"startup_64", "nonexistent",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmcoreinfo vi;
	const uint8_t *nul = memchr(data, 0, size);
	size_t text = nul ? (size_t)(nul - data) : 0;
	struct gf_symtab *s = NULL;
	struct image_head head;
	struct gf_kernel k;
	char err[256];
	uint64_t va;

	if (text > VMCOREINFO_MAX)
		return 0;
	memcpy(vi.text, data, text);
	vi.text[text] = 0;
	if (nul)
		text++;
	if (image_load(data + text, size - text, &head, &k))
		return 0;
	if (!kallsyms_load(&k, &vi, wanted, sizeof wanted / sizeof *wanted, &s,
			   err, sizeof err)) {
		FUZZ_CHECK(s != NULL);
		for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
			symtab_lookup(s, wanted[i], &va);
		symtab_free(s);
	} else {
		FUZZ_CHECK(s == NULL && strlen(err) < sizeof err);
	}
	image_free(&k);
	return 0;
}
