/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The live-allocation table's generations (memwatch.h), kept by a thread of
 * their own: it adds a generation when the kernel says the newest is half
 * used or full, and drops an old one once no block is left in it.
 */
#ifndef MW_LIVE_TABLE_H
#define MW_LIVE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/types.h>
#include "memwatch.h"

struct memwatch_bpf;
struct ring_buffer;

/* kernel memory per live block at the worst moment: 4 slots of 16 bytes */
#define MW_TABLE_BYTES_PER_BLOCK	(4 * sizeof(struct mw_alloc))

/* what user space knows of a generation */
struct generation_state {
	bool settled;		/* no program inserts into it any more */
	bool scanned;
	__u64 blocks_at_scan;
	__u64 freed_at_scan;
};

struct live_table {
	struct memwatch_bpf *skel;
	struct mw_generation *gens_map;	/* the kernel's, mapped */
	int segments_fd;		/* the array of maps */
	__u32 nr_segments;		/* its entries */
	bool *segment_used;
	__u64 max_slots;		/* --max-allocs at MW_TABLE_BYTES_PER_BLOCK */
	__u64 slots;			/* in the generations there are */
	__u64 segment_bytes;		/* kernel memory of one segment */
	__u64 other_bytes;		/* of memwatch's other maps */
	__u64 kernel_bytes, peak_kernel_bytes;	/* read by the report thread */
	__u64 walks_seen;		/* table_walks at the last look */
	bool full;			/* the last growth failed: untracked from here */
	struct generation_state gens[MW_MAX_GENERATIONS];
	struct ring_buffer *wakeups;
	pthread_t thread;
	bool running, stop;
};

/*
 * The memory memwatch may use, in bytes: the smaller of MemAvailable and
 * what its memory cgroups allow; 0 if unknown.
 */
__u64 live_table_memory_budget(void);
/* Before the skeleton is loaded: room in the array of maps for --max-allocs. */
void live_table_size(struct memwatch_bpf *skel, unsigned long max_allocs);
/* After it is loaded: the first generation, and the thread. 0 or -errno. */
int live_table_open(struct live_table *lt, struct memwatch_bpf *skel, unsigned long max_allocs);
void live_table_close(struct live_table *lt);
/* Kernel memory of every map memwatch holds, now and at most. */
void live_table_kernel_memory(const struct live_table *lt, __u64 *now, __u64 *peak);

#endif /* MW_LIVE_TABLE_H */
