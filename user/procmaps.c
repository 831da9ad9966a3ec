// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procmaps.h"

int maps_parse_line(const char *line, struct maps_entry *e)
{
	int path_at = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &e->start, &e->end, e->perms,
		   &e->offset, &e->dev_major, &e->dev_minor, &e->inode, &path_at) < 7)
		return -EINVAL;
	/* spaces pad the path column; a newline ends a line without a path */
	while (line[path_at] == ' ')
		path_at++;
	e->path = line + path_at;
	e->path_len = strcspn(e->path, "\n");
	return 0;
}


/* A header starts with the hex start address, a field with its capitalized name. */
static bool is_header(const char *line)
{
	return isxdigit((unsigned char)line[0]) && line[strcspn(line, " -\n")] == '-';
}

static void field_kib(const char *line, const char *key, unsigned long long *value)
{
	size_t len = strlen(key);

	if (!strncmp(line, key, len) && line[len] == ':')
		*value = strtoull(line + len + 1, NULL, 10) * 1024;
}

int smaps_parse(const char *text, void (*fn)(const struct smaps_vma *vma, void *arg), void *arg)
{
	struct smaps_vma vma;
	bool have_vma = false;
	const char *line;

	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (is_header(line)) {
			if (have_vma)
				fn(&vma, arg);
			memset(&vma, 0, sizeof(vma));
			if (maps_parse_line(line, &vma.map))
				return -EINVAL;
			have_vma = true;
		} else if (have_vma) {
			field_kib(line, "Rss", &vma.rss);
			field_kib(line, "Anonymous", &vma.anonymous);
			field_kib(line, "LazyFree", &vma.lazyfree);
		}
	}
	if (have_vma)
		fn(&vma, arg);
	return 0;
}
