// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Every parser here reads one line at most and stops at its newline: a
 * text of N mappings costs O(N). (sscanf() on a line inside a whole text
 * made glibc measure the rest of the text for each line: O(N^2).)
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "sys/procmaps.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads 1 to @max_digits hex digits at *@p into *@value and moves *@p past them. */
static int take_hex(const char **p, int max_digits, unsigned long long *value)
{
	const char *s = *p;
	int digits = 0, d;

	*value = 0;
	for (; (d = hex_value(*s)) >= 0; s++) {
		if (++digits > max_digits)
			return -EINVAL;
		*value = *value << 4 | d;
	}
	if (!digits)
		return -EINVAL;
	*p = s;
	return 0;
}

/* Reads a decimal number at *@p that fits in 64 bits and moves *@p past it. */
static int take_dec(const char **p, unsigned long long *value)
{
	const char *s = *p;

	*value = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = *s - '0';

		if (*value > (ULLONG_MAX - d) / 10)
			return -EINVAL;
		*value = *value * 10 + d;
	}
	*p = s;
	return 0;
}

static int take_char(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

/* One or more spaces; the kernel pads its columns with them. */
static int take_spaces(const char **p)
{
	if (**p != ' ')
		return -EINVAL;
	while (**p == ' ')
		(*p)++;
	return 0;
}

int maps_parse_line(const char *line, struct maps_entry *e)
{
	unsigned long long major, minor;
	const char *p = line;
	int i;

	memset(e, 0, sizeof(*e));
	if (take_hex(&p, 16, &e->start) || take_char(&p, '-') || take_hex(&p, 16, &e->end) ||
	    take_spaces(&p))
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		if (!p[i] || p[i] == ' ' || p[i] == '\n')
			return -EINVAL;
		e->perms[i] = p[i];
	}
	p += 4;
	if (take_spaces(&p) || take_hex(&p, 16, &e->offset) || take_spaces(&p) ||
	    take_hex(&p, 8, &major) || take_char(&p, ':') || take_hex(&p, 8, &minor) ||
	    take_spaces(&p) || take_dec(&p, &e->inode))
		return -EINVAL;
	e->dev_major = major;
	e->dev_minor = minor;
	/* spaces pad the path column; a newline ends a line without a path */
	while (*p == ' ')
		p++;
	e->path = p;
	e->path_len = strcspn(p, "\n");
	return 0;
}

/* A header starts with the hex start address and a '-'; a field with its capitalized name. */
static bool is_header(const char *line)
{
	const char *p = line;

	while (hex_value(*p) >= 0)
		p++;
	return p != line && *p == '-';
}

/* If @line is the field "@key: N kB", N in bytes to *@value. */
static void field_kib(const char *line, const char *key, size_t key_len,
		      unsigned long long *value)
{
	unsigned long long kib;
	const char *p;

	if (strncmp(line, key, key_len) || line[key_len] != ':')
		return;
	p = line + key_len + 1;
	while (*p == ' ')
		p++;
	if (!take_dec(&p, &kib) && kib <= ULLONG_MAX / 1024)
		*value = kib * 1024;
}

#define FIELD(line, key, value) field_kib(line, key, sizeof(key) - 1, value)

void smaps_parser_init(struct smaps_parser *p,
		       void (*fn)(const struct smaps_vma *vma, void *arg), void *arg)
{
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->arg = arg;
}

static void flush_vma(struct smaps_parser *p)
{
	if (p->have_vma)
		p->fn(&p->vma, p->arg);
	p->have_vma = false;
}

/* One line, up to its newline or the NUL after the text. */
static int parse_line(struct smaps_parser *p, const char *line)
{
	struct smaps_vma *vma = &p->vma;

	if (is_header(line)) {
		flush_vma(p);
		if (maps_parse_line(line, &vma->map))
			return -EINVAL;
		vma->rss = vma->anonymous = vma->lazyfree = 0;
		/* the mapping's fields come in later lines, maybe in a later read */
		if ((size_t)vma->map.path_len >= sizeof(p->path))
			vma->map.path_len = sizeof(p->path) - 1;
		memcpy(p->path, vma->map.path, vma->map.path_len);
		p->path[vma->map.path_len] = '\0';
		vma->map.path = p->path;
		p->have_vma = true;
		return 0;
	}
	if (!p->have_vma)
		return 0;
	/* the first letter sets the three fields memwatch reads apart from the twenty-odd others */
	switch (line[0]) {
	case 'R':
		FIELD(line, "Rss", &vma->rss);
		break;
	case 'A':
		FIELD(line, "Anonymous", &vma->anonymous);
		break;
	case 'L':
		FIELD(line, "LazyFree", &vma->lazyfree);
		break;
	}
	return 0;
}

long smaps_parser_feed(struct smaps_parser *p, const char *text, size_t len, bool last)
{
	const char *line = text, *end = text + len, *nl;
	int err;

	while (line < end) {
		nl = memchr(line, '\n', end - line);
		if (!nl && !last)
			break;
		err = parse_line(p, line);
		if (err)
			return err;
		line = nl ? nl + 1 : end;
	}
	if (last)
		flush_vma(p);
	return line - text;
}

int smaps_parse(const char *text, void (*fn)(const struct smaps_vma *vma, void *arg), void *arg)
{
	struct smaps_parser p;
	long used;

	smaps_parser_init(&p, fn, arg);
	used = smaps_parser_feed(&p, text, strlen(text), true);
	return used < 0 ? (int)used : 0;
}
