/* qmp.c — QEMU's machine protocol over a UNIX socket (see qmp.h). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gpufas.h"
#include "qmp.h"

/* The longest line taken from QEMU: query-block of a guest with many
 * disks and snapshots is kilobytes; a line past this is not QMP. */
#define QMP_MAX_LINE (4u << 20)
/* Lines read while waiting for one reply: events may come between. */
#define QMP_MAX_LINES 10000
/* query-jobs polls while a job runs. */
#define QMP_JOB_POLL_MS 2

static int qmp_error(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static double now_ms(void)
{
	return gf_now_monotonic() * 1e3;
}

static int send_all(struct gf_qmp *q, const char *s, size_t len, char *err,
		    size_t errlen)
{
	while (len) {
		ssize_t n = send(q->fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return qmp_error(err, errlen, GF_EFAULT, "QMP %s: send: %s",
					 q->path, strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return GF_OK;
}

/* Reads more of the socket into q->buf, waiting at most until deadline. */
static int fill(struct gf_qmp *q, double deadline, char *err, size_t errlen)
{
	struct pollfd p = { .fd = q->fd, .events = POLLIN };
	double left = deadline - now_ms();
	ssize_t n;
	int r;

	if (left <= 0)
		return qmp_error(err, errlen, GF_EBUSY, "QMP %s: no answer in %d ms",
				 q->path, q->timeout_ms);
	r = poll(&p, 1, (int)left + 1);
	if (r < 0 && errno == EINTR)
		return GF_OK;
	if (r < 0)
		return qmp_error(err, errlen, GF_EFAULT, "QMP %s: poll: %s", q->path,
				 strerror(errno));
	if (r == 0)
		return qmp_error(err, errlen, GF_EBUSY, "QMP %s: no answer in %d ms",
				 q->path, q->timeout_ms);
	if (q->cap - q->len < 65536) {
		size_t cap = q->cap ? 2 * q->cap : 65536;
		char *b;
		if (cap > QMP_MAX_LINE + 65536)
			return qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: a line "
					 "longer than %u bytes: not QMP", q->path,
					 QMP_MAX_LINE);
		if (!(b = realloc(q->buf, cap)))
			return qmp_error(err, errlen, GF_ENOMEM, "QMP: out of memory");
		q->buf = b;
		q->cap = cap;
	}
	n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);
	if (n < 0 && errno == EINTR)
		return GF_OK;
	if (n < 0)
		return qmp_error(err, errlen, GF_EFAULT, "QMP %s: recv: %s", q->path,
				 strerror(errno));
	if (n == 0)
		return qmp_error(err, errlen, GF_EFAULT, "QMP %s: QEMU closed the "
				 "connection", q->path);
	q->len += (size_t)n;
	return GF_OK;
}

json_object *gf_qmp_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *gf_qmp_str(json_object *o, const char *key)
{
	json_object *v = gf_qmp_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v)
							 : NULL;
}

json_object *gf_qmp_obj(json_object *o, const char *key)
{
	json_object *v = gf_qmp_get(o, key);

	return json_object_is_type(v, json_type_object) ? v : NULL;
}

/* The next line from QEMU, parsed: a JSON object, else GF_ECORRUPT. */
static int read_object(struct gf_qmp *q, double deadline, json_object **out,
		       char *err, size_t errlen)
{
	enum json_tokener_error je = json_tokener_success;
	json_object *o;
	char *nl;
	size_t line;
	int rc;

	/* ends with a line, or fill()'s error: at the latest, the deadline */
	while (!(nl = q->len ? memchr(q->buf, '\n', q->len) : NULL)) {
		if (q->len > QMP_MAX_LINE)
			return qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: a line "
					 "longer than %u bytes: not QMP", q->path,
					 QMP_MAX_LINE);
		if ((rc = fill(q, deadline, err, errlen)))
			return rc;
	}
	*nl = 0;
	line = (size_t)(nl - q->buf) + 1;
	o = memchr(q->buf, 0, line - 1) ? NULL : json_tokener_parse_verbose(q->buf, &je);
	memmove(q->buf, q->buf + line, q->len - line);
	q->len -= line;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: not QMP: %s",
				 q->path, o ? "a JSON value that is no object" :
				 je != json_tokener_success ? json_tokener_error_desc(je)
				 : "a NUL byte in a line");
	}
	*out = o;
	return GF_OK;
}

