/* json.h — JSON output helpers (json.c).
 */
#ifndef GPUFAS_JSON_H
#define GPUFAS_JSON_H

#include <stddef.h>
#include <stdio.h>

struct gf_task;

void json_string(FILE *f, const char *s, size_t maxlen);
void json_task(FILE *f, const struct gf_task *t, const double *cpu_pct);

#endif
