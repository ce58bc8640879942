/* tui.h — the dashboard (tui.c) and the terminal entries it carries
 * (terminfo.c).
 */
#ifndef GPUFAS_TUI_H
#define GPUFAS_TUI_H

#include <stdatomic.h>
#include <stddef.h>

struct gf_source;

/* The dashboard, until the operator quits or *stop is set: by a signal
 * handler or another thread (a lock-free atomic_int serves both). */
int tui_run(const struct gf_source *src, atomic_int *stop);

/* The terminal for newterm(): TERM as found here, else from the entries
 * built into the binary (see terminfo.c). GF_OK; or GF_EINVAL (no TERM),
 * GF_ENOENT (no entry for it) or GF_EIO (writing the built-in one failed),
 * with why in msg. */
int terminfo_ensure(const char *term, char *msg, size_t len);
void terminfo_cleanup(void);

#endif
