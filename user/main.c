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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "allocator.h"
#include "allocator_check.h"
#include "exitcodes.h"
#include "follow.h"
#include "log.h"
#include "model.h"
#include "options.h"
#include "priority.h"
#include "privileges.h"
#include "probes.h"
#include "report.h"
#include "snapshot.h"
#include "thread_table.h"
#include "target.h"
#include "trace.h"
#include "tui.h"
#include "memwatch.skel.h"

static volatile sig_atomic_t exiting_signal;
/* once known: libbpf's warnings about it, after it exited, say nothing more than we do */
static pid_t target_pid;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !mw_verbose)
		return 0;
	if (level == LIBBPF_WARN && target_pid && process_gone(target_pid))
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	exiting_signal = sig;
}

/* SIGINT and SIGTERM end the report loop; a second Ctrl-C kills at once. */
static void setup_signals(sigset_t *run_mask)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };
	sigset_t blocked;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* delivered only inside ppoll(), so no wakeup is lost */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGTERM);
	sigprocmask(SIG_BLOCK, &blocked, run_mask);
	sigdelset(run_mask, SIGINT);
	sigdelset(run_mask, SIGTERM);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

/* -p: the process of a PID or TID, and the allocator it really uses. */
static int prepare_pid(const struct mw_options *o, struct mw_target_info *info,
		       struct allocator *a)
{
	struct proc_status st;
	int err;

	err = proc_status_read(o->pid, &st);
	if (err == -ENOENT || err == -ESRCH) {
		elog("no such process: %d", o->pid);
		return MW_EXIT_NO_PROCESS;
	} else if (err) {
		elog("cannot read /proc/%d/status: %s", o->pid, strerror(-err));
		return MW_EXIT_ERROR;
	}
	if (!st.has_mm) {
		elog("process %d (%s) has no memory to watch: a kernel thread or a zombie", o->pid,
		     st.name);
		return MW_EXIT_NO_PROCESS;
	}
	if (st.tgid == getpid()) {
		elog("process %d is memwatch itself", st.tgid);
		return MW_EXIT_USAGE;
	}
	if (st.tgid != o->pid)
		vlog("thread %d belongs to process %d", o->pid, st.tgid);
	info->pid = st.tgid;
	snprintf(info->comm, sizeof(info->comm), "%s", st.name);
	if (o->no_malloc)
		return 0;
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

	err = command_resolve(o->cmd[0], path, sizeof(path));
	if (err) {
		elog("%s: %s", o->cmd[0], err == -EACCES ? "permission denied" : "command not found");
		return err == -EACCES ? MW_EXIT_CMD_NOT_EXEC : MW_EXIT_CMD_NOT_FOUND;
	}
	if (!o->no_malloc)
		info->malloc_probed = !allocator_of_command(path, o->libc, a) &&
				      !allocator_drop_ifuncs(a);
	err = launch_prepare(path, o->cmd, l);
	if (err) {
		elog("cannot start %s: %s", o->cmd[0], strerror(-err));
		return MW_EXIT_ERROR;
	}
	info->pid = l->pid;
	info->launched = true;
	/* the name exec will give it: the file's name, truncated like the kernel does */
	snprintf(info->comm, sizeof(info->comm), "%.*s", (int)sizeof(info->comm) - 1,
		 strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	return 0;
}

static int load_bpf(const struct mw_options *o, pid_t pid, bool uprobe_multi,
		    struct memwatch_bpf **skelp)
{
	struct memwatch_bpf *skel;
	int err;

