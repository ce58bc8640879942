/* libvirt.c — a running libvirt domain's RAM file, for libvirt:NAME.
 *
 * libvirt's QEMU driver gives QEMU a RAM file another process can map
 * only when the domain says
 *   <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>
 * It then starts QEMU with -object memory-backend-file,share=on and a
 * mem-path under qemu.conf's memory_backing_dir (added in 2017; default
 * /var/lib/libvirt/qemu/ram), in a directory per run: libvirt 9.0 uses
 * ram/ID-NAME/pc.ram, and removes that directory when QEMU stops. The
 * path is not rebuilt from that layout (the directory is the host's
 * choice, the ID changes at every start, the alias with NUMA cells): it
 * is read from the QEMU process's own mappings, which also shows that
 * this QEMU maps it shared. Every step is checked:
 *
 *  1. libvirt, on a read-only connection to qemu:///system: the domain
 *     exists and is active, its memory size, and from its live XML
 *     whether its RAM is a shared file and its machine type. libvirt.so.0
 *     is dlopen()ed in a child process (ask_libvirt): libvirt's client
 *     waits without limit on a daemon that accepted the connection but
 *     does not answer (its keepalive needs the caller's event loop), so
 *     the child is given LIBVIRT_WAIT_S and then killed; libvirt and its
 *     state never enter this process, which may be an agent with threads.
 *  2. QEMU's pid, from the pid file libvirt has QEMU write (-pidfile
 *     QEMU_STATE_DIR/NAME.pid), checked against that process's command
 *     line: libvirt names the guest there (-name guest=NAME,...).
 *  3. In /proc/PID/maps, the shared mapping (s) of a file, at offset 0,
 *     as long as the domain's memory; that path, stat()ed, is a regular
 *     file of that size, the same inode on the same device.
 *
 * Only the system driver's domains: the RAM must be on this machine, and
 * qemu:///session keeps its pid files elsewhere. Runs as root (the pid
 * file, another user's /proc/PID/maps).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "gpufas.h"
#include "libvirt.h"

#define LIBVIRT_URI "qemu:///system"
#define QEMU_STATE_DIR "/run/libvirt/qemu" /* the system driver's stateDir */
#define LIBVIRT_WAIT_S 5.0   /* a local daemon answers in milliseconds */
#define NAME_MAX_LEN 200
#define CMDLINE_MAX (1u << 20) /* QEMU's, with libvirt's JSON: tens of KiB */
#define MAPS_MAX_LINES (1u << 18)

/* What the child learnt from libvirt, sent whole through a pipe (less
 * than PIPE_BUF: one write). */
struct domain_facts {
	int err;                 /* GF_OK, else why says what went wrong */
	char why[400];
	unsigned long long ram;  /* bytes, from virDomainInfo.maxMem (KiB) */
	int file, shared;        /* the live XML's <memoryBacking> */
	char machine[64];        /* <os><type machine='...'> */
};

/* ---- libvirt's client API (include/libvirt/), opened at run time ---- */

typedef struct virConnect *virConnectPtr;
typedef struct virDomain *virDomainPtr;

/* virDomainInfo, unchanged since libvirt's first releases. */
struct vir_domain_info {
	unsigned char state;
	unsigned long maxMem; /* KiB */
	unsigned long memory;
	unsigned short nrVirtCpu;
	unsigned long long cpuTime;
};

#define VIR_ERR_NO_DOMAIN 42 /* virterror.h */

static struct libvirt_api {
	void (*set_error_func)(void *, void (*)(void *, void *));
	virConnectPtr (*open_read_only)(const char *);
	int (*close)(virConnectPtr);
	virDomainPtr (*lookup_by_name)(virConnectPtr, const char *);
	int (*free_domain)(virDomainPtr);
	int (*is_active)(virDomainPtr);
	int (*get_info)(virDomainPtr, struct vir_domain_info *);
	char *(*get_xml_desc)(virDomainPtr, unsigned int);
	const char *(*last_error_message)(void); /* since 1.0.6 */
	int (*last_error_code)(void);            /* since 4.5.0 */
} api;

