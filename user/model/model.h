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
#include "attach/target.h"
#include "attach/tracer.h"
#include "memwatch.h"
#include "model/counters.h"
#include "sys/procmaps.h"

struct stack_sites;

struct mw_row {
	__u32 tid;
	bool exited;
	bool stale;			/* not seen in this update */
	/* a process's row: -f's or --cgroup's, its uprobes not placed yet; moved out of the cgroup */
	bool waiting, left;
	char comm[MW_COMM_LEN];
	struct mw_thread now;		/* counters at this update */
	struct mw_thread prev;		/* counters at the previous update */
	/* anonymous memory of the regions this thread created, from smaps */
	__u64 resident_now;
	__u64 advised_resident;		/* of which MADV_FREE'd (LazyFree) */
	/* the same, credited so far by the smaps reading under way */
	__u64 resident_next, advised_next;
};

/* A region the target mmap'd while watched, and the thread that did it. */
struct mw_region_rec {
	__u64 start;
	__u64 len;
	__u32 tid;
};

/* The process's resident memory as kmem:rss_stat saw it, per mm counter. */
struct mw_resident {
	__s64 base[MW_RSS_NR];		/* at attach, from /proc */
	__s64 now[MW_RSS_NR];		/* the kernel's current value */
	__s64 at_exit[MW_RSS_NR];	/* when the last thread began to exit */
	__u64 other_gained[MW_RSS_NR];	/* by other tasks: reclaim, khugepaged */
	__u64 other_lost[MW_RSS_NR];
	__u64 exit_lost[MW_RSS_NR];	/* released by the process's exit */
	bool exited;			/* at_exit and exit_lost are set */
	/* whole process, from smaps_rollup every update */
	__u64 anon_now;			/* anonymous resident memory */
	__u64 lazyfree;			/* MADV_FREE'd, still resident */
	/* anonymous resident memory no thread row owns, from smaps */
	__u64 heap_now;			/* the brk heap */
	__u64 unowned_now;		/* mapped before attach, stacks, file COW */
	/* credited so far by the smaps reading under way */
	__u64 heap_next, unowned_next, anon_next, lazyfree_next;
	/*
	 * When the smaps reading that the rows' resident_now, heap_now and
	 * unowned_now come from began (elapsed_s): a reading of many mappings
	 * spans updates.
	 */
	double owners_at_s;
};

/* What was attached to what: set at start, changed when the target execs. */
struct mw_target_info {
	pid_t pid;
	char comm[MW_COMM_LEN];		/* the name of its image */
	bool launched;
	bool malloc_probed;
	/*
	 * -f: a child the kernel began to watch at its fork; --cgroup: a process
	 * it did as it was moved into the cgroup (joined), or moved out of it
	 * since (left). entered_at_s: seconds since the watch began.
	 */
	bool forked, joined, left_cgroup;
	pid_t parent_pid;
	double entered_at_s;
	/* when its allocator calls began to count (0: from the start), -1 while not yet */
	double alloc_counted_since_s;
	char allocator[4096];		/* the probed file as the target sees it, or why none */
	const char *allocator_origin;
	int tracepoints, uprobes, uretprobes;
	bool traced;			/* --trace */
	/* what became of each image an exec brought: they sum to the execs seen */
	int reattached;			/* the uprobes moved to its allocator */
	int kept;			/* the uprobes stayed: the same allocator file */
	int unprobed_images;		/* no malloc to probe in it */
	int unseen_images;		/* replaced by the next exec before memwatch looked */
};

struct mw_model {
	struct mw_target_info info;
	struct mw_row *rows;		/* sorted by tid after each update */
	size_t nr_rows, nr_sorted, cap_rows;
	struct mw_thread total, total_prev;
	/* the last one read while the target lived, RSS as it began to exit after */
	struct proc_status status;
	struct mw_resident res;
	/*
	 * Exited threads beyond MW_MAX_EXITED_ROWS are folded into one row with
	 * TID 0: their counters summed here, their map entries deleted. Blocks
	 * they allocated and others free later are the kernel's orphan releases.
	 */
	struct mw_thread folded;
	__u64 nr_folded;
	/* -f, --cgroup: exited processes folded into this one (pid 0), their threads in nr_folded */
	__u64 folded_processes;
	__u64 orphan_released_calls, orphan_released_bytes;
	__u64 forks;			/* child processes: not followed */
	__u64 execs;			/* new images: followed (info.reattached) */
	struct mw_region_rec *regions;	/* sorted by start */
	size_t nr_regions;
	__u64 lost_events;
	/* -f, --cgroup: processes the kernel found no slot for (memwatch's, the same in each) */
	__u64 processes_unwatched;
	__u64 kernel_bytes, peak_kernel_bytes;	/* memwatch's BPF maps, now and at most */
	__u64 trace_records, trace_lost;	/* --trace: lines printed, records dropped */
	__u64 stacks_lost;		/* --stacks: stack records dropped (memwatch's) */
	__u64 stacks_capped;		/* --stacks: syscalls over the rate cap, with no stack */
	double elapsed_s;		/* since attach */
	double interval_s;		/* since the previous update */
	/* the process's per second over the last interval: what the headers show */
	double events_rate;		/* allocator calls and memory syscalls */
	double allocs_rate;
	/* the target's command line as /proc shows it, arguments apart by spaces: its bytes */
	char cmdline[1024];
	size_t cmdline_len;		/* 0: unknown, the views show [comm] */
	bool target_exited;
	int exit_status;		/* launched target: its wait status */
	struct tracer tracer;		/* the last debugger or tracer seen on the target */
	/* -p with several: the next process's model, in the order given; NULL after the last */
	const struct mw_model *next_process;
	/*
	 * --cgroup before its first process came: this model stands for none
	 * (no next_process), and holds memwatch's own figures alone.
	 */
	bool no_process;
	/* --stacks: the call sites of every process, the summary's top level only */
	const struct stack_sites *sites;
	int sites_top;			/* --top */
};

