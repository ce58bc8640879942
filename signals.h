/* signals.h — signal names and numbers (signals.c).
 */
#ifndef GPUFAS_SIGNALS_H
#define GPUFAS_SIGNALS_H

int signal_parse(const char *s);
const char *signal_name(int sig);

#endif
