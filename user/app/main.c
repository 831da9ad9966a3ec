// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * memwatch: options -> target -> open -> configure -> load -> attach ->
 * report loop -> summary -> cleanup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "app/exitcodes.h"
#include "app/options.h"
#include "app/priority.h"
#include "app/procs.h"
#include "app/signals.h"
#include "attach/allocator.h"
#include "attach/allocator_check.h"
#include "attach/follow.h"
#include "attach/privileges.h"
#include "attach/probes.h"
#include "attach/target.h"
#include "kernel/kernel.h"
#include "kernel/live_table.h"
#include "kernel/stack_events.h"
#include "kernel/thread_table.h"
#include "model/model.h"
#include "model/snapshot.h"
#include "output/escape.h"
#include "output/folded.h"
#include "output/metrics_server.h"
#include "output/mhd_lib.h"
#include "output/pprof.h"
#include "output/report.h"
#include "output/trace.h"
#include "stacks/stacks.h"
#include "sys/cgroup.h"
#include "sys/clock.h"
#include "sys/log.h"

/* once known: libbpf's warnings about it, after it exited, say nothing more than we do */
static pid_t target_pid;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *text;
	int n;

	if (level == LIBBPF_DEBUG && !mw_verbose)
		return 0;
	if (level == LIBBPF_WARN && target_pid && process_gone(target_pid))
		return 0;
	/* its messages can name the target's files: escaped, its own lines and tabs kept */
	n = vasprintf(&text, fmt, args);
	if (n < 0)
		return n;
	escape_write_layout(stderr, text, n);
	free(text);
	return n;
}

/* Where the reports go. */
struct output {
	FILE *f;
	const char *name;	/* for messages: -o FILE, or "standard output" */
};

/*
 * Pushes what was written out and checks that all of it arrived: 0, or
 * memwatch's exit status after a failed write (reported, but for a reader
 * that went away, which ends memwatch as SIGPIPE would).
 */
static int output_flush(const struct output *o)
{
	int err = 0;

	if (fflush(o->f) == EOF)
		err = errno;
	else if (ferror(o->f))
		err = errno ?: EIO;
	if (!err)
		return 0;
	if (err == EPIPE)
		return MW_EXIT_OUTPUT_CLOSED;
	elog("cannot write %s: %s", o->name, strerror(err));
	return MW_EXIT_ERROR;
}

/* Everything a watch holds, from the options to the cleanup. */
struct app {
	struct mw_options opts;
	struct memwatch_bpf *skel;
	struct thread_table threads;
	struct live_table table;
	struct probes probes;
	struct trace trace;
	struct stacks stacks;		/* --stacks */
	struct launch launch;
	/* -p's processes in the order given, or the launched command, then -f's children */
	struct procs procs;
	struct mw_model *model;		/* the first one's, the top-level process of the reports */
	struct mw_model none;		/* the top level while --cgroup has had no process */
	struct mw_model paused;		/* what a paused view shows while the metrics go on */
	bool paused_shown;		/* it is shown: the models its next_process reaches stay */
	const struct reporter *reporter;
	struct output out;
	struct output folded, pprof;	/* --folded, --pprof: files, written at the end */
	struct metrics_server *metrics;	/* --listen */
	struct priority prio;		/* raised while attaching */
	__u64 cgroup_id;		/* --cgroup's */
	sigset_t run_mask;		/* the mask under which ppoll() takes SIGINT and SIGTERM */
	bool quit;			/* the view's q ended the watch */
};

static int check_kernel(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		elog("this kernel has no BTF (/sys/kernel/btf/vmlinux): it needs CONFIG_DEBUG_INFO_BTF=y");
		return MW_EXIT_UNSUPPORTED;
	}
	/* libbpf finds tracepoint IDs in tracefs, which some systems leave unmounted */
	if (faccessat(AT_FDCWD, MW_TRACEFS "/events", F_OK, AT_EACCESS) && errno == ENOENT &&
	    !faccessat(AT_FDCWD, MW_TRACEFS, F_OK, AT_EACCESS)) {
		if (!mount("tracefs", MW_TRACEFS, "tracefs", 0, NULL)) {
			vlog("mounted tracefs on " MW_TRACEFS);
		} else if (errno == EPERM) {
			elog("tracefs is not mounted and mounting it needs CAP_SYS_ADMIN: as root, "
			     "mount -t tracefs tracefs " MW_TRACEFS);
			return MW_EXIT_PERMISSION;
		}
	}
	if (faccessat(AT_FDCWD, MW_TRACEFS "/events/syscalls", F_OK, AT_EACCESS)) {
		elog("no syscall tracepoints in " MW_TRACEFS "/events: it needs CONFIG_FTRACE_SYSCALLS=y");
		return MW_EXIT_UNSUPPORTED;
	}
	return 0;
}

/*
 * A target under a debugger: one line names it. Uprobes are refused when the
 * debugger may write breakpoints (tracer.h says why), unless forced.
 */
static bool refuse_ptraced(const struct mw_options *o, const struct mw_target_info *info,
			   pid_t tracer_pid, struct tracer *t)
{
	tracer_describe(tracer_pid, t);
	if (!t->writes_code || o->force_ptraced) {
		elog("process %d (%s) is traced by pid %d (%s)%s", info->pid,
		     ESC(info->comm, sizeof(info->comm)), t->pid, ESC(t->exe, sizeof(t->exe)),
		     t->writes_code ? ": uprobes placed as --force-ptraced asks" : "");
		return false;
	}
	elog("process %d (%s) is traced by pid %d (%s), a debugger that may write breakpoints "
	     "where memwatch's uprobes are: not probing it (--no-malloc traces its syscalls only, "
	     "--force-ptraced probes anyway)", info->pid, ESC(info->comm, sizeof(info->comm)),
	     t->pid, ESC(t->exe, sizeof(t->exe)));
	return true;
}