static void facts_error(struct domain_facts *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void facts_error(struct domain_facts *f, int err, const char *fmt, ...)
{
	va_list ap;

	f->err = err;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
}

static int load_api(struct domain_facts *f)
{
	void *lib = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
	const struct { void **at; const char *name; } syms[] = {
		{ (void **)&api.set_error_func, "virSetErrorFunc" },
		{ (void **)&api.open_read_only, "virConnectOpenReadOnly" },
		{ (void **)&api.close, "virConnectClose" },
		{ (void **)&api.lookup_by_name, "virDomainLookupByName" },
		{ (void **)&api.free_domain, "virDomainFree" },
		{ (void **)&api.is_active, "virDomainIsActive" },
		{ (void **)&api.get_info, "virDomainGetInfo" },
		{ (void **)&api.get_xml_desc, "virDomainGetXMLDesc" },
		{ (void **)&api.last_error_message, "virGetLastErrorMessage" },
		{ (void **)&api.last_error_code, "virGetLastErrorCode" },
	};

	if (!lib) {
		facts_error(f, GF_ENOLIB, "%s (libvirt's client library; Debian: "
			    "libvirt0)", dlerror());
		return GF_ENOLIB;
	}
	for (size_t i = 0; i < sizeof syms / sizeof *syms; i++)
		if (!(*syms[i].at = dlsym(lib, syms[i].name))) {
			facts_error(f, GF_ENOLIB, "libvirt.so.0 lacks %s (libvirt "
				    "older than 4.5)", syms[i].name);
			return GF_ENOLIB;
		}
	return GF_OK;
}

/* libvirt's default handler prints every error on stderr: ours are
 * reported once, in our words. */
static void quiet(void *data, void *error)
{
	(void)data;
	(void)error;
}

/* [from, to) of the domain's child element `name`, or NULL. The live XML
 * is libvirt's own formatting (virDomainDefFormat): the domain's children
 * two spaces in, attributes in single quotes. Only three facts are
 * wanted, so they are looked for as that text inside their parent's span
 * rather than by parsing XML: a deeper element of the same name (inside
 * an application's <metadata>, say) is never taken for the domain's. */
static const char *xml_child(const char *xml, const char *name, const char **to)
{
	char open[64], close[64];
	const char *at = xml, *end;
	size_t n;

	n = (size_t)snprintf(open, sizeof open, "\n  <%s", name);
	snprintf(close, sizeof close, "\n  </%s>", name);
	while ((at = strstr(at, open)) && at[n] != '>' && at[n] != ' ')
		at += n;
	if (!at || !(end = strstr(at, close)))
		return NULL;
	*to = end;
	return at;
}

static int span_has(const char *from, const char *to, const char *text)
{
	return memmem(from, (size_t)(to - from), text, strlen(text)) != NULL;
}

static void read_xml(const char *xml, struct domain_facts *f)
{
	const char *to, *mb = xml_child(xml, "memoryBacking", &to);
	const char *os, *type, *m, *q;

	if (mb) {
		f->file = span_has(mb, to, "<source type='file'/>");
		f->shared = span_has(mb, to, "<access mode='shared'/>");
	}
	if ((os = xml_child(xml, "os", &to)) &&
	    (type = memmem(os, (size_t)(to - os), "<type ", 6)) &&
	    (m = memmem(type, (size_t)(to - type), "machine='", 9)) &&
	    (q = memchr(m + 9, '\'', (size_t)(to - m - 9))))
		snprintf(f->machine, sizeof f->machine, "%.*s", (int)(q - m - 9), m + 9);
}

/* In the child: everything libvirt is asked. */
static void ask_libvirt(const char *name, struct domain_facts *f)
{
	struct vir_domain_info info;
	virConnectPtr conn;
	virDomainPtr dom = NULL;
	char *xml;
	int active;

	if (load_api(f))
		return;
	api.set_error_func(NULL, quiet);
	if (!(conn = api.open_read_only(LIBVIRT_URI))) {
		facts_error(f, GF_EIO, "cannot reach libvirtd (" LIBVIRT_URI "): %s",
			    api.last_error_message());
		return;
	}
	if (!(dom = api.lookup_by_name(conn, name))) {
		if (api.last_error_code() == VIR_ERR_NO_DOMAIN)
			facts_error(f, GF_ENOENT, "no libvirt domain of that name "
				    "(virsh list --all)");
		else
			facts_error(f, GF_EIO, "%s", api.last_error_message());
		goto out;
	}
	if ((active = api.is_active(dom)) <= 0) {
		if (active)
			facts_error(f, GF_EIO, "%s", api.last_error_message());
		else
			facts_error(f, GF_ENOENT, "the domain is not running (virsh "
				    "start %s)", name);
		goto out;
	}
	if (api.get_info(dom, &info) || !(xml = api.get_xml_desc(dom, 0))) {
		facts_error(f, GF_EIO, "%s", api.last_error_message());
		goto out;
	}
	read_xml(xml, f);
	free(xml); /* libvirt's strings are the caller's to free() */
	f->ram = info.maxMem * 1024ull;
	f->err = GF_OK;
out:
	if (dom)
		api.free_domain(dom);
	api.close(conn);
}

/* Reads len bytes from fd until the monotonic clock passes deadline;
 * what it got. */
static size_t read_until(int fd, void *buf, size_t len, double deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - gf_now_monotonic();
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (!p.revents)
			continue;
		if ((n = read(fd, (char *)buf + got, len - got)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* A child that asks libvirt and writes its facts to *fd's other end;
 * its pid, or -1. */
static pid_t spawn_query(const char *name, int *fd, char *err, size_t errlen)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == 0) {
		struct domain_facts mine = { .err = GF_EIO };

		close(fds[0]);
		signal(SIGALRM, SIG_DFL); /* ends it should we be gone by then */
		alarm((unsigned)LIBVIRT_WAIT_S + 1);
		ask_libvirt(name, &mine);
		_exit(write(fds[1], &mine, sizeof mine) == sizeof mine ? 0 : 1);
	}
	close(fds[1]);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		return -1;
	}
	*fd = fds[0];
	return pid;
}

/* The facts from a child that talks to libvirt, given LIBVIRT_WAIT_S:
 * GF_OK (what libvirt said is in f), GF_EIO (no child, or no answer from
 * it) or GF_EBUSY (none from libvirtd in time), with why in err. */
static int query_domain(const char *name, struct domain_facts *f, char *err,
			size_t errlen)
{
	double deadline = gf_now_monotonic() + LIBVIRT_WAIT_S;
	int fd, status = 0;
	pid_t pid = spawn_query(name, &fd, err, errlen);
	size_t got;

	if (pid < 0)
		return GF_EIO;
	memset(f, 0, sizeof *f);
	got = read_until(fd, f, sizeof *f, deadline);
	close(fd);
	if (got != sizeof *f)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof *f) {
		f->why[sizeof f->why - 1] = 0;
		f->machine[sizeof f->machine - 1] = 0;
		return GF_OK;
	}
	if (gf_now_monotonic() < deadline) {
		snprintf(err, errlen, "the libvirt query (a child process) ended "
			 "without an answer (%s %d)", WIFSIGNALED(status) ?
			 "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) :
			 WEXITSTATUS(status));
		return GF_EIO;
	}
	snprintf(err, errlen, "libvirtd (" LIBVIRT_URI ") gave no answer "
		 "within %.0f s", LIBVIRT_WAIT_S);
	return GF_EBUSY;
}

