/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Call sites: a site is a process's stack at an allocator call, its
 * addresses as they were; those a report lists (every one, for --folded and
 * --pprof) are symbolized once, off the path of the records (a new site is
 * frequent as a program starts, and symbols cost more than an unwinding).
 * Each counts the calls made there and their bytes, the blocks still live and
 * the frees; a live block is found from its process and address, as the
 * kernel's live table finds it.
 */
#ifndef MW_SITES_H
#define MW_SITES_H

#include <stddef.h>
#include <linux/types.h>
#include "stacks/symbols.h"
#include "stacks/u64map.h"

/* the threads a site keeps apart; the others share its last part, TID 0 */
#define SITE_THREADS 16

/* What one thread did at a site: its part of the site's numbers, weighed alike. */
struct site_thread {
	__u32 tid;		/* 0: the threads past the first SITE_THREADS - 1, together */
	__u64 alloc_calls, alloc_bytes;
	__u64 live_calls, live_bytes;	/* of the blocks it allocated */
	__u64 free_calls;		/* of the blocks it allocated, by any thread */
	__u64 syscall_calls;
	__u64 grown_bytes, returned_bytes, returned_actual_bytes;
};

struct site {
	__u32 process;		/* its process's slot */
	int nr_frames;
	__u64 *pcs;		/* innermost first */
	int caller;		/* its innermost frame outside the allocator (callers.h) */
	struct site_frame *frames;	/* NULL until symbolized */
	/* --stacks=sampled: each sample's call weighed by how likely it was sampled */
	__u64 alloc_calls, alloc_bytes;
	__u64 live_calls, live_bytes;
	__u64 free_calls;
	__u64 samples;		/* the calls that sent their stack */
	/* memory syscalls made here (every one, unless over the rate cap) and their effect */
	__u64 syscall_calls;
	__u64 grown_bytes, returned_bytes;
	__u64 returned_actual_bytes;	/* resident bytes that left RSS during them */
	/* the same by thread, in the order they first came (a copy of a site does not own them) */
	struct site_thread *threads;
	__u32 nr_threads, threads_cap;
	/*
	 * Its image is done, no more calls: 0 while it runs, else the number of
	 * the sites_forget() that closed it, the same for every site of its image.
	 */
	__u32 closed;
};

struct stack_sites {
	struct site *v;
	size_t nr, cap;
	struct u64map index;	/* a stack's hash: its site's index + 1 */
	/* process << 48 | address: a = site's index | its thread's TID << 32, b = size */
	struct u64map blocks;
	__u64 samples;		/* allocator calls' stacks unwound */
	__u64 syscalls;		/* memory syscalls' stacks unwound */
	/* memory syscalls over the kernel's rate cap: no stack, and what they did */
	__u64 capped, capped_grown, capped_returned, capped_returned_actual;
	__u64 unpaired;		/* blocks whose stack record was lost (or a free's, seen again) */
	__u64 lost;		/* records that found the kernel's ring buffer full */
	__u64 lost_samples;	/* of them, samples: calls at no site */
	__u64 lost_syscalls;	/* and syscalls' stacks */
	__u64 sample_bytes;	/* --stacks=sampled: the mean bytes between two samples; 0: all */
	__u32 forgets;		/* sites_forget() calls: the last image closed */
};

/* The site of a stack of process @process, made if new (its caller frame 0); -1: no memory. */
long sites_find(struct stack_sites *s, __u32 process, const __u64 *pcs, int n);
/* A block of @size at @ptr made at site @site by thread @tid. 0 or -ENOMEM. */
int sites_alloc(struct stack_sites *s, size_t site, __u32 process, __u32 tid, __u64 ptr,
		__u64 size);
/*
 * A memory syscall at site @site by thread @tid that grew, returned and took
 * out of RSS those bytes. 0 or -ENOMEM.
 */
int sites_syscall(struct stack_sites *s, size_t site, __u32 tid, __u64 grown, __u64 returned,
		  __u64 returned_actual);
/* The block at @ptr freed, if a site has it. */
void sites_free(struct stack_sites *s, __u32 process, __u64 ptr);
/*
 * The image process slot @process ran is done (an exec, or the slot's next
 * process): the kernel released its blocks, so do its sites, which take no
 * more calls: the same addresses in the next image are other code. 0 or -ENOMEM.
 */
int sites_forget(struct stack_sites *s, __u32 process);

enum sites_order {
	SITES_BY_LIVE,		/* live bytes, then allocated */
	SITES_BY_ALLOC,		/* allocated bytes, then live */
	SITES_BY_GROWN,		/* bytes its syscalls took from the OS */
	SITES_BY_RETURNED,	/* bytes its syscalls gave back, as asked */
	SITES_BY_MOVED,		/* the larger of the two, listed from SITES_MOVED_MIN */
};

/* a syscall site is listed in the summary when it grew or returned this much */
#define SITES_MOVED_MIN (1ULL << 20)

/*
 * Frame @i of @site as symbolized; its bare address, in *@bare, when it is not
 * (its symbols could not be had: no memory).
 */
const struct site_frame *site_frame_at(const struct site *site, int i, struct site_frame *bare);

/* The bytes @site is sorted by in @order. */
__u64 site_order_bytes(const struct site *site, enum sites_order order);
/* Whether a list in @order has @site: some bytes of it (SITES_BY_MOVED: SITES_MOVED_MIN). */
bool site_listed(const struct site *site, enum sites_order order);
/* @v sorted in @order: descending by its bytes, then live, then allocated, then by address. */
void sites_sort(const struct site **v, size_t n, enum sites_order order);

/* The @n first sites in @order into @top (at most @n, those site_listed()): how many. */
size_t sites_top(const struct stack_sites *s, enum sites_order order, const struct site **top,
		 size_t n);
void sites_free_all(struct stack_sites *s);

#endif /* MW_SITES_H */