/* -p: the process of PID @pid (or a TID), and the allocator it really uses. */
static int prepare_pid(const struct mw_options *o, pid_t pid, struct mw_target_info *info,
		       struct allocator *a, struct tracer *tracer)
{
	struct proc_status st;
	int err;

	err = proc_status_read(pid, &st);
	if (err == -ENOENT || err == -ESRCH) {
		elog("no such process: %d", pid);
		return MW_EXIT_NO_PROCESS;
	} else if (err) {
		elog("cannot read /proc/%d/status: %s", pid, strerror(-err));
		return MW_EXIT_ERROR;
	}
	if (!st.has_mm) {
		elog("process %d (%s) has no memory to watch: a kernel thread or a zombie", pid,
		     ESC(st.name, sizeof(st.name)));
		return MW_EXIT_NO_PROCESS;
	}
	if (st.tgid == getpid()) {
		elog("process %d is memwatch itself", st.tgid);
		return MW_EXIT_USAGE;
	}
	if (st.tgid != pid)
		vlog("thread %d belongs to process %d", pid, st.tgid);
	info->pid = st.tgid;
	snprintf(info->comm, sizeof(info->comm), "%s", st.name);
	if (o->no_malloc)
		return 0;
	if (st.tracer_pid && refuse_ptraced(o, info, st.tracer_pid, tracer))
		return MW_EXIT_PTRACED;
	err = allocator_of_target(info->pid, o->libc, a);
	if (err == -ESRCH) {
		elog("process %d exited during attach", info->pid);
		return MW_EXIT_NO_PROCESS;
	}
	info->malloc_probed = !err;
	return 0;
}

/* -- CMD: resolve it, find its allocator, fork it held before exec. */
static int prepare_command(const struct mw_options *o, struct mw_target_info *info,
			   struct allocator *a, struct launch *l)
{
	char path[PATH_MAX];
	int err;

	if (!o->cmd[0][0]) {
		elog("empty command");
		return MW_EXIT_CMD_NOT_FOUND;
	}
	err = command_resolve(o->cmd[0], path, sizeof(path));
	if (err) {
		elog("%s: %s", ESC(o->cmd[0], PATH_MAX),
		     err == -EACCES ? "permission denied" : "command not found");
		return err == -EACCES ? MW_EXIT_CMD_NOT_EXEC : MW_EXIT_CMD_NOT_FOUND;
	}
	if (!o->no_malloc)
		info->malloc_probed = !allocator_of_command(path, o->libc, a) &&
				      !allocator_drop_ifuncs(a);
	err = launch_prepare(path, o->cmd, l);
	if (err) {
		elog("cannot start %s: %s", ESC(o->cmd[0], PATH_MAX), strerror(-err));
		return MW_EXIT_ERROR;
	}
	info->pid = l->pid;
	info->launched = true;
	/* the name exec will give it: the file's name, truncated like the kernel does */
	snprintf(info->comm, sizeof(info->comm), "%.*s", (int)sizeof(info->comm) - 1,
		 strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	return 0;
}

static int load_bpf(const struct mw_options *o, __u64 cgroup_id, bool uprobe_multi,
		    struct memwatch_bpf **skel)
{
	struct kernel_config c = {
		.follow_forks = o->follow_forks,
		.cgroup_id = cgroup_id,
		.trace = o->trace,
		.no_malloc = o->no_malloc,
		.uprobe_multi = uprobe_multi,
		.max_allocs = o->max_allocs,
		.stacks = o->stacks,
		.sample_bytes = o->sample_bytes,
	};
	int err = kernel_load(skel, &c);

