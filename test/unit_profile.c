/* test/unit_profile.c — unit tests of profile.c: cached profiles. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../config.h"
#include "../core.h"
#include "../layout.h"
#include "../profile.h"

/* ---- Cached profiles (profile.c) ---- */

#define BUILD_A "8a55a05d35a15fe072cfd7e22593672daae112af"
#define BUILD_B "0123456789abcdef0123456789abcdef01234567"
#define PF_RELEASE "6.8.0-gpufas"
#define PF_STEXT 0xffffffff81000000ull
#define PF_PERCPU 0x33b00ull /* a zero-based per-CPU symbol: never moves */

/* A profile of the synthetic kernel, as discovery would keep it: its
 * layout, init_task and linux_banner in the image, one per-CPU symbol. */
static void profile_of(struct guest *g, struct gf_profile *p)
{
	static const char banner[] = "Linux version " PF_RELEASE " (gcc) #1 SMP";
	uint64_t at = win_alloc(&g->kimg, sizeof banner, 8);

	put(g, at, banner, sizeof banner);
	memset(p, 0, sizeof *p);
	strcpy(p->build_id, BUILD_A);
	strcpy(p->release, PF_RELEASE);
	p->kallsyms = 150000;
	p->nfields = layout_to_pairs(&g->k.lay, p->field, GF_PROFILE_FIELDS);
	p->sym[0] = (struct gf_profile_entry){ "init_task", g->init_task };
	p->sym[1] = (struct gf_profile_entry){ "linux_banner", at };
	p->sym[2] = (struct gf_profile_entry){ "runqueues", PF_PERCPU };
	p->nsyms = 3;
}

static char *profile_path(const char *id)
{
	static char path[256];

	snprintf(path, sizeof path, "%s/%s.profile", scratch, id);
	return path;
}

/* The layout that p's fields give, on g's paging and symbols. */
static struct gf_kernel kernel_from(const struct guest *g, const struct gf_profile *p)
{
	struct gf_kernel k = g->k;
	char err[256] = "";
	int rc;

	memset((char *)&k.lay + offsetof(struct gf_layout, task_ti_flags), 0,
	       sizeof k.lay - offsetof(struct gf_layout, task_ti_flags));
	rc = layout_from_pairs(&k.lay, p->field, p->nfields, 1, "cached profile",
			       err, sizeof err);
	if (rc)
		fixture_bug(err, (uint64_t)rc);
	return k;
}

static void test_profile_round_trip(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_profile *p = xcalloc(sizeof *p), *got = xcalloc(sizeof *got);
	const uint64_t moved = PF_STEXT + 0x2a00000; /* the next boot's KASLR */
	char err[256] = "";
	struct gf_kernel k;
	struct stat st;

	profile_of(g, p);
	REQUIRE(profile_save(scratch, p, PF_STEXT, err, sizeof err) == 0);
	REQUIRE(stat(profile_path(BUILD_A), &st) == 0);
	fuzz_seed_file("fuzz_config", "profile", profile_path(BUILD_A));
	CHECK_EQ(st.st_mode & 0777, 0600);
	REQUIRE(profile_load(scratch, BUILD_A, moved, got, err, sizeof err) == 0);
	CHECK_STR(got->release, PF_RELEASE);
	CHECK_EQ(got->kallsyms, 150000);
	CHECK_EQ(got->nfields, p->nfields);
	CHECK_EQ(got->nsyms, 3);
	CHECK_STR(got->sym[0].key, "init_task");
	CHECK_EQ(got->sym[0].value, g->init_task + (moved - PF_STEXT));
	CHECK_EQ(got->sym[2].value, PF_PERCPU);
	/* every offset comes back as it was, groups included */
	k = kernel_from(g, got);
	CHECK(!memcmp(&k.lay, &g->k.lay, sizeof k.lay));
	CHECK_EQ(profile_fits(&k, PF_RELEASE, p->sym[1].value, err, sizeof err), 0);
	free(got);
	free(p);
	guest_free(g);
}

static void write_mode(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(text, 1, len, f) != len || fclose(f) || chmod(path, mode))
		fixture_bug("cannot write a profile", (uint64_t)errno);
}

static void check_profile_refused(const char *text, size_t len, mode_t mode,
				  int want, const char *needle)
{
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";
	int before = failures;

	write_mode(profile_path(BUILD_A), text, len, mode);
	CHECK_EQ(profile_load(scratch, BUILD_A, PF_STEXT, p, err, sizeof err), want);
	CHECK_HAS(err, "refused");
	CHECK_HAS(err, needle);
	CHECK(!strchr(err, '\n'));
	note_case(before, "profile %.40s...", text);
	free(p);
}

#define PF_HEAD "gpufas-profile 2\nbuild-id = " BUILD_A "\nrelease = 6.8.0\nkallsyms = 9\n"
#define REFUSED(text, needle) \
	check_profile_refused(text, strlen(text), 0600, GF_ECORRUPT, needle)

