/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Resident memory: kmem:rss_stat's changes of the target's mm, credited to
 * the thread whose fault or call made them.
 */
#ifndef MW_RESIDENT_BPF_H
#define MW_RESIDENT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "threads.bpf.h"

/*
 * Resident memory of the target's mm. kmem:rss_stat names the mm only by a
 * hash, learned from the target's first own event; its size is the
 * counter's exact current value, so the change is the difference to the
 * last value seen. User space sets rss_now from /proc before attaching.
 */
__u32 target_mm_id;
__u32 target_mm_known;
__u32 exec_pending;		/* launched: the held child still has memwatch's mm */
__s64 rss_now[MW_RSS_NR];
__s64 rss_at_exit[MW_RSS_NR];	/* as the last thread began to exit */
__u32 target_exiting;
/* changes the target's threads did not make: reclaim, khugepaged */
__u64 rss_other_gained[MW_RSS_NR];
__u64 rss_other_lost[MW_RSS_NR];
/* what the process's exit released, after its last thread began to exit */
__u64 rss_exit_lost[MW_RSS_NR];

static __always_inline bool is_return_call(__u32 nr)
{
	return MW_RETURNING_SYSCALLS >> nr & 1;
}

SEC("tp/kmem/rss_stat")
int tracepoint__kmem__rss_stat(struct trace_event_raw_rss_stat *ctx)
{
	/* volatile: clang must load the context fields directly, as the verifier wants */
	__u32 mm_id = *(volatile __u32 *)&ctx->mm_id;
	__u32 curr = *(volatile __u32 *)&ctx->curr;
	int member = *(volatile int *)&ctx->member;
	__s64 size = *(volatile long *)&ctx->size;
	struct mw_thread *t;
	__s64 delta;
	__u64 id;
	bool own;
	__u32 nr;

	if (member < 0 || member >= MW_RSS_NR)
		return 0;
	/* the events of every other process on the machine end here, on the mm alone */
	if (target_mm_known && mm_id != target_mm_id)
		return 0;
	id = bpf_get_current_pid_tgid();
	own = curr && is_target(id);
	if (!target_mm_known) {
		if (!own || exec_pending)
			return 0;
		target_mm_id = mm_id;
		target_mm_known = 1;
	}
	/* threads fault concurrently: each change is counted exactly once */
	delta = size - __sync_lock_test_and_set(&rss_now[member], size);
	if (!own) {
		if (delta > 0)
			__sync_fetch_and_add(&rss_other_gained[member], delta);
		else if (target_exiting)
			__sync_fetch_and_add(&rss_exit_lost[member], -delta);
		else
			__sync_fetch_and_add(&rss_other_lost[member], -delta);
		return 0;
	}
	t = thread_get((__u32)id);
	if (!t)
		return 0;
	if (delta > 0) {
		t->rss_gained[member] += delta;
		return 0;
	}
	t->rss_lost[member] += -delta;
	if (member == MW_RSS_SWAP)
		return 0;
	nr = t->sys.nr;
	if (is_return_call(nr) && nr < MW_SYS_NR)
		t->rss_returned[nr] += -delta;
	return 0;
}

#endif /* MW_RESIDENT_BPF_H */