	if (!*skel) {
		elog("cannot open the BPF object: %s", strerror(-err));
		return MW_EXIT_BPF;
	}
	/* EACCES is the verifier's refusal, not a missing privilege */
	if (err == -EPERM) {
		elog("permission denied loading BPF, capabilities notwithstanding (a user namespace's "
		     "do not count; an LSM?): run it as root on the host");
		return MW_EXIT_PERMISSION;
	} else if (err) {
		elog("cannot load the BPF programs: %s (rerun with -v for the verifier log)",
		     strerror(-err));
		return MW_EXIT_BPF;
	}
	return 0;
}

/*
 * Where the resident counters start: /proc's values for a running process,
 * zero for a launched one, whose counting waits for its exec.
 */
static void set_resident_base(struct memwatch_bpf *skel, __u32 process, struct mw_model *m)
{
	struct proc_status st;
	__s64 *base = m->res.base;

	if (m->info.launched || proc_status_read(m->info.pid, &st))
		return;
	m->status = st;
	base[MW_RSS_FILE] = st.rss_file_bytes;
	base[MW_RSS_ANON] = st.rss_anon_bytes;
	base[MW_RSS_SHMEM] = st.rss_shmem_bytes;
	kernel_resident_base(skel, process, base);
}

/* The exit status for @err from attaching to process @pid (0: to none in particular). */
static int attach_status(int err, pid_t pid)
{
	if (!err)
		return 0;
	/* a path under /proc/PID/root fails with ENOENT once the process is gone */
	if (pid && (err == -ESRCH || process_gone(pid))) {
		elog("process %d exited during attach", pid);
		return MW_EXIT_NO_PROCESS;
	}
	if (err == -EPERM || err == -EACCES) {
		elog("permission denied attaching probes, capabilities notwithstanding (an LSM, or a "
		     "kernel that wants CAP_SYS_ADMIN?): run it as root");
		return MW_EXIT_PERMISSION;
	}
	return MW_EXIT_BPF;
}

/*
 * Uprobes first: placing one copies a text page of the target into an
 * anonymous one, in memwatch's context, before the target's mm is known to
 * the rss_stat program. The resident base read after them includes those
 * pages; the tracepoints count from there.
 */
static int attach_process(struct memwatch_bpf *skel, struct watched *w, const char *libc)
{
	struct mw_target_info *info = &w->model.info;
	__u32 process;
	int err;

	err = kernel_watch(skel, info->pid, info->launched, &process);
	if (err == -ENOSPC) {
		elog("cannot watch process %d: no room left in the kernel's set", info->pid);
		return MW_EXIT_BPF;
	}
	if (!err)
		err = follow_start(&w->follow, skel, process, info, &w->alloc, libc);
	if (!err)
		set_resident_base(skel, process, &w->model);
	return attach_status(err, info->pid);
}

/*
 * The reports' top level: the first process's model, or while --cgroup has
 * had no process, the model of none; the first to join takes its place.
 */
static struct mw_model *top_level(struct app *app)
{
	return app->procs.nr ? &app->procs.w[0]->model : &app->none;
}

/* The first process that is gone, 0 if none: a failure is said of it. */
static pid_t first_gone(const struct app *app)
{
	int i;

	for (i = 0; i < app->procs.nr; i++) {
		if (process_gone(app->procs.w[i]->model.info.pid))
			return app->procs.w[i]->model.info.pid;
	}
	return 0;
}

/* Each process's probes, then the tracepoints, which count from the resident bases on. */
static int attach_all(struct app *app)
{
	int i, err, ret = 0;

	for (i = 0; i < app->procs.nr && !ret; i++) {
		ret = attach_process(app->skel, app->procs.w[i], app->opts.libc);
		/* a cgroup's process that exited meanwhile: the others go on, as with a later one */
		if (ret == MW_EXIT_NO_PROCESS && app->opts.cgroup) {
			procs_exited(app->procs.w[i], app->skel);
			ret = 0;
		}
	}
	/* the slots claimed so far are these; the fork tracepoint claims the next ones */
	if (!ret && app->opts.follow_forks &&
	    procs_follow_forks(&app->procs, app->skel, app->opts.libc, !app->opts.no_malloc,
			       app->opts.force_ptraced)) {
		elog("cannot read the fork tracepoint's ring buffer: %s", strerror(errno));
		ret = MW_EXIT_BPF;
	}
	if (!ret) {
		err = probes_attach_tracepoints(kernel_object(app->skel), &app->probes);
		ret = attach_status(err, err ? first_gone(app) : 0);
	}
	for (i = 0; i < app->procs.nr; i++)
		app->procs.w[i]->model.info.tracepoints = app->probes.tracepoints;
	/* the processes that come later, and until then none */
	app->procs.tracepoints = app->probes.tracepoints;
	app->none.info.tracepoints = app->probes.tracepoints;
	return ret;
}

/* Prints the trace records waiting; the model counts them for the summary. */
static int read_trace(struct app *app)
{
	int err = trace_read(&app->trace);

	app->model->trace_records = app->trace.records;
	if (err) {
		elog("cannot read the trace ring buffer: %s", strerror(-err));
		return MW_EXIT_ERROR;
	}
	return output_flush(&app->out);
}

/*
 * A debugger that attached after memwatch: its breakpoints may meet the
 * uprobes from now on. Said once per tracer, and kept for the summary.
 */
static void check_tracer(struct app *app, struct mw_model *m)
{
	pid_t pid = m->status.tracer_pid;

	if (!pid || pid == m->tracer.pid || !m->info.malloc_probed)
		return;
	tracer_describe(pid, &m->tracer);
	/* not over the live view: the summary says it */
	if (!app->reporter->input && m->tracer.writes_code)
		elog("warning: pid %d (%s) began to trace process %d; breakpoints it writes may meet "
		     "memwatch's uprobes", pid, ESC(m->tracer.exe, sizeof(m->tracer.exe)), m->info.pid);
}

/*
 * --listen: the last snapshot's exposition is what scrapes get from now on. A
 * failure keeps the previous one served, and is said once.
 */
static void publish_metrics(struct app *app)
{
	static bool said;
	int err;

	/* no series without a process: scrapes are answered 503 until one came */
	if (!app->metrics || app->model->no_process)
		return;
	err = metrics_server_publish(app->metrics, app->model, app->opts.metrics_threads);
	if (err && !said)
		elog("cannot render the metrics: %s; scrapes get the last ones", strerror(-err));
	said |= err != 0;
}

/* Every process's model, updated at one moment: @start's elapsed time. */
static int take_snapshot(struct app *app, double start)
{
	double elapsed_s = monotonic_s() - start;
	int i, err;

	/* --cgroup before its first process: memwatch's own figures alone */
	if (app->model->no_process) {
		snapshot_take_none(app->skel, app->model, elapsed_s);
		live_table_kernel_memory(&app->table, &app->model->kernel_bytes,
					 &app->model->peak_kernel_bytes);
		return 0;
	}
	for (i = 0; i < app->procs.nr; i++) {
		struct watched *w = app->procs.w[i];

		/* gone, its kernel slot another's: what it counted stays */
		if (w->retired) {
			model_begin_update(&w->model, elapsed_s);
			model_end_update(&w->model, false);
			continue;
		}
		/*
		 * before the reading: a process reaped by then changes no more, this is
		 * its last, and its PID may be another's: nothing read from /proc
		 */
		w->final = procs_reaped(&app->procs, w);
		if (w->final)
			w->model.target_exited = true;
		err = snapshot_take(app->skel, w->follow.process, &app->threads, &w->model,
				    &w->smaps, elapsed_s);
		/* memwatch's, the same in each */
		live_table_kernel_memory(&app->table, &w->model.kernel_bytes,
					 &w->model.peak_kernel_bytes);
		w->model.processes_unwatched = kernel_forks_unwatched(app->skel);
		if (err) {
			elog("cannot read the counters: %s", strerror(-err));
			return MW_EXIT_ERROR;
		}
		check_tracer(app, &w->model);
	}
	err = procs_retire(&app->procs, &app->threads, elapsed_s, !app->paused_shown);
	if (err) {
		elog("cannot retire the exited processes: %s", strerror(-err));
		return MW_EXIT_ERROR;
	}
	return 0;
}

/*
 * How often the exec count is read between reports when following execs: a
 * new image's allocator is probed this soon after its exec, and its calls in
 * between are missed.
 */
#define EXEC_POLL_S 0.05

/*
 * Which model the view draws from now on (@shown): the live one, or while
 * paused with --listen, a copy taken as the pause began, so that the
 * snapshots the metrics need leave the paused view as it was.
 */
static int show_paused(struct app *app, enum report_input state, const struct mw_model **shown)
{
	if (state == REPORT_PAUSE && app->metrics && *shown == app->model) {
		if (model_copy(&app->paused, app->model)) {
			elog("cannot pause the view: %s", strerror(ENOMEM));
			return MW_EXIT_ERROR;
		}
		*shown = &app->paused;
		app->paused_shown = true;
	} else if (state != REPORT_PAUSE && *shown != app->model) {
		model_free(&app->paused);
		*shown = app->model;
		app->paused_shown = false;
	}
	return 0;
}

/* What the report loop waits for: each process's exit, and its input. */
struct loop_fds {
	struct pollfd pfd[MW_MAX_PROCESSES + 2];
	int proc[MW_MAX_PROCESSES + 2];	/* the process whose pidfd it is, -1 for none */
	nfds_t n;
};

static void loop_fd(struct loop_fds *l, int fd, int proc)
{
	l->pfd[l->n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	l->proc[l->n++] = proc;
}

/*
 * The pidfds of the processes alive, -f's wake-ups, and an interactive
 * view's keys or a trace's records: each wakes the loop.
 */
static void loop_fds_set(const struct app *app, struct loop_fds *l)
{
	int i;

	l->n = 0;
	for (i = 0; i < app->procs.nr; i++) {
		const struct watched *w = app->procs.w[i];

		if (w->pidfd >= 0 && !w->model.target_exited)
			loop_fd(l, w->pidfd, i);
	}
	if (procs_wakeup_fd(&app->procs) >= 0)
		loop_fd(l, procs_wakeup_fd(&app->procs), -1);
	if (app->reporter->input)
		loop_fd(l, STDIN_FILENO, -1);
	else if (app->opts.trace)
		loop_fd(l, trace_fd(&app->trace), -1);
}

/* A process's pidfd polled readable: it exited. */
static void count_exits(struct app *app, const struct loop_fds *l)
{
	nfds_t i;

	for (i = 0; i < l->n; i++) {
		struct watched *w;

		if (l->proc[i] < 0 || !l->pfd[i].revents)
			continue;
		w = app->procs.w[l->proc[i]];
		/* a thousand exited children keep no descriptor; a launched command's is waited on */
		if (l->proc[i] || !app->opts.cmd) {
			procs_exited(w, app->skel);
			close(w->pidfd);
			w->pidfd = -1;
		} else {
			w->model.target_exited = true;
		}
	}
}

/*
 * How long placing children's uprobes may hold the loop each time it wakes:
 * its reports stay on time however many processes a fork loop makes.
 */
#define PLACE_BUDGET_S 0.02

/*
 * -f: takes in the children forked since the last look and places the
 * uprobes of some. Whether some still wait for theirs, or an exit status.
 */
static int follow_children(struct app *app, double start, bool *due)
{
	if (procs_collect(&app->procs, app->skel, start) < 0) {
		elog("cannot follow the new processes: %s", strerror(ENOMEM));
		return MW_EXIT_ERROR;
	}
	*due = procs_place(&app->procs, start, PLACE_BUDGET_S);
	return 0;
}

/* Moves the uprobes of the processes that exec'd; whether some are still to be looked at. */
static bool follow_execs(struct app *app, double start)
{
	return !app->opts.no_malloc && procs_follow_execs(&app->procs, start, PLACE_BUDGET_S);
}

/*
 * Reports every interval until every process exited, --count, the view's q,
 * or a signal: a launched command is watched until it ends, as the signal
 * reached it too (then with -f the descendants it left end the watch at a
 * signal, as -p's processes do). With --trace prints its records as
 * they come instead of the interval reports; when following execs, moves the
 * uprobes. 0 or memwatch's exit status.
 */
static int report_loop(struct app *app)
{
	const struct mw_options *o = &app->opts;
	const struct reporter *r = app->reporter;
	const struct mw_model *shown = app->model;
	double start = monotonic_s(), next = start + o->interval_s;
	enum report_input state = REPORT_RUN;
	struct loop_fds l;
	bool due = false;
	long reports = 0;
	int err;

	/* a launched command's end is waited for, as the signal reached it too */
	while (!(signals_exiting() && (!o->cmd || app->model->target_exited))) {
		double wait = next - monotonic_s();
		struct timespec timeout = { 0 };

		if (!o->no_malloc && wait > EXEC_POLL_S)
			wait = EXEC_POLL_S;
		/* children waiting for their uprobes: placed as soon as the loop is done */
		if (wait > 0 && !due) {
			timeout.tv_sec = (time_t)wait;
			timeout.tv_nsec = (long)((wait - timeout.tv_sec) * 1e9);
		}
		loop_fds_set(app, &l);
		err = ppoll(l.pfd, l.n, &timeout, &app->run_mask);
		if (err < 0 && errno != EINTR) {
			elog("poll: %s", strerror(errno));
			return MW_EXIT_ERROR;
		}
		if (err > 0)
			count_exits(app, &l);
		/* after the exits: a child forked before its parent exited is in the set */
		err = follow_children(app, start, &due);
		if (err)
			return err;
		/* --cgroup's first process came: the reports' top level from now on */
		if (app->model != top_level(app)) {
			app->model = top_level(app);
			app->model->info.traced = app->none.info.traced;
			/* a paused view keeps showing what it did */
			if (shown == &app->none && state != REPORT_PAUSE)
				shown = app->model;
		}
		/* a cgroup's next process may come any time: it is watched until interrupted */
		if (!procs_alive(&app->procs) && !o->cgroup)
			break;
		if (o->trace) {
			err = read_trace(app);
			if (err)
				return err;
		}
		due |= follow_execs(app, start);
		/* keys, or a resize signal that interrupted the wait */
		if (r->input) {
			state = r->input(shown);
			if (state == REPORT_QUIT) {
				app->quit = true;
				break;
			}
			err = show_paused(app, state, &shown);
			if (err)
				return err;
		}
		if (monotonic_s() < next)
			continue;
		next += o->interval_s;
		/* a paused view neither reports nor counts, but scrapes stay current */
		if (state == REPORT_PAUSE) {
			if (app->metrics) {
				err = take_snapshot(app, start);
				if (err)
					return err;
				publish_metrics(app);
			}
			continue;
		}
		err = take_snapshot(app, start);
		if (err)
			return err;
		if (!o->trace) {
			r->interval(app->out.f, app->model);
			err = output_flush(&app->out);
			if (err)
				return err;
		}
		/* after the report: rendering many threads' series must not delay it */
		publish_metrics(app);
		if (o->count && ++reports >= o->count)
			break;
	}
	/* what the target did until it exited is in the buffer still */
	if (o->trace) {
		err = read_trace(app);
		if (err)
			return err;
	}
	/* the stack records' thread handles the last ones, and gives the sites up */
	if (o->stacks) {
		err = stacks_stop(&app->stacks, o->top, o->folded || o->pprof);
		if (err) {
			elog("cannot handle the stack records: %s", strerror(-err));
			return MW_EXIT_ERROR;
		}
		app->stacks.sites.lost = kernel_stacks_lost(app->skel,
							    &app->stacks.sites.lost_samples,
							    &app->stacks.sites.lost_syscalls);
		app->stacks.sites.capped =
			kernel_stacks_capped(app->skel, &app->stacks.sites.capped_grown,
					     &app->stacks.sites.capped_returned,
					     &app->stacks.sites.capped_returned_actual);
	}
	err = take_snapshot(app, start);
	if (!err)
		publish_metrics(app);
	return err;
}

/* The launched target's exit status as a shell reports it. */
static int child_exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * A launched command goes on after the watch ended early (q, --count): it
 * stays memwatch's child, and memwatch exits with its status once it ends.
 * Signals meanwhile are passed on to it as during the watch.
 */
static int wait_command(struct app *app)
{
	struct pollfd pfd = { .fd = app->procs.w[0]->pidfd, .events = POLLIN };
	int status;

	elog("detached; waiting for %s (pid %d) to exit; Ctrl-C interrupts it",
	     ESC(app->model->info.comm, sizeof(app->model->info.comm)), app->launch.pid);
	while (ppoll(&pfd, 1, NULL, &app->run_mask) <= 0) {
		if (errno != EINTR) {
			elog("poll: %s", strerror(errno));
			return MW_EXIT_ERROR;
		}
	}
	if (waitpid(app->launch.pid, &status, 0) != app->launch.pid) {
		elog("waiting for pid %d: %s", app->launch.pid, strerror(errno));
		return MW_EXIT_ERROR;
	}
	app->launch.pid = -1;
	return child_exit_code(status);
}

/*
 * Opens file @path for writing into @o, before anything runs: a path that
 * cannot be written ends memwatch first. Not inherited by a launched
 * command. 0 or an exit status.
 */
static int output_file_open(struct output *o, const char *path)
{
	o->name = path;
	o->f = fopen(path, "we");
	if (!o->f) {
		elog("cannot write %s: %s", path, strerror(errno));
		return MW_EXIT_ERROR;
	}
	return 0;
}

/* Opens what the reports are written to: stdout, or -o FILE; and --folded's and --pprof's. */
static int output_open(struct app *app)
{
	const struct mw_options *o = &app->opts;
	int ret = 0;

	app->out = (struct output){ .f = stdout, .name = "standard output" };
	if (o->output)
		ret = output_file_open(&app->out, o->output);
	if (ret)
		return ret;
	/* whole reports, each flushed and checked by output_flush() */
	setvbuf(app->out.f, NULL, _IOFBF, 0);
	if (o->folded)
		ret = output_file_open(&app->folded, o->folded);
	if (!ret && o->pprof)
		ret = output_file_open(&app->pprof, o->pprof);
	return ret;
}

/* Closes @o's file, if it opened one: @ret, or 1 when its last writes failed (said). */
static int output_close(struct output *o, int ret)
{
	if (o->f && o->f != stdout && fclose(o->f) && !ret) {
		elog("cannot write %s: %s", o->name, strerror(errno));
		ret = MW_EXIT_ERROR;
	}
	o->f = NULL;
	return ret;
}

/* --folded and --pprof: every site, as the summary ends. 0 or an exit status. */
static int exports_write(struct app *app, const struct mw_model *m)
{
	__u64 duration_ns = m->elapsed_s * 1e9;
	struct timespec now;
	int err, ret = 0;

	if (app->folded.f) {
		folded_write(app->folded.f, m->sites);
		ret = output_flush(&app->folded);
	}
	if (!app->pprof.f)
		return ret;
	clock_gettime(CLOCK_REALTIME, &now);
	err = pprof_write(app->pprof.f, m->sites,
			  now.tv_sec * 1000000000ULL + now.tv_nsec - duration_ns, duration_ns);
	if (err) {
		elog("cannot write %s: %s", app->pprof.name, strerror(-err));
		return ret ?: MW_EXIT_ERROR;
	}
	err = output_flush(&app->pprof);
	return ret ?: err;
}

/* --listen: bound before any command starts, so that a port in use ends memwatch first. */
static int metrics_open(struct app *app)
{
	char addr[LISTEN_ADDR_STR_LEN];
	const char *why;
	int err;

	if (!app->opts.listen)
		return 0;
	if (mhd_load(&why)) {
		elog("--listen needs libmicrohttpd: %s", why);
		return MW_EXIT_LISTEN;
	}
	err = metrics_server_start(&app->metrics, &app->opts.listen_addr);
	if (err) {
		elog("cannot listen on %s: %s",
		     listen_addr_str(&app->opts.listen_addr, addr, sizeof(addr)), strerror(-err));
		return MW_EXIT_LISTEN;
	}
	vlog("serving metrics at http://%s/metrics",
	     listen_addr_str(&app->opts.listen_addr, addr, sizeof(addr)));
	return 0;
}

/*
 * -p: each process and its allocator, in the order given. Two PIDs of one
 * process (a TID and its process's PID) are a usage error.
 */
static int prepare_pids(struct app *app)
{
	int i, j, ret;

	for (i = 0; i < app->procs.nr; i++) {
		struct watched *w = app->procs.w[i];

		/* a cgroup's process that is gone already went its way */
		if (app->opts.cgroup && process_gone(app->opts.pids[i])) {
			vlog("pid %d left the cgroup before the attach", app->opts.pids[i]);
			ret = MW_EXIT_NO_PROCESS;
		} else {
			ret = prepare_pid(&app->opts, app->opts.pids[i], &w->model.info, &w->alloc,
					  &w->model.tracer);
		}
		/* the others of a cgroup go on without it, which was not named; none left: it waits */
		if (ret && app->opts.cgroup) {
			procs_drop(&app->procs, i);
			memmove(&app->opts.pids[i], &app->opts.pids[i + 1],
				(app->opts.nr_pids - i - 1) * sizeof(app->opts.pids[0]));
			app->opts.nr_pids--;
			i--;
			continue;
		}
		if (ret)
			return ret;
		for (j = 0; j < i; j++) {
			if (app->procs.w[j]->model.info.pid == w->model.info.pid) {
				elog("-p %d and %d are one process, %d", app->opts.pids[j],
				     app->opts.pids[i], w->model.info.pid);
				return MW_EXIT_USAGE;
			}
		}
		allocator_describe(&w->model.info, &w->alloc, app->opts.no_malloc);
	}
	return 0;
}

/*
 * Each watched process holds about ten descriptors (links, pidfd, its
 * allocator's file, a perf event): -f and --cgroup may watch a thousand, more
 * than the usual soft limit of 1024. The hard limit is memwatch's to take;
 * the launched command, forked before, keeps the caller's.
 */
static void fd_limit_raise(void)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) || lim.rlim_cur >= lim.rlim_max)
		return;
	lim.rlim_cur = lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim))
		vlog("cannot raise the open files limit: %s", strerror(errno));
}

