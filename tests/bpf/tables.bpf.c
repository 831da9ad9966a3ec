// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The live table, the thread-slot allocator and the watched set as
 * memwatch's programs use them, driven one call at a time by tests/bpf/test_tables.c through
 * BPF_PROG_TEST_RUN. Raw tracepoint programs: test_run runs them in the
 * calling thread (its task, TID and name are what thread_get() reads) as
 * memwatch's own programs run, not sleepable, under RCU; a SEC("syscall")
 * program would be sleepable.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "processes.bpf.h"
#include "threads.bpf.h"
#include "live_table.bpf.h"

/* the process whose blocks the table programs add, take and forget: its TGID and slot */
__u32 table_pid;
__u32 table_process;
/* what the last table_take found */
__u64 taken_size;
__u32 taken_tid;
__u32 taken_site;
/* the call site table_add() gives its blocks */
__u32 table_site;

/* alloc_add(): 0, 1 if the block was there already, -1 if it found no slot */
SEC("raw_tp")
int BPF_PROG(table_add, __u64 ptr, __u64 size, __u32 tid)
{
	return alloc_add(ptr, size, tid, table_process, table_site);
}

/* -p's processes' blocks: some are older than the counting */
const volatile bool preexisting_blocks;

/* alloc_take(): an enum mw_block_seen, the size, owner and site in taken_* */
SEC("raw_tp")
int BPF_PROG(table_take, __u64 ptr)
{
	return alloc_take(ptr, table_process, preexisting_blocks, &taken_size, &taken_tid,
			  &taken_site);
}

/* The tombstone a free of a pre-attach block leaves, as free_preexisting() does. */
SEC("raw_tp")
int BPF_PROG(table_tombstone, __u64 ptr)
{
	alloc_insert_freed(ptr, table_process);
	return 0;
}

/* @ptr's first slot in the newest generation, -1 if it is not searched */
SEC("raw_tp")
int BPF_PROG(table_home, __u64 ptr)
{
	struct alloc_search q = { .ptr = ptr, .block = mw_alloc_block(ptr, table_process) };

	return search_in(&q, table_newest, false) ? (int)q.home : -1;
}

/* What an exec does to the table: the process's blocks released, their slots tombstones. */
SEC("raw_tp")
int table_forget(void *ctx)
{
	forget_blocks(table_process);
	return 0;
}

/* thread_get() for a thread of the table's process: the slot of @tid's record, or 0 */
SEC("raw_tp")
int BPF_PROG(thread_claim, __u32 tid)
{
	struct mw_thread *t = thread_get((__u64)table_pid << 32 | tid, table_process);
	__u32 *slot = tid_slot(tid);

	return t && slot ? *slot : 0;
}

/* watched() of the calling thread: its process's slot, 0 if it is not watched */
SEC("raw_tp")
int process_watched(void *ctx)
{
	__u32 slot = 0;

	return watched(bpf_get_current_pid_tgid(), &slot) ? (int)slot : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
