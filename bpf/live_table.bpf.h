/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The live-allocation table: each live block's size and owner, found from
 * its address and process, in generations of segments that user space adds
 * and drops.
 */
#ifndef MW_LIVE_TABLE_BPF_H
#define MW_LIVE_TABLE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "processes.bpf.h"
#include "threads.bpf.h"

/* set by user space before load */

/*
 * The live-allocation table: open addressing over arrays of slots, from a
 * hash of the block's address. An allocation claims the first free slot
 * from there with a compare-and-exchange, a free swaps the address for a
 * tombstone. Nothing is allocated or locked per block and a block usually
 * costs one cache line, where a hash map element cost an allocation, a
 * bucket lock and several cache misses (~400 ns per insert or delete once
 * the blocks no longer fit in cache, ~60 ns here).
 *
 * It grows by generations (memwatch.h): each is its own table over a run of
 * segments, all of one size so that the verifier inlines their lookups as
 * it does the outer array's. User space creates the segments.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);	/* sized by user space from --max-allocs */
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(map_flags, BPF_F_MMAPABLE);
		__uint(max_entries, MW_SEGMENT_SLOTS);
		__uint(key_size, sizeof(__u32));
		/* by size: clang gives the inner map only a declaration of the struct */
		__uint(value_size, sizeof(struct mw_alloc));
	});
} alloc_segments SEC(".maps");

/* a ring from table_oldest to table_newest, written by user space, which maps it */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MW_MAX_GENERATIONS);
	__type(key, __u32);
	__type(value, struct mw_generation);
} table_generations SEC(".maps");

__u32 table_newest;
__u32 table_oldest;
/* a wake-up is on its way: user space clears it when it has looked */
__u32 table_wake_pending;

/* blocks in the table, per CPU: how user space sizes a new generation */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} table_blocks SEC(".maps");

/* wakes user space when the newest generation is half used, or full */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} table_wakeups SEC(".maps");

/*
 * The sizes of blocks of MW_ALLOC_SIZE_BIG bytes or more (64 KiB), whose
 * slot has no room for them: a block that big costs its allocator more
 * than an element here (glibc mmaps one of 128 KiB and more), and the
 * elements take memory only as they are used. Room for 16 GiB of them
 * (262,144 of 64 KiB) at least.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct mw_big_key);
	__type(value, __u64);
} big_blocks SEC(".maps");

/* The size of process slot @process's big block at @addr, out of big_blocks; 0 if not there. */
static __noinline __u64 big_block_take(__u64 addr, __u32 process)
{
	struct mw_big_key key = { .addr = addr, .process = process };
	__u64 *found = bpf_map_lookup_elem(&big_blocks, &key), size;

	if (!found)
		return 0;
	size = *found;
	bpf_map_delete_elem(&big_blocks, &key);
	return size;
}

static __always_inline void table_blocks_add(__s64 n)
{
	__u32 zero = 0;
	__s64 *blocks = bpf_map_lookup_elem(&table_blocks, &zero);

	if (blocks)
		__sync_fetch_and_add(blocks, n);
}

/*
 * How far a search goes from an address's first slot. Past it the
 * generation counts as full: at half full, 1,000,000 random addresses went
 * at most 39 slots (glibc's consecutive chunks: 0).
 */
#define MAX_PROBES	64

/*
 * A block's first slot: Fibonacci hashing of the address without its
 * alignment bits and of the process's bits above it, which sends
 * consecutive chunks far apart and a forked child's blocks away from its
 * parent's, scaled to the generation by a multiplication, so any size works
 * without a division.
 */
static __always_inline __u32 alloc_home(__u64 block, __u32 slots)
{
	__u32 hash = (block >> 4) * 0x9e3779b97f4a7c15ULL >> 32;

	return (__u64)hash * slots >> 32;
}

/*
 * A search of one generation, one bpf_loop() step per slot: the verifier
 * checks one step instead of MAX_PROBES unrolled.
 */
struct alloc_search {
	__u64 ptr;		/* the address */
	__u64 block;		/* mw_alloc_block() of the address and process */
	__u64 key;		/* insert: the slot's key; remove: what was there */
	__u64 info;		/* insert: the slot's info; remove: what was there */
	__u32 home;
	__u32 slots;
	__u32 first_segment;
	__u32 generation;
	__u32 newest;		/* remove: the generation searched first */
	int result;
	bool found;		/* remove: the block was there, key and info are its */
};

/*
 * Sets @q up to search generation @gen: false if it is not searched, or, for
 * a free (@taking), if no slot of it was ever taken for @q's address range.
 */
