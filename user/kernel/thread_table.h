/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The kernel's thread records, read in place: the threads array and the
 * TID-to-slot array are mapped into memwatch. Folding an exited thread
 * frees its slot for a new thread, once no BPF program can still be
 * writing to it.
 */
#ifndef MW_THREAD_TABLE_H
#define MW_THREAD_TABLE_H

#include <stddef.h>
#include <linux/types.h>
#include "model/model.h"

struct memwatch_bpf;

/* a slot read at the last update, and its owner's releases then */
struct table_slot {
	__u32 index;
	__u32 tid;
	__u64 released_calls;
	__u64 released_bytes;
};

struct thread_table {
	struct mw_thread *records;	/* the threads array, MW_MAX_THREADS slots */
	__u32 *tid_slots;		/* indexed by TID */
	size_t records_len, tid_slots_len;	/* bytes mapped */
	__u32 nr_tids;
	int free_slots_fd;
	const __u32 *slots_claimed;
	int wait_outer_fd, wait_inner_fd;	/* a map in a map: see wait_for_programs() */
	struct table_slot *seen;	/* the slots in use at the last read, by TID */
	size_t nr_seen;
	struct table_slot *retiring;	/* scratch of thread_table_fold() */
	/* what blocks of folded threads released between the read and the fold */
	__u64 late_released_calls, late_released_bytes;
};

/* Before the skeleton is loaded: a slot entry for every TID the kernel hands out. */
void thread_table_size(struct memwatch_bpf *skel);
/* After it is loaded: 0 or -errno. */
int thread_table_open(struct thread_table *tt, struct memwatch_bpf *skel);
void thread_table_close(struct thread_table *tt);
/*
 * The counters of every thread of process @pid into the model, a TID's
 * records summed: 0 or -errno. A fold that follows is of these threads.
 */
int thread_table_read(struct thread_table *tt, struct mw_model *m, pid_t pid);
/*
 * The records of the @n TIDs the model folded at this update leave the
 * table; their slots go to new threads. 0 or -errno.
 */
int thread_table_fold(struct thread_table *tt, const __u32 *tids, size_t n);
/*
 * The records of every thread of the @n processes in @slots, reaped and read
 * one last time, leave the table; returns once no program can be writing to
 * their records or to the processes' (it waits even when there was none).
 * 0 or -errno.
 */
int thread_table_forget_processes(struct thread_table *tt, const __u32 *slots, size_t n);

#endif /* MW_THREAD_TABLE_H */
