/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A debugger or tracer on the target. A debugger writes its breakpoints into
 * the same text pages as memwatch's uprobes: one that detaches after memwatch
 * restores the 0xcc of a uprobe as the "original" byte it saved, and the
 * target dies of SIGTRAP. Only tracers known to write no code are trusted.
 */
#ifndef MW_TRACER_H
#define MW_TRACER_H

#include <stdbool.h>
#include <sys/types.h>

struct tracer {
	pid_t pid;			/* 0: none */
	char exe[64];			/* the file name of its executable, "?" if unknown */
	bool writes_code;		/* not known to leave the target's text alone */
};

/* Describes process @pid, the tracer of a target. */
void tracer_describe(pid_t pid, struct tracer *t);
/* Whether an executable of this file name is a tracer known to write no code. */
bool tracer_name_trusted(const char *exe);

#endif /* MW_TRACER_H */