/* Options to a target found, its allocator and a held launch; 0 or an exit status. */
static int prepare(struct app *app)
{
	bool uprobe_multi;
	int ret;

	/* the attach competes with a busy target for the CPU: memwatch goes first */
	if (!app->opts.cmd)
		priority_raise(&app->prio);
	ret = privileges_check(&app->opts, &uprobe_multi);
	if (!ret)
		ret = check_kernel();
	if (!ret)
		ret = output_open(app);
	if (!ret)
		ret = metrics_open(app);
	if (!ret && app->opts.cmd) {
		ret = prepare_command(&app->opts, &app->model->info, &app->procs.w[0]->alloc,
				      &app->launch);
		if (!ret)
			allocator_describe(&app->model->info, &app->procs.w[0]->alloc,
					   app->opts.no_malloc);
	} else if (!ret) {
		ret = prepare_pids(app);
		/* --cgroup's first process may have gone */
		app->model = top_level(app);
	}
	if (ret)
		return ret;
	/* a launched command's children, forked while preparing, keep the caller's */
	priority_raise(&app->prio);
	fd_limit_raise();
	target_pid = app->model->info.pid;
	return load_bpf(&app->opts, app->cgroup_id, uprobe_multi, &app->skel);
}

/* From the loaded BPF object to probes in place and a launched command running. */
/*
 * Each process's pidfd, then, with -p, the settling look: it may have exited
 * or exec'd meanwhile. 0 or an exit status.
 */
