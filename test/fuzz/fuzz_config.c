/* test/fuzz/fuzz_config.c — config.ini (every section, [profile] turned
 * into a layout, [remote]) and a cached profile file, all the same
 * input, written to a file since the parsers read files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#include "../../config.h"
#include "../../core.h"
#include "../../kallsyms.h"
#include "../../layout.h"
#include "../../profile.h"

#define BUILD_ID "0123456789abcdef"

static char dir[64], path[128]; /* the one file: config and profile */

static int write_input(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, data, size) == (ssize_t)size;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof dir, "/tmp/gpufas-fuzz-config.XXXXXX");
	FUZZ_CHECK(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/" BUILD_ID ".profile", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gf_config c;
	static struct gf_remote r;
	static struct gf_profile p;
	struct gf_layout l;
	char err[512] = "";

	setup();
	if (write_input(path, data, size))
		return 0;
	config_defaults(&c);
	if (!config_load(&c, path, err, sizeof err)) {
		FUZZ_CHECK(c.nprofile <= sizeof c.profile / sizeof *c.profile);
		layout_from_profile(&l, &c, 0, err, sizeof err);
		layout_from_profile(&l, &c, 1, err, sizeof err);
	}
	FUZZ_CHECK(strlen(err) < sizeof err);
	remote_defaults(&r);
	remote_config_load(&r, path, err, sizeof err);
	if (!profile_load(dir, BUILD_ID, 0xffffffff81000000ull, &p, err, sizeof err)) {
		FUZZ_CHECK(p.nfields <= GF_PROFILE_FIELDS &&
			   p.nsyms <= KALLSYMS_MAX_WANTED);
		layout_from_pairs(&l, p.field, p.nfields, 1, "profile", err, sizeof err);
	}
	return 0;
}