static void test_profile_corrupt_refused(void)
{
	char *big = xcalloc(64 << 10);

	REFUSED("gpufas-profile 3\nend\n", "not a gpufas profile");
	REFUSED("gpufas-profile 1\nend\n", "not a gpufas profile"); /* no module fields */
	REFUSED(PF_HEAD "field task_struct.pid = 2464\n", "truncated");
	REFUSED(PF_HEAD "end", "truncated");
	REFUSED(PF_HEAD "end\nfield x = 1\n", "after end");
	REFUSED(PF_HEAD "field task_struct.pid = -8\nend\n", "bad value");
	REFUSED(PF_HEAD "field task_struct.pid = 99999999999\nend\n", "bad value");
	REFUSED(PF_HEAD "field task_struct.pid = 1\nfield task_struct.pid = 2\nend\n",
		"repeated");
	REFUSED(PF_HEAD "field ../../x = 1\nend\n", "bad name");
	REFUSED(PF_HEAD "symbol init_task = 0xffffffff82000000\nend\n", "bad value");
	REFUSED(PF_HEAD "symbol init_task = _stext+0x80000000\nend\n", "bad value");
	REFUSED(PF_HEAD "symbol init_task = _stext*2\nend\n", "bad value");
	REFUSED(PF_HEAD "owner = mallory\nend\n", "unknown key");
	REFUSED(PF_HEAD "release = 6.9.0\nend\n", "bad release");
	REFUSED("gpufas-profile 2\nbuild-id = " BUILD_B "\nend\n", "another build");
	REFUSED("gpufas-profile 2\nend\n", "no release");
	REFUSED(PF_HEAD "field task_struct.pid\t= 1\nend\n", "not text");
	check_profile_refused(PF_HEAD "\0end\n", sizeof PF_HEAD + 4, 0600, GF_ECORRUPT,
			      "not text");
	check_profile_refused(PF_HEAD "end\n", strlen(PF_HEAD "end\n"), 0622, GF_EREFUSED,
			      "private");
	memset(big, 'x', (64 << 10) - 1);
	REFUSED(big, "size");
	unlink(profile_path(BUILD_A));
	REQUIRE(symlink("/etc/passwd", profile_path(BUILD_A)) == 0);
	{
		struct gf_profile *p = xcalloc(sizeof *p);
		char err[256] = "";
		CHECK_EQ(profile_load(scratch, BUILD_A, PF_STEXT, p, err, sizeof err), GF_EIO);
		CHECK_HAS(err, "refused");
		free(p);
	}
	unlink(profile_path(BUILD_A));
	free(big);
}

static void test_profile_wrong_build_ignored(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";

	profile_of(g, p);
	REQUIRE(profile_save(scratch, p, PF_STEXT, err, sizeof err) == 0);
	/* another build has no profile; nor does a build id that is no name */
	CHECK_EQ(profile_load(scratch, BUILD_B, PF_STEXT, p, err, sizeof err), 1);
	CHECK_EQ(profile_load(scratch, "../" BUILD_A, PF_STEXT, p, err, sizeof err), 1);
	CHECK_EQ(profile_load(scratch, "", PF_STEXT, p, err, sizeof err), 1);
	CHECK_EQ(profile_load(scratch, BUILD_A, PF_STEXT, p, err, sizeof err), 0);
	unlink(profile_path(BUILD_A));
	free(p);
	guest_free(g);
}

/* A profile whose values do not fit the memory it is used on. */
static void check_stale(const struct guest *g, const struct gf_profile *good,
			const char *field, int32_t by, const char *needle)
{
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";
	struct gf_kernel k;
	int before = failures;

	*p = *good;
	for (uint32_t i = 0; i < p->nfields; i++)
		if (!strcmp(p->field[i].key, field))
			p->field[i].value += (uint64_t)(int64_t)by;
	k = kernel_from(g, p);
	if (!strcmp(field, "init_task"))
		k.lay.init_task += (uint64_t)(int64_t)by;
	CHECK_EQ(profile_fits(&k, PF_RELEASE, good->sym[1].value, err, sizeof err), GF_ECORRUPT);
	CHECK_HAS(err, needle);
	note_case(before, "%s %+d", field, by);
	free(p);
}

static void test_profile_stale_caught(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";
	struct gf_kernel k;

	profile_of(g, p);
	check_stale(g, p, "task_struct.pid", 8, "swapper/0");
	check_stale(g, p, "task_struct.comm", -16, "swapper/0");
	check_stale(g, p, "task_struct.real_parent", 8, "swapper/0");
	check_stale(g, p, "task_struct.tasks", 16, "tasks list");
	check_stale(g, p, "task_struct.thread_node", 16, "thread group");
	check_stale(g, p, "signal_struct.thread_head", 8, "thread group");
	check_stale(g, p, "init_task", 64, "init_task");
	/* a release other than the banner's: a profile of another build */
	k = kernel_from(g, p);
	CHECK_EQ(profile_fits(&k, "6.8.1-other", p->sym[1].value, err, sizeof err), GF_ECORRUPT);
	CHECK_HAS(err, "linux_banner");
	free(p);
	guest_free(g);
}

static const struct test tests[] = {
	T(profile_round_trip),
	T(profile_corrupt_refused),
	T(profile_wrong_build_ignored),
	T(profile_stale_caught),
};

const struct suite suite_profile = SUITE(tests);
