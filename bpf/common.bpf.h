/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What every concern of memwatch's BPF side shares: the target, the count of
 * events lost, and the releases of blocks whose owner's record is gone.
 */
#ifndef MW_COMMON_BPF_H
#define MW_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memwatch.h"

/* set by user space before load */
const volatile __u32 target_tgid;

/* counter-map failures and unpaired probe hits: reported, never hidden */
__u64 lost_events;
/* blocks of threads whose exited rows user space folded, freed since */
__u64 orphan_released_calls;
__u64 orphan_released_bytes;

static __always_inline bool is_target(__u64 pid_tgid)
{
	return (pid_tgid >> 32) == target_tgid;
}

static __always_inline void count_lost(void)
{
	__sync_fetch_and_add(&lost_events, 1);
}

#endif /* MW_COMMON_BPF_H */
