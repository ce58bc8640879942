/* test/fuzz/fuzz.h — what every fuzz target shares. A target is one
 * LLVMFuzzerTestOneInput: linked with libFuzzer by `make fuzz`, or with
 * replay.c by `make test`, which feeds it every saved input.
 *
 * A target feeds its input to a parser and checks what must always hold:
 * the sanitizers see crashes and reads outside the input, libFuzzer's
 * -timeout a hang, FUZZ_CHECK the rest.
 */
#ifndef GPUFAS_FUZZ_H
#define GPUFAS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../core.h"
#include "../../gpufas.h"
#include "../../proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(c) \
	do { if (!(c)) { fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", \
				 __FILE__, __LINE__, #c); abort(); } } while (0)

/* Every fallible call answers GF_OK or one of the GF_E* errors. */
#define FUZZ_RESULT(rc) FUZZ_CHECK((rc) <= GF_OK && (rc) >= GF_ELAST)

/* wire.c: the next message of the input as a transport takes one (a
 * header msg_check_header accepts, at most max bytes, whole): 1, in b;
 * 0: the input holds no more. */
int fuzz_next_msg(const uint8_t **data, size_t *size, size_t max,
		  struct gf_buf *b);
/* An answer to a request of `type` numbered seq, as every peer checks it. */
void fuzz_check_answer(const struct gf_buf *out, uint16_t type, uint64_t seq);

/* writes.c: every byte of `after` that differs from `before` (its
 * image_copy, taken before the calls) lies in a field that signal sig
 * sent to t may change (t NULL: no field) or, with helper, in the request
 * the in-OS helper's mailbox takes; none at all where after is read-only.
 * Then before is after again, for the next calls. */
void fuzz_check_writes(struct gf_kernel *before, const struct gf_kernel *after,
		       const struct gf_task *t, int sig, int helper);

#endif