static __always_inline bool search_in(struct alloc_search *q, __u32 gen, bool taking)
{
	__u64 granule = q->ptr >> MW_GRANULE_SHIFT;
	struct mw_generation *g;

	gen &= MW_MAX_GENERATIONS - 1;
	g = bpf_map_lookup_elem(&table_generations, &gen);
	if (!g)
		return false;
	q->generation = gen;
	q->slots = *(volatile __u32 *)&g->slots;
	if (!q->slots)
		return false;
	if (taking && (granule < *(volatile __u64 *)&g->first_granule ||
		       granule > *(volatile __u64 *)&g->last_granule))
		return false;
	q->first_segment = g->first_segment;
	q->home = alloc_home(q->block, q->slots);
	return true;
}

/* The @i-th slot after @q's first, wrapping around in its generation. */
static __always_inline struct mw_alloc *alloc_slot(const struct alloc_search *q, __u32 i)
{
	__u32 index = q->home + i, segment_index;
	void *segment;

	if (index >= q->slots)
		index -= q->slots;
	segment_index = q->first_segment + (index >> MW_SEGMENT_SHIFT);
	segment = bpf_map_lookup_elem(&alloc_segments, &segment_index);
	if (!segment)
		return NULL;
	index &= MW_SEGMENT_SLOTS - 1;
	return bpf_map_lookup_elem(segment, &index);
}

/* One ringbuf record at a time: user space then looks at the generations. */
static __noinline void table_wake(void)
{
	__u32 one = 1;

	if (table_wake_pending || __sync_lock_test_and_set(&table_wake_pending, 1))
		return;
	bpf_ringbuf_output(&table_wakeups, &one, sizeof(one), 0);
}

/* An empty slot of @gen was taken: at its threshold, user space adds a generation. */
static __always_inline void slot_used(__u32 gen)
{
	struct mw_generation *g = bpf_map_lookup_elem(&table_generations, &gen);

	if (g && __sync_fetch_and_add(&g->used, 1) + 1 == g->grow_at)
		table_wake();
}

/*
 * Lowers *@bound to @granule (@down), or raises it, against other CPUs
 * doing the same: after a few lost races it gives up its precision and
 * takes the widest bound, which no other update can narrow.
 */
static __always_inline void bound_widen(__u64 *bound, __u64 granule, bool down)
{
	__u64 old = *(volatile __u64 *)bound, seen;
	int i;

	for (i = 0; i < 4; i++) {
		if (down ? granule >= old : granule <= old)
			return;
		seen = __sync_val_compare_and_swap(bound, old, granule);
		if (seen == old)
			return;
		old = seen;
	}
	__sync_lock_test_and_set(bound, down ? 0 : MW_NO_GRANULE);
}

/*
 * A slot of @gen was taken for @ptr: @gen's range holds it before the
 * allocator returns the block, so before anyone can free it.
 */
static __always_inline void range_add(__u32 gen, __u64 ptr)
{
	struct mw_generation *g = bpf_map_lookup_elem(&table_generations, &gen);
	__u64 granule = ptr >> MW_GRANULE_SHIFT;

	if (!g)
		return;
	bound_widen(&g->first_granule, granule, true);
	bound_widen(&g->last_granule, granule, false);
}

/*
 * A search for a block stops at an empty slot, so an insert takes the first
 * empty or freed one: the slots before it stay in use or tombstones.
 */
static __always_inline long insert_at(__u32 i, struct alloc_search *q)
{
	struct mw_alloc *slot = alloc_slot(q, i);
	__u64 key;

	if (!slot)
		return 1;
	key = slot->key;
	if (mw_alloc_key_block(key) == q->block) {
		/* the allocator handed it out again: only this thread knows it yet */
		slot->info = q->info;
		slot->key = q->key;
		q->result = 1;
		return 1;
	}
	if (key != MW_SLOT_EMPTY && !(key & MW_SLOT_FREED))
		return 0;
	/* another thread, of any process, may claim it first: then search on */
	if (__sync_val_compare_and_swap(&slot->key, key, q->key) != key)
		return 0;
	/* nobody looks the block up before the allocator has returned it */
	slot->info = q->info;
	q->result = 0;
	if (key == MW_SLOT_EMPTY)
		slot_used(q->generation);
	return 1;
}

static long insert_step(__u64 i, struct alloc_search *q)
{
	return insert_at(i + 1, q);
}

/*
 * Enters @ptr in the newest generation with the slot's words @key and
 * @info: 0, 1 if it was there already (a free we never saw left it), -1 if
 * no slot within reach was free.
 */