static int settle(struct app *app)
{
	int i, err;

	for (i = 0; i < app->procs.nr; i++) {
		struct watched *w = app->procs.w[i];
		pid_t pid = w->model.info.pid;

		/* the pidfd refers to the child from before its exec on: no PID reuse race */
		if (w->model.target_exited)
			continue;
		w->pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (w->pidfd < 0 && errno == ESRCH && app->opts.cgroup) {
			w->model.target_exited = true;
			continue;
		}
		if (w->pidfd < 0) {
			if (errno == ESRCH) {
				elog("process %d exited during attach", pid);
				return MW_EXIT_NO_PROCESS;
			}
			elog("process %d: %s", pid, strerror(errno));
			return MW_EXIT_ERROR;
		}
		err = app->opts.cmd ? 0 : follow_settle(&w->follow, &w->model.info,
							 !app->opts.no_malloc);
		if (err == -ESRCH && app->opts.cgroup) {
			w->model.target_exited = true;
			continue;
		}
		if (err == -ESRCH) {
			elog("process %d exited during attach", pid);
			return MW_EXIT_NO_PROCESS;
		}
	}
	return 0;
}

static int attach(struct app *app)
{
	struct mw_model *m = app->model;
	int err, ret;

	err = thread_table_open(&app->threads, app->skel);
	if (err) {
		elog("cannot map the thread table: %s", strerror(-err));
		return MW_EXIT_BPF;
	}
	err = app->opts.no_malloc ? 0 : live_table_open(&app->table, app->skel, app->opts.max_allocs);
	if (err) {
		elog("cannot create the live-allocation table: %s", strerror(-err));
		return MW_EXIT_BPF;
	}
	ret = attach_all(app);
	if (ret)
		return ret;
	if (app->opts.trace) {
		/* before a launched command runs: time 0 precedes its first call */
		err = trace_open(&app->trace, kernel_trace_fd(app->skel), app->out.f,
				 app->reporter->syscall);
		if (err) {
			elog("cannot read the trace ring buffer: %s", strerror(-err));
			return MW_EXIT_BPF;
		}
		m->info.traced = true;
	}
	if (app->opts.stacks) {
		err = stacks_start(&app->stacks, kernel_stack_events_fd(app->skel),
				   kernel_stack_images_fd(app->skel), app->opts.sample_bytes);
		if (err) {
			elog("cannot read the stack records' ring buffer: %s", strerror(-err));
			return MW_EXIT_BPF;
		}
	}
	ret = settle(app);
	/*
	 * -f keeps it: a child counts nothing until memwatch placed its uprobes,
	 * and until then it traps on every breakpoint it inherited (the kernel
	 * leaves them in an mm no uprobe_multi link wants), which starves a
	 * normal-priority memwatch when hundreds do (docs/DESIGN.md).
	 */
	if (!app->opts.follow_forks)
		priority_restore(&app->prio);
	if (ret)
		return ret;
	/* from here on a signal ends the watch instead of memwatch, and reaches the command */
	signals_watch(app->opts.cmd ? app->launch.pid : 0, &app->run_mask);
	if (app->opts.cmd) {
		/* a signal while it was held: it never starts */
		err = signals_pending();
		if (err) {
			elog("%s before the watch began; %s never started",
			     err == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)",
			     ESC(app->opts.cmd[0], PATH_MAX));
			return 128 + err;
		}
		err = launch_release(&app->launch);
		if (err) {
			elog("%s: %s", ESC(app->opts.cmd[0], PATH_MAX), strerror(-err));
			app->launch.pid = -1;
			return err == -ENOENT ? MW_EXIT_CMD_NOT_FOUND : MW_EXIT_CMD_NOT_EXEC;
		}
	}
	return 0;
}

