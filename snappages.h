/* snappages.h — a guest's pages as snapshot.c moves them: copied and
 * hashed at a snapshot; compared with the snapshot's hashes, checked and
 * written back at a restore. The hashing (pagehash.h) runs on the CPU's
 * threads or on a GPU; the rest on the CPU's threads.
 *
 * Everything that costs time in proportion to the guest's size and is not
 * needed in the pause (opening the GPU, pinning the RAM for it, buffers)
 * is done by gf_pages_open(), before the guest is paused.
 */
#ifndef GF_SNAPPAGES_H
#define GF_SNAPPAGES_H

#include <stddef.h>
#include <stdint.h>

#include "pagehash.h"

struct gpu;

struct gf_pages {
	uint8_t *ram;         /* the guest's RAM, mapped */
	uint64_t npages;
	struct gf_pagehash_key key;
	int threads;          /* the CPU's, for the rest */
	struct gpu *gpu;      /* hashing there, or NULL: on the threads */
	uint8_t (*now)[GF_PAGEHASH_BYTES]; /* the GPU's hashes of ram */
	char engine[200];     /* where the hashing runs, in words */
};

/* kind: [engine] kind. "cpu": the CPU's threads hash; "gpu" or "auto":
 * GPU number gpu, where it can be used, else the CPU, engine saying why
 * not. A snapshot never fails for want of a GPU, nor waits on one: in a
 * process whose GPU engine runs its monitor (an agent), the CPU hashes. */
void gf_pages_open(struct gf_pages *p, uint8_t *ram, uint64_t npages, uint64_t seed,
		   const char *kind, int gpu);
void gf_pages_close(struct gf_pages *p);

/* Snapshot: every page copied into copy and its hash into table. */
int gf_pages_save(struct gf_pages *p, uint8_t *copy,
		  uint8_t (*table)[GF_PAGEHASH_BYTES], char *err, size_t errlen);

/* Restore: differ[i] = 1 where page i's hash is not table's, *ndiffer of
 * them; the snapshot's copy of each run of them (fd, at ram_off) is read
 * ahead as they are found. */
int gf_pages_compare(struct gf_pages *p, const uint8_t (*table)[GF_PAGEHASH_BYTES],
		     uint8_t *differ, int fd, uint64_t ram_off, uint64_t *ndiffer,
		     char *err, size_t errlen);

/* Restore: the snapshot's copy (file, the RAM part of it mapped) of every
 * page that differs checked against table. GF_OK, or GF_ECORRUPT with *bad
 * the first page that does not match. */
int gf_pages_verify(const struct gf_pages *p, const uint8_t *file,
		    const uint8_t (*table)[GF_PAGEHASH_BYTES], const uint8_t *differ,
		    uint64_t *bad);

/* Restore: the differing pages written back from file; how many. */
uint64_t gf_pages_write(const struct gf_pages *p, const uint8_t *file,
			const uint8_t *differ);

#endif
