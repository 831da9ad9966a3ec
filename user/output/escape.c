// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdbool.h>
#include <string.h>
#include "output/escape.h"

int utf8_decode(const char *s, size_t len, unsigned int *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned int c = u[0], lo = 0x80, hi = 0xbf;
	int n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, c &= 0x07;
	else	/* a continuation byte, C0/C1 (always overlong), F5-FF (beyond U+10FFFF) */
		return -1;
	/* the second byte's range rules out overlong forms, surrogates and beyond U+10FFFF */
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++) {
		if ((size_t)i >= len || u[i] < lo || u[i] > hi)
			return -i;
		c = c << 6 | (u[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = c;
	return n;
}

/* What passes besides the printable text, or is escaped besides the controls. */
enum escape_mode {
	ESCAPE_TEXT,
	ESCAPE_LAYOUT,		/* '\n' and '\t' pass */
	ESCAPE_FOLDED,		/* ';' is escaped: it parts a folded stack's frames */
};

/*
 * What the text at @s (@len > 0 bytes) starts with, as it is printed in
 * @mode: into @out (room for 5 bytes), its length in *@out_len. Returns the
 * bytes of @s consumed. An escaped character is escaped one byte at a time:
 * the bytes after its first are then stray continuation bytes, escaped in turn.
 */
static size_t escape_next(const char *s, size_t len, enum escape_mode mode, char *out,
			  size_t *out_len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char first = s[0];
	unsigned int cp;
	int n = utf8_decode(s, len, &cp);
	bool control = n > 0 && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) &&
		       !(mode == ESCAPE_LAYOUT && (cp == '\n' || cp == '\t'));

	if (first == '\\') {
		memcpy(out, "\\\\", 2);
		*out_len = 2;
		return 1;
	}
	if (n < 0 || control || (mode == ESCAPE_FOLDED && first == ';')) {
		out[0] = '\\';
		out[1] = 'x';
		out[2] = hex[first >> 4];
		out[3] = hex[first & 0xf];
		*out_len = 4;
		return 1;
	}
	memcpy(out, s, n);
	*out_len = n;
	return n;
}

char *escape_mem(char *buf, size_t size, const char *s, size_t len)
{
	size_t used = 0, piece;
	char out[5];

	if (!size)
		return buf;
	while (len) {
		size_t n = escape_next(s, len, ESCAPE_TEXT, out, &piece);

		/* a piece that does not fit whole is left out, and everything after it */
		if (used + piece > size - 1)
			break;
		memcpy(buf + used, out, piece);
		used += piece;
		s += n;
		len -= n;
	}
	buf[used] = '\0';
	return buf;
}

char *escape_str(char *buf, size_t size, const char *s)
{
	return escape_mem(buf, size, s, strlen(s));
}

static void write_escaped(FILE *out, const char *s, size_t len, enum escape_mode mode)
{
	size_t piece;
	char text[5];

	while (len) {
		size_t n = escape_next(s, len, mode, text, &piece);

		fwrite(text, 1, piece, out);
		s += n;
		len -= n;
	}
}

void escape_write(FILE *out, const char *s, size_t len)
{
	write_escaped(out, s, len, ESCAPE_TEXT);
}

void escape_write_layout(FILE *out, const char *s, size_t len)
{
	write_escaped(out, s, len, ESCAPE_LAYOUT);
}

void escape_write_folded(FILE *out, const char *s, size_t len)
{
	write_escaped(out, s, len, ESCAPE_FOLDED);
}
