/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --stacks: reads the kernel's stack records as they come, in a thread of
 * its own so that the reports and the snapshots never keep it from the ring
 * buffer, unwinds each sample with its process's unwinder and counts its
 * call's block, and the block's free, at its site. The sites are the
 * thread's until stacks_stop(); meanwhile the live view looks at the top
 * ones through stacks_peek(), under the thread's lock.
 */
#ifndef MW_STACKS_H
#define MW_STACKS_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/types.h>
#include "stacks/sites.h"
#include "stacks/symbol_cache.h"
#include "stacks/u64map.h"

struct ring_buffer;
struct unwinder;

struct stacks {
	struct ring_buffer *rb;		/* samples, blocks and frees */
	struct ring_buffer *images;	/* images announced */
	struct stack_sites sites;
	struct symbol_cache symbols;	/* under the lock, as the sites */
	/* by process slot: the image being unwound, then the ones announced since (next) */
	struct unwinder **unwinders;
	/* a thread's call between its sample and its block: tid -> a = the call's id, b = site */
	struct u64map pending;
	int err;			/* the first failure of a record's handling, -errno */
	pthread_t thread;
	bool running;
	volatile bool stopping;
	/*
	 * The sites and the unwinders' Dwfl: the thread holds the lock while it
	 * handles records, and hands it over between two records to a look
	 * that waits (view_waiting), which signals view_done as it is done.
	 */
	pthread_mutex_t lock;
	pthread_cond_t view_done;
	bool view_waiting;
	/* the looks' own: the time they may still take to symbolize, and when the last was */
	double symbolize_s, peek_s;
};

/* What the sites add up to, beside the rows a look copies. */
struct sites_totals {
	size_t sites;
	__u64 samples, syscalls, unpaired;
	__u64 sample_bytes;		/* --stacks=sampled: the mean bytes between two; 0: all */
};

/*
 * Starts reading the ring buffers @map_fd and @images_fd (images) in a
 * thread; samples one per @sample_bytes on average (0: every call). 0 or -errno.
 */
int stacks_start(struct stacks *s, int map_fd, int images_fd, __u64 sample_bytes);
/*
 * Ends the thread once it handled every record waiting (the target's last
 * ones after it exited), and symbolizes the @top sites of each order, or
 * with @all every site (--folded, --pprof): the sites are the caller's from
 * then on. 0 or the first failure, -errno.
 */
int stacks_stop(struct stacks *s, int top, bool all);
/*
 * The live view's look while the thread runs: the @n first sites in @order
 * copied into @rows, and the totals into @t. The rows are symbolized while
 * the looks have taken less than a tenth of the thread's time for it (it
 * waits meanwhile): the others show their addresses until a later look. A row's pcs and frames are its site's,
 * which stay until stacks_close(). How many rows.
 */
size_t stacks_peek(struct stacks *s, enum sites_order order, struct site *rows, size_t n,
		   struct sites_totals *t);
void stacks_close(struct stacks *s);

#endif /* MW_STACKS_H */
