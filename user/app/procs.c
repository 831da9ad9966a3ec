// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "app/procs.h"
#include "attach/target.h"
#include "attach/tracer.h"
#include "kernel/kernel.h"
#include "output/escape.h"
#include "sys/clock.h"
#include "sys/log.h"

static struct watched *watched_new(void)
{
	struct watched *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	model_init(&w->model);
	w->model.info.allocator_origin = "";
	w->alloc.fd = -1;
	w->smaps = (struct smaps_pass)SMAPS_PASS_INIT;
	w->pidfd = -1;
	return w;
}

static void watched_free(struct watched *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	follow_stop(&w->follow);
	allocator_close(&w->alloc);
	smaps_pass_abandon(&w->smaps);
	model_free(&w->model);
	free(w);
}

/* The models in the reports' order: the processes', then the folded ones'. */
static void procs_link(struct procs *ps)
{
	int i;

	for (i = 0; i < ps->nr; i++)
		ps->w[i]->model.next_process = i + 1 < ps->nr ? &ps->w[i + 1]->model :
					       ps->folded ? &ps->folded->model : NULL;
}

/* Appends a process: the reports list it after the others. NULL without the memory. */
static struct watched *procs_add(struct procs *ps)
{
	struct watched **more, *w;

	more = realloc(ps->w, (ps->nr + 1) * sizeof(*more));
	if (!more)
		return NULL;
	ps->w = more;
	w = watched_new();
	if (!w)
		return NULL;
	ps->w[ps->nr++] = w;
	procs_link(ps);
	return w;
}

bool procs_init(struct procs *ps, int n)
{
	*ps = (struct procs){ 0 };
	while (n--) {
		if (!procs_add(ps))
			return false;
	}
	return true;
}

void procs_drop(struct procs *ps, int i)
{
	watched_free(ps->w[i]);
	memmove(&ps->w[i], &ps->w[i + 1], (ps->nr - i - 1) * sizeof(*ps->w));
	ps->nr--;
	procs_link(ps);
}

/* Waits for the thread detaching the last batch of retired processes' uprobes. */
static void burier_join(struct procs *ps)
{
	if (!ps->burier_started)
		return;
	pthread_join(ps->burier, NULL);
	ps->burier_started = false;
}

void procs_free(struct procs *ps)
{
	int i;

	burier_join(ps);
	probes_detach(&ps->burying);
	probes_detach(&ps->buried);
	for (i = 0; i < ps->nr; i++)
		watched_free(ps->w[i]);
	if (ps->folded)
		watched_free(ps->folded);
	free(ps->w);
	ring_buffer__free(ps->wakeups);
	*ps = (struct procs){ 0 };
}

int procs_alive(const struct procs *ps)
{
	int i, n = 0;

	for (i = 0; i < ps->nr; i++)
		n += !ps->w[i]->model.target_exited;
	return n;
}

