/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The watched processes: the ones named (-p) or launched, in that order, and
 * with -f the children the kernel's fork tracepoint added after them, picked
 * up as they come and given their uprobes a few at a time.
 */
#ifndef MW_PROCS_H
#define MW_PROCS_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/types.h>
#include "attach/allocator.h"
#include "attach/follow.h"
#include "attach/probes.h"
#include "kernel/thread_table.h"
#include "model/model.h"
#include "model/smaps_pass.h"

struct memwatch_bpf;
struct ring_buffer;

/* One watched process: its allocator, its uprobes, its pidfd and its model. */
struct watched {
	struct mw_model model;
	struct follow follow;		/* its uprobes, moved at its execs */
	struct allocator alloc;		/* found while preparing, then follow's */
	struct smaps_pass smaps;	/* the reading of its smaps, across updates */
	int pidfd;			/* readable once it exited */
	bool probes_due;		/* -f: a child whose uprobes are still to be placed */
	bool final;			/* reaped before its last reading: retired after it */
	bool retired;			/* its kernel slot is another's: its model stays as it was */
};

struct procs {
	struct watched **w;		/* each model's next_process is the next one's */
	int nr;
	/* -f, --cgroup: the exited processes beyond MW_MAX_EXITED_PROCESSES, in one (pid 0) */
	struct watched *folded;
	struct memwatch_bpf *skel;
	/* the process of each kernel slot, NULL for none yet or a retired one's */
	struct watched *slot_owner[MW_MAX_PROCESSES];
	int exec_next;			/* where procs_follow_execs() goes on */
	struct ring_buffer *wakeups;	/* -f: the fork tracepoint's */
	/* retired processes' uprobes, detached by a thread a batch at a time */
	struct probes buried, burying;
	pthread_t burier;
	bool burier_started;
	bool burier_done;		/* its batch is detached: it may be joined */
	/* for the children's uprobes */
	const char *libc;		/* --libc */
	bool probe_malloc;		/* no --no-malloc */
	bool force_ptraced;		/* --force-ptraced: under a debugger too */
	int tracepoints;		/* attached: every process has them all */
	bool quiet;			/* the live view owns the terminal: children say nothing */
	bool said_full;			/* that the kernel's set is full */
};

/* @n processes, to be named or launched; false without the memory. */
bool procs_init(struct procs *ps, int n);
/* Takes process @i out before the attach: one of --cgroup's that could not be watched. */
void procs_drop(struct procs *ps, int i);
void procs_free(struct procs *ps);
/* How many have not exited. */
int procs_alive(const struct procs *ps);

/*
 * -f: from here on the kernel's slots after the ones user space claimed are
 * children, their uprobes on @libc's malloc (or the one found) if
 * @probe_malloc, under a debugger only if @force_ptraced; their wake-ups are polled on procs_wakeup_fd(). 0 or -errno.
 */
int procs_follow_forks(struct procs *ps, struct memwatch_bpf *skel, const char *libc,
		       bool probe_malloc, bool force_ptraced);
int procs_wakeup_fd(const struct procs *ps);
/*
 * Takes in every child the kernel added since the last call, its pidfd
 * opened, its uprobes due; @start_s: when the watch began (monotonic_s()). How many
 * came, or -ENOMEM.
 */
int procs_collect(struct procs *ps, struct memwatch_bpf *skel, double start_s);
/*
 * Places the uprobes of the children due, the oldest first, until @budget_s
 * seconds went by: each registration takes locks every fork on the host
 * waits for. @start_s: when the watch began. Whether
 * some are still due.
 */
bool procs_place(struct procs *ps, double start_s, double budget_s);
/* exited processes kept apart; older ones fold into the pid 0 one */
#define MW_MAX_EXITED_PROCESSES 32

/*
 * @w exited, as its pidfd or its attach said: with -f or --cgroup its slot
 * is retired after the next reading, whether or not its parent reaped it
 * (a zombie makes no event), for the kernel's set to hold the processes
 * alive. @skel: the kernel's, before procs_follow_forks() too.
 */
void procs_exited(struct watched *w, struct memwatch_bpf *skel);
/* Whether @w was reaped, so that the reading that follows is its last one (-f, --cgroup). */
bool procs_reaped(const struct procs *ps, const struct watched *w);
/*
 * After every process's reading at @elapsed_s: the reaped ones give their
 * kernel slots, thread records and blocks back (@tt: the thread table) and
 * their uprobes go; the exited beyond MW_MAX_EXITED_PROCESSES fold into
 * the pid 0 one, if @fold (no model is freed while a paused view's copy
 * points to them); the retired ones' models stay as they were. 0 or -errno.
 */
int procs_retire(struct procs *ps, struct thread_table *tt, double elapsed_s, bool fold);
/* Every link still attached, of the processes and of the retired ones, moved to @into. */
void procs_gather_links(struct procs *ps, struct probes *into);

/*
 * Moves the uprobes of each process alive that exec'd since the last look,
 * for at most @budget_s seconds, going on next time where it stopped (a
 * look at a new image places probes too; one probed for the first time
 * counts its calls from then, seconds after @start_s). Whether some are
 * still to be looked at.
 */
bool procs_follow_execs(struct procs *ps, double start_s, double budget_s);

#endif /* MW_PROCS_H */
