/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What memwatch needs to run, asked of the kernel the way each step will meet
 * it, before anything is loaded, attached or launched (docs/safety.md).
 */
#ifndef MW_PRIVILEGES_H
#define MW_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>

struct mw_options;

#define MW_TRACEFS "/sys/kernel/tracing"

enum mw_need {
	MW_NEED_BPF,			/* CAP_BPF: maps and programs */
	MW_NEED_PERFMON,		/* CAP_PERFMON: tracing programs, tracepoints, uprobes */
	MW_NEED_TRACEFS,		/* CAP_DAC_READ_SEARCH: tracepoint IDs, tracefs is root's */
	MW_NEED_PTRACE,			/* CAP_SYS_PTRACE: another user's /proc/PID */
	MW_NEED_UPROBE_PMU,		/* CAP_SYS_ADMIN: uprobes without uprobe_multi links */
	MW_NEED_NR,
};

/*
 * The refusal, one line into @buf: the @missing needs (bits of enum mw_need)
 * and how to run @self with all the @needed ones.
 */
void privileges_message(char *buf, size_t len, unsigned int needed, unsigned int missing,
			const char *self);

/*
 * 0, or MW_EXIT_PERMISSION once every missing capability is named in one
 * line. *@uprobe_multi: the allocator's uprobes are to attach through
 * uprobe_multi links, which need no CAP_SYS_ADMIN.
 */
int privileges_check(const struct mw_options *o, bool *uprobe_multi);

#endif /* MW_PRIVILEGES_H */
