/* test/unit_layout.c — unit tests of layout.c: struct offsets from a cached
 * profile. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../config.h"
#include "../core.h"
#include "../layout.h"

/* ======================================================================
 * layout_from_profile
 * ====================================================================== */

#define LF(name, field) { name, offsetof(struct gf_layout, field) }

static const struct { const char *name; size_t at; } PROFILE_FIELDS[] = {
	LF("task_struct.thread_info.flags", task_ti_flags),
	LF("task_struct.__state", task_state),
	LF("task_struct.exit_state", task_exit_state),
	LF("task_struct.flags", task_flags),
	LF("task_struct.tasks", task_tasks),
	LF("task_struct.pid", task_pid),
	LF("task_struct.tgid", task_tgid),
	LF("task_struct.comm", task_comm),
	LF("task_struct.mm", task_mm),
	LF("task_struct.real_parent", task_real_parent),
	LF("task_struct.signal", task_signal),
	LF("task_struct.pending", task_pending),
	LF("task_struct.blocked", task_blocked),
	LF("task_struct.thread_node", task_thread_node),
	LF("task_struct.start_time", task_start_time),
	LF("task_struct.se.sum_exec_runtime", task_sum_exec_runtime),
	LF("signal_struct.thread_head", signal_thread_head),
	LF("signal_struct.nr_threads", signal_nr_threads),
	LF("signal_struct.shared_pending", signal_shared_pending),
	LF("signal_struct.flags", signal_flags),
	LF("signal_struct.group_exit_code", signal_group_exit_code),
	LF("signal_struct.group_stop_count", signal_group_stop_count),
	LF("signal_struct.sum_sched_runtime", signal_sum_sched_runtime),
	LF("sigpending.signal", sigpending_signal),
	LF("percpu_counter.count", pcpu_count),
	LF("percpu_counter.counters", pcpu_counters),
	LF("MM_FILEPAGES", mm_filepages),
	LF("MM_ANONPAGES", mm_anonpages),
	LF("MM_SHMEMPAGES", mm_shmempages),
	LF("mm_struct.rss_stat", mm_rss_stat),
	LF("rss_stride", rss_stride),
	LF("rss_percpu", rss_percpu),
};

static uint32_t field_value(const struct gf_layout *l, size_t at)
{
	uint32_t v;

	memcpy(&v, (const char *)l + at, 4);
	return v;
}

/* A [profile] giving every field (field i = 0x100 + 8 i) but `skip`. */
static void profile_all(struct gf_config *c, const char *skip,
			const char *state_name)
{
	config_defaults(c);
	for (uint32_t i = 0; i < NELEM(PROFILE_FIELDS); i++) {
		const char *name = i == 1 ? state_name : PROFILE_FIELDS[i].name;
		if (skip && !strcmp(skip, PROFILE_FIELDS[i].name))
			continue;
		snprintf(c->profile[c->nprofile].key, sizeof c->profile[0].key,
			 "%s", name);
		c->profile[c->nprofile++].value = 0x100 + 8 * i;
	}
}

static void check_profile_fields(const struct gf_layout *l, const char *skip)
{
	for (uint32_t i = 0; i < NELEM(PROFILE_FIELDS); i++) {
		uint32_t want = skip && !strcmp(skip, PROFILE_FIELDS[i].name)
			? 0xeeeeeeee : 0x100 + 8 * i;
		if (field_value(l, PROFILE_FIELDS[i].at) != want)
			report(__FILE__, __LINE__, "%s = %#x, want %#x",
			       PROFILE_FIELDS[i].name,
			       field_value(l, PROFILE_FIELDS[i].at), want);
	}
}

static void test_layout_profile_all(void)
{
	static const char *const state_names[] = {
		"task_struct.__state", "task_struct.state",
	};
	struct gf_config *c = xcalloc(sizeof *c);
	struct gf_layout l;
	char err[256] = "";

	for (int i = 0; i < 2; i++) {
		profile_all(c, NULL, state_names[i]);
		memset(&l, 0xee, sizeof l);
		CHECK_EQ(layout_from_profile(&l, c, 1, err, sizeof err), 0);
		check_profile_fields(&l, NULL);
		CHECK_EQ(l.cr3, 0xeeeeeeeeeeeeeeeeull); /* not a profile field */
		CHECK_EQ(l.init_task, 0xeeeeeeeeeeeeeeeeull);
	}
	free(c);
}

static void test_layout_profile_missing(void)
{
	struct gf_config *c = xcalloc(sizeof *c);
	struct gf_layout l;
	char err[256] = "";

	profile_all(c, "signal_struct.flags", "task_struct.__state");
	memset(&l, 0xee, sizeof l);
	CHECK_EQ(layout_from_profile(&l, c, 1, err, sizeof err), GF_ENOENT);
	CHECK_HAS(err, "signal_struct.flags");
	/* over BTF, missing keys just keep their values */
	memset(&l, 0xee, sizeof l);
	CHECK_EQ(layout_from_profile(&l, c, 0, err, sizeof err), 0);
	check_profile_fields(&l, "signal_struct.flags");
	/* nothing given at all */
	config_defaults(c);
	CHECK_EQ(layout_from_profile(&l, c, 1, err, sizeof err), GF_ENOENT);
	CHECK_HAS(err, "task_struct.thread_info.flags");
	free(c);
}

static const struct test tests[] = {
	T(layout_profile_all),
	T(layout_profile_missing),
};

const struct suite suite_layout = SUITE(tests);
