/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The per-thread table built from the kernel's cumulative counters: rows
 * that stay when threads exit, process totals, and the derived quantities
 * every view shows. No output here.
 */
#ifndef MW_MODEL_H
#define MW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "memwatch.h"
#include "target.h"

struct mw_row {
	__u32 tid;
	bool exited;
	bool stale;			/* not seen in this update */
	char comm[MW_COMM_LEN];
	struct mw_thread now;		/* counters at this update */
	struct mw_thread prev;		/* counters at the previous update */
};

/* What was attached to what: fixed after start. */
struct mw_target_info {
	pid_t pid;
	char comm[MW_COMM_LEN];
	bool launched;
	bool malloc_probed;
	char allocator[4096];		/* the probed file as the target sees it, or why none */
	const char *allocator_origin;
	int tracepoints, uprobes, uretprobes;
};

struct mw_model {
	struct mw_target_info info;
	struct mw_row *rows;		/* sorted by tid after each update */
	size_t nr_rows, nr_sorted, cap_rows;
	struct mw_thread total, total_prev;
	struct proc_status status;	/* the last one read while the target lived */
	__u64 lost_events;
	double elapsed_s;		/* since attach */
	double interval_s;		/* since the previous update */
	bool target_exited;
	int exit_status;		/* launched target: its wait status */
};

/* Derived quantities of one thread's (or the process's summed) counters. */
__u64 mw_live_bytes(const struct mw_thread *t);
__u64 mw_grown_bytes(const struct mw_thread *t);
__u64 mw_returned_bytes(const struct mw_thread *t);
/* Per-second rate of a counter between two updates. */
double mw_rate(__u64 now, __u64 prev, double interval_s);
/* Adds every counter of @src into @dst (not the in-flight state). */
void mw_thread_add(struct mw_thread *dst, const struct mw_thread *src);

void model_init(struct mw_model *m);
void model_free(struct mw_model *m);
/* Starts an update: keeps the current counters as the previous ones. */
void model_begin_update(struct mw_model *m, double elapsed_s);
/* Sets one thread's counters; rows are created as threads appear. */
int model_set_thread(struct mw_model *m, __u32 tid, const struct mw_thread *counters);
/* Adds a live thread with no counters yet. */
int model_add_live_thread(struct mw_model *m, __u32 tid);
/* Finishes an update: sorts, names, sums. @pid_alive reads names from /proc. */
void model_end_update(struct mw_model *m, bool pid_alive);
const struct mw_row *model_find(const struct mw_model *m, __u32 tid);

#endif /* MW_MODEL_H */
