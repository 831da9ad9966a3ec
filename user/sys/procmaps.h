/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Parsers of /proc/PID/maps lines and /proc/PID/smaps texts. */
#ifndef MW_PROCMAPS_H
#define MW_PROCMAPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct maps_entry {
	unsigned long long start, end, offset, inode;
	unsigned int dev_major, dev_minor;	/* of the file's filesystem */
	char perms[5];
	/* points into the parsed line (smaps_parser: its copy); "" or "\n" if anonymous */
	const char *path;
	int path_len;
};

/*
 * Parses one /proc/PID/maps line (or an smaps header line), which ends at a
 * newline or a NUL; nothing after it is read. 0 or -EINVAL.
 */
int maps_parse_line(const char *line, struct maps_entry *e);

/* One mapping of /proc/PID/smaps with the sizes memwatch uses, in bytes. */
struct smaps_vma {
	struct maps_entry map;
	unsigned long long rss;
	unsigned long long anonymous;	/* private anonymous pages, COW'd file pages too */
	unsigned long long lazyfree;	/* MADV_FREE'd and still resident */
};

/*
 * An smaps text parsed as it is read, in pieces that may split a line or a
 * mapping's fields: @fn is called for each mapping once all its fields are in.
 */
struct smaps_parser {
	void (*fn)(const struct smaps_vma *vma, void *arg);
	void *arg;
	struct smaps_vma vma;		/* the mapping whose fields are being read */
	bool have_vma;
	char path[PATH_MAX];		/* vma.map.path, kept from its header line (truncated) */
};

void smaps_parser_init(struct smaps_parser *p,
		       void (*fn)(const struct smaps_vma *vma, void *arg), void *arg);
/*
 * Parses the whole lines of @text (@len bytes, @text[@len] a NUL) and returns
 * how many bytes they took: the rest, a line cut short, is to be fed again
 * with what follows it. @last: the text ends here (its last line may lack a
 * newline) and so does the last mapping. -EINVAL at a malformed header.
 */
long smaps_parser_feed(struct smaps_parser *p, const char *text, size_t len, bool last);

/* Calls @fn for each mapping of a whole smaps text; 0 or -EINVAL at a malformed header. */
int smaps_parse(const char *text, void (*fn)(const struct smaps_vma *vma, void *arg), void *arg);

#endif /* MW_PROCMAPS_H */
