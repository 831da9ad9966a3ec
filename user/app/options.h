/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The command line. */
#ifndef MW_OPTIONS_H
#define MW_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "output/report.h"
#include "sys/listen_addr.h"

/* -p's processes at most, in one list or several */
#define MW_MAX_PIDS 64
/* --stacks=sampled: the interval jemalloc and Go sample at by default */
#define MW_DEFAULT_SAMPLE_BYTES (512ULL << 10)

struct mw_options {
	pid_t pids[MW_MAX_PIDS];	/* -p, in the order given */
	int nr_pids;			/* 0 when launching a command */
	char **cmd;			/* -- CMD ARGS..., NULL-terminated */
	bool follow_forks;		/* -f: their children too */
	const char *cgroup;		/* --cgroup PATH, its members found before the attach */
	double interval_s;
	long count;			/* reports (refreshes of the live view) before exiting,
					 * 0: until the target exits */
	bool no_malloc;
	unsigned long max_allocs;
	enum report_format format;	/* --format, its aliases, or the terminal's */
	bool trace;			/* a line per syscall instead of interval reports */
	const char *output;
	const char *libc;
	bool force_ptraced;		/* uprobes even under a debugger */
	bool verbose;
	const char *listen;		/* --listen's argument, NULL: no metrics endpoint */
	struct listen_addr listen_addr;
	bool metrics_threads;		/* per-thread series too */
	bool stacks;			/* --stacks: allocations' call sites */
	bool stacks_all;		/* --stacks=all: every allocation's */
	__u64 sample_bytes;		/* else the mean bytes between two sampled ones */
	int top;			/* --top: the sites the summary lists in each order */
	const char *folded;		/* --folded FILE: every site as folded stacks */
	const char *pprof;		/* --pprof FILE: every site in a pprof profile */
};

/* 0, or the exit status for a usage error (already reported). */
int options_parse(int argc, char **argv, struct mw_options *o);

#endif /* MW_OPTIONS_H */
