/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Parsers of /proc/PID/maps lines and /proc/PID/smaps texts. */
#ifndef MW_PROCMAPS_H
#define MW_PROCMAPS_H

#include <stdbool.h>

struct maps_entry {
	unsigned long long start, end, offset, inode;
	unsigned int dev_major, dev_minor;	/* of the file's filesystem */
	char perms[5];
	const char *path;	/* points into the parsed line; "" or "\n" if anonymous */
	int path_len;
};

/* Parses one /proc/PID/maps line (or an smaps header line); 0 or -EINVAL. */
int maps_parse_line(const char *line, struct maps_entry *e);

/* One mapping of /proc/PID/smaps with the sizes memwatch uses, in bytes. */
struct smaps_vma {
	struct maps_entry map;
	unsigned long long rss;
	unsigned long long anonymous;	/* private anonymous pages, COW'd file pages too */
	unsigned long long lazyfree;	/* MADV_FREE'd and still resident */
};

/* Calls @fn for each mapping of an smaps text; 0 or -EINVAL at a malformed header. */
int smaps_parse(const char *text, void (*fn)(const struct smaps_vma *vma, void *arg), void *arg);

#endif /* MW_PROCMAPS_H */
