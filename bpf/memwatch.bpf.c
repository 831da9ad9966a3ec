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
#include <bpf/bpf_core_read.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "processes.bpf.h"
#include "threads.bpf.h"
#include "live_table.bpf.h"
#include "syscalls.bpf.h"
#include "resident.bpf.h"
#include "heap.bpf.h"


SEC("tp/sched/sched_process_exit")
int tracepoint__sched__sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_process *p;
	struct mw_thread *t;
	__u32 slot;
	int i;

	p = process_alive(id, &slot);
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
 * to a new mm of any process now. Nothing of it runs any more: user space
 * reads its record one last time and gives the slot to the next process.
 */
SEC("tp/sched/sched_process_free")
int tracepoint__sched__sched_process_free(struct trace_event_raw_sched_process_template *ctx)
{
	__u32 pid = *(volatile pid_t *)&ctx->pid;
	struct mw_process *p = process_of(pid);

	/* the leader's TID is the TGID; its record may have been taken by a thread's */
	if (!p || p->pid != pid || !p->exiting)
		return 0;
	if (p->mm_known)
		bpf_map_delete_elem(&process_mms, &p->mm_id);
	/* after the rest: user space retires the slot once it sees this */
	__sync_lock_test_and_set(&p->reaped, 1);
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

	p = process_alive(id, &slot);
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
		forget_blocks(slot);
	}
	p->exec_pending = 0;
	/* a vfork child's own mm, at last */
	p->mm_shared = 0;
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

/* --cgroup: the id of the cgroup (v2) whose processes, its descendants' too, are watched */
const volatile __u64 watched_cgroup_id;

/* children of watched processes, and processes joining --cgroup, that found no slot left */
__u64 forks_unwatched;

/*
 * Enters @task's process in the set, before it runs (a child) or while it
 * is moved (--cgroup): a record complete before its TGID finds it, as
 * kernel_watch() makes one. @parent_slot and @parent_pid: the watched
 * parent's, 0 for a process that joined the cgroup; @shares_mm: a vfork child, in its
 * parent's mm until it execs. Its allocator calls count once user space
 * placed its uprobes; its syscalls and resident changes from here on.
 * False when no slot is left.
 */
static __always_inline bool process_enter(struct task_struct *task, __u32 parent_slot,
					  __u32 parent_pid, bool shares_mm)
{
	__u32 pid = task->tgid, slot;
	struct mw_process *p;

	/* a retired slot first; once none is left, the counter stays near the top, never wrapping */
	if (bpf_map_pop_elem(&free_process_slots, &slot))
		slot = *(volatile __u32 *)&process_slots_claimed < MW_MAX_PROCESSES ?
		       __sync_fetch_and_add(&process_slots_claimed, 1) + 1 : MW_MAX_PROCESSES;
	p = slot < MW_MAX_PROCESSES ? process_at(slot) : NULL;
	if (!p) {
		__sync_fetch_and_add(&forks_unwatched, 1);
		return false;
	}
	p->parent = parent_slot;
	p->parent_pid = parent_pid;
	p->joined = !parent_slot;
	p->entered_ns = bpf_ktime_get_ns();
	/* it frees blocks its slot never had: its parent's, or its own from before */
	p->preexisting = 1;
	if (shares_mm)
		p->mm_shared = 1;
	else
		mm_resident(task->mm, p->rss_at_entry);
	__builtin_memcpy(p->rss_now, p->rss_at_entry, sizeof(p->rss_now));
	__sync_fetch_and_add(&mms_unknown, 1);
	/* last, ordered after the rest: user space reads the slot once its PID is there */
	__sync_lock_test_and_set(&p->pid, pid);
	/* a TGID reused from an exited watched process: the new one takes it */
	bpf_map_update_elem(&processes, &pid, &slot, BPF_ANY);
	bpf_ringbuf_output(&process_wakeups, &slot, sizeof(slot), BPF_RB_FORCE_WAKEUP);
	return true;
}

/* cgroup v2 nests at most this deep here (the kernel's own limit is higher, but unused) */
#define MAX_CGROUP_LEVEL 32

struct cgroup_search {
	unsigned long ancestors;	/* the address of @cgroup->ancestors[0] */
	int level;
	bool found;
};

static long cgroup_search_step(__u32 i, void *ctx)
{
	struct cgroup_search *c = ctx;
	struct cgroup *ancestor = NULL;

	if ((int)i > c->level)
		return 1;
	bpf_probe_read_kernel(&ancestor, sizeof(ancestor), (void *)(c->ancestors + i * 8));
	c->found = ancestor && BPF_CORE_READ(ancestor, kn, id) == watched_cgroup_id;
	return c->found;
}

/* Whether @cgroup is --cgroup's or one of its descendants: one of its ancestors (itself included). */
static __always_inline bool in_watched_cgroup(struct cgroup *cgroup)
{
	struct cgroup_search c = { .level = BPF_CORE_READ(cgroup, level) };
	unsigned long addr = 0;

	if (!watched_cgroup_id || !cgroup)
		return false;
	/* its address as a number, to index the flexible array */
	bpf_probe_read_kernel(&addr, sizeof(addr), &cgroup);
	c.ancestors = addr + bpf_core_field_offset(struct cgroup, ancestors);
	bpf_loop(MAX_CGROUP_LEVEL, cgroup_search_step, &c, 0);
	return c.found;
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
	if (p) {
		/* its parent counts it when memwatch does not */
		if (!follow_forks ||
		    !process_enter(child, slot, parent->tgid, child->mm == parent->mm))
			__sync_fetch_and_add(&p->forks, 1);
		return 0;
	}
	/* clone3(CLONE_INTO_CGROUP): a process born in the cgroup, of a parent outside */
	if (watched_cgroup_id && in_watched_cgroup(BPF_CORE_READ(child, cgroups, dfl_cgrp)))
		process_enter(child, 0, 0, child->mm == parent->mm);
	return 0;
}

/*
 * --cgroup: a process moved into the cgroup or a descendant joins the set;
 * a watched one moved out of it leaves (its events count no more), and one
 * moved back comes back. The tracepoint names the moved process's leader.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(tp_btf__cgroup__cgroup_attach_task, struct cgroup *dst, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	struct mw_process *p;
	bool inside;

	/* cgroup v1's hierarchies move tasks too: only the default one's (id 0) are v2 */
	if (!watched_cgroup_id || BPF_CORE_READ(dst, root, hierarchy_id) != 0)
		return 0;
	inside = in_watched_cgroup(dst);
	p = process_of(task->tgid);
	if (p && !p->exiting)
		p->left = !inside;
	else if (inside)
		process_enter(task, 0, 0, false);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