/* QEMU's {"error": {"class": ..., "desc": ...}} as one line. */
static int qemu_said_no(json_object *e, const char *cmd, char *err, size_t errlen)
{
	const char *cls = gf_qmp_str(e, "class"), *desc = gf_qmp_str(e, "desc");

	return qmp_error(err, errlen, GF_EREFUSED, "QEMU refused %s: %s (%s)", cmd,
			 desc ? desc : "no description", cls ? cls : "no class");
}

/* The reply to command number id: lines with an event are passed over. */
static int read_reply(struct gf_qmp *q, const char *cmd, json_object **ret,
		      char *err, size_t errlen)
{
	double deadline = now_ms() + q->timeout_ms;

	for (int i = 0; i < QMP_MAX_LINES; i++) {
		json_object *o, *v, *idv;
		int64_t id;
		int rc = read_object(q, deadline, &o, err, errlen);
		if (rc)
			return rc;
		idv = gf_qmp_get(o, "id");
		id = json_object_is_type(idv, json_type_int) ? json_object_get_int64(idv) : -1;
		/* events, and late replies to commands that timed out */
		if (gf_qmp_get(o, "event") || (id > 0 && id < (int64_t)q->id)) {
			json_object_put(o);
			continue;
		}
		if (id != (int64_t)q->id) {
			json_object_put(o);
			return qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: a reply to "
					 "another command than %s", q->path, cmd);
		}
		if ((v = gf_qmp_get(o, "error"))) {
			rc = qemu_said_no(v, cmd, err, errlen);
		} else if (!(v = gf_qmp_get(o, "return"))) {
			rc = qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: a reply to %s "
				       "with neither return nor error", q->path, cmd);
		} else if (ret) {
			*ret = json_object_get(v);
		}
		json_object_put(o);
		return rc;
	}
	return qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: %d events and no "
			 "reply to %s", q->path, QMP_MAX_LINES, cmd);
}

int gf_qmp_call(struct gf_qmp *q, const char *cmd, json_object *args,
		json_object **ret, char *err, size_t errlen)
{
	json_object *msg = json_object_new_object();
	const char *text;
	int rc;

	if (ret)
		*ret = NULL;
	if (!msg) {
		json_object_put(args);
		return qmp_error(err, errlen, GF_ENOMEM, "QMP: out of memory");
	}
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	json_object_object_add(msg, "id", json_object_new_int64(++q->id));
	if (args)
		json_object_object_add(msg, "arguments", args);
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	rc = text ? send_all(q, text, strlen(text), err, errlen)
		  : qmp_error(err, errlen, GF_ENOMEM, "QMP: out of memory");
	if (!rc)
		rc = send_all(q, "\n", 1, err, errlen);
	json_object_put(msg);
	return rc ? rc : read_reply(q, cmd, ret, err, errlen);
}

static int greeting(struct gf_qmp *q, char *err, size_t errlen)
{
	json_object *o;
	int rc = read_object(q, now_ms() + q->timeout_ms, &o, err, errlen);
	size_t len = strlen(err);

	if (rc == GF_EBUSY) /* a QMP socket serves one client at a time */
		snprintf(err + len, errlen - len, " (another client on this QMP "
			 "socket? give gpufas a -qmp of its own)");
	if (rc)
		return rc;
	if (!gf_qmp_obj(o, "QMP"))
		rc = qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: no QMP greeting: "
			       "not a QEMU QMP socket", q->path);
	json_object_put(o);
	return rc;
}