/* ---- what libvirt said, checked ---- */

/* libvirt's messages are one line; any control character becomes a
 * space, so that ours stay one line whatever they hold. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ')
			*s = ' ';
}

/* What to add to the domain's XML, when its RAM is no shared file. */
static void advise(const struct domain_facts *f, const char *name, char *err,
		   size_t errlen)
{
	const char *add = !f->file && !f->shared ?
		"add <memoryBacking><source type='file'/><access mode='shared'/>"
		"</memoryBacking> to the domain" :
		!f->shared ? "add <access mode='shared'/> inside the domain's "
			     "<memoryBacking>" :
		"put <source type='file'/> inside the domain's <memoryBacking>, "
		"in place of any other <source>";

	snprintf(err, errlen, "its RAM is not %s: %s (virsh edit %s), then shut "
		 "it down and start it again", !f->file && !f->shared ?
		 "a shared file" : !f->shared ? "shared" : "in a file", add, name);
}

/* target.c's layout for QEMU's machine type: libvirt names the versioned
 * one (pc-q35-7.2, pc-i440fx-7.2; old ones pc-1.0 ...), or an alias.
 * GF_OK, or GF_EINVAL for another machine. */
static int machine_layout(const char *machine, char out[8])
{
	if (!strcmp(machine, "q35") || !strncmp(machine, "pc-q35-", 7))
		strcpy(out, "q35");
	else if (!strcmp(machine, "pc") || !strncmp(machine, "pc-", 3))
		strcpy(out, "pc");
	else
		return GF_EINVAL;
	return GF_OK;
}

