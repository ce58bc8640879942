/* signals.c — signal names and numbers, as kill(1) spells them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signals.h"

/* x86-64 numbering (arch/x86/include/uapi/asm/signal.h). */
static const char *const names[32] = {
	NULL,   "HUP",  "INT",    "QUIT", "ILL",    "TRAP", "ABRT", "BUS",
	"FPE",  "KILL", "USR1",   "SEGV", "USR2",   "PIPE", "ALRM", "TERM",
	"STKFLT", "CHLD", "CONT", "STOP", "TSTP",   "TTIN", "TTOU", "URG",
	"XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",  "IO",   "PWR",  "SYS",
};

/* "9", "KILL" or "SIGKILL", any case; -1 if none of 1..31. */
int signal_parse(const char *s)
{
	char *end;
	long n;

	if (isdigit((unsigned char)s[0])) {
		n = strtol(s, &end, 10);
		return (*end || n < 1 || n > 31) ? -1 : (int)n;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < 32; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	return -1;
}

const char *signal_name(int sig)
{
	return sig >= 1 && sig < 32 ? names[sig] : "?";
}
