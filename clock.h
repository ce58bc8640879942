/* clock.h — the host's clocks and naps (clock.c): seconds as doubles, the
 * way every timeout and event in gpufas is kept. A leaf header. Device
 * code has its own clock (the loop's `now`, given by its runner). */
#ifndef GPUFAS_CLOCK_H
#define GPUFAS_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC: for intervals and deadlines. */
double gf_now_monotonic(void);
/* Unix seconds: what events and the board show people. */
double gf_now_wall(void);
/* `seconds` from now on the wall clock, as pthread_cond_timedwait()
 * wants. */
struct timespec gf_wall_deadline(double seconds);
/* Sleeps `seconds` (none if not positive; interrupted early by a
 * signal). */
void gf_sleep(double seconds);
/* Sleeps until `t` on the monotonic clock (gf_now_monotonic's): 0, or EINTR
 * when a signal came first. */
int gf_sleep_until(double t);
/* A growing nap, for polling something that may take a while: sleeps
 * *nap, then doubles it, up to `most`. */
void gf_nap(double *nap, double most);

#endif
