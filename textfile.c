/* textfile.c — the Prometheus exposition (prom.c) for node_exporter's
 * textfile collector: written every period to a temporary file beside
 * the target path, then renamed over it, so that the collector reads
 * either the old file or the new one, always whole. A thread of its own
 * writes it, from the hub's copies: a slow disk never holds up the
 * agent's loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gpufas.h"
#include "prom.h"
#include "sdnotify.h"

struct textfile {
	struct hub *hub;
	char path[256];
	double period_s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
	char last_error[512]; /* said once until it changes */
};

/* One write: path.tmp.PID, flushed, renamed over path. GF_OK; GF_EINVAL
 * (too long a path), GF_ENOMEM or GF_EIO, with why in err. */
int textfile_write(struct hub *h, const char *path, char *err, size_t errlen)
{
	char tmp[300];
	FILE *f;
	int rc;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return GF_EINVAL;
	}
	if (!(f = fopen(tmp, "w"))) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return GF_EIO;
	}
	errno = 0;
	rc = prom_hub(f, h);
	if (ferror(f) || fflush(f) || fsync(fileno(f)))
		rc = GF_EIO;
	if (fclose(f))
		rc = GF_EIO;
	if (rc) {
		snprintf(err, errlen, "%s: %s", tmp, errno ? strerror(errno) : "out of memory");
	} else if (rename(tmp, path)) {
		snprintf(err, errlen, "rename to %s: %s", path, strerror(errno));
		rc = GF_EIO;
	}
	if (rc)
		unlink(tmp);
	return rc;
}

static void *writer(void *arg)
{
	struct textfile *t = arg;
	char err[512];

	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		struct timespec until = gf_wall_deadline(t->period_s);
		pthread_mutex_unlock(&t->lock);
		if (textfile_write(t->hub, t->path, err, sizeof err) == GF_OK)
			t->last_error[0] = 0;
		else if (strcmp(err, t->last_error)) {
			gf_notify_log(LOG_WARNING, "textfile: %s", err);
			snprintf(t->last_error, sizeof t->last_error, "%s", err);
		}
		pthread_mutex_lock(&t->lock);
		while (!t->stopping &&
		       pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct textfile *textfile_start(struct hub *h, const char *path,
				double period_s, char *err, size_t errlen)
{
	struct textfile *t = calloc(1, sizeof *t);
	int rc;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->hub = h;
	t->period_s = period_s;
	snprintf(t->path, sizeof t->path, "%s", path);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	if ((rc = pthread_create(&t->thread, NULL, writer, t))) {
		snprintf(err, errlen, "cannot start the textfile writer: %s", strerror(rc));
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return NULL;
	}
	return t;
}

void textfile_stop(struct textfile *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