/* The records say which slot is new; a wake-up needs no reading. */
static int on_wakeup(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

int procs_follow_forks(struct procs *ps, struct memwatch_bpf *skel, const char *libc,
		       bool probe_malloc, bool force_ptraced)
{
	int i;

	ps->libc = libc;
	ps->probe_malloc = probe_malloc;
	ps->force_ptraced = force_ptraced;
	ps->skel = skel;
	/* the slots claimed so far are the processes named; the kernel's come in others */
	for (i = 0; i < ps->nr; i++)
		ps->slot_owner[ps->w[i]->follow.process] = ps->w[i];
	ps->wakeups = ring_buffer__new(kernel_process_wakeups_fd(skel), on_wakeup, NULL, NULL);
	return ps->wakeups ? 0 : -errno;
}

int procs_wakeup_fd(const struct procs *ps)
{
	return ps->wakeups ? ring_buffer__epoll_fd(ps->wakeups) : -1;
}

/*
 * Child @c in slot @process: its pidfd, unless it is gone. Opened before
 * the record is looked at again: a child not yet exiting then had its PID
 * when the pidfd was opened, so the pidfd is the child's, never the PID's
 * next owner's.
 */
static void child_open(const struct procs *ps, struct watched *w, struct memwatch_bpf *skel,
		       __u32 process)
{
	struct mw_target_info *info = &w->model.info;
	struct kernel_child again;
	struct proc_status st;

	w->pidfd = syscall(SYS_pidfd_open, info->pid, 0);
	kernel_read_child(skel, process, &again);
	if (w->pidfd >= 0 && again.exiting) {
		close(w->pidfd);
		w->pidfd = -1;
	}
	if (w->pidfd < 0) {
		w->model.target_exited = true;
		return;
	}
	if (!proc_status_read(info->pid, &st))
		snprintf(info->comm, sizeof(info->comm), "%s", st.name);
	w->probes_due = ps->probe_malloc;
	if (!ps->probe_malloc)
		snprintf(info->allocator, sizeof(info->allocator), "--no-malloc");
}

/*
 * A process under a debugger that may write breakpoints where the uprobes
 * would be gets none, as -p's would not (unless --force-ptraced); said in
 * its allocator's place.
 */
static bool child_ptraced(const struct procs *ps, struct mw_target_info *info)
{
	struct proc_status st;
	struct tracer t;

	if (ps->force_ptraced || proc_status_read(info->pid, &st) || !st.tracer_pid)
		return false;
	tracer_describe(st.tracer_pid, &t);
	if (!t.writes_code)
		return false;
	snprintf(info->allocator, sizeof(info->allocator),
		 "traced by pid %d (%.64s), a debugger: not probed (--force-ptraced probes anyway)",
		 t.pid, t.exe);
	return true;
}

/* A slot the kernel entered a process in, not taken in yet, in entry order. */
struct entered {
	__u32 slot;
	struct kernel_child c;
};

static int cmp_entered(const void *a, const void *b)
{
	const struct entered *x = a, *y = b;

	if (x->c.entered_ns != y->c.entered_ns)
		return x->c.entered_ns < y->c.entered_ns ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/*
 * The slots with a process none of ours has: new ones, in any slot, since
 * retired slots are the kernel's first choice. Claimed but not written yet
 * (no PID), a slot is read at the next call. How many, into @found.
 */
static int find_entered(const struct procs *ps, struct entered *found)
{
	__u32 last = kernel_processes_claimed(ps->skel), slot;
	int n = 0;

	for (slot = 1; slot <= last; slot++) {
		if (ps->slot_owner[slot])
			continue;
		kernel_read_child(ps->skel, slot, &found[n].c);
		if (!found[n].c.pid)
			continue;
		found[n++].slot = slot;
	}
	qsort(found, n, sizeof(*found), cmp_entered);
	return n;
}

/* Takes in the process the kernel entered in @e->slot, its pidfd opened, its uprobes due. */
static int collect_one(struct procs *ps, const struct entered *e, double start_s)
{
	const struct kernel_child *c = &e->c;
	const struct watched *parent = ps->slot_owner[c->parent];
	struct watched *w;

	/* its parent's slot may have gone to another process since */
	if (parent && parent->model.info.pid != c->parent_pid)
		parent = NULL;
	w = procs_add(ps);
	if (!w)
		return -ENOMEM;
	ps->slot_owner[e->slot] = w;
	follow_init(&w->follow, ps->skel, e->slot, ps->libc, ps->quiet);
	w->model.info = (struct mw_target_info){
		.pid = c->pid,
		.allocator_origin = "",
		.forked = c->parent != 0,
		.joined = c->parent == 0,
		.parent_pid = c->parent_pid,
		.entered_at_s = c->entered_ns / 1e9 - start_s,
		.alloc_counted_since_s = -1,
		.tracepoints = ps->tracepoints,
	};
	/* the resident counters' start: the kernel's as it entered it */
	memcpy(w->model.res.base, c->rss_at_entry, sizeof(w->model.res.base));
	/* its parent's name until its own is read */
	if (parent)
		memcpy(w->model.info.comm, parent->model.info.comm, sizeof(w->model.info.comm));
	child_open(ps, w, ps->skel, e->slot);
	if (w->model.info.joined)
		vlog("pid %d (%s) joined the cgroup at %.3fs", c->pid,
		     ESC(w->model.info.comm, sizeof(w->model.info.comm)), w->model.info.entered_at_s);
	else
		vlog("pid %d forked pid %d (%s) at %.3fs", c->parent_pid, c->pid,
		     ESC(w->model.info.comm, sizeof(w->model.info.comm)), w->model.info.entered_at_s);
	return 0;
}

int procs_collect(struct procs *ps, struct memwatch_bpf *skel, double start_s)
{
	struct entered *found;
	int n, i, err = 0;

	if (!ps->wakeups)
		return 0;
	ring_buffer__consume(ps->wakeups);
	/* said once, not over the live view: the JSON total and the summary count them */
	if (!ps->said_full && kernel_forks_unwatched(skel)) {
		ps->said_full = true;
		if (!ps->quiet)
			elog("the watch holds %d processes at once: the next ones are counted, not "
			     "watched", MW_MAX_PROCESSES - 1);
	}
	found = malloc(MW_MAX_PROCESSES * sizeof(*found));
	if (!found)
		return -ENOMEM;
	n = find_entered(ps, found);
	for (i = 0; i < n && !err; i++)
		err = collect_one(ps, &found[i], start_s);
	free(found);
	return err ?: n;
}

bool procs_place(struct procs *ps, double start_s, double budget_s)
{
	double until = monotonic_s() + budget_s;
	int i;

	for (i = 0; i < ps->nr; i++) {
		struct watched *w = ps->w[i];
		struct mw_target_info *info = &w->model.info;

		if (!w->probes_due)
			continue;
		if (monotonic_s() >= until)
			return true;
		w->probes_due = false;
		if (w->model.target_exited || child_ptraced(ps, info))
			continue;
		follow_child(&w->follow, info);
		if (info->malloc_probed)
			info->alloc_counted_since_s = monotonic_s() - start_s;
		vlog("pid %d (%s): %s%s, %.3fs after it entered the set", info->pid,
		     ESC(info->comm, sizeof(info->comm)),
		     info->malloc_probed ? "malloc probed in " : "",
		     ESC(info->allocator, sizeof(info->allocator)),
		     monotonic_s() - start_s - info->entered_at_s);
	}
	return false;
}

bool procs_follow_execs(struct procs *ps, double start_s, double budget_s)
{
	double until = monotonic_s() + budget_s;
	int n, i;

	for (n = 0; n < ps->nr; n++) {
		struct watched *w = ps->w[(ps->exec_next + n) % ps->nr];
		struct mw_target_info *info = &w->model.info;
		bool was_probed = info->malloc_probed;

		/* one whose first uprobes are due gets them from procs_place() */
		if (w->model.target_exited || w->probes_due)
			continue;
		follow_exec(&w->follow, info, false);
		/* probed only now (its loader was still mapping libraries): counted from here */
		if (!was_probed && info->malloc_probed)
			info->alloc_counted_since_s = monotonic_s() - start_s;
		if (monotonic_s() >= until) {
			i = (ps->exec_next + n + 1) % ps->nr;
			ps->exec_next = i;
			return true;
		}
	}
	return false;
}

void procs_exited(struct watched *w, struct memwatch_bpf *skel)
{
	w->model.target_exited = true;
	/* retired only when following (procs_reaped()): without, no process comes after it */
	if (w->follow.process && !w->retired)
		kernel_gone(skel, w->follow.process);
}

bool procs_reaped(const struct procs *ps, const struct watched *w)
{
	return ps->wakeups && !w->retired && kernel_reaped(ps->skel, w->follow.process);
}

static void *bury(void *arg)
{
	struct procs *ps = arg;

	probes_detach(&ps->burying);
	__atomic_store_n(&ps->burier_done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Uprobes detached a batch at a time by a thread of their own: each
 * unregistering waits for RCU grace periods (~30 ms), which would hold the
 * reports of a watch whose processes come and go at hundreds a second.
 */
#define BURY_BATCH 64

/* A retired process's uprobes go, off the report loop; its files close. */
static void procs_bury(struct procs *ps, struct watched *w)
{
	/* without the memory to move them, they go here */
	if (probes_move(&ps->buried, &w->follow.links))
		probes_detach(&w->follow.links);
	follow_stop(&w->follow);
	/* nothing left for watched_free() to stop */
	w->follow.skel = NULL;
	if (ps->buried.count < BURY_BATCH)
		return;
	if (ps->burier_started && !__atomic_load_n(&ps->burier_done, __ATOMIC_ACQUIRE))
		return;
	burier_join(ps);
	ps->burying = ps->buried;
	ps->buried = (struct probes){ 0 };
	ps->burier_done = false;
	ps->burier_started = !pthread_create(&ps->burier, NULL, bury, ps);
	if (!ps->burier_started)
		probes_detach(&ps->burying);
}

void procs_gather_links(struct procs *ps, struct probes *into)
{
	int i;

	burier_join(ps);
	probes_move(into, &ps->buried);
	for (i = 0; i < ps->nr; i++)
		probes_move(into, &ps->w[i]->follow.links);
}

/* The pid 0 process the exited beyond MW_MAX_EXITED_PROCESSES fold into; NULL without memory. */
static struct watched *folded_get(struct procs *ps)
{
	struct watched *f = ps->folded;

	if (f)
		return f;
	f = watched_new();
	if (!f)
		return NULL;
	snprintf(f->model.info.comm, sizeof(f->model.info.comm), "exited");
	f->model.info.alloc_counted_since_s = -1;
	f->model.info.tracepoints = ps->tracepoints;
	f->model.target_exited = true;
	ps->folded = f;
	procs_link(ps);
	return f;
}

/*
 * The oldest retired processes beyond MW_MAX_EXITED_PROCESSES fold into @f,
 * so that a watch of processes coming and going keeps bounded models; the
 * first process (the launched or first named one) stays the top level.
 */
static void fold_exited_processes(struct procs *ps, struct watched *f, int retired)
{
	int i, kept;

	for (i = kept = 1; i < ps->nr; i++) {
		struct watched *w = ps->w[i];

		if (retired > MW_MAX_EXITED_PROCESSES && w->retired) {
			model_fold_process(&f->model, &w->model);
			watched_free(w);
			retired--;
			continue;
		}
		ps->w[kept++] = w;
	}
	ps->nr = kept;
	procs_link(ps);
}

/* Processes whose reading was their last: their kernel slots go to the next ones. */
static int retire_final(struct procs *ps, struct thread_table *tt)
{
	__u32 slots[MW_MAX_PROCESSES];
	pid_t pids[MW_MAX_PROCESSES];
	int n = 0, i, err;

	for (i = 0; i < ps->nr; i++) {
		if (!ps->w[i]->final)
			continue;
		slots[n] = ps->w[i]->follow.process;
		pids[n++] = ps->w[i]->model.info.pid;
	}
	if (!n)
		return 0;
	err = kernel_unwatch(ps->skel, slots, pids, n);
	if (err)
		return err;
	/* then no program may still be writing to their records */
	err = thread_table_forget_processes(tt, slots, n);
	if (err)
		return err;
	kernel_free_slots(ps->skel, slots, n);
	for (i = 0; i < ps->nr; i++) {
		struct watched *w = ps->w[i];

		if (!w->final)
			continue;
		ps->slot_owner[w->follow.process] = NULL;
		w->follow.process = 0;
		w->final = false;
		w->retired = true;
		w->model.target_exited = true;
		if (w->pidfd >= 0) {
			close(w->pidfd);
			w->pidfd = -1;
		}
		procs_bury(ps, w);
	}
	return 0;
}

int procs_retire(struct procs *ps, struct thread_table *tt, double elapsed_s, bool fold)
{
	int err = retire_final(ps, tt), retired = 0, i;
	struct watched *f;

	if (err)
		return err;
	for (i = 1; i < ps->nr && fold; i++)
		retired += ps->w[i]->retired;
	f = retired > MW_MAX_EXITED_PROCESSES ? folded_get(ps) : ps->folded;
	if (!f)
		return 0;
	model_begin_update(&f->model, elapsed_s);
	if (retired > MW_MAX_EXITED_PROCESSES)
		fold_exited_processes(ps, f, retired);
	model_end_update(&f->model, false);
	/* its counters change by folding alone: no rate */
	model_no_rates(&f->model);
	/* memwatch's own, the same in each */
	f->model.lost_events = ps->w[0]->model.lost_events;
	f->model.kernel_bytes = ps->w[0]->model.kernel_bytes;
	f->model.peak_kernel_bytes = ps->w[0]->model.peak_kernel_bytes;
	f->model.processes_unwatched = ps->w[0]->model.processes_unwatched;
	return 0;
}
