/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The inverse of escape.h's escaping, for the round trips of its unit test and fuzzer. */
#ifndef MW_TEST_UNESCAPE_H
#define MW_TEST_UNESCAPE_H

#include <stdlib.h>

/* The escaped text @s read back into @out; its length. */
static inline size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (s[0] == '\\' && s[1] == '\\') {
			out[n++] = '\\';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x') {
			char hex[3] = { s[2], s[3], 0 };

			out[n++] = strtoul(hex, NULL, 16);
			s += 4;
		} else {
			out[n++] = *s++;
		}
	}
	return n;
}

#endif /* MW_TEST_UNESCAPE_H */