int gf_qmp_open(struct gf_qmp *q, const char *path, int timeout_ms,
		char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	memset(q, 0, sizeof *q);
	q->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof sa.sun_path || strlen(path) >= sizeof q->path) {
		q->fd = -1;
		return qmp_error(err, errlen, GF_EINVAL, "QMP socket path too long: %s",
				 path);
	}
	strcpy(q->path, path);
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof sa)) {
		rc = qmp_error(err, errlen, GF_EFAULT, "QMP %s: %s (is QEMU running "
			       "with -qmp unix:%s,server=on,wait=off?)", path,
			       strerror(errno), path);
		gf_qmp_close(q);
		return rc;
	}
	if ((rc = greeting(q, err, errlen)) ||
	    (rc = gf_qmp_call(q, "qmp_capabilities", NULL, NULL, err, errlen)))
		gf_qmp_close(q);
	return rc;
}

void gf_qmp_close(struct gf_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	q->fd = -1;
	q->buf = NULL;
	q->len = q->cap = 0;
}

int gf_qmp_status(struct gf_qmp *q, char *state, size_t statelen, int *running,
		  char *err, size_t errlen)
{
	json_object *r, *run;
	const char *s;
	int rc = gf_qmp_call(q, "query-status", NULL, &r, err, errlen);

	if (rc)
		return rc;
	s = gf_qmp_str(r, "status");
	run = gf_qmp_get(r, "running");
	if (!s || !json_object_is_type(run, json_type_boolean)) {
		json_object_put(r);
		return qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: query-status "
				 "without status or running", q->path);
	}
	snprintf(state, statelen, "%s", s);
	*running = json_object_get_boolean(run);
	json_object_put(r);
	return GF_OK;
}

/* The job's entry in query-jobs: its status, and its error if any.
 * 0: found; GF_ESRCH: not listed. */
static int job_state(struct gf_qmp *q, const char *job_id, char *status,
		     size_t statuslen, char *why, size_t whylen, char *err,
		     size_t errlen)
{
	json_object *jobs;
	size_t n;
	int rc = gf_qmp_call(q, "query-jobs", NULL, &jobs, err, errlen);

	if (rc)
		return rc;
	rc = GF_ESRCH;
	n = json_object_is_type(jobs, json_type_array) ? json_object_array_length(jobs) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *j = json_object_array_get_idx(jobs, i);
		const char *id = gf_qmp_str(j, "id"), *st = gf_qmp_str(j, "status");
		const char *e = gf_qmp_str(j, "error");
		if (!id || strcmp(id, job_id))
			continue;
		if (!st) {
			rc = qmp_error(err, errlen, GF_ECORRUPT, "QMP %s: job %s "
				       "without status", q->path, job_id);
			break;
		}
		snprintf(status, statuslen, "%s", st);
		snprintf(why, whylen, "%s", e ? e : "");
		rc = GF_OK;
		break;
	}
	json_object_put(jobs);
	if (rc == GF_ESRCH)
		qmp_error(err, errlen, rc, "QMP %s: job %s is not listed by "
			  "query-jobs", q->path, job_id);
	return rc;
}

int gf_qmp_job(struct gf_qmp *q, const char *cmd, json_object *args,
	       const char *job_id, int timeout_ms, char *err, size_t errlen)
{
	double deadline = now_ms() + timeout_ms;
	char status[32] = "", why[400] = "";
	json_object *id;
	int rc;

	if ((rc = gf_qmp_call(q, cmd, args, NULL, err, errlen)))
		return rc;
	/* bounded by the deadline: at most timeout_ms / QMP_JOB_POLL_MS polls */
	while (!(rc = job_state(q, job_id, status, sizeof status, why, sizeof why,
				err, errlen)) && strcmp(status, "concluded")) {
		if (now_ms() > deadline)
			return qmp_error(err, errlen, GF_EBUSY, "QMP %s: %s not done in "
					 "%d ms (job %s is %s)", q->path, cmd,
					 timeout_ms, job_id, status);
		gf_sleep(QMP_JOB_POLL_MS / 1e3);
	}
	if (rc)
		return rc;
	id = json_object_new_object();
	json_object_object_add(id, "id", json_object_new_string(job_id));
	rc = gf_qmp_call(q, "job-dismiss", id, NULL, err, errlen);
	if (why[0])
		return qmp_error(err, errlen, GF_EREFUSED, "QEMU: %s failed: %s", cmd, why);
	return rc;
}