	skel = memwatch_bpf__open();
	if (!skel) {
		elog("cannot open the BPF object: %s", strerror(errno));
		return MW_EXIT_BPF;
	}
	*skelp = skel;
	skel->rodata->target_tgid = pid;
	skel->rodata->page_size = sysconf(_SC_PAGESIZE);
	bpf_map__set_max_entries(skel->maps.allocs, o->max_allocs);
	thread_table_size(skel);
	skel->rodata->trace_syscalls = o->trace;
	skel->rodata->preexisting_blocks = !o->cmd;
	/* the smallest ring buffer there is when nothing is traced */
	bpf_map__set_max_entries(skel->maps.trace_events,
				 o->trace ? TRACE_RING_BYTES : sysconf(_SC_PAGESIZE));
	if (o->no_malloc)
		probes_skip_malloc(skel);
	else if (uprobe_multi)
		probes_use_uprobe_multi(skel->obj);
	err = memwatch_bpf__load(skel);
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
static void set_resident_base(struct memwatch_bpf *skel, struct mw_model *m)
{
	struct proc_status st;
	__s64 *base = m->res.base;

	if (m->info.launched) {
		skel->bss->exec_pending = 1;
		return;
	}
	if (proc_status_read(m->info.pid, &st))
		return;
	m->status = st;
	base[MW_RSS_FILE] = st.rss_file_bytes;
	base[MW_RSS_ANON] = st.rss_anon_bytes;
	base[MW_RSS_SHMEM] = st.rss_shmem_bytes;
	memcpy(skel->bss->rss_now, base, sizeof(skel->bss->rss_now));
}

/*
 * Uprobes first: placing one copies a text page of the target into an
 * anonymous one, in memwatch's context, before the target's mm is known to
 * the rss_stat program. The resident base read after them includes those
 * pages; the tracepoints count from there.
 */
static int attach_all(struct memwatch_bpf *skel, struct mw_model *m, const struct allocator *a,
		      const char *libc, struct follow *f, struct probes *p)
{
	struct mw_target_info *info = &m->info;
	int err;

	err = follow_start(f, skel, info, a, libc);
	if (!err) {
		set_resident_base(skel, m);
		err = probes_attach_tracepoints(skel, p);
	}
	/* a path under /proc/PID/root fails with ENOENT once the process is gone */
	if (err && (err == -ESRCH || process_gone(info->pid))) {
		elog("process %d exited during attach", info->pid);
		return MW_EXIT_NO_PROCESS;
	}
	if (err == -EPERM || err == -EACCES) {
		elog("permission denied attaching probes, capabilities notwithstanding (an LSM, or a "
		     "kernel that wants CAP_SYS_ADMIN?): run it as root");
		return MW_EXIT_PERMISSION;
	}
	return err ? MW_EXIT_BPF : 0;
}

/* Prints the trace records waiting; the model counts them for the summary. */
static int read_trace(struct trace *trace, struct mw_model *m)
{
	int err = trace_read(trace);

	m->trace_records = trace->records;
	if (err)
		elog("cannot read the trace ring buffer: %s", strerror(-err));
	return err ? MW_EXIT_ERROR : 0;
}

/*
 * How often the exec count is read between reports when following execs: a
 * new image's allocator is probed this soon after its exec, and its calls in
 * between are missed.
 */
#define EXEC_POLL_S 0.05

/*
 * Reports every interval until the target exits, a signal, --count, or the
 * view's q; with --trace (@trace not NULL) prints its records as they come
 * instead of the interval reports. With @f, moves the uprobes when the target
 * execs.
 */
static int report_loop(const struct mw_options *o, struct memwatch_bpf *skel,
		       struct thread_table *tt, struct mw_model *m, const struct reporter *r,
		       FILE *out, int pidfd, struct trace *trace, const sigset_t *run_mask,
		       struct follow *f)
{
	double start = now_s(), next = start + o->interval_s;
	struct pollfd pfd[2] = { { .fd = pidfd, .events = POLLIN } };
	enum report_input state = REPORT_RUN;
	nfds_t nfds = 1;
	long reports = 0;
	int err;

