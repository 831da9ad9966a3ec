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

/* Appends a process: the reports list it after the others. NULL without the memory. */
static struct watched *procs_add(struct procs *ps)
{
	struct watched **more, *w;

	if (ps->nr >= MW_MAX_PROCESSES)
		return NULL;
	more = realloc(ps->w, (ps->nr + 1) * sizeof(*more));
	if (!more)
		return NULL;
	ps->w = more;
	w = watched_new();
	if (!w)
		return NULL;
	if (ps->nr)
		ps->w[ps->nr - 1]->model.next_process = &w->model;
	ps->w[ps->nr++] = w;
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
	int j;

	watched_free(ps->w[i]);
	memmove(&ps->w[i], &ps->w[i + 1], (ps->nr - i - 1) * sizeof(*ps->w));
	ps->nr--;
	for (j = 0; j < ps->nr; j++)
		ps->w[j]->model.next_process = j + 1 < ps->nr ? &ps->w[j + 1]->model : NULL;
}

void procs_free(struct procs *ps)
{
	int i;

	for (i = 0; i < ps->nr; i++)
		watched_free(ps->w[i]);
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
	ps->libc = libc;
	ps->probe_malloc = probe_malloc;
	ps->force_ptraced = force_ptraced;
	ps->slots_read = kernel_processes_claimed(skel);
	ps->wakeups = ring_buffer__new(kernel_process_wakeups_fd(skel), on_wakeup, NULL, NULL);
	return ps->wakeups ? 0 : -errno;
}

int procs_wakeup_fd(const struct procs *ps)
{
	return ps->wakeups ? ring_buffer__epoll_fd(ps->wakeups) : -1;
}

/* The process in slot @process, NULL if it is none of ours. */
static const struct watched *watched_of_slot(const struct procs *ps, __u32 process)
{
	int i;

	for (i = 0; i < ps->nr; i++) {
		if (ps->w[i]->follow.process == process)
			return ps->w[i];
	}
	return NULL;
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

int procs_collect(struct procs *ps, struct memwatch_bpf *skel, double start_s)
{
	__u32 last = ps->wakeups ? kernel_processes_claimed(skel) : 0;
	const struct watched *parent;
	struct kernel_child c;
	struct watched *w;
	int n = 0;

	if (!ps->wakeups)
		return 0;
	ring_buffer__consume(ps->wakeups);
	/* said once, not over the live view: the JSON total and the summary count them */
	if (!ps->said_full && kernel_forks_unwatched(skel)) {
		ps->said_full = true;
		if (!ps->quiet)
			elog("the watch holds %d processes: the next ones are counted, not watched",
			     MW_MAX_PROCESSES - 1);
	}
	while (ps->slots_read < last) {
		kernel_read_child(skel, ps->slots_read + 1, &c);
		/* claimed, not written yet: read at the next call */
		if (!c.pid)
			break;
		parent = watched_of_slot(ps, c.parent);
		w = procs_add(ps);
		if (!w)
			return -ENOMEM;
		ps->slots_read++;
		n++;
		follow_init(&w->follow, skel, ps->slots_read, ps->libc, ps->quiet);
		w->model.info = (struct mw_target_info){
			.pid = c.pid,
			.allocator_origin = "",
			.forked = c.parent != 0,
			.joined = c.parent == 0,
			.parent_pid = parent ? parent->model.info.pid : 0,
			.entered_at_s = c.entered_ns / 1e9 - start_s,
			.alloc_counted_since_s = -1,
			.tracepoints = ps->tracepoints,
		};
		/* the resident counters' start: the kernel's as it entered it */
		memcpy(w->model.res.base, c.rss_at_entry, sizeof(w->model.res.base));
		/* its parent's name until its own is read */
		if (parent)
			memcpy(w->model.info.comm, parent->model.info.comm, sizeof(w->model.info.comm));
		child_open(ps, w, skel, ps->slots_read);
		if (w->model.info.joined)
			vlog("pid %d (%s) joined the cgroup at %.3fs", c.pid,
			     ESC(w->model.info.comm, sizeof(w->model.info.comm)),
			     w->model.info.entered_at_s);
		else
			vlog("pid %d forked pid %d (%s) at %.3fs", w->model.info.parent_pid, c.pid,
			     ESC(w->model.info.comm, sizeof(w->model.info.comm)),
			     w->model.info.entered_at_s);
	}
	return n;
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

bool procs_follow_execs(struct procs *ps, double budget_s)
{
	double until = monotonic_s() + budget_s;
	int n, i;

	for (n = 0; n < ps->nr; n++) {
		struct watched *w = ps->w[(ps->exec_next + n) % ps->nr];

		/* one whose first uprobes are due gets them from procs_place() */
		if (w->model.target_exited || w->probes_due)
			continue;
		follow_exec(&w->follow, &w->model.info, false);
		if (monotonic_s() >= until) {
			i = (ps->exec_next + n + 1) % ps->nr;
			ps->exec_next = i;
			return true;
		}
	}
	return false;
}
