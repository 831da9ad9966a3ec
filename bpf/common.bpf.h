/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What every concern of memwatch's BPF side shares: the count of events
 * lost.
 */
#ifndef MW_COMMON_BPF_H
#define MW_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memwatch.h"

/* the kernel's page size, set by user space before load */
const volatile __u64 page_size = 4096;

/* counter-map failures and unpaired probe hits: reported, never hidden */
__u64 lost_events;

static __always_inline void count_lost(void)
{
	__sync_fetch_and_add(&lost_events, 1);
}

#endif /* MW_COMMON_BPF_H */