/*
 * --cgroup: its id, and the processes in it now (maybe none), watched as -p
 * names them; the kernel enters the ones that come later. 0 or an exit status.
 */
static int cgroup_targets(struct app *app)
{
	struct mw_options *o = &app->opts;
	int n = cgroup_id(o->cgroup, &app->cgroup_id);

	if (n == -ENOENT) {
		elog("no such cgroup: %s", ESC(o->cgroup, PATH_MAX));
		return MW_EXIT_NO_PROCESS;
	}
	if (n) {
		elog("--cgroup %s: %s", ESC(o->cgroup, PATH_MAX),
		     n == -EMEDIUMTYPE ? "not a cgroup v2 directory" : strerror(-n));
		return MW_EXIT_USAGE;
	}
	n = cgroup_processes(o->cgroup, o->pids, MW_MAX_PIDS);
	if (n < 0) {
		elog("--cgroup %s: %s", ESC(o->cgroup, PATH_MAX), strerror(-n));
		return MW_EXIT_ERROR;
	}
	if (n > MW_MAX_PIDS)
		elog("cgroup %s has %d processes: the first %d are watched, the others once they "
		     "fork or are moved", ESC(o->cgroup, PATH_MAX), n, MW_MAX_PIDS);
	o->nr_pids = n < MW_MAX_PIDS ? n : MW_MAX_PIDS;
	return 0;
}

