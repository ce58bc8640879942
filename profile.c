/* profile.c — what discovery derived for one kernel build, kept so that
 * the next attach to that build need not derive it again.
 *
 * A profile is a text file, one "key = value" a line, named by the
 * build's VMCOREINFO BUILD-ID:
 *   gpufas-profile 2
 *   build-id = 8a55a05d...
 *   release = 7.2.13+deb14-cloud-amd64
 *   kallsyms = 186798                      the kernel's symbol count
 *   field task_struct.pid = 2464           layout.c's names, in bytes
 *   symbol init_task = _stext+0x2a0c940    image symbols, KASLR-free
 *   symbol runqueues = 0x33b00             absolute (zero-based per-CPU)
 *   end
 * Text, not binary: an operator can read what gpufas believes about a
 * kernel, and a checksum would prove nothing a hostile writer could not
 * recompute; what makes a profile trusted is that it fits the memory it
 * is used on (profile_fits). Version 2 added the module-list fields
 * (helper.c): a version 1 profile would hide the in-OS helper, so it is
 * refused and full discovery writes a new one. The file is untrusted
 * input: bounded in size,
 * parsed strictly, refused whole at the first fault, and read only if it
 * is a regular file of ours that nobody else may write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "gpufas.h"
#include "kallsyms.h"
#include "profile.h"

#define MAGIC "gpufas-profile 2"
#define PROFILE_MAX (16u << 10) /* a real one is about 4 KiB */
#define MAX_LINE 160
#define MAX_OFFSET (1u << 20)   /* task_struct, the largest, is ~10 KiB */
#define START_KERNEL_MAP 0xffffffff80000000ull
#define IMAGE_SPAN (1ull << 30) /* KERNEL_IMAGE_SIZE: symbols lie within */

/* GF_OK, GF_ENOENT (no $GPUFAS_CACHE nor $HOME) or GF_ENOSPC. */
int profile_dir(char *dir, size_t len)
{
	const char *cache = getenv("GPUFAS_CACHE"), *home = getenv("HOME");
	int n;

	if (cache && *cache)
		n = snprintf(dir, len, "%s/profiles", cache);
	else if (home && *home)
		n = snprintf(dir, len, "%s/.cache/gpufas/profiles", home);
	else
		return GF_ENOENT;
	return n > 0 && (size_t)n < len ? GF_OK : GF_ENOSPC;
}

/* The build id becomes a file name: lower-case hex only. */
static int valid_build_id(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");

	return n > 0 && n <= GF_BUILD_ID_MAX && !id[n];
}

static int path_of(const char *dir, const char *id, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s.profile", dir, id);

	return n > 0 && (size_t)n < len ? GF_OK : GF_ENOSPC;
}

/* ---- writing ---- */

/* Appends to buf; returns the new length, or len + 1 past cap. */
static size_t add(char *buf, size_t len, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static size_t add(char *buf, size_t len, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= cap)
		return cap;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap - len ? cap : len + (size_t)n;
}

/* An image symbol as an offset from _stext, anything else as is. */
static size_t add_symbol(char *buf, size_t len, const struct gf_profile_entry *s,
			 uint64_t stext)
{
	uint64_t v = s->value;

	if (v < START_KERNEL_MAP)
		return add(buf, len, PROFILE_MAX, "symbol %s = 0x%llx\n", s->key,
			   (unsigned long long)v);
	return add(buf, len, PROFILE_MAX, "symbol %s = _stext%c0x%llx\n", s->key,
		   v >= stext ? '+' : '-',
		   (unsigned long long)(v >= stext ? v - stext : stext - v));
}

static size_t format(const struct gf_profile *p, uint64_t stext, char *buf)
{
	size_t n = add(buf, 0, PROFILE_MAX, MAGIC "\nbuild-id = %s\nrelease = %s\n"
		       "kallsyms = %u\n", p->build_id, p->release, p->kallsyms);

	for (uint32_t i = 0; i < p->nfields; i++)
		n = add(buf, n, PROFILE_MAX, "field %s = %llu\n", p->field[i].key,
			(unsigned long long)p->field[i].value);
	for (uint32_t i = 0; i < p->nsyms; i++)
		n = add_symbol(buf, n, &p->sym[i], stext);
	return add(buf, n, PROFILE_MAX, "end\n");
}

