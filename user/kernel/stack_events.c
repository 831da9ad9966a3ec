// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "app/options.h"
#include "kernel/stack_events.h"
#include "memwatch.h"
#include "memwatch.skel.h"

/*
 * --stacks=all: room for about 2,000 samples of 16 KiB, a burst of
 * allocations while user space unwinds. Beyond it records are lost, and
 * counted. User space maps it twice over (the kernel wraps records that
 * way), and its pages count in memwatch's RSS once written.
 */
#define STACK_RING_ALL_BYTES (32U << 20)
/*
 * --stacks=sampled at the default interval: the MW_STACK_WAKE_BYTES that
 * wake user space, and as much again for what comes while it wakes and
 * drains: ~250 samples, what a program asking 128 MiB sends at the default
 * 512 KiB (--stacks=all sends as many for any 250 calls).
 */
#define STACK_RING_SAMPLED_BYTES (2 * MW_STACK_WAKE_BYTES)

_Static_assert(STACK_RING_SAMPLED_BYTES > MW_STACK_WAKE_BYTES, "a wake-up before the ring is full");

/*
 * A shorter interval sends samples as much more often for the same bytes
 * asked: the ring grows with it, a power of two (a ring buffer's size must
 * be), up to all's; a longer one keeps the default's, above the wake-up.
 */
static __u32 stack_ring_bytes(__u64 sample_bytes)
{
	__u32 bytes = STACK_RING_SAMPLED_BYTES;

	if (!sample_bytes)
		return STACK_RING_ALL_BYTES;
	while (bytes < STACK_RING_ALL_BYTES &&
	       (__u64)bytes * sample_bytes < (__u64)STACK_RING_SAMPLED_BYTES * MW_DEFAULT_SAMPLE_BYTES)
		bytes *= 2;
	return bytes;
}

void kernel_stacks_configure(struct memwatch_bpf *skel, bool on, __u64 sample_bytes)
{
	skel->rodata->stacks_all = on && !sample_bytes;
	skel->rodata->stacks_sample_bytes = on ? sample_bytes : 0;
	bpf_map__set_max_entries(skel->maps.stack_events,
				 on ? stack_ring_bytes(sample_bytes) : sysconf(_SC_PAGESIZE));
	/* a few records at a time: user space reads each at once */
	bpf_map__set_max_entries(skel->maps.stack_images, on ? 64 << 10 : sysconf(_SC_PAGESIZE));
}

/* The integral of the exponential quantile function -ln(1 - q) from 0 to @q, less 1. */
static double quantile_integral(double q)
{
	return q < 1 ? -(1 - q) * (1 - log1p(-q)) : 0;
}

/*
 * The mean of each of MW_SAMPLE_QUANTILES equal slices of the exponential
 * distribution of mean @sample_bytes: one picked at random is an interval
 * as likely as drawn from it, up to its slice, and their mean is exactly
 * @sample_bytes (the last slice holds the distribution's long tail).
 */
int kernel_stacks_intervals(struct memwatch_bpf *skel, __u64 sample_bytes)
{
	int fd = bpf_map__fd(skel->maps.sample_intervals);
	__u32 i;

	for (i = 0; i < MW_SAMPLE_QUANTILES; i++) {
		double from = (double)i / MW_SAMPLE_QUANTILES;
		double to = (double)(i + 1) / MW_SAMPLE_QUANTILES;
		double mean = (quantile_integral(to) - quantile_integral(from)) * MW_SAMPLE_QUANTILES;
		__u64 bytes = llround(mean * sample_bytes);

		bytes = bytes ?: 1;
		if (bpf_map_update_elem(fd, &i, &bytes, BPF_ANY))
			return -errno;
	}
	return 0;
}

int kernel_stack_events_fd(const struct memwatch_bpf *skel)
{
	return bpf_map__fd(skel->maps.stack_events);
}

int kernel_stack_images_fd(const struct memwatch_bpf *skel)
{
	return bpf_map__fd(skel->maps.stack_images);
}

__u64 kernel_stacks_lost(const struct memwatch_bpf *skel, __u64 *samples, __u64 *syscalls)
{
	*samples = __atomic_load_n(&skel->bss->stacks_samples_lost, __ATOMIC_RELAXED);
	*syscalls = __atomic_load_n(&skel->bss->stacks_syscalls_lost, __ATOMIC_RELAXED);
	return __atomic_load_n(&skel->bss->stacks_lost, __ATOMIC_RELAXED);
}

__u64 kernel_stacks_capped(const struct memwatch_bpf *skel, __u64 *grown, __u64 *returned,
			   __u64 *returned_actual)
{
	*grown = __atomic_load_n(&skel->bss->stacks_capped_grown, __ATOMIC_RELAXED);
	*returned = __atomic_load_n(&skel->bss->stacks_capped_returned, __ATOMIC_RELAXED);
	*returned_actual = __atomic_load_n(&skel->bss->stacks_capped_returned_actual,
					   __ATOMIC_RELAXED);
	return __atomic_load_n(&skel->bss->stacks_capped, __ATOMIC_RELAXED);
}
