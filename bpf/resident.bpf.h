/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Resident memory: kmem:rss_stat's changes of each watched process's mm, credited to
 * the thread whose fault or call made them.
 */
#ifndef MW_RESIDENT_BPF_H
#define MW_RESIDENT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "threads.bpf.h"

/*
 * Resident memory of each watched process's mm. kmem:rss_stat names the mm
 * only by a hash, learned from the process's first own event; its size is
 * the counter's exact current value, so the change is the difference to
 * the last value seen. User space sets rss_now from /proc before attaching;
 * the fork tracepoint sets a followed child's from its new mm (processes.bpf.h).
 */

/* kmem:rss_stat's mm hash -> slot of process_records, for every watched process whose hash is known */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_PROCESSES);
	__type(key, __u32);
	__type(value, __u32);
} process_mms SEC(".maps");

/*
 * Watched processes whose mm's hash is not known yet: while there are none,
 * another process's event costs the mm lookup alone.
 */
__s32 mms_unknown;

/*
 * The record of the process whose mm kmem:rss_stat names, its slot in
 * *@slot; NULL for none. A process's own event teaches its hash, unless the
 * process is a held command that still has memwatch's mm.
 */
static __always_inline struct mw_process *process_of_mm(__u32 mm_id, bool curr, __u64 pid_tgid,
							 __u32 *slot)
{
	__u32 *found = bpf_map_lookup_elem(&process_mms, &mm_id);
	struct mw_process *p;

	if (found) {
		*slot = *found;
		return process_at(*slot);
	}
	if (!curr || *(volatile __s32 *)&mms_unknown <= 0)
		return NULL;
	p = process_alive(pid_tgid, slot);
	if (!p || p->mm_known || p->exec_pending || p->mm_shared)
		return NULL;
	/* two threads may race to learn it: one does */
	if (__sync_lock_test_and_set(&p->mm_known, 1))
		return p;
	p->mm_id = mm_id;
	bpf_map_update_elem(&process_mms, &mm_id, slot, BPF_ANY);
	__sync_fetch_and_add(&mms_unknown, -1);
	return p;
}

/*
 * A per-CPU address plus a CPU's offset is that CPU's copy. The offsets are
 * in no symbol a program can name here (kallsyms has no data symbols), so
 * they are measured on a per-CPU array of memwatch's own: where a CPU's copy
 * of its value is, less the per-CPU address the array keeps for it.
 * Set by user space: the possible CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu_probe SEC(".maps");

const volatile __u32 possible_cpus = 1;

struct counter_sum {
	__s64 sum;
	unsigned long counters;	/* the per-CPU part: a per-CPU address */
	unsigned long base;	/* percpu_probe's value's per-CPU address */
};

static long counter_sum_step(__u32 cpu, void *ctx)
{
	struct counter_sum *c = ctx;
	__u32 zero = 0;
	void *copy = bpf_map_lookup_percpu_elem(&percpu_probe, &zero, cpu);
	unsigned long at = 0;
	__s32 part = 0;

	if (!copy || !c->base)
		return 1;
	/* an address as a number, as percpu_probe_base() reads the map's */
	bpf_probe_read_kernel(&at, sizeof(at), &copy);
	bpf_probe_read_kernel(&part, sizeof(part), (void *)(c->counters + at - c->base));
	c->sum += part;
	return 0;
}

/* percpu_probe's value's per-CPU address, from the array's own record of it; 0 if unread */
static __always_inline unsigned long percpu_probe_base(void)
{
	void *map = &percpu_probe;
	unsigned long addr = 0, base = 0;

	/* the map's address as a number: a copy, which the verifier sees as data */
	bpf_probe_read_kernel(&addr, sizeof(addr), &map);
	bpf_probe_read_kernel(&base, sizeof(base),
			      (void *)(addr + bpf_core_field_offset(struct bpf_array, pptrs)));
	return base;
}

/*
 * @mm's resident counters in bytes, summed over every CPU as kmem:rss_stat
 * sums them: a followed child's start, read at its fork, before it runs
 * (its first own event teaches its mm's hash, and changes from there on).
 */
static __always_inline void mm_resident(struct mm_struct *mm, __s64 rss[MW_RSS_NR])
{
	struct counter_sum c = { .base = percpu_probe_base() };
	int i;

	for (i = 0; i < MW_RSS_NR; i++) {
		c.sum = mm->rss_stat[i].count;
		c.counters = (unsigned long)mm->rss_stat[i].counters;
		bpf_loop(possible_cpus, counter_sum_step, &c, 0);
		rss[i] = c.sum > 0 ? c.sum * page_size : 0;
	}
}

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
	struct mw_process *p;
	struct mw_thread *t;
	__u32 nr, slot;
	__s64 delta;
	__u64 id;
	bool own;

	if (member < 0 || member >= MW_RSS_NR)
		return 0;
	id = bpf_get_current_pid_tgid();
	/* the events of every other process on the machine end here, on the mm alone */
	p = process_of_mm(mm_id, curr, id, &slot);
	if (!p)
		return 0;
	/* one moved out of --cgroup keeps its RSS exact, its threads credited no more */
	own = curr && (id >> 32) == p->pid && !p->exiting && !p->left;
	/* threads fault concurrently: each change is counted exactly once */
	delta = size - __sync_lock_test_and_set(&p->rss_now[member], size);
	if (!own) {
		if (delta > 0)
			__sync_fetch_and_add(&p->rss_other_gained[member], delta);
		else if (p->exiting)
			__sync_fetch_and_add(&p->rss_exit_lost[member], -delta);
		else
			__sync_fetch_and_add(&p->rss_other_lost[member], -delta);
		return 0;
	}
	t = thread_get(id, slot);
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
