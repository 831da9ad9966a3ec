/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Thread records: a slot of the threads array per thread of a watched process,
 * found from its TID through thread_slots, claimed on the thread's first
 * event from the queue of freed slots or the top of the array.
 */
#ifndef MW_THREADS_BPF_H
#define MW_THREADS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "processes.bpf.h"

#define PF_EXITING	0x00000004

/*
 * The threads' records, and each TID's slot among them. Every probe hit
 * looks its thread up, so both are arrays, whose lookups the verifier
 * inlines (~4 ns here), where a hash map lookup cost ~70 ns and task storage
 * ~55, three times per malloc+free pair. User space maps both and reads the
 * records in place.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MW_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct mw_thread);
} threads SEC(".maps");

/* Two TIDs per element (an array's values are 8-byte aligned): half the memory. */
struct tid_slots {
	__u32 slot[2];
};

/* Indexed by TID / 2, sized by user space to the kernel's pid_max. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 32768 / 2);
	__type(key, __u32);
	__type(value, struct tid_slots);
} thread_slots SEC(".maps");

/* Slots user space freed, of exited threads it folded; new threads take these first. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MW_MAX_THREADS);
	__type(value, __u32);
} free_slots SEC(".maps");

/* slots handed out from the top of the threads array, slot 0 never */
__u32 slots_claimed;

/* Where @tid's slot number is kept, NULL for a TID beyond the pid_max at start. */
static __always_inline __u32 *tid_slot(__u32 tid)
{
	__u32 key = tid / 2;
	struct tid_slots *pair = bpf_map_lookup_elem(&thread_slots, &key);

	return pair ? &pair->slot[tid & 1] : NULL;
}

/* The record in *@slot, NULL for none. */
static __always_inline struct mw_thread *slot_record(const __u32 *slot)
{
	/* a copy: user space may clear the slot meanwhile */
	__u32 index = *slot;

	return index ? bpf_map_lookup_elem(&threads, &index) : NULL;
}

/* @tid's record, live or exited, NULL if it has none. */
static __always_inline struct mw_thread *thread_of(__u32 tid)
{
	__u32 *slot = tid_slot(tid);

	return slot ? slot_record(slot) : NULL;
}

/*
 * A record for the calling thread of the process in slot @process, whose
 * TID has none or an exited one's: a recycled slot, else the next never used.
 */
static __noinline struct mw_thread *thread_new(__u64 pid_tgid, __u32 process, __u32 *slot)
{
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task = bpf_get_current_task_btf();
	struct mw_thread *t = slot_record(slot);
	__u64 start_ns = task->start_time;
	__u32 index;

	/*
	 * The thread itself, past its exit event (a futex word written as it
	 * exits). Not a thread whose exec took the exited leader's TID: it
	 * inherits the leader's start time too, but is not exiting.
	 */
	if (t && t->start_ns == start_ns && (task->flags & PF_EXITING))
		return t;
	if (bpf_map_pop_elem(&free_slots, &index)) {
		/* a racing claim past the end fails the lookup below */
		if (slots_claimed >= MW_MAX_THREADS - 1) {
			count_lost();
			return NULL;
		}
		index = __sync_fetch_and_add(&slots_claimed, 1) + 1;
	}
	t = bpf_map_lookup_elem(&threads, &index);
	if (!t) {
		count_lost();
		return NULL;
	}
	t->start_ns = start_ns;
	t->pid = pid_tgid >> 32;
	t->process = process;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	/*
	 * Published last, by an exchange: BPF's atomics with a fetch are fully
	 * ordered (clang 14 has no store-release for BPF), so user space, which
	 * skips a slot whose TID is 0, never sees a TID before the rest.
	 */
	__sync_lock_test_and_set(&t->tid, tid);
	*slot = index;
	return t;
}

/*
 * The record of the calling thread (@pid_tgid), of the watched process in
 * slot @process, created on its first event. Inlined: a BPF-to-BPF call
 * costs more than the few instructions it saves.
 */
static __always_inline struct mw_thread *thread_get(__u64 pid_tgid, __u32 process)
{
	__u32 *slot = tid_slot((__u32)pid_tgid);
	struct mw_thread *t;

	if (!slot) {
		count_lost();
		return NULL;
	}
	t = slot_record(slot);
	/* an exited thread's record: its TID went to a new thread */
	if (t && !t->exited)
		return t;
	return thread_new(pid_tgid, process, slot);
}

/* The calling thread's record, NULL unless its process is watched. */
static __always_inline struct mw_thread *current_thread(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 process;

	if (!watched(id, &process))
		return NULL;
	return thread_get(id, process);
}

#endif /* MW_THREADS_BPF_H */
