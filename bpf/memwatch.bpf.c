// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * memwatch's kernel side: per-thread cumulative counters of one target
 * process, fed by the memory syscalls' tracepoints and by uprobes on the
 * malloc family. User space reads the counters each interval; only --trace
 * sends something per event: a record per syscall, through a ring buffer.
 *
 * One object, one compilation unit: each concern is a header of inlined
 * functions (and its programs), so that the uprobe fast path pays no
 * BPF-to-BPF call for the split (docs/DESIGN.md). This file holds the
 * target's lifecycle: its threads' exits, its execs and its forks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "threads.bpf.h"
#include "live_table.bpf.h"
#include "syscalls.bpf.h"
#include "resident.bpf.h"
#include "heap.bpf.h"

/* what the target did that memwatch does not follow: child processes, new images */
__u64 forks;
__u64 execs;

SEC("tp/sched/sched_process_exit")
int tracepoint__sched__sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct mw_thread *t = current_thread();
	int i;

	if (!t)
		return 0;
	/* the thread may have renamed itself since its first event */
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	t->exited = 1;
	if (!ctx->group_dead)
		return 0;
	/* the last thread, before the mm is torn down: the final RSS */
	for (i = 0; i < MW_RSS_NR; i++)
		rss_at_exit[i] = rss_now[i];
	target_exiting = 1;
	return 0;
}

SEC("tp/sched/sched_process_exec")
int tracepoint__sched__sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = *(volatile pid_t *)&ctx->old_pid;
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_thread *old;
	int i;

	if (!is_target(id))
		return 0;
	/* a thread other than the leader exec'd: it took the PID, its own TID is gone */
	if (old_tid != (__u32)id) {
		old = thread_of(old_tid);
		if (old)
			old->exited = 1;
	}
	/* a launched command's own exec starts it; a later one replaces it */
	if (!exec_pending) {
		__sync_fetch_and_add(&execs, 1);
		forget_blocks();
	}
	exec_pending = 0;
	/* a new, empty mm: its hash is learned from its first event */
	target_mm_known = 0;
	for (i = 0; i < MW_RSS_NR; i++)
		rss_now[i] = 0;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_btf__sched__sched_process_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	/* a new thread shares the tgid; a new process is not followed, only counted */
	if (parent->tgid == target_tgid && child->tgid != parent->tgid)
		__sync_fetch_and_add(&forks, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