	/* an interactive view also wakes the loop with its keys, a trace with its records */
	if (r->input)
		pfd[nfds++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	else if (trace)
		pfd[nfds++] = (struct pollfd){ .fd = trace_fd(trace), .events = POLLIN };

	while (!exiting_signal) {
		double wait = next - now_s();
		struct timespec timeout = { 0 };

		if (f && wait > EXEC_POLL_S)
			wait = EXEC_POLL_S;
		if (wait > 0) {
			timeout.tv_sec = (time_t)wait;
			timeout.tv_nsec = (long)((wait - timeout.tv_sec) * 1e9);
		}
		err = ppoll(pfd, nfds, &timeout, run_mask);
		if (err < 0 && errno != EINTR) {
			elog("poll: %s", strerror(errno));
			return MW_EXIT_ERROR;
		}
		if (err > 0 && pfd[0].revents) {
			m->target_exited = true;
			break;
		}
		if (trace) {
			err = read_trace(trace, m);
			if (err)
				return err;
		}
		if (f)
			follow_exec(f, &m->info, false);
		/* keys, or a resize signal that interrupted the wait */
		if (r->input) {
			state = r->input(m);
			if (state == REPORT_QUIT)
				break;
		}
		if (now_s() < next)
			continue;
		next += o->interval_s;
		if (state == REPORT_PAUSE)
			continue;
		err = snapshot_take(skel, tt, m, now_s() - start);
		if (err) {
			elog("cannot read the counters: %s", strerror(-err));
			return MW_EXIT_ERROR;
		}
		if (!trace)
			r->interval(out, m);
		if (o->count && ++reports >= o->count)
			break;
	}
	/* what the target did until it exited is in the buffer still */
	if (trace) {
		err = read_trace(trace, m);
		if (err)
			return err;
	}
	err = snapshot_take(skel, tt, m, now_s() - start);
	if (err) {
		elog("cannot read the counters: %s", strerror(-err));
		return MW_EXIT_ERROR;
	}
	return 0;
}

/*
 * -p: the target may have exited or exec'd while we attached. An exec before
 * the tracepoints were in was not counted, so its image is looked at once
 * more, now that any later exec will be.
 */
static int attach_settle(const struct mw_options *o, struct mw_model *m, struct follow *f)
{
	if (o->cmd)
		return 0;
	if (process_gone(m->info.pid)) {
		elog("process %d exited during attach", m->info.pid);
		return MW_EXIT_NO_PROCESS;
	}
	if (!o->no_malloc)
		follow_exec(f, &m->info, true);
	return 0;
}

/* The live view takes a terminal that nothing else was asked to write to. */
static bool use_tui(const struct mw_options *o)
{
	return !o->no_tui && !o->json && !o->output && !o->trace && isatty(STDOUT_FILENO) &&
	       isatty(STDIN_FILENO);
}

/* The launched target's exit status as a shell reports it. */
static int child_exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	struct launch launch = { .pid = -1, .go_fd = -1, .exec_err_fd = -1 };
	const struct reporter *reporter;
	struct memwatch_bpf *skel = NULL;
	struct thread_table threads = { 0 };
	struct probes probes = { 0 };
	struct trace trace = { 0 };
	struct follow follow = { 0 };
	struct allocator alloc = { 0 };
	struct priority prio = { 0 };
	struct mw_options opts;
	struct mw_model model;
	bool uprobe_multi;
	sigset_t run_mask;
	FILE *out = stdout;
	int pidfd = -1, err, ret;

	ret = options_parse(argc, argv, &opts);
	if (ret)
		return ret;
	mw_verbose = opts.verbose;
	libbpf_set_print(libbpf_print);
	/* a launched command's children, forked while preparing, keep the caller's */
	if (!opts.cmd)
		priority_raise(&prio);
	reporter = opts.json ? &report_json : &report_text;
	model_init(&model);
	model.info.allocator_origin = "";

	ret = privileges_check(&opts, &uprobe_multi);
	if (!ret)
		ret = check_kernel();
	if (ret)
		return ret;
	if (opts.output) {
		out = fopen(opts.output, "w");
		if (!out) {
			elog("cannot write %s: %s", opts.output, strerror(errno));
			return MW_EXIT_ERROR;
		}
	}
	setvbuf(out, NULL, _IOLBF, 0);
	setup_signals(&run_mask);

