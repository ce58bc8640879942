/* terminfo.c — the dashboard opens on a box that has no terminfo files.
 *
 * A rescue binary is copied onto whatever box is still alive: a minimal
 * container, an initramfs shell, a distribution that keeps its terminfo
 * elsewhere. ncurses needs the terminal's compiled entry, so the build
 * compiles the common ones with tic into a tar archive (Makefile,
 * TERMINFO_ENTRIES) and embeds it here. At run time the machine's own
 * entry wins; only when ncurses cannot find one do we write ours to a
 * private directory and point TERMINFO at it. ncurses reads the entry once,
 * in newterm(), so the directory is removed right after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

#include "gpufas.h"
#include "tui.h"

#ifdef GPUFAS_TERMINFO
__asm__(".section .rodata\n"
	".balign 512\n"
	"gf_terminfo:\n"
	".incbin \"" GPUFAS_TERMINFO "\"\n"
	"gf_terminfo_end:\n"
	".previous\n");
extern const unsigned char gf_terminfo[], gf_terminfo_end[];
#define BLOB_START gf_terminfo
#define BLOB_SIZE ((size_t)(gf_terminfo_end - gf_terminfo))
#else
#define BLOB_START NULL
#define BLOB_SIZE ((size_t)0)
#endif

#define TAR_BLOCK 512

/* One ustar member: "x/xterm" and its bytes. */
struct member {
	char name[101];
	const unsigned char *data;
	size_t size;
	char type;
};

static char private_dir[256];

static size_t octal(const unsigned char *field, size_t len)
{
	size_t v = 0;

	for (size_t i = 0; i < len && field[i] >= '0' && field[i] <= '7'; i++)
		v = v * 8 + (size_t)(field[i] - '0');
	return v;
}

/* The member at *offset, advancing it; 0 at the end of the archive. */
static int next_member(size_t *offset, struct member *m)
{
	const unsigned char *h = BLOB_START + *offset;

	if (*offset + TAR_BLOCK > BLOB_SIZE || !h[0])
		return 0;
	memcpy(m->name, h, 100);
	m->name[100] = 0;
	m->size = octal(h + 124, 12);
	m->type = (char)h[156];
	m->data = h + TAR_BLOCK;
	if (m->size > BLOB_SIZE - *offset - TAR_BLOCK)
		return 0;
	*offset += TAR_BLOCK + (m->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	return 1;
}

/* A compiled entry, "./<first letter>/<term>"; tic's alias links are
 * left out (their names resolve through the entry's own name list). */
static const char *entry_name(const struct member *m)
{
	const char *slash = strrchr(m->name, '/');

	return (m->type == '0' || m->type == 0) && slash ? slash + 1 : NULL;
}

static int built_in(const char *term)
{
	struct member m;
	size_t off = 0;

	while (next_member(&off, &m))
		if (entry_name(&m) && !strcmp(entry_name(&m), term))
			return 1;
	return 0;
}

static void built_in_names(char *buf, size_t len)
{
	struct member m;
	size_t off = 0, used = 0;

	buf[0] = 0;
	while (next_member(&off, &m) && used < len)
		if (entry_name(&m))
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? ", " : "", entry_name(&m));
}

/* GF_OK, or GF_EIO with errno. */
static int write_file(const char *path, const unsigned char *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ssize_t n;

	if (fd < 0)
		return GF_EIO;
	n = write(fd, data, size);
	close(fd);
	return n == (ssize_t)size ? GF_OK : GF_EIO;
}

/* Every entry under private_dir: directories first, as tar lists them.
 * GF_OK, or GF_EIO with errno. */
static int extract(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[sizeof private_dir + 110];
	struct member m;
	size_t off = 0;

	snprintf(private_dir, sizeof private_dir, "%.200s/gpufas-terminfo.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(private_dir)) {
		private_dir[0] = 0;
		return GF_EIO;
	}
	while (next_member(&off, &m)) {
		if (strstr(m.name, "..") || m.name[0] == '/')
			continue;
		snprintf(path, sizeof path, "%s/%s", private_dir, m.name);
		if (m.type == '5' ? mkdir(path, 0700) && errno != EEXIST
				  : entry_name(&m) && write_file(path, m.data, m.size))
			return GF_EIO;
	}
	return GF_OK;
}

static int entry_found(const char *term)
{
	int err = 0;

	if (setupterm(term, STDOUT_FILENO, &err) != OK)
		return 0;
	del_curterm(cur_term);
	return 1;
}

int terminfo_ensure(const char *term, char *msg, size_t len)
{
	char names[256];

	if (!term || !*term) {
		snprintf(msg, len, "TERM is not set; set it to your terminal's type "
			 "(e.g. TERM=xterm-256color)");
		return GF_EINVAL;
	}
	if (entry_found(term))
		return GF_OK;
	built_in_names(names, sizeof names);
	if (!built_in(term)) {
		snprintf(msg, len, "unknown terminal type '%.64s': no terminfo entry "
			 "on this machine, and none built in (built in: %s)", term,
			 names[0] ? names : "none");
		return GF_ENOENT;
	}
	if (extract() || setenv("TERMINFO", private_dir, 1) || !entry_found(term)) {
		snprintf(msg, len, "terminal type '%.64s': this machine has no "
			 "terminfo entry, and writing the built-in one failed: %s",
			 term, strerror(errno));
		terminfo_cleanup();
		return GF_EIO;
	}
	return GF_OK;
}

/* Removes the private directory: its entries, then their directories
 * (one level deep: "./x/xterm"), then itself. */
void terminfo_cleanup(void)
{
	char path[sizeof private_dir + 110];
	struct member m;
	size_t off = 0;

	if (!private_dir[0])
		return;
	while (next_member(&off, &m)) {
		snprintf(path, sizeof path, "%s/%s", private_dir, m.name);
		if (entry_name(&m))
			unlink(path);
	}
	for (off = 0; next_member(&off, &m);) {
		snprintf(path, sizeof path, "%s/%s", private_dir, m.name);
		if (m.type == '5')
			rmdir(path);
	}
	rmdir(private_dir);
	private_dir[0] = 0;
}
