// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * A live-table slot (memwatch.h): 16 bytes that give back the address, the
 * process's slot, the size, the owner's TID and a 4-byte call site, at every
 * field's limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include "memwatch.h"
#include "tap.h"

#define TOP_ADDR	((1ULL << MW_ALLOC_ADDR_BITS) - 8)	/* the highest 8-aligned */
#define TOP_PROCESS	(MW_MAX_PROCESSES - 1)

static void field_is(const char *slot, const char *field, __u64 got, __u64 want)
{
	char name[192];

	snprintf(name, sizeof(name), "%s: %s", slot, field);
	ASSERT_EQ(got, want, name);
}

static void slot_holds(__u64 addr, __u32 process, __u64 size, __u32 tid, __u32 site)
{
	struct mw_alloc slot = {
		.key = mw_alloc_key(addr, process, size),
		.info = mw_alloc_info(size, tid, site),
	};
	char name[128];

	snprintf(name, sizeof(name), "slot of %#llx, process %u, %llu bytes, TID %u, site %u",
		 (unsigned long long)addr, process, (unsigned long long)size, tid, site);
	field_is(name, "address", mw_alloc_addr(slot.key), addr);
	field_is(name, "process", mw_alloc_process(slot.key), process);
	field_is(name, "size", mw_alloc_size(slot.key, slot.info), size);
	field_is(name, "TID", mw_alloc_tid(slot.info), tid);
	field_is(name, "site", mw_alloc_site(slot.info), site);
	field_is(name, "the block a search matches", mw_alloc_key_block(slot.key),
		 mw_alloc_block(addr, process));
	/* a freed block's tombstone keeps its address and process and is no block */
	slot.key |= MW_SLOT_FREED;
	field_is(name, "its tombstone's address", mw_alloc_addr(slot.key), addr | MW_SLOT_FREED);
	field_is(name, "its tombstone's process", mw_alloc_process(slot.key), process);
}

int main(void)
{
	ASSERT_EQ(sizeof(struct mw_alloc), 16, "a slot is 16 bytes: 64 bytes per block at 4 slots");
	slot_holds(0x10, 1, 0, 1, 0);
	slot_holds(0x55550000a2c0ULL, 2, 24, 4242, 7);
	slot_holds(TOP_ADDR, TOP_PROCESS, MW_ALLOC_SIZE_BIG - 1, MW_ALLOC_TID_MASK, UINT32_MAX);
	/* the marker of a big block, whose size is kept in big_blocks */
	slot_holds(TOP_ADDR, TOP_PROCESS, MW_ALLOC_SIZE_BIG, MW_ALLOC_TID_MASK, UINT32_MAX);
	slot_holds(0x7f0000001000ULL, 1, 1023, 1, 0);
	slot_holds(0x7f0000001000ULL, 1, 1024, 1, 0);
	ASSERT_TRUE(mw_alloc_block(0x1000, 1) != mw_alloc_block(0x1000, 2),
		    "two processes' blocks at one address are different blocks");
	ASSERT_EQ(MW_ALLOC_SIZE_BIG, (64ULL << 10) - 1, "sizes up to 64 KiB - 2 fit in the slot");
	return tap_done();
}
