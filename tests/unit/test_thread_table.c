// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The thread table's user side on plain memory in place of the mapped BPF
 * arrays: records of a reused TID summed into one row, folding clears only
 * the TID's current slot and zeroes the records, with what their blocks
 * released since the read counted as orphans; a read takes one process's
 * records.
 */
#include <stdlib.h>
#include "kernel/thread_table.h"
#include "model/model.h"
#include "tap.h"

#define NR_TIDS 1024
#define PID 42		/* the process the records are of, unless a test says otherwise */

static struct mw_thread records[MW_MAX_THREADS];
static __u32 tid_slots[NR_TIDS];
static __u32 claimed;

static void table_init(struct thread_table *tt)
{
	memset(tt, 0, sizeof(*tt));
	tt->records = records;
	tt->tid_slots = tid_slots;
	tt->nr_tids = NR_TIDS;
	tt->free_slots_fd = -1;		/* no queue: recycling's push fails quietly */
	tt->wait_outer_fd = tt->wait_inner_fd = -1;	/* no programs to wait for */
	tt->slots_claimed = &claimed;
	tt->seen = calloc(MW_MAX_THREADS, sizeof(*tt->seen));
	tt->retiring = calloc(MW_MAX_THREADS, sizeof(*tt->retiring));
}

/* Puts a record for @tid in @slot, as the kernel's first event of a thread does. */
static void add_record(__u32 slot, __u32 tid, __u64 start_ns, const char *comm, __u64 allocs)
{
	struct mw_thread *t = &records[slot];

	memset(t, 0, sizeof(*t));
	strcpy(t->comm, comm);
	t->start_ns = start_ns;
	t->alloc_calls = allocs;
	t->pid = PID;
	t->tid = tid;
	tid_slots[tid] = slot;
	if (slot > claimed)
		claimed = slot;
}

static void test_read_and_fold(void)
{
	struct thread_table tt;
	struct mw_model m;
	const struct mw_row *row;
	__u32 folded = 100;

	table_init(&tt);
	model_init(&m);
	/* TID 100 exited, then went to a new thread; slot 3 is free */
	add_record(1, 100, 10, "old", 5);
	records[1].exited = 1;
	add_record(2, 100, 20, "new", 7);
	add_record(4, 200, 30, "other", 1);
	claimed = 4;

	model_begin_update(&m, 1.0);
	ASSERT_OK(thread_table_read(&tt, &m, PID), "read");
	ASSERT_EQ(tt.nr_seen, 3, "read: three records in use, the free slot skipped");
	row = model_find(&m, 100);
	if (ASSERT_TRUE(row, "read: the reused TID has a row")) {
		ASSERT_EQ(row->now.alloc_calls, 12, "read: its records are summed");
		ASSERT_EQ(row->exited, 0, "read: live while its newest thread is");
		ASSERT_STREQ(row->now.comm, "new", "read: named after its newest thread");
	}
	row = model_find(&m, 200);
	ASSERT_TRUE(row && row->now.alloc_calls == 1, "read: the other TID's row");

	/* the TID's threads all exited and were folded */
	records[2].exited = 1;
	ASSERT_OK(thread_table_read(&tt, &m, PID), "read again");
	/* a free of a folded thread's block, between the read and the fold */
	records[1].released_calls += 3;
	records[1].released_bytes += 192;
	ASSERT_OK(thread_table_fold(&tt, &folded, 1), "fold");
	ASSERT_EQ(tid_slots[100], 0, "fold: the TID no longer has a slot");
	ASSERT_EQ(tid_slots[200], 4, "fold: another TID's slot stays");
	ASSERT_EQ(tt.late_released_calls, 3, "fold: late releases become orphans");
	ASSERT_EQ(tt.late_released_bytes, 192, "fold: and their bytes");
	ASSERT_EQ(records[1].tid + records[2].tid + records[2].alloc_calls, 0,
		  "fold: the folded records are zeroed");
	ASSERT_EQ(records[4].alloc_calls, 1, "fold: another TID's record stays");
	ASSERT_OK(thread_table_read(&tt, &m, PID), "read after the fold");
	ASSERT_EQ(tt.nr_seen, 1, "fold: only the other TID's record is read");
	model_free(&m);
	free(tt.seen);
	free(tt.retiring);
}

static void test_fold_keeps_a_newer_slot(void)
{
	struct thread_table tt;
	struct mw_model m;
	__u32 tid = 300;

	table_init(&tt);
	model_init(&m);
	memset(records, 0, sizeof(records));
	claimed = 0;
	add_record(5, tid, 40, "gone", 2);
	records[5].exited = 1;
	model_begin_update(&m, 1.0);
	ASSERT_OK(thread_table_read(&tt, &m, PID), "newer: read");
	/* between the read and the fold, the TID went to a new thread in slot 6 */
	add_record(6, tid, 50, "born", 0);
	ASSERT_OK(thread_table_fold(&tt, &tid, 1), "newer: fold");
	ASSERT_EQ(tid_slots[tid], 6, "newer: the new thread keeps its slot");
	ASSERT_EQ(records[5].tid, 0, "newer: the folded record is zeroed");
	ASSERT_EQ(records[6].tid, tid, "newer: the new one is not");
	model_free(&m);
	free(tt.seen);
	free(tt.retiring);
}

/* Two processes' records in one table: each read takes its process's alone. */
static void test_processes(void)
{
	struct thread_table tt;
	struct mw_model m;

	table_init(&tt);
	model_init(&m);
	memset(records, 0, sizeof(records));
	claimed = 0;
	add_record(1, 400, 60, "ours", 3);
	add_record(2, 401, 70, "theirs", 9);
	records[2].pid = PID + 1;
	model_begin_update(&m, 1.0);
	ASSERT_OK(thread_table_read(&tt, &m, PID), "processes: read");
	model_end_update(&m, false);
	ASSERT_EQ(m.nr_rows, 1, "processes: one row, its process's");
	ASSERT_TRUE(model_find(&m, 400) && !model_find(&m, 401),
		    "processes: another process's thread is not a row");
	model_free(&m);
	free(tt.seen);
	free(tt.retiring);
}

int main(void)
{
	test_read_and_fold();
	test_fold_keeps_a_newer_slot();
	test_processes();
	return tap_failures != 0;
}
