// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * libFuzzer target: the escaping of target-controlled text, folded stacks'
 * frames and JSON strings. The first input byte bounds the buffer; the rest
 * is the text. Aborts when an output holds a raw control or invalid UTF-8,
 * overruns its buffer, (text) does not read back to a prefix of the input,
 * or (a folded frame) holds a ';' or does not read back whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/escape.h"
#include "output/json.h"
#include "../unit/unescape.h"

/* Whether @s (@len bytes) is valid UTF-8 with no C0, DEL or C1 character. */
static int printable(const char *s, size_t len)
{
	while (len) {
		unsigned int cp;
		int n = utf8_decode(s, len, &cp);

		if (n < 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
		s += n;
		len -= n;
	}
	return 1;
}

static void check_text(const char *text, size_t len, size_t size)
{
	char *buf = malloc(size + 1), *back = malloc(size + 1);
	size_t n;

	if (!buf || !back)
		goto cleanup;
	buf[size] = 0x5a;
	escape_mem(buf, size, text, len);
	if (buf[size] != 0x5a || !printable(buf, strlen(buf)))
		abort();
	n = unescape(buf, back);
	if (n > len || memcmp(back, text, n))
		abort();
	/* room for everything: all of it comes back */
	if (size >= ESCAPED_SIZE(len) && n != len)
		abort();
cleanup:
	free(buf);
	free(back);
}

/* A folded stack's frame: no ';', and it reads back whole. */
static void check_folded(const char *text, size_t len)
{
	char *out = NULL, *back;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	if (!f)
		return;
	escape_write_folded(f, text, len);
	fclose(f);
	back = malloc(size + 1);
	if (back && (!printable(out, size) || memchr(out, ';', size) ||
		     unescape(out, back) != len || memcmp(back, text, len)))
		abort();
	free(back);
	free(out);
}

static void check_json(const char *text)
{
	char *out = NULL, *s;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	if (!f)
		return;
	json_string(f, text);
	fclose(f);
	if (size < 2 || out[0] != '"' || out[size - 1] != '"' || !printable(out, size))
		abort();
	/* inside the quotes: only JSON's escapes, and no bare quote */
	for (s = out + 1; s < out + size - 1; s++) {
		if (*s == '"')
			abort();
		if (*s != '\\')
			continue;
		s++;
		if (*s == 'u' && strspn(s + 1, "0123456789abcdef") >= 4)
			s += 4;
		else if (*s != '"' && *s != '\\')
			abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	size_t len;

	if (!size)
		return 0;
	len = size - 1;
	text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, len);
	text[len] = '\0';
	check_text(text, len, data[0] ? data[0] : ESCAPED_SIZE(len));
	check_folded(text, len);
	/* a C string ends at its first NUL */
	check_json(text);
	free(text);
	return 0;
}
