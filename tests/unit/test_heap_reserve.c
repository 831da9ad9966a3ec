// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* A resident heap for libbpf's copies of the kernel's BTF: in the heap, resident, given back. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include "sys/heap_reserve.h"
#include "tap.h"

#define BLOCK (5U << 20)

/* Whether [@p, @p + @len) lies in the heap, between its start @base and the break. */
static bool in_heap(const void *p, size_t len, const void *base)
{
	return (uintptr_t)p >= (uintptr_t)base && (uintptr_t)p + len <= (uintptr_t)sbrk(0);
}

/* How many pages of [@p, @p + @len) are resident: none, some or all. */
enum residency { NONE, SOME, ALL };

static enum residency residency(const void *p, size_t len)
{
	size_t page = sysconf(_SC_PAGESIZE), n, i, in = 0;
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	unsigned char *vec;

	n = (len - (start - (uintptr_t)p)) / page;
	vec = malloc(n);
	/* ENOMEM: unmapped, so not resident */
	if (!vec || mincore((void *)start, n * page, vec)) {
		free(vec);
		return NONE;
	}
	for (i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in == n ? ALL : in ? SOME : NONE;
}

int main(void)
{
	void *base = sbrk(0), *a, *b, *c;
	/* volatile: the compiler need not know they were these blocks once freed */
	volatile uintptr_t was_a, was_b;

#ifdef __SANITIZE_ADDRESS__
	/* ASan's malloc has no heap to reserve: only that nothing breaks */
	heap_reserve_begin(BLOCK);
	a = malloc(BLOCK);
	ASSERT_TRUE(a, "under ASan: malloc works between begin and end");
	free(a);
	heap_reserve_end();
	tap_skip("the heap's placement", "ASan replaces malloc");
	return tap_done();
#endif
	heap_reserve_begin(BLOCK);
	a = malloc(BLOCK);
	b = malloc(BLOCK);
	ASSERT_TRUE(a && in_heap(a, BLOCK, base) && b && in_heap(b, BLOCK, base),
		    "two blocks of the size given come from the heap");
	ASSERT_TRUE(a && b && residency(a, BLOCK) == ALL && residency(b, BLOCK) == ALL,
		    "they are resident before they are written: no page fault each");
	/* where they were: only the addresses are looked at once freed */
	was_a = (uintptr_t)a;
	was_b = (uintptr_t)b;
	free(a);
	free(b);
	heap_reserve_end();
	ASSERT_TRUE(residency((void *)was_a, BLOCK) == NONE &&
		    residency((void *)was_b, BLOCK) == NONE,
		    "after the end their memory is given back");

	heap_reserve_begin(0);
	c = malloc(BLOCK);
	ASSERT_TRUE(c && residency(c, BLOCK) != ALL, "a size of 0 makes nothing resident");
	free(c);
	heap_reserve_end();
	heap_reserve_begin(9U << 20);
	c = malloc(BLOCK);
	ASSERT_TRUE(c && residency(c, BLOCK) != ALL, "a size over 8 MiB makes nothing resident");
	free(c);
	heap_reserve_end();
	return tap_done();
}
