/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * /proc/PID/smaps read a slice per update: a process with tens of thousands
 * of mappings has tens of megabytes of it, which the kernel takes ~0.1 s to
 * write, so one pass over it may span several updates at a bounded cost each.
 */
#ifndef MW_SMAPS_PASS_H
#define MW_SMAPS_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "sys/procmaps.h"

struct smaps_pass {
	int fd;				/* the pass under way, -1 between passes */
	char *buf;			/* what was read and not parsed yet: a line cut short */
	size_t cap, kept;
	struct smaps_parser parser;
	double began_s;			/* when the pass under way began (the caller's clock) */
};

#define SMAPS_PASS_INIT { .fd = -1 }

static inline bool smaps_pass_under_way(const struct smaps_pass *s)
{
	return s->fd >= 0;
}

/*
 * Opens @pid's smaps for a new pass (ending any under way), begun at @now_s;
 * its mappings go to @fn. 0 or -errno.
 */
int smaps_pass_begin(struct smaps_pass *s, pid_t pid, double now_s,
		     void (*fn)(const struct smaps_vma *vma, void *arg), void *arg);
/*
 * Reads on until the text ends or @budget_s seconds went by, one read at
 * least, parsing as it goes. 1: the pass ended, every mapping was passed to
 * @fn; 0: it goes on at the next call; -errno: it was abandoned.
 */
int smaps_pass_step(struct smaps_pass *s, double budget_s);
/* Ends the pass under way, if any, unfinished; frees the buffer. */
void smaps_pass_abandon(struct smaps_pass *s);

#endif /* MW_SMAPS_PASS_H */