/* Up to len bytes of a small file (/proc, a pid file): how many, or -1. */
static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	while (got < len && ((n = read(fd, buf + got, len - got)) > 0 ||
			     (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	close(fd);
	return n < 0 ? -1 : (ssize_t)got;
}

/* libvirt passes -name guest=NAME,debug-threads=on, a comma in NAME
 * doubled (QEMU's option syntax). */
static int names_guest(const char *arg, const char *name)
{
	if (strncmp(arg, "guest=", 6))
		return 0;
	arg += 6;
	for (; *name; name++) {
		if (*arg++ != *name)
			return 0;
		if (*name == ',' && *arg++ != ',')
			return 0;
	}
	return *arg == 0 || *arg == ',';
}

/* Does process pid run this domain's QEMU? */
static int is_domains_qemu(pid_t pid, const char *name)
{
	char path[64], *buf = malloc(CMDLINE_MAX + 1);
	ssize_t n = -1;
	int yes = 0;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if (buf && (n = read_file(path, buf, CMDLINE_MAX)) > 0) {
		buf[n] = 0;
		for (char *a = buf; !yes && a + strlen(a) + 1 < buf + n;
		     a += strlen(a) + 1)
			yes = !strcmp(a, "-name") && names_guest(a + strlen(a) + 1, name);
	}
	free(buf);
	return yes;
}

/* The domain's QEMU, from its pid file: GF_OK, GF_EIO (no pid file),
 * GF_ECORRUPT (no pid in it) or GF_ESRCH (not the domain's QEMU). */
static int qemu_pid(const char *name, pid_t *pid, char *err, size_t errlen)
{
	char path[sizeof QEMU_STATE_DIR + NAME_MAX_LEN + 8], text[32], *end;
	ssize_t n;
	long v;

	snprintf(path, sizeof path, QEMU_STATE_DIR "/%s.pid", name);
	if ((n = read_file(path, text, sizeof text - 1)) < 0) {
		snprintf(err, errlen, "QEMU's pid file %s: %s%s", path, strerror(errno),
			 errno == EACCES ? " (run as root)" : "");
		return GF_EIO;
	}
	text[n] = 0;
	v = strtol(text, &end, 10);
	if (end == text || (*end && *end != '\n') || v <= 1 || v > 1 << 22) {
		snprintf(err, errlen, "QEMU's pid file %s holds no pid", path);
		return GF_ECORRUPT;
	}
	*pid = (pid_t)v;
	if (!is_domains_qemu(*pid, name)) {
		snprintf(err, errlen, "pid %ld (from %s) is not the domain's QEMU "
			 "(no -name guest=%s in /proc/%ld/cmdline)", v, path, name, v);
		return GF_ESRCH;
	}
	return GF_OK;
}

/* The path of the file QEMU maps shared at offset 0, ram bytes long, with
 * its device and inode: GF_OK, or GF_ENOENT when there is none. */
static int ram_mapping(FILE *maps, unsigned long long ram, char *path,
		       size_t pathlen, dev_t *dev, ino_t *ino)
{
	char *line = NULL;
	size_t len = 0;
	int found = GF_ENOENT;

	for (unsigned i = 0; found && i < MAPS_MAX_LINES &&
	     getline(&line, &len, maps) > 0; i++) {
		unsigned long long from, to, off;
		unsigned long inode;
		unsigned major, minor;
		char perms[5];
		int at = 0;

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "%llx-%llx %4s %llx %x:%x %lu %n", &from, &to,
			   perms, &off, &major, &minor, &inode, &at) != 7 || !at ||
		    perms[3] != 's' || off || !inode || to - from != ram ||
		    line[at] != '/' || strlen(line + at) >= pathlen)
			continue;
		strcpy(path, line + at);
		*dev = makedev(major, minor);
		*ino = (ino_t)inode;
		found = GF_OK;
	}
	free(line);
	return found;
}