	if (opts.cmd)
		ret = prepare_command(&opts, &model.info, &alloc, &launch);
	else
		ret = prepare_pid(&opts, &model.info, &alloc);
	if (ret)
		goto cleanup;
	priority_raise(&prio);
	target_pid = model.info.pid;
	allocator_describe(&model.info, &alloc, opts.no_malloc);

	ret = load_bpf(&opts, model.info.pid, uprobe_multi, &skel);
	if (ret)
		goto cleanup;
	err = thread_table_open(&threads, skel);
	if (err) {
		elog("cannot map the thread table: %s", strerror(-err));
		ret = MW_EXIT_BPF;
		goto cleanup;
	}
	ret = attach_all(skel, &model, &alloc, opts.libc, &follow, &probes);
	model.info.tracepoints = probes.tracepoints;
	if (ret)
		goto cleanup;
	if (opts.trace) {
		/* before a launched command runs: time 0 precedes its first call */
		err = trace_open(&trace, bpf_map__fd(skel->maps.trace_events), out, opts.json);
		if (err) {
			elog("cannot read the trace ring buffer: %s", strerror(-err));
			ret = MW_EXIT_BPF;
			goto cleanup;
		}
		model.info.traced = true;
	}

	/* the pidfd refers to the child from before its exec on: no PID reuse race */
	pidfd = syscall(SYS_pidfd_open, model.info.pid, 0);
	if (pidfd < 0) {
		ret = errno == ESRCH ? MW_EXIT_NO_PROCESS : MW_EXIT_ERROR;
		if (errno == ESRCH)
			elog("process %d exited during attach", model.info.pid);
		else
			elog("process %d: %s", model.info.pid, strerror(errno));
		goto cleanup;
	}
	ret = attach_settle(&opts, &model, &follow);
	priority_restore(&prio);
	if (ret)
		goto cleanup;
	if (opts.cmd) {
		err = launch_release(&launch);
		if (err) {
			elog("%s: %s", opts.cmd[0], strerror(-err));
			ret = err == -ENOENT ? MW_EXIT_CMD_NOT_FOUND : MW_EXIT_CMD_NOT_EXEC;
			launch.pid = -1;
			goto cleanup;
		}
	}
	allocator_note(&model.info, &follow.alloc, opts.no_malloc);
	fprintf(stderr, "memwatch: watching pid %d (%s): %d tracepoints, %d uprobes on %s. "
		"Ctrl-C to end.\n", model.info.pid, model.info.comm, model.info.tracepoints,
		model.info.uprobes + model.info.uretprobes, model.info.allocator);
	if (use_tui(&opts)) {
		if (!tui_init(&model))
			reporter = &report_tui;
		else
			elog("cannot open the live view on this terminal (TERM=%s): text reports",
			     getenv("TERM") ?: "");
	}
	follow.quiet = reporter == &report_tui;

	ret = report_loop(&opts, skel, &threads, &model, reporter, out, pidfd,
			  opts.trace ? &trace : NULL, &run_mask, opts.no_malloc ? NULL : &follow);
	/* nothing of ours stays in the target while it goes on */
	follow_stop(&follow);
	probes_detach(&probes);
	if (opts.cmd) {
		/* after --count the command runs on to its end; after a signal it is left alone */
		int flags = exiting_signal && !model.target_exited ? WNOHANG : 0;

		if (waitpid(launch.pid, &model.exit_status, flags) == launch.pid) {
			model.target_exited = true;
			ret = ret ?: child_exit_code(model.exit_status);
		} else {
			ret = ret ?: 128 + exiting_signal;
		}
		launch.pid = -1;
	}
	reporter->summary(out, &model);

cleanup:
	tui_done();
	if (launch.pid > 0)
		launch_abort(&launch);
	if (pidfd >= 0)
		close(pidfd);
	follow_stop(&follow);
	probes_detach(&probes);
	trace_close(&trace);
	thread_table_close(&threads);
	memwatch_bpf__destroy(skel);
	model_free(&model);
	if (out != stdout)
		fclose(out);
	return ret;
}
