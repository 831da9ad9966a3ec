// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include "sys/heap_reserve.h"

/* glibc's default mmap and trim thresholds, which a mallopt() of either replaces */
#define MALLOC_DEFAULT_THRESHOLD (128 * 1024)
/* a block's header, beyond the size asked for: below the mmap threshold still */
#define HEADER_ROOM 4096
#define HUGE_PAGE (2UL << 20)
/* twice this must stay under malloc's largest mmap threshold, 32 MiB */
#define RESERVE_MAX (8UL << 20)

static bool reserving;
static void *reserved;
static size_t reserved_len;

void heap_reserve_begin(size_t bytes)
{
	uintptr_t page = sysconf(_SC_PAGESIZE), start, end;
	void *p;

	if (!bytes || bytes > RESERVE_MAX)
		return;
	/* the two blocks come from the heap, and a free top of their size stays */
	reserving = true;
	if (!mallopt(M_MMAP_THRESHOLD, 2 * bytes + HEADER_ROOM) ||
	    !mallopt(M_TRIM_THRESHOLD, 4 * bytes))
		return;
	p = malloc(2 * bytes);
	if (!p)
		return;
	/* huge pages where whole ones fit; each may fail (no THP; before 5.14): faults come back */
	start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	end = ((uintptr_t)p + 2 * bytes) & ~(HUGE_PAGE - 1);
	if (end > start) {
		reserved = (void *)start;
		reserved_len = end - start;
		madvise(reserved, reserved_len, MADV_HUGEPAGE);
	}
	start = ((uintptr_t)p + page - 1) & ~(page - 1);
	end = ((uintptr_t)p + 2 * bytes) & ~(page - 1);
	madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	free(p);
}

void heap_reserve_end(void)
{
	if (!reserving)
		return;
	/* memwatch's later growth in small pages: its RSS stays what it was */
	if (reserved_len)
		madvise(reserved, reserved_len, MADV_NOHUGEPAGE);
	reserving = false;
	reserved_len = 0;
	mallopt(M_MMAP_THRESHOLD, MALLOC_DEFAULT_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, MALLOC_DEFAULT_THRESHOLD);
	malloc_trim(0);
}