/* Watches until the end, detaches, then the summary; memwatch's exit status. */
static int watch(struct app *app)
{
	struct mw_model *m = app->model;
	int i, err, ret;

	for (i = 0; i < app->procs.nr; i++) {
		struct watched *w = app->procs.w[i];
		const struct mw_target_info *info = &w->model.info;

		allocator_note(info, &w->follow.alloc, app->opts.no_malloc);
		fprintf(stderr, "memwatch: watching pid %d (%s): %d tracepoints, %d uprobes on %s. "
			"Ctrl-C to end.\n", info->pid, ESC(info->comm, sizeof(info->comm)),
			info->tracepoints, info->uprobes + info->uretprobes,
			ESC(info->allocator, sizeof(info->allocator)));
		/* the first draw shows the command line */
		snapshot_read_cmdline(&w->model);
	}
	/* the kernel side is in: a process that joins from now on is watched */
	if (!app->procs.nr)
		fprintf(stderr, "memwatch: cgroup %s has no process yet: waiting for one. "
			"Ctrl-C to end.\n", ESC(app->opts.cgroup, PATH_MAX));
	if (app->reporter->open &&
	    app->reporter->open(m, app->opts.stacks ? &app->stacks : NULL)) {
		elog("cannot open the live view on this terminal (TERM=%s): text reports",
		     getenv("TERM") ?: "");
		app->reporter = &report_text;
	}
	/* the live view owns the terminal: no line over it */
	app->procs.quiet = app->reporter->input != NULL;
	for (i = 0; i < app->procs.nr; i++)
		app->procs.w[i]->follow.quiet = app->procs.quiet;

	err = report_loop(app);
	/* --cgroup's first process may have come meanwhile */
	m = app->model;
	if (app->opts.stacks) {
		m->sites = &app->stacks.sites;
		m->sites_top = app->opts.top;
	}
	/*
	 * Nothing of ours stays in the targets while they go on: every process's
	 * uprobes in one detach with the tracepoints, whose waits overlap
	 * (one by one, 60 processes took 3 s).
	 */
	procs_gather_links(&app->procs, &app->probes);
	probes_detach(&app->probes);
	for (i = 0; i < app->procs.nr; i++)
		follow_stop(&app->procs.w[i]->follow);
	if (app->opts.cmd && m->target_exited) {
		/* the pidfd polled readable: a zombie, reaped at once */
		waitpid(app->launch.pid, &m->exit_status, 0);
		app->launch.pid = -1;
	}
	/* no summary where the reports could not go; the exports' files are their own */
	if (!err) {
		app->reporter->summary(app->out.f, m);
		err = output_flush(&app->out);
		ret = exports_write(app, m);
		err = err ?: ret;
	}
	if (app->reporter->close)
		app->reporter->close();
	if (err) {
		if (app->launch.pid > 0)
			elog("detached; %s (pid %d) keeps running",
			     ESC(m->info.comm, sizeof(m->info.comm)), app->launch.pid);
		app->launch.pid = -1;
		return err;
	}
	if (app->launch.pid > 0)
		return wait_command(app);
	return app->opts.cmd ? child_exit_code(m->exit_status) : 0;
}

