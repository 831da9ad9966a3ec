// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The live table and the thread-slot allocator as memwatch's programs use
 * them, driven one call at a time by tests/bpf/test_tables.c through
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
#include "threads.bpf.h"
#include "live_table.bpf.h"

/* what the last table_take found */
__u64 taken_size;
__u32 taken_tid;

/* alloc_add(): 0, 1 if the block was there already, -1 if it found no slot */
SEC("raw_tp")
int BPF_PROG(table_add, __u64 ptr, __u64 size, __u32 tid)
{
	return alloc_add(ptr, size, tid, 0);
}

/* alloc_take(): an enum mw_block_seen, the size and owner in taken_* */
SEC("raw_tp")
int BPF_PROG(table_take, __u64 ptr)
{
	return alloc_take(ptr, &taken_size, &taken_tid);
}

/* The tombstone a free of a pre-attach block leaves, as free_preexisting() does. */
SEC("raw_tp")
int BPF_PROG(table_tombstone, __u64 ptr)
{
	alloc_insert_freed(ptr);
	return 0;
}

/* @ptr's first slot in the newest generation, -1 if it is not searched */
SEC("raw_tp")
int BPF_PROG(table_home, __u64 ptr)
{
	struct alloc_search q = { .ptr = ptr };

	return search_in(&q, table_newest, false) ? (int)q.home : -1;
}

/* What an exec does to the table: every block released, every slot empty. */
SEC("raw_tp")
int table_forget(void *ctx)
{
	forget_blocks();
	return 0;
}

/* thread_get(): the slot of @tid's record, 0 if it got none */
SEC("raw_tp")
int BPF_PROG(thread_claim, __u32 tid)
{
	struct mw_thread *t = thread_get(tid);
	__u32 *slot = tid_slot(tid);

	return t && slot ? *slot : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
