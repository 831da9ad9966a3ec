/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --stacks: reads the kernel's stack records as they come, in a thread of
 * its own so that the reports and the snapshots never keep it from the ring
 * buffer, unwinds each sample with its process's unwinder and counts its
 * call's block, and the block's free, at its site. The sites are the
 * thread's until stacks_stop().
 */
#ifndef MW_STACKS_H
#define MW_STACKS_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/types.h>
#include "stacks/sites.h"
#include "stacks/u64map.h"

struct ring_buffer;
struct unwinder;

struct stacks {
	struct ring_buffer *rb;		/* samples, blocks and frees */
	struct ring_buffer *images;	/* images announced */
	struct stack_sites sites;
	/* by process slot: the image being unwound, then the ones announced since (next) */
	struct unwinder **unwinders;
	/* a thread's call between its sample and its block: tid -> a = the call's id, b = site */
	struct u64map pending;
	int err;			/* the first failure of a record's handling, -errno */
	pthread_t thread;
	bool running;
	volatile bool stopping;
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
void stacks_close(struct stacks *s);

#endif /* MW_STACKS_H */
