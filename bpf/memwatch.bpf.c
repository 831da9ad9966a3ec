// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * memwatch's kernel side: per-thread cumulative counters of the watched
 * processes, fed by the memory syscalls' tracepoints and by uprobes on the
 * malloc family. User space reads the counters each interval; only --trace
 * sends something per event: a record per syscall, through a ring buffer.
 *
 * One object, one compilation unit: each concern is a header of inlined
 * functions (and its programs), so that the uprobe fast path pays no
 * BPF-to-BPF call for the split (docs/DESIGN.md). This file holds the
 * processes' lifecycle: their threads' exits, their execs and their forks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "processes.bpf.h"
#include "threads.bpf.h"
#include "live_table.bpf.h"
#include "syscalls.bpf.h"
#include "resident.bpf.h"
#include "heap.bpf.h"

/* every watched process's execs: user space looks at the live table after one */
__u64 execs;

SEC("tp/sched/sched_process_exit")
int tracepoint__sched__sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_process *p;
	struct mw_thread *t;
	__u32 slot;
	int i;

	p = watched(id, &slot);
	if (!p)
		return 0;
	t = thread_get(id, slot);
	if (t) {
		/* the thread may have renamed itself since its first event */
		bpf_get_current_comm(t->comm, sizeof(t->comm));
		t->exited = 1;
	}
	if (!ctx->group_dead)
		return 0;
	/* the last thread, before the mm is torn down: the final RSS */
	for (i = 0; i < MW_RSS_NR; i++)
		p->rss_at_exit[i] = p->rss_now[i];
	p->exiting = 1;
	return 0;
}

/*
 * The process's task is freed: its mm went before it, and its hash may go
 * to a new mm of any process now.
 */
SEC("tp/sched/sched_process_free")
int tracepoint__sched__sched_process_free(struct trace_event_raw_sched_process_template *ctx)
{
	__u32 pid = *(volatile pid_t *)&ctx->pid;
	struct mw_process *p = process_of(pid);

	/* the leader's TID is the TGID; its record may have been taken by a thread's */
	if (p && p->pid == pid && p->exiting && p->mm_known)
		bpf_map_delete_elem(&process_mms, &p->mm_id);
	return 0;
}

SEC("tp/sched/sched_process_exec")
int tracepoint__sched__sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = *(volatile pid_t *)&ctx->old_pid;
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_thread *old;
	struct mw_process *p;
	__u32 slot;
	int i;

	p = watched(id, &slot);
	if (!p)
		return 0;
	/* a thread other than the leader exec'd: it took the PID, its own TID is gone */
	if (old_tid != (__u32)id) {
		old = thread_of(old_tid);
		if (old)
			old->exited = 1;
	}
	/* a launched command's own exec starts it; a later one replaces it */
	if (!p->exec_pending) {
		__sync_fetch_and_add(&p->execs, 1);
		__sync_fetch_and_add(&execs, 1);
		forget_blocks(slot);
	}
	p->exec_pending = 0;
	/* a new, empty mm: its hash is learned from its first event */
	if (p->mm_known) {
		bpf_map_delete_elem(&process_mms, &p->mm_id);
		p->mm_known = 0;
		__sync_fetch_and_add(&mms_unknown, 1);
	}
	for (i = 0; i < MW_RSS_NR; i++)
		p->rss_now[i] = 0;
	return 0;
}

/* -f: a watched process's children are watched too */
const volatile bool follow_forks;

/* -f: children of watched processes that found no slot left */
__u64 forks_unwatched;

/*
 * Enters @child, forked by @forker of the process in slot @parent_slot, in the set: a
 * record complete before the TGID finds it, as kernel_watch() makes one.
 * Its allocator calls count once user space placed its uprobes; its
 * syscalls and resident changes from here on.
 */
static __always_inline void watch_child(struct mw_process *parent, __u32 parent_slot,
					struct task_struct *forker, struct task_struct *child)
{
	__u32 pid = child->tgid, slot;
	struct mw_process *p;

	slot = __sync_fetch_and_add(&process_slots_claimed, 1) + 1;
	p = slot < MW_MAX_PROCESSES ? process_at(slot) : NULL;
	if (!p) {
		__sync_fetch_and_add(&forks_unwatched, 1);
		__sync_fetch_and_add(&parent->forks, 1);
		return;
	}
	p->parent = parent_slot;
	p->forked_ns = bpf_ktime_get_ns();
	/* it frees its parent's blocks, which its slot never had */
	p->preexisting = 1;
	/* vfork, or clone(CLONE_VM): the parent's mm, whose events stay the parent's */
	if (child->mm == forker->mm)
		p->mm_shared = 1;
	else
		mm_resident(child->mm, p->rss_at_fork);
	__builtin_memcpy(p->rss_now, p->rss_at_fork, sizeof(p->rss_now));
	__sync_fetch_and_add(&mms_unknown, 1);
	/* last, ordered after the rest: user space reads the slot once its PID is there */
	__sync_lock_test_and_set(&p->pid, pid);
	/* a TGID reused from an exited watched process: the new one takes it */
	bpf_map_update_elem(&processes, &pid, &slot, BPF_ANY);
	bpf_ringbuf_output(&process_wakeups, &slot, sizeof(slot), BPF_RB_FORCE_WAKEUP);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_btf__sched__sched_process_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	struct mw_process *p;
	__u32 slot;

	/* a new thread shares the tgid */
	if (child->tgid == parent->tgid)
		return 0;
	p = watched((__u64)parent->tgid << 32, &slot);
	if (!p)
		return 0;
	if (follow_forks)
		watch_child(p, slot, parent, child);
	else
		__sync_fetch_and_add(&p->forks, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
