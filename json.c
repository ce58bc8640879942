/* json.c — the little JSON that gpufas writes. */
#include "gpufas.h"

/* Writes s as a JSON string. Guest strings are untrusted bytes: controls,
 * quotes and anything outside printable ASCII are escaped, so the output
 * is always valid JSON (non-ASCII bytes read as Latin-1). */
void json_string(FILE *f, const char *s, size_t maxlen)
{
	fputc('"', f);
	for (size_t i = 0; i < maxlen && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