int main(int argc, char **argv)
{
	struct app app = {
		.launch = { .pid = -1, .go_fd = -1, .exec_err_fd = -1 },
	};
	int ret;

	ret = options_parse(argc, argv, &app.opts);
	if (ret)
		return ret;
	signals_init();
	mw_verbose = app.opts.verbose;
	libbpf_set_print(libbpf_print);
	app.reporter = reporters[app.opts.format];
	ret = app.opts.cgroup ? cgroup_targets(&app) : 0;
	if (ret)
		return ret;
	if (!procs_init(&app.procs, app.opts.cmd ? 1 : app.opts.nr_pids)) {
		elog("%s", strerror(ENOMEM));
		procs_free(&app.procs);
		return MW_EXIT_ERROR;
	}
	model_init(&app.none);
	app.none.no_process = true;
	/* the launched or first-named process: the reports' top level */
	app.model = top_level(&app);
	model_init(&app.paused);

	ret = prepare(&app);
	if (!ret)
		ret = attach(&app);
	if (!ret)
		ret = watch(&app);

	if (app.reporter->close)
		app.reporter->close();
	metrics_server_stop(app.metrics);
	if (app.launch.pid > 0)
		launch_abort(&app.launch);
	procs_free(&app.procs);
	probes_detach(&app.probes);
	trace_close(&app.trace);
	stacks_close(&app.stacks);
	thread_table_close(&app.threads);
	live_table_close(&app.table);
	kernel_destroy(app.skel);
	model_free(&app.paused);
	ret = output_close(&app.out, ret);
	ret = output_close(&app.folded, ret);
	return output_close(&app.pprof, ret);
}
