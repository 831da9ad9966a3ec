/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The watched processes: a record per process, found from its TGID. Every
 * program starts here, and a process not in the set ends it.
 */
#ifndef MW_PROCESSES_BPF_H
#define MW_PROCESSES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memwatch.h"
#include "common.bpf.h"

/*
 * TGID -> slot of process_records. A hash map, since TGIDs are sparse: its
 * lookup is the one the programs pay per event (~70 ns here) beyond what
 * one target cost; the thread records stay arrays (threads.bpf.h). A fork
 * tracepoint can add a child in the kernel: an element is one update.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_PROCESSES);
	__type(key, __u32);
	__type(value, __u32);
} processes SEC(".maps");

/*
 * The records, in .bss: user space reads and writes them in place through
 * the skeleton's mapping, and a program reaches one without a lookup.
 */
struct mw_process process_records[MW_MAX_PROCESSES];

/* slots handed out from the top of process_records, slot 0 never; user space claims too */
__u32 process_slots_claimed;

/*
 * Slots user space retired, zeroed, for the next processes entered: a
 * reaped process's, once it read the record one last time and took its
 * blocks and threads out (procs_retire()). Taken before new ones.
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MW_MAX_PROCESSES);
	__type(value, __u32);
} free_process_slots SEC(".maps");

/*
 * -f: wakes user space at once when a fork added a process, so that its
 * uprobes follow soon. Only a wake-up: user space reads the new slots.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} process_wakeups SEC(".maps");

/* The record in slot @slot, NULL for none. Slots are below MW_MAX_PROCESSES, a power of 2. */
static __always_inline struct mw_process *process_at(__u32 slot)
{
	/* a mask the verifier sees; a comparison clang may rewrite into one it cannot follow */
	slot &= MW_MAX_PROCESSES - 1;
	return slot ? &process_records[slot] : NULL;
}

/* The record of process @pid, exited or not; NULL if it is not watched. */
static __always_inline struct mw_process *process_of(__u32 pid)
{
	__u32 *slot = bpf_map_lookup_elem(&processes, &pid);

	return slot ? process_at(*slot) : NULL;
}

/*
 * The record of the process @pid_tgid belongs to, its slot in *@slot; NULL
 * unless it is alive: once its last thread began to exit, its TGID may go
 * to a new process, which is not watched. Its exit and exec are followed
 * even after it left --cgroup's.
 */
static __always_inline struct mw_process *process_alive(__u64 pid_tgid, __u32 *slot)
{
	__u32 pid = pid_tgid >> 32, *found = bpf_map_lookup_elem(&processes, &pid);
	struct mw_process *p;

	if (!found)
		return NULL;
	*slot = *found;
	p = process_at(*slot);
	return p && !p->exiting ? p : NULL;
}

/* The same, NULL too once it left --cgroup's: what it does counts no more. */
static __always_inline struct mw_process *watched(__u64 pid_tgid, __u32 *slot)
{
	struct mw_process *p = process_alive(pid_tgid, slot);

	return p && !p->left ? p : NULL;
}

/* A block of @p's freed after its owner's record was folded by user space. */
static __always_inline void orphan_released(struct mw_process *p, __u64 size)
{
	if (!p)
		return;
	__sync_fetch_and_add(&p->orphan_released_calls, 1);
	__sync_fetch_and_add(&p->orphan_released_bytes, size);
}

#endif /* MW_PROCESSES_BPF_H */
