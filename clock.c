/* clock.c — the host's clocks and naps (clock.h). */
#include "clock.h"

/* seconds (not negative) as a timespec */
static struct timespec timespec_of(double seconds)
{
	return (struct timespec){ (time_t)seconds,
				  (long)((seconds - (time_t)seconds) * 1e9) };
}

static double clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double gf_now_monotonic(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

double gf_now_wall(void)
{
	return clock_seconds(CLOCK_REALTIME);
}

struct timespec gf_wall_deadline(double seconds)
{
	struct timespec ts, add = timespec_of(seconds);

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += add.tv_sec;
	ts.tv_nsec += add.tv_nsec;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void gf_sleep(double seconds)
{
	struct timespec ts = timespec_of(seconds);

	if (seconds > 0)
		nanosleep(&ts, NULL);
}

int gf_sleep_until(double t)
{
	struct timespec ts = timespec_of(t > 0 ? t : 0);

	return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void gf_nap(double *nap, double most)
{
	gf_sleep(*nap);
	*nap = *nap * 2 < most ? *nap * 2 : most;
}