/* mkdir -p, each directory made private: GF_OK, GF_ENOSPC (too long a
 * path), or GF_EIO with errno. */
static int make_dirs(const char *dir)
{
	char path[512];
	size_t n = strlen(dir);

	if (n >= sizeof path)
		return GF_ENOSPC;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) && errno != EEXIST)
			return GF_EIO;
		*p = '/';
	}
	return mkdir(path, 0700) && errno != EEXIST ? GF_EIO : GF_OK;
}

/* GF_OK, or GF_EIO with errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return GF_EIO;
		buf += n;
		len -= (size_t)n;
	}
	return GF_OK;
}

/* Written to a temporary file beside it, then renamed over it: a reader
 * sees the old profile or the new one, never half of one. */
int profile_save(const char *dir, const struct gf_profile *p, uint64_t stext,
		 char *err, size_t errlen)
{
	char *buf = malloc(PROFILE_MAX), path[600], tmp[600];
	size_t len;
	int fd = -1, rc;

	if (!buf || !valid_build_id(p->build_id) ||
	    path_of(dir, p->build_id, path, sizeof path) ||
	    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
		snprintf(err, errlen, "profile not written: bad build id or path");
		rc = buf ? GF_EINVAL : GF_ENOMEM;
		goto out;
	}
	if ((len = format(p, stext, buf)) >= PROFILE_MAX) {
		snprintf(err, errlen, "profile not written: too large");
		rc = GF_ENOSPC;
		goto out;
	}
	if ((rc = make_dirs(dir)) || (fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "profile not written: %s: %s", dir, strerror(errno));
		rc = rc ? rc : GF_EIO;
		goto out;
	}
	if (fchmod(fd, 0600) || write_all(fd, buf, len) || close(fd) ||
	    rename(tmp, path)) {
		snprintf(err, errlen, "profile not written: %s: %s", tmp, strerror(errno));
		unlink(tmp);
		fd = -1;
		rc = GF_EIO;
		goto out;
	}
	rc = GF_OK;
out:
	free(buf);
	return rc;
}

/* ---- reading ---- */

/* The values of a profile: GF_OK, or GF_ECORRUPT. */
static int decimal(const char *s, uint64_t max, uint64_t *v)
{
	size_t n = strspn(s, "0123456789");

	*v = 0;
	if (!n || s[n] || n > 10)
		return GF_ECORRUPT;
	for (size_t i = 0; i < n; i++)
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	return *v <= max ? GF_OK : GF_ECORRUPT;
}

static int hex(const char *s, uint64_t *v)
{
	size_t n;

	if (strncmp(s, "0x", 2))
		return GF_ECORRUPT;
	s += 2;
	n = strspn(s, "0123456789abcdef");
	if (!n || s[n] || n > 16)
		return GF_ECORRUPT;
	*v = strtoull(s, NULL, 16);
	return GF_OK;
}

/* "_stext+0x..", "_stext-0x.." (within the image) or an absolute "0x.."
 * below the kernel's mapping. */
static int symbol_value(const char *s, uint64_t stext, uint64_t *va)
{
	uint64_t d;

	if (strncmp(s, "_stext", 6))
		return hex(s, va) || *va >= START_KERNEL_MAP ? GF_ECORRUPT : GF_OK;
	if ((s[6] != '+' && s[6] != '-') || hex(s + 7, &d) || d >= IMAGE_SPAN)
		return GF_ECORRUPT;
	*va = s[6] == '+' ? stext + d : stext - d;
	return *va >= START_KERNEL_MAP ? GF_OK : GF_ECORRUPT;
}

/* A name as the field table and kallsyms spell them. */
static int valid_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "0123456789_.");

	return n > 0 && n < sizeof ((struct gf_profile_entry *)0)->key && !s[n];
}