static __always_inline int alloc_insert(__u64 ptr, __u64 key, __u64 info)
{
	struct alloc_search q = {
		.ptr = ptr, .block = mw_alloc_key_block(key), .key = key, .info = info,
		.result = -1
	};

	if (search_in(&q, *(volatile __u32 *)&table_newest, false) &&
	    /* the first slot inline: it is the block's in all but a few searches */
	    !insert_at(0, &q))
		bpf_loop(MAX_PROBES - 1, insert_step, &q, 0);
	if (!q.result)
		range_add(q.generation, ptr);
	/* a tombstone (a pre-attach block freed) takes a slot, but is no block */
	if (!q.result && !(ptr & MW_SLOT_FREED))
		table_blocks_add(1);
	else if (q.result < 0)
		table_wake();
	return q.result;
}

/* A tombstone for process slot @process's @ptr, a block that was never in the table. */
static __always_inline void alloc_insert_freed(__u64 ptr, __u32 process)
{
	if (!(ptr >> MW_ALLOC_ADDR_BITS))
		alloc_insert(ptr | MW_SLOT_FREED, mw_alloc_key(ptr | MW_SLOT_FREED, process, 0), 0);
}

static __always_inline long remove_at(__u32 i, struct alloc_search *q)
{
	struct mw_alloc *slot = alloc_slot(q, i);
	__u64 key, info;

	if (!slot)
		return 1;
	key = slot->key;
	if (key == MW_SLOT_EMPTY)
		return 1;
	/* freed already: an insert would have taken this slot or an earlier one */
	if (mw_alloc_key_block(key) == (q->block | MW_SLOT_FREED)) {
		q->result = 1;
		return 1;
	}
	if (mw_alloc_key_block(key) != q->block)
		return 0;
	/* read before the slot is given up: it may be reused at once */
	info = slot->info;
	/* of two racing frees of one block (a double free), one finds it */
	if (__sync_val_compare_and_swap(&slot->key, key, key | MW_SLOT_FREED) == key) {
		q->key = key;
		q->info = info;
		q->found = true;
	} else {
		q->result = 1;
	}
	return 1;
}

static long remove_step(__u64 i, struct alloc_search *q)
{
	return remove_at(i + 1, q);
}

/*
 * The @i-th generation older than the newest: stops the loop once the block
 * is found there, or its tombstone (seen freed already).
 */
static long remove_older_step(__u64 i, struct alloc_search *q)
{
	struct mw_generation *g;

	if (!search_in(q, q->newest - 1 - i, true))
		return 0;
	if (!remove_at(0, q))
		bpf_loop(MAX_PROBES - 1, remove_step, q, 0);
	if (!q->found)
		return q->result != 0;
	/* user space drops a generation once it is empty */
	g = bpf_map_lookup_elem(&table_generations, &q->generation);
	if (g)
		__sync_fetch_and_add(&g->freed_old, 1);
	return 1;
}

/*
 * Takes process slot @process's @ptr out of the live table: MW_BLOCK_LIVE
 * with its size, owner and call site when it was there. Else MW_BLOCK_UNKNOWN when it was seen
 * freed, or when every block was seen made (a launched command); when
 * @preexisting (-p, a forked child), a block never seen at all is
 * MW_BLOCK_PREEXISTING.
 */
static __always_inline enum mw_block_seen alloc_take(__u64 ptr, __u32 process, bool preexisting,
						      __u64 *size, __u32 *tid, __u32 *site)
{
	struct alloc_search q = { .ptr = ptr, .block = mw_alloc_block(ptr, process) };
	__u32 older;

	q.newest = *(volatile __u32 *)&table_newest;
	/* most frees are of young blocks */
	if (search_in(&q, q.newest, true) && !remove_at(0, &q))
		bpf_loop(MAX_PROBES - 1, remove_step, &q, 0);
	older = (q.newest - *(volatile __u32 *)&table_oldest) & (MW_MAX_GENERATIONS - 1);
	if (!q.found && !q.result && older)
		bpf_loop(older, remove_older_step, &q, 0);
	if (q.found) {
		table_blocks_add(-1);
		*size = mw_alloc_size(q.key, q.info);
		*tid = mw_alloc_tid(q.info);
		*site = mw_alloc_site(q.info);
		if (*size == MW_ALLOC_SIZE_BIG)
			*size = big_block_take(ptr, process);
		return MW_BLOCK_LIVE;
	}
	*size = 0;
	*tid = *site = 0;
	return q.result || !preexisting ? MW_BLOCK_UNKNOWN : MW_BLOCK_PREEXISTING;
}

