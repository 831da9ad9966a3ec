// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * A live-table slot (memwatch.h): 16 bytes that give back the address, the
 * size, the owner's TID and its process's TGID, at every field's limits.
 */
#include <stdio.h>
#include <linux/types.h>
#include "memwatch.h"
#include "tap.h"

#define TOP_ADDR	((1ULL << MW_ALLOC_ADDR_BITS) - 8)	/* the highest 8-aligned */

static void field_is(const char *slot, const char *field, __u64 got, __u64 want)
{
	char name[192];

	snprintf(name, sizeof(name), "%s: %s", slot, field);
	ASSERT_EQ(got, want, name);
}

static void slot_holds(__u64 addr, __u64 size, __u32 tid, __u32 pid)
{
	struct mw_alloc slot = {
		.key = mw_alloc_key(addr, pid),
		.info = mw_alloc_info(size, tid, pid),
	};
	char name[128];

	snprintf(name, sizeof(name), "slot of %#llx, %llu bytes, TID %u, TGID %u",
		 (unsigned long long)addr, (unsigned long long)size, tid, pid);
	field_is(name, "address", mw_alloc_addr(slot.key), addr);
	field_is(name, "size", mw_alloc_size(slot.info), size);
	field_is(name, "TID", mw_alloc_tid(slot.info), tid);
	field_is(name, "TGID", mw_alloc_pid(slot.key, slot.info), pid);
	/* a freed block's tombstone keeps its address and process and is no block */
	slot.key |= MW_SLOT_FREED;
	field_is(name, "its tombstone's address", mw_alloc_addr(slot.key), addr | MW_SLOT_FREED);
	field_is(name, "its tombstone's TGID", mw_alloc_pid(slot.key, slot.info), pid);
}

int main(void)
{
	ASSERT_EQ(sizeof(struct mw_alloc), 16, "a slot is 16 bytes: 64 bytes per block at 4 slots");
	slot_holds(0x10, 0, 1, 0);
	slot_holds(0x55550000a2c0ULL, 24, 4242, 4241);
	slot_holds(TOP_ADDR, MW_ALLOC_SIZE_BIG - 1, MW_ALLOC_TID_MASK, MW_ALLOC_PID_MASK);
	/* the marker of a big block, whose size is kept in big_blocks */
	slot_holds(TOP_ADDR, MW_ALLOC_SIZE_BIG, MW_ALLOC_TID_MASK, MW_ALLOC_PID_MASK);
	slot_holds(0x7f0000001000ULL, 1023, 1, 65535);
	slot_holds(0x7f0000001000ULL, 1024, 1, 65536);
	ASSERT_TRUE(mw_alloc_key(0x1000, 4242) != mw_alloc_key(0x1000, 4243),
		    "two processes' blocks at one address have different keys");
	ASSERT_EQ(MW_ALLOC_SIZE_BIG, (64ULL << 20) - 1, "sizes up to 64 MiB - 2 fit in the slot");
	return tap_done();
}