static int seen(const struct gf_profile_entry *e, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(e[i].key, name))
			return 1;
	return 0;
}

/* "field NAME" or "symbol NAME" = value into its list; why on error. */
static const char *entry(struct gf_profile *p, const char *key, const char *val,
			 uint64_t stext)
{
	int is_field = !strncmp(key, "field ", 6);
	const char *name = key + (is_field ? 6 : 7);
	struct gf_profile_entry *list = is_field ? p->field : p->sym;
	uint32_t *n = is_field ? &p->nfields : &p->nsyms;
	uint32_t cap = is_field ? GF_PROFILE_FIELDS : KALLSYMS_MAX_WANTED;
	uint64_t v;

	if (!valid_name(name))
		return "bad name";
	if (*n == cap || seen(list, *n, name))
		return "too many or repeated entries";
	if (is_field ? decimal(val, MAX_OFFSET, &v) : symbol_value(val, stext, &v))
		return "bad value";
	strcpy(list[*n].key, name);
	list[(*n)++].value = v;
	return NULL;
}

/* One "key = value" line; why on error. */
static const char *line(struct gf_profile *p, char *s, uint64_t stext)
{
	char *eq = strstr(s, " = ");
	uint64_t v;

	if (!eq)
		return "not key = value";
	*eq = 0;
	eq += 3;
	if (!strcmp(s, "build-id"))
		return strcmp(eq, p->build_id) ? "another build's id" : NULL;
	if (!strcmp(s, "release")) {
		if (!*eq || strlen(eq) >= sizeof p->release || p->release[0])
			return "bad release";
		strcpy(p->release, eq);
		return NULL;
	}
	if (!strcmp(s, "kallsyms")) {
		if (decimal(eq, 1u << 24, &v))
			return "bad count";
		p->kallsyms = (uint32_t)v;
		return NULL;
	}
	if (!strncmp(s, "field ", 6) || !strncmp(s, "symbol ", 7))
		return entry(p, s, eq, stext);
	return "unknown key";
}

/* Every line printable ASCII, the magic first and "end" last: GF_OK, or
 * GF_ECORRUPT with why in err. */
static int parse(char *text, size_t len, uint64_t stext, struct gf_profile *p,
		 char *err, size_t errlen)
{
	char *s = text, *nl;
	const char *why = NULL;
	uint32_t at = 0;
	int ended = 0;

	if (memchr(text, 0, len))
		why = "not text";
	for (; !why && !ended && (nl = memchr(s, '\n', len - (size_t)(s - text))); s = nl + 1) {
		*nl = 0;
		at++;
		for (char *c = s; *c && !why; c++)
			if (*c < 0x20 || *c > 0x7e)
				why = "not text";
		if (why)
			break;
		if (nl - s > MAX_LINE)
			why = "line too long";
		else if (at == 1)
			why = strcmp(s, MAGIC) ? "not a gpufas profile (version 2)" : NULL;
		else if (!strcmp(s, "end"))
			ended = 1;
		else
			why = line(p, s, stext);
	}
	if (!why && (!ended || s != text + len))
		why = ended ? "text after end" : "truncated (no end line)";
	if (!why && (!p->release[0] || !p->kallsyms))
		why = "no release or kallsyms count";
	if (why)
		snprintf(err, errlen, "line %u: %s", at, why);
	return why ? GF_ECORRUPT : GF_OK;
}

/* Reads a regular file of ours, nobody else's to write, of bounded size.
 * 1: there is none; else GF_OK, or a GF_E* with why in err. */
