// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "output/format.h"

char *format_bytes(char *buf, size_t len, unsigned long long bytes)
{
	static const char units[] = "KMGTPE";
	double value = bytes;
	int unit = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%lluB", bytes);
		return buf;
	}
	while (value >= 1024 && units[unit + 1]) {
		value /= 1024;
		unit++;
	}
	/* 1023.96K would print as "1024.0K": move to the next unit instead */
	if (value >= 1023.95 && units[unit + 1]) {
		value /= 1024;
		unit++;
	}
	snprintf(buf, len, "%.1f%c", value, units[unit]);
	return buf;
}

char *format_count(char *buf, size_t len, unsigned long long count)
{
	if (count < 10000000ULL)
		snprintf(buf, len, "%llu", count);
	/* below 9999.95M, so that rounding never prints "10000.0M" */
	else if (count < 9999950000ULL)
		snprintf(buf, len, "%.1fM", count / 1e6);
	else
		snprintf(buf, len, "%.1fG", count / 1e9);
	return buf;
}

int format_terminal_width(FILE *f)
{
	struct winsize ws;
	int fd = fileno(f);

	if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) || !ws.ws_col)
		return 0;
	return ws.ws_col;
}

static bool cell_start(char c)
{
	/* every byte but a UTF-8 continuation byte */
	return ((unsigned char)c & 0xc0) != 0x80;
}

/* Writes one line of @len bytes (no newline), wrapped. */
static void wrap_line(FILE *out, const char *s, size_t len, int width)
{
	int room = width;

	for (;;) {
		size_t i, cut, space = 0;
		bool text = false;
		int cells = 0;

		/* the bytes that fit in @room cells, and the last space after some text */
		for (i = 0; i < len; i++) {
			if (cell_start(s[i]) && ++cells > room)
				break;
			if (s[i] != ' ')
				text = true;
			else if (text)
				space = i;
		}
		if (i == len) {
			fwrite(s, 1, len, out);
			fputc('\n', out);
			return;
		}
		/* a word longer than the line is cut where the line ends */
		cut = space ?: i;
		fwrite(s, 1, cut, out);
		fputc('\n', out);
		while (cut < len && s[cut] == ' ')
			cut++;
		s += cut;
		len -= cut;
		if (!len)
			return;
		fprintf(out, "%*s", FORMAT_WRAP_INDENT, "");
		room = width > 2 * FORMAT_WRAP_INDENT ? width - FORMAT_WRAP_INDENT : width;
	}
}

void format_wrap(FILE *out, const char *text, size_t len, int width)
{
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t line = nl ? (size_t)(nl - text) : len;

		if (width > 0)
			wrap_line(out, text, line, width);
		else
			fprintf(out, "%.*s\n", (int)line, text);
		if (!nl)
			return;
		text += line + 1;
		len -= line + 1;
	}
}
