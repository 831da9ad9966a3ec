// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>
#include "output/escape.h"
#include "output/json.h"

void json_string(FILE *out, const char *s)
{
	size_t len = strlen(s);

	fputc('"', out);
	while (len) {
		unsigned int cp;
		int n = utf8_decode(s, len, &cp);

		if (n < 0) {
			/* not UTF-8, so not a JSON string: the replacement character stands in */
			fputs("\\ufffd", out);
			n = -n;
		} else if (cp == '"' || cp == '\\') {
			fprintf(out, "\\%c", cp);
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			/* JSON needs only C0 escaped; DEL and C1 too keep a `cat` of it inert */
			fprintf(out, "\\u%04x", cp);
		} else {
			fwrite(s, 1, n, out);
		}
		s += n;
		len -= n;
	}
	fputc('"', out);
}