/*
 * alloc_insert() of a block of @size owned by thread @tid of process slot
 * @process, made at call site @site; -1 also for an address beyond the
 * slot's 48 bits (never without a hint), or a big block that finds
 * big_blocks full.
 */
static __always_inline int alloc_add(__u64 ptr, __u64 size, __u32 tid, __u32 process,
				     __u32 site)
{
	struct mw_big_key big = { .addr = ptr, .process = process };
	__u64 slot_size = size;
	int err;

	if (ptr >> MW_ALLOC_ADDR_BITS || ptr & MW_SLOT_FREED || tid > MW_ALLOC_TID_MASK ||
	    process >= MW_MAX_PROCESSES)
		return -1;
	if (size >= MW_ALLOC_SIZE_BIG) {
		if (bpf_map_update_elem(&big_blocks, &big, &size, BPF_ANY))
			return -1;
		slot_size = MW_ALLOC_SIZE_BIG;
	}
	err = alloc_insert(ptr, mw_alloc_key(ptr, process, slot_size),
			   mw_alloc_info(slot_size, tid, site));
	/* not in the table, or in it now as a block that is not big */
	if ((err < 0 && slot_size == MW_ALLOC_SIZE_BIG) || (err > 0 && slot_size != MW_ALLOC_SIZE_BIG))
		bpf_map_delete_elem(&big_blocks, &big);
	return err;
}

/*
 * The slots user space is retiring (process_forget): their processes were
 * reaped and read one last time, and their blocks must leave the table
 * before a new process gets the slot, or its frees would find them.
 */
__u64 retiring_slots[MW_MAX_PROCESSES / 64];

/* Whose blocks a walk of the table takes out. */
struct forget_ctx {
	__u32 process;		/* an exec's process; 0: the slots in retiring_slots */
};

static __always_inline bool forgets(const struct forget_ctx *c, __u32 process)
{
	if (c->process)
		return process == c->process;
	process &= MW_MAX_PROCESSES - 1;
	return retiring_slots[process / 64] >> (process % 64) & 1;
}

/*
 * The old image's heap is gone with its mm: each of its process's blocks
 * is released. Its slots, blocks and tombstones, become tombstones of
 * process 0: other processes' searches pass them, inserts take them. Other
 * processes insert and free meanwhile, so a slot changes by an exchange. A
 * retired process's blocks leave the same way, released by its exit, which
 * user space counted already.
 */
static long forget_block(struct bpf_map *map, __u32 *index, struct mw_alloc *slot,
			 struct forget_ctx *c)
{
	__u64 key = slot->key, info = slot->info, size = mw_alloc_size(key, info);
	__u32 tid = mw_alloc_tid(info), process = mw_alloc_process(key);
	struct mw_thread *owner;

	if (key == MW_SLOT_EMPTY || !process || !forgets(c, process))
		return 0;
	if (__sync_val_compare_and_swap(&slot->key, key, mw_alloc_addr(key) | MW_SLOT_FREED) != key ||
	    key & MW_SLOT_FREED)
		return 0;
	table_blocks_add(-1);
	if (size == MW_ALLOC_SIZE_BIG)
		size = big_block_take(mw_alloc_addr(key), process);
	if (!c->process)
		return 0;
	owner = thread_of(tid);
	if (owner) {
		__sync_fetch_and_add(&owner->released_calls, 1);
		__sync_fetch_and_add(&owner->released_bytes, size);
	} else {
		orphan_released(process_at(process), size);
	}
	return 0;
}

static long forget_segment(__u64 i, struct forget_ctx *c)
{
	struct forget_ctx own = *c;
	__u32 index = i;
	void *segment = bpf_map_lookup_elem(&alloc_segments, &index);

	if (segment)
		bpf_for_each_map_elem(segment, forget_block, &own, 0);
	return 0;
}

/* walks of forget_blocks(): user space looks at the old generations after one */
__u64 table_walks;

/* The blocks of the process in slot @process (an exec), or of every retiring slot (0), leave. */
static void forget_blocks(__u32 process)
{
	struct forget_ctx c = { .process = process };

	bpf_loop(((struct bpf_map *)&alloc_segments)->max_entries, forget_segment, &c, 0);
	__sync_fetch_and_add(&table_walks, 1);
}

/*
 * Run by user space (BPF_PROG_TEST_RUN), never attached: one walk of the
 * table for every slot it is retiring. A raw tracepoint's program runs in
 * the caller's task, not sleepable, as the exec's walk does.
 */
SEC("raw_tp")
int process_forget(void *ctx)
{
	forget_blocks(0);
	return 0;
}

#endif /* MW_LIVE_TABLE_BPF_H */
