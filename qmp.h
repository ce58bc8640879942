/* qmp.h — a small client of QEMU's machine protocol (QMP) over its UNIX
 * socket: QEMU started with -qmp unix:SOCKET,server=on,wait=off.
 *
 * JSON objects, one a line, through json-c. After the greeting and
 * qmp_capabilities, each command is sent with an id and its reply is the
 * next line carrying that id; asynchronous events between are skipped.
 * Every wait is bounded by the client's timeout: a socket that is gone,
 * stays silent or answers garbage gives one line in err, never a hang.
 * Functions return GF_OK or a GF_E* code (gpufas.h) with err set:
 * GF_EBUSY no answer in time, GF_ECORRUPT not QMP, GF_EREFUSED QEMU said
 * no (err holds its class and description, or why a job failed),
 * GF_EFAULT the socket failed, GF_ENOMEM; GF_EINVAL a socket path too
 * long.
 */
#ifndef GPUFAS_QMP_H
#define GPUFAS_QMP_H

#include <json-c/json.h>
#include <stddef.h>

struct gf_qmp {
	int fd;
	int timeout_ms;   /* for each wait on the socket */
	unsigned id;      /* the last command's */
	char *buf;        /* bytes read, not consumed yet */
	size_t len, cap;
	char path[108];
};

int gf_qmp_open(struct gf_qmp *q, const char *path, int timeout_ms,
		char *err, size_t errlen);
void gf_qmp_close(struct gf_qmp *q);

/* Runs cmd with args (a JSON object, or NULL; its reference is taken
 * either way). On GF_OK, *ret (when ret is not NULL) holds the reply's
 * "return" value, a reference for the caller to json_object_put(). */
int gf_qmp_call(struct gf_qmp *q, const char *cmd, json_object *args,
		json_object **ret, char *err, size_t errlen);

/* query-status: QEMU's run state ("running", "paused", ...), and whether
 * the guest's CPUs run. */
int gf_qmp_status(struct gf_qmp *q, char *state, size_t statelen, int *running,
		  char *err, size_t errlen);

/* Starts a job command (snapshot-save, snapshot-load, snapshot-delete)
 * under job_id, polls query-jobs until it concludes or timeout_ms pass,
 * dismisses it, and says why it failed where it did. */
int gf_qmp_job(struct gf_qmp *q, const char *cmd, json_object *args,
	       const char *job_id, int timeout_ms, char *err, size_t errlen);

/* A member of a JSON object, or NULL: of any type, a string's text, an
 * object; NULL too where o is not an object or the type differs. */
json_object *gf_qmp_get(json_object *o, const char *key);
const char *gf_qmp_str(json_object *o, const char *key);
json_object *gf_qmp_obj(json_object *o, const char *key);

#endif
