// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <unistd.h>
#include <bpf/libbpf.h>
#include "kernel/stack_events.h"
#include "memwatch.h"
#include "memwatch.skel.h"

/*
 * Room for about 2,000 samples of 16 KiB: a burst of allocations while user
 * space unwinds. Beyond it records are lost, and counted.
 */
#define STACK_RING_BYTES (32U << 20)

void kernel_stacks_configure(struct memwatch_bpf *skel, bool on)
{
	skel->rodata->stacks_all = on;
	bpf_map__set_max_entries(skel->maps.stack_events,
				 on ? STACK_RING_BYTES : sysconf(_SC_PAGESIZE));
	/* a few records at a time: user space reads each at once */
	bpf_map__set_max_entries(skel->maps.stack_images, on ? 64 << 10 : sysconf(_SC_PAGESIZE));
}

int kernel_stack_events_fd(const struct memwatch_bpf *skel)
{
	return bpf_map__fd(skel->maps.stack_events);
}

int kernel_stack_images_fd(const struct memwatch_bpf *skel)
{
	return bpf_map__fd(skel->maps.stack_images);
}

__u64 kernel_stacks_lost(const struct memwatch_bpf *skel)
{
	return __atomic_load_n(&skel->bss->stacks_lost, __ATOMIC_RELAXED);
}
