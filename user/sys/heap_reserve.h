/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A resident heap for a burst of large allocations.
 *
 * Loading the BPF object, libbpf 1.1 reads the kernel's BTF (5.4 MB here)
 * into a fresh buffer and copies it into another: 2,700 page faults, and on
 * a VM where a fault is dear, 75-90 ms of an attach's 190-250 ms of CPU.
 * Between begin and end, blocks up to twice @bytes come from the heap,
 * whose top is first made resident in one call, in huge pages where
 * transparent huge pages are allowed.
 */
#ifndef MW_HEAP_RESERVE_H
#define MW_HEAP_RESERVE_H

#include <stddef.h>

/* Room for two blocks of @bytes; with 0 or more than 8 MiB, nothing is done. */
void heap_reserve_begin(size_t bytes);
/* malloc's defaults again, and the heap's free top back to the system */
void heap_reserve_end(void);

#endif /* MW_HEAP_RESERVE_H */
