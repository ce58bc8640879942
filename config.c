/* config.c — config.ini, read with inih.
 *
 *   [target]  default = vm:PATH      used when no --target is given
 *   [kill]    signal = KILL          the signal --kill sends by default
 *   [engine]  kind = auto            where the introspection runs: auto,
 *             gpu = 0                cpu or gpu; which GPU
 *   [profile] NAME = VALUE           symbols, offsets and constants by hand,
 *                                    for kernels without BTF (see layout.c)
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "gpufas.h"

struct parse_state {
	struct gf_config *c;
	char *err;
	size_t errlen;
};

void config_defaults(struct gf_config *c)
{
	memset(c, 0, sizeof *c);
	c->signal = 9;
	strcpy(c->engine, "auto");
}

/* inih goes on after an error and returns the first one's line number:
 * keep the first message to go with it. */
static int fail(struct parse_state *ps, const char *what, const char *value)
{
	if (!ps->err[0])
		snprintf(ps->err, ps->errlen, "%s '%s'", what, value);
	return 0;
}

/* Decimal, or hex with 0x: no sign, no octal, nothing left over. */
static int parse_number(const char *s, uint64_t *v)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char *end;

	if (!isdigit((unsigned char)s[0]) || (hex && !isxdigit((unsigned char)s[2])))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, hex ? 16 : 10);
	return errno || *end ? -1 : 0;
}

static int add_profile(struct parse_state *ps, const char *key,
		       const char *value)
{
	struct gf_config *c = ps->c;
	struct gf_profile_entry *e;

	if (c->nprofile == GF_MAX_PROFILE || strlen(key) >= sizeof e->key)
		return fail(ps, "too many or too long [profile] keys at", key);
	e = &c->profile[c->nprofile];
	if (parse_number(value, &e->value))
		return fail(ps, "[profile] wants a decimal or 0x number, not", value);
	strcpy(e->key, key);
	c->nprofile++;
	return 1;
}

static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct parse_state *ps = user;

	if (!strcmp(section, "target") && !strcmp(key, "default")) {
		if (strlen(value) >= sizeof ps->c->target)
			return fail(ps, "target too long", value);
		strcpy(ps->c->target, value);
	} else if (!strcmp(section, "kill") && !strcmp(key, "signal")) {
		if ((ps->c->signal = signal_parse(value)) < 0)
			return fail(ps, "unknown signal", value);
	} else if (!strcmp(section, "engine") && !strcmp(key, "kind")) {
		if (strcmp(value, "auto") && strcmp(value, "cpu") && strcmp(value, "gpu"))
			return fail(ps, "engine must be auto, cpu or gpu, not", value);
		strcpy(ps->c->engine, value);
	} else if (!strcmp(section, "engine") && !strcmp(key, "gpu")) {
		uint64_t n;
		if (parse_number(value, &n) || n > 64)
			return fail(ps, "gpu wants a GPU number, not", value);
		ps->c->gpu = (int)n;
	} else if (!strcmp(section, "profile")) {
		return add_profile(ps, key, value);
	} else {
		return fail(ps, "unknown setting", key);
	}
	return 1;
}

int config_load(struct gf_config *c, const char *path, char *err,
		size_t errlen)
{
	char msg[256] = "";
	struct parse_state ps = { c, msg, sizeof msg };
	int rc = ini_parse(path, handler, &ps);

	if (rc == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else if (rc == -2)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (rc > 0)
		snprintf(err, errlen, "%s: line %d: %s", path, rc,
			 msg[0] ? msg : "syntax error");
	return rc ? -1 : 0;
}

int config_profile(const struct gf_config *c, const char *key,
		   uint64_t *value)
{
	for (uint32_t i = 0; i < c->nprofile; i++)
		if (!strcmp(c->profile[i].key, key)) {
			*value = c->profile[i].value;
			return 0;
		}
	return -1;
}