/* GF_OK, GF_EIO (no maps to read), or GF_ENOENT: no such mapping, or its
 * file is not there as mapped. */
static int find_ram_file(pid_t pid, unsigned long long ram,
			 struct libvirt_ram *out, char *err, size_t errlen)
{
	char maps_path[64];
	struct stat st;
	FILE *maps;
	dev_t dev;
	ino_t ino;
	int none;

	snprintf(maps_path, sizeof maps_path, "/proc/%d/maps", (int)pid);
	if (!(maps = fopen(maps_path, "re"))) {
		snprintf(err, errlen, "%s: %s", maps_path, strerror(errno));
		return GF_EIO;
	}
	none = ram_mapping(maps, ram, out->path, sizeof out->path, &dev, &ino);
	fclose(maps);
	if (none) {
		snprintf(err, errlen, "its QEMU (pid %d) maps no shared file of the "
			 "domain's %llu MiB at offset 0 (RAM split over NUMA cells or "
			 "memory hotplug is not supported)", (int)pid, ram >> 20);
		return none;
	}
	if (stat(out->path, &st) || !S_ISREG(st.st_mode) || st.st_dev != dev ||
	    st.st_ino != ino || (unsigned long long)st.st_size != ram) {
		snprintf(err, errlen, "%s, which its QEMU (pid %d) maps as RAM, is "
			 "gone or not that file any more", out->path, (int)pid);
		return GF_ENOENT;
	}
	return GF_OK;
}

static int valid_name(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > NAME_MAX_LEN || strchr(name, '/'))
		return 0;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < ' ')
			return 0;
	return 1;
}

int libvirt_find_ram(const char *name, struct libvirt_ram *ram, char *err,
		     size_t errlen)
{
	struct domain_facts f;
	pid_t pid;
	int rc;

	if (!valid_name(name)) {
		snprintf(err, errlen, "not a libvirt domain name (1 to %d "
			 "characters, no '/')", NAME_MAX_LEN);
		return GF_EINVAL;
	}
	if ((rc = query_domain(name, &f, err, errlen)))
		return rc;
	one_line(f.why);
	one_line(f.machine);
	if (f.err) {
		snprintf(err, errlen, "%s", f.why);
		return f.err;
	}
	if (!f.file || !f.shared) {
		advise(&f, name, err, errlen);
		return GF_EINVAL;
	}
	if ((rc = machine_layout(f.machine, ram->machine))) {
		snprintf(err, errlen, "machine type '%s': gpufas knows the RAM "
			 "layout of QEMU's pc and q35 only", f.machine);
		return rc;
	}
	if ((rc = qemu_pid(name, &pid, err, errlen)))
		return rc;
	return find_ram_file(pid, f.ram, ram, err, errlen);
}
