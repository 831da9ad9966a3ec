/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* --stacks: the kernel side's stack records, set up before load and read after. */
#ifndef MW_STACK_EVENTS_H
#define MW_STACK_EVENTS_H

#include <stdbool.h>
#include <linux/types.h>

struct memwatch_bpf;

/*
 * Before load: the stack programs' paths kept (@on) or dropped, every call's
 * stack or one per @sample_bytes asked on average (not 0), the ring buffer sized.
 */
void kernel_stacks_configure(struct memwatch_bpf *skel, bool on, __u64 sample_bytes);
/* After load, when sampled: the intervals between two samples the kernel draws. 0 or -errno. */
int kernel_stacks_intervals(struct memwatch_bpf *skel, __u64 sample_bytes);
/* The ring buffer of struct mw_stack_sample and mw_stack_block records. */
int kernel_stack_events_fd(const struct memwatch_bpf *skel);
/* The ring buffer of struct mw_stack_image records. */
int kernel_stack_images_fd(const struct memwatch_bpf *skel);
/*
 * Records that found the ring buffer full; of them, the allocator calls'
 * samples (calls with no site) in *@samples and the syscalls' stacks in *@syscalls.
 */
__u64 kernel_stacks_lost(const struct memwatch_bpf *skel, __u64 *samples, __u64 *syscalls);
/* Memory syscalls over the rate cap of their stacks, and what they grew and returned. */
__u64 kernel_stacks_capped(const struct memwatch_bpf *skel, __u64 *grown, __u64 *returned,
			   __u64 *returned_actual);

#endif /* MW_STACK_EVENTS_H */