/* exited rows kept apart; older ones fold into the TID 0 row */
#define MW_MAX_EXITED_ROWS 32
#define MW_FOLDED_TID 0

/* Resident bytes (file, anon, shmem) the thread's own faults added and its calls removed. */
__u64 mw_resident_gained(const struct mw_thread *t);
__u64 mw_resident_lost(const struct mw_thread *t);
/* Resident bytes the thread lost outside the calls that return memory. */
__u64 mw_resident_lost_other(const struct mw_thread *t);
/* A thread's allocator calls and memory syscalls. */
__u64 mw_events(const struct mw_thread *t);
/* Per-second rate of a counter between two updates. */
double mw_rate(__u64 now, __u64 prev, double interval_s);

void model_init(struct mw_model *m);
/* How many processes from @first on (next_process). */
size_t model_processes(const struct mw_model *first);
void model_free(struct mw_model *m);
/* Starts an update: keeps the current counters as the previous ones. */
/* @dst (freed first) as a copy of @src that shares no memory with it; 0 or -ENOMEM. */
int model_copy(struct mw_model *dst, const struct mw_model *src);

void model_begin_update(struct mw_model *m, double elapsed_s);
/* Sets one thread's counters; rows are created as threads appear. */
int model_set_thread(struct mw_model *m, __u32 tid, const struct mw_thread *counters);
/* Adds a live thread with no counters yet. */
int model_add_live_thread(struct mw_model *m, __u32 tid);
/* Finishes an update: sorts, names, sums, rates. @pid_alive reads names from /proc. */
void model_end_update(struct mw_model *m, bool pid_alive);
const struct mw_row *model_find(const struct mw_model *m, __u32 tid);

/*
 * Folds the exited rows beyond MW_MAX_EXITED_ROWS, those holding the least
 * resident memory first, into the TID 0 row. Their TIDs go to @tids (room
 * for nr_rows); returns how many, for the caller to forget in the kernel.
 */
size_t model_fold_exited(struct mw_model *m, __u32 *tids);

/*
 * Folds exited process @from into @into, the pid 0 process of those folded
 * (between its model_begin_update() and model_end_update()): its threads'
 * counters into @into's folded row, its process counters into @into's.
 */
void model_fold_process(struct mw_model *into, const struct mw_model *from);
/* After an update: the counters as they were at the previous one, so no rate. */
void model_no_rates(struct mw_model *m);

/* Takes ownership of @regions (malloc'd, any order) for the next model_credit_vma()s. */
void model_set_regions(struct mw_model *m, struct mw_region_rec *regions, size_t count);
/* Begins an smaps reading: nothing credited yet. */
void model_clear_resident(struct mw_model *m);
/* Credits one smaps mapping's anonymous memory to the thread that created it. */
void model_credit_vma(struct mw_model *m, const struct smaps_vma *vma);
/*
 * Ends an smaps reading begun at @began_s (elapsed_s): what it credited is
 * now what the rows show, and the process totals until the next rollup.
 */
void model_commit_resident(struct mw_model *m, double began_s);
/* The whole process's anonymous and MADV_FREE'd resident bytes, from smaps_rollup. */
void model_set_rollup(struct mw_model *m, __u64 anon, __u64 lazyfree);
/* How old the rows' resident figures are: 0 if read in this update, seconds since. */
double model_owners_age(const struct mw_model *m);
/* Whether that age is more than one interval, which the views then say. */
bool model_owners_aged(const struct mw_model *m);

/* The resident bytes of counter @member by the kernel's events: base + gained - lost. */
__s64 model_rss_tally(const struct mw_model *m, enum mw_rss member);
/* Anonymous RSS the allocator holds beyond the live heap: rss_anon - live. */
__u64 model_retained_bytes(const struct mw_model *m);
/*
 * Whether retained also holds live blocks memwatch never saw allocated:
 * with -p, those allocated before the attach.
 */
bool model_retained_includes_preexisting(const struct mw_model *m);
/* The process's anonymous RSS (status.rss_anon_bytes). */
__u64 model_rss_anon(const struct mw_model *m);
/* Whether the anonymous tally agrees with model_rss_anon() within 1% or 1 MiB. */
bool model_rss_tally_ok(const struct mw_model *m);
/* Process-wide resident bytes gained and lost while attached (not at exit). */
__u64 model_resident_gained(const struct mw_model *m);
__u64 model_resident_lost(const struct mw_model *m);
/* Of the lost, what left outside the return calls: reclaim, other tasks. */
__u64 model_resident_lost_other(const struct mw_model *m);
/* Resident bytes the process's exit released. */
__u64 model_resident_released_at_exit(const struct mw_model *m);
/* Anonymous resident memory now, over all owners. */
__u64 model_resident_now(const struct mw_model *m);

#endif /* MW_MODEL_H */