static int read_file(const char *path, char **text, size_t *len, char *err,
		     size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	ssize_t n = -1;
	int rc = GF_EIO;

	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s", strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		   (st.st_mode & 022)) {
		snprintf(err, errlen, "not a regular file of ours, private to us");
		rc = GF_EREFUSED;
	} else if (st.st_size <= 0 || st.st_size > PROFILE_MAX) {
		snprintf(err, errlen, "size %lld out of bounds", (long long)st.st_size);
		rc = GF_ECORRUPT;
	} else if (!(*text = malloc((size_t)st.st_size + 1))) {
		snprintf(err, errlen, "out of memory");
		rc = GF_ENOMEM;
	} else {
		n = read(fd, *text, (size_t)st.st_size);
		if (n != st.st_size) {
			snprintf(err, errlen, "short read");
			free(*text);
			n = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	*len = n < 0 ? 0 : (size_t)n;
	return n < 0 ? rc : GF_OK;
}

/* GF_OK: loaded; 1: no profile for this build; else a GF_E*: one refused,
 * why in err. */
int profile_load(const char *dir, const char *build_id, uint64_t stext,
		 struct gf_profile *p, char *err, size_t errlen)
{
	char path[600], why[200];
	char *text = NULL;
	size_t len;
	int rc;

	memset(p, 0, sizeof *p);
	if (!valid_build_id(build_id) || path_of(dir, build_id, path, sizeof path))
		return 1;
	strcpy(p->build_id, build_id);
	if ((rc = read_file(path, &text, &len, why, sizeof why)) == 0) {
		text[len] = 0;
		rc = parse(text, len, stext, p, why, sizeof why);
	}
	if (rc < 0)
		snprintf(err, errlen, "profile %s refused: %s", path, why);
	free(text);
	return rc;
}

/* ---- checking against memory ---- */

/* list_head at node: its next's prev must be node. Sets *next. GF_OK,
 * or GF_ECORRUPT. */
static int linked(const struct gf_kernel *k, uint64_t node, uint64_t *next)
{
	uint64_t back;

	return gf_read(k, node, next, 8) || gf_read(k, *next + 8, &back, 8) ||
	       back != node ? GF_ECORRUPT : GF_OK;
}

/* init_task is pid 0 "swapper/0", its own parent, with no mm and alone in
 * its thread group; the first tasks after it have pids and back links. */
static const char *init_task_fits(const struct gf_kernel *k)
{
	const struct gf_layout *l = &k->lay;
	uint64_t init = l->init_task, mm, parent, signal, node, next;
	char comm[GF_COMM_LEN];
	int32_t pid, tgid;

	if (gf_read(k, init + l->task_pid, &pid, 4) ||
	    gf_read(k, init + l->task_tgid, &tgid, 4) ||
	    gf_read(k, init + l->task_comm, comm, sizeof comm) ||
	    gf_read(k, init + l->task_mm, &mm, 8) ||
	    gf_read(k, init + l->task_real_parent, &parent, 8) ||
	    gf_read(k, init + l->task_signal, &signal, 8))
		return "init_task unreadable";
	if (pid || tgid || mm || parent != init || strcmp(comm, "swapper/0"))
		return "init_task is not swapper/0";
	if (linked(k, init + l->task_thread_node, &next) ||
	    next != signal + l->signal_thread_head)
		return "init_task's thread group does not link back";
	node = init + l->task_tasks;
	for (int i = 0; i < 4; i++, node = next) {
		if (linked(k, node, &next))
			return "tasks list does not link back";
		if (next == init + l->task_tasks)
			break;
		if (gf_read(k, next - l->task_tasks + l->task_pid, &pid, 4) || pid <= 0)
			return "a task after init_task has no pid";
	}
	return NULL;
}

/* Does the layout fit this memory? init_task's fields and lists, and
 * linux_banner (0: unknown) holding "Linux version <release> ": GF_OK,
 * or GF_ECORRUPT with why. */
int profile_fits(const struct gf_kernel *k, const char *release,
		 uint64_t linux_banner, char *why, size_t whylen)
{
	char want[96], got[96];
	const char *bad = init_task_fits(k);
	int n = snprintf(want, sizeof want, "Linux version %s ", release);

	if (!bad && linux_banner && n > 0 && (size_t)n < sizeof want &&
	    (gf_read(k, linux_banner, got, (uint32_t)n) || memcmp(got, want, (size_t)n)))
		bad = "linux_banner does not name this release";
	if (bad)
		snprintf(why, whylen, "%s", bad);
	return bad ? GF_ECORRUPT : GF_OK;
}
