/* test/fuzz/writes.c — where a signal may write into guest RAM, checked
 * from outside the code that writes (fuzz.h's fuzz_check_writes).
 *
 * The fields, as introspect.c's gf_send_signal writes them, of the task
 * t it was given, whose signal_struct is the one t->addr's task_signal
 * names:
 *
 *	SIGKILL: in the signal_struct, group_exit_code, group_stop_count
 *	         and flags; in each thread on its thread list, the pending
 *	         set's word (task_pending + sigpending_signal) and the
 *	         thread flags (task_ti_flags)
 *	other:   the shared pending set's word (signal_shared_pending +
 *	         sigpending_signal); the thread flags of a thread on the list
 *
 * and, where the in-OS helper is found, its mailbox's request fields and
 * first slot, which operator.c posts to before any write of its own. The
 * thread list is followed here without the back-link checks of the
 * writer, as far as it goes (GF_MAX_TASKS threads): what may be written
 * is a superset of what the writer reaches.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "../../core.h"
#include "../../helper.h"
#include "../../kmod/gpufas_helper.h"

#define SIGKILL 9
#define PAGE 4096u

/* A byte that differs between before and after. */
struct byte {
	uint32_t range;
	uint64_t off;
	int allowed;
};

struct changes {
	const struct gf_kernel *before; /* where fields are looked up */
	struct byte *b;
	size_t n, cap, left; /* left: not yet in any field */
};

static void add(struct changes *c, uint32_t range, uint64_t off)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		FUZZ_CHECK(c->b = realloc(c->b, c->cap * sizeof *c->b));
	}
	c->b[c->n++] = (struct byte){ range, off, 0 };
	c->left++;
}

static void find_changes(struct changes *c, const struct gf_kernel *after)
{
	const struct gf_mem *m = &c->before->mem;

	for (uint32_t i = 0; i < m->nranges; i++) {
		const uint8_t *was = m->range[i].base, *now = after->mem.range[i].base;

		for (uint64_t page = 0; page < m->range[i].size; page += PAGE)
			if (memcmp(was + page, now + page, PAGE))
				for (uint64_t off = page; off < page + PAGE; off++)
					if (was[off] != now[off])
						add(c, i, off);
	}
}

/* The changed bytes within the kernel's [va, va + len): allowed. */
static void allow(struct changes *c, uint64_t va, uint32_t len)
{
	while (len && c->left) {
		uint32_t chunk = PAGE - (uint32_t)(va % PAGE);
		uint64_t pa;

		if (chunk > len)
			chunk = len;
		if (!gf_virt_to_phys(c->before, va, &pa))
			for (size_t i = 0; i < c->n; i++) {
				struct byte *b = &c->b[i];
				if (!b->allowed &&
				    c->before->mem.range[b->range].phys + b->off - pa < chunk) {
					b->allowed = 1;
					c->left--;
				}
			}
		va += chunk;
		len -= chunk;
	}
}

static void allow_task(struct changes *c, const struct gf_task *t, int sig)
{
	const struct gf_layout *l = &c->before->lay;
	uint64_t signal, head, node;

	if (sig < 1 || sig > 31 || gf_read(c->before, t->addr + l->task_signal, &signal, 8))
		return;
	if (sig == SIGKILL) {
		allow(c, signal + l->signal_group_exit_code, 4);
		allow(c, signal + l->signal_group_stop_count, 4);
		allow(c, signal + l->signal_flags, 4);
	} else {
		allow(c, signal + l->signal_shared_pending + l->sigpending_signal, 8);
	}
	node = head = signal + l->signal_thread_head;
	for (uint32_t i = 0; i < GF_MAX_TASKS && c->left; i++) {
		uint64_t task;

		if (gf_read(c->before, node, &node, 8) || node == head)
			return;
		task = node - l->task_thread_node;
		if (sig == SIGKILL)
			allow(c, task + l->task_pending + l->sigpending_signal, 8);
		allow(c, task + l->task_ti_flags, 8);
	}
}

static void allow_helper(struct changes *c)
{
	struct gf_helper h;

	if (gf_helper_find(c->before, &h))
		return;
	allow(c, h.va + offsetof(struct gfh_mailbox, rq_magic),
	      offsetof(struct gfh_mailbox, ans_seq) - offsetof(struct gfh_mailbox, rq_magic));
	allow(c, h.va + GFH_HEADER_BYTES, sizeof(struct gfh_slot));
}

void fuzz_check_writes(struct gf_kernel *before, const struct gf_kernel *after,
		       const struct gf_task *t, int sig, int helper)
{
	struct changes c = { .before = before };

	find_changes(&c, after);
	if (c.n && after->writable) {
		if (t)
			allow_task(&c, t, sig);
		if (helper)
			allow_helper(&c);
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct byte *b = &c.b[i];
		uint8_t *was = before->mem.range[b->range].base + b->off;

		if (!b->allowed)
			fprintf(stderr, "a write at guest-physical 0x%llx (0x%02x -> 0x%02x) %s\n",
				(unsigned long long)(before->mem.range[b->range].phys + b->off),
				*was, after->mem.range[b->range].base[b->off],
				!after->writable ? "into a read-only kernel"
				: t ? "outside the fields this signal may change"
				    : "by calls that may write nothing");
		*was = after->mem.range[b->range].base[b->off];
	}
	FUZZ_CHECK(!c.left);
	free(c.b);
}
