/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The fuzzers' input as the NUL-terminated text the /proc parsers take. */
#ifndef MW_FUZZ_TEXT_H
#define MW_FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of @data with a NUL after it, NULL if out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif /* MW_FUZZ_TEXT_H */
