/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --stacks: reads the kernel's stack records as they come, unwinds each
 * sample with its process's unwinder and counts its call's block, and the
 * block's free, at its site.
 */
#ifndef MW_STACKS_H
#define MW_STACKS_H

#include <linux/types.h>
#include "stacks/sites.h"
#include "stacks/u64map.h"

struct ring_buffer;
struct unwinder;

struct stacks {
	struct ring_buffer *rb;
	struct stack_sites sites;
	struct unwinder **unwinders;	/* by process slot, made at its first sample */
	/* a thread's call between its sample and its block: tid -> a = the call's id, b = site */
	struct u64map pending;
	int err;			/* the first failure of a record's handling, -errno */
};

/* Starts reading the ring buffer map @map_fd. 0 or -errno. */
int stacks_open(struct stacks *s, int map_fd);
/* A descriptor that polls readable when records wait. */
int stacks_fd(const struct stacks *s);
/* Handles every record waiting. 0 or -errno. */
int stacks_read(struct stacks *s);
void stacks_close(struct stacks *s);

#endif /* MW_STACKS_H */
