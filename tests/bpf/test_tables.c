// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * BPF-level tests of the live table, the thread-slot allocator and the
 * watched set: the functions memwatch's programs inline
 * (bpf/live_table.bpf.h, bpf/threads.bpf.h, bpf/processes.bpf.h), called through the wrapper programs of
 * tests/bpf/tables.bpf.c with BPF_PROG_TEST_RUN, on small tables this test
 * sets up as user space does. Needs root and real BPF: without them a skip,
 * under CI (CI=true) a failure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "memwatch.h"
#include "tables.skel.h"
#include "tap.h"

/*
 * A generation of 64 slots: a search's whole window (MAX_PROBES), so that
 * one generation fills and wraps around within a few inserts.
 */
#define GEN_SLOTS	64
#define NR_SEGMENTS	4
/* thread_slots for TIDs below 2048: a higher one has no slot */
#define NR_TIDS		2048
#define ERR_RUN		(-1000)
/* the processes whose blocks the tests add: a forked child has its parent's addresses */
#define PID_A		4242
#define PROCESS_A	1		/* PID_A's slot in process_records */
#define PROCESS_B	2

static struct tables_bpf *skel;

/* Runs @prog once on the arguments @a, @b, @c: its return value, ERR_RUN if it did not run. */
static int run(const struct bpf_program *prog, __u64 a, __u64 b, __u64 c)
{
	__u64 args[3] = { a, b, c };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
		printf("# test_run of %s: %s\n", bpf_program__name(prog), strerror(errno));
		return ERR_RUN;
	}
	return (int)opts.retval;
}

static int add(__u64 ptr, __u64 size, __u32 tid)
{
	return run(skel->progs.table_add, ptr, size, tid);
}

static int take(__u64 ptr)
{
	return run(skel->progs.table_take, ptr, 0, 0);
}

static int home(__u64 ptr)
{
	return run(skel->progs.table_home, ptr, 0, 0);
}

static __u32 claim(__u32 tid)
{
	return run(skel->progs.thread_claim, tid, 0, 0);
}

/* A block address (16-aligned, as malloc's) whose first slot is @slot, from @from on. */
static __u64 address_at(int slot, __u64 *from)
{
	__u64 ptr;

	for (ptr = *from; ptr < *from + 1000000 * 16; ptr += 16) {
		if (home(ptr) == slot) {
			*from = ptr + 16;
			return ptr;
		}
	}
	return 0;
}

/* Segment @index of the table, a new array of empty slots. 0 or -errno. */
static int add_segment(__u32 index)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(__u32), sizeof(struct mw_alloc),
			    MW_SEGMENT_SLOTS, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.alloc_segments), &index, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/* The address in slot @slot of segment @segment, its tombstone bit included; 0: empty. */
static __u64 slot_addr(__u32 segment, __u32 slot)
{
	struct mw_alloc value = { 0 };
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.alloc_segments), &segment, &id))
		return 0;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	bpf_map_lookup_elem(fd, &slot, &value);
	close(fd);
	return mw_alloc_addr(value.key);
}

/* Writes slot @slot of segment @segment as a program would, behind its generation's back. */
static void put_slot(__u32 segment, __u32 slot, __u64 key, __u64 info)
{
	struct mw_alloc value = { .key = key, .info = info };
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.alloc_segments), &segment, &id))
		return;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return;
	bpf_map_update_elem(fd, &slot, &value, BPF_ANY);
	close(fd);
}

static void set_generation(__u32 gen, __u32 first_segment, __u32 slots)
{
	struct mw_generation g = { .slots = slots };

	mw_generation_init(&g, first_segment, slots);
	bpf_map_update_elem(bpf_map__fd(skel->maps.table_generations), &gen, &g, BPF_ANY);
}

static struct mw_generation generation(__u32 gen)
{
	struct mw_generation g = { 0 };

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.table_generations), &gen, &g);
	return g;
}

/* Blocks in the table, summed over the CPUs. */
static __s64 table_blocks(void)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	__s64 per_cpu[ncpu > 0 ? ncpu : 1], sum = 0;
	__u32 zero = 0;

	if (ncpu <= 0 || bpf_map_lookup_elem(bpf_map__fd(skel->maps.table_blocks), &zero, per_cpu))
		return -1;
	for (i = 0; i < ncpu; i++)
		sum += per_cpu[i];
	return sum;
}

static struct mw_thread record(__u32 slot)
{
	struct mw_thread t = { 0 };

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.threads), &slot, &t);
	return t;
}

/*
 * A fresh object: generation 0 of GEN_SLOTS slots in segment 0, the newest
 * and oldest. @preexisting as -p sets it. False, said once, if it cannot be
 * loaded.
 */
static bool setup(bool preexisting)
{
	int err;

	tables_bpf__destroy(skel);
	skel = tables_bpf__open();
	if (!skel)
		return false;
	skel->rodata->preexisting_blocks = preexisting;
	bpf_map__set_max_entries(skel->maps.alloc_segments, NR_SEGMENTS);
	bpf_map__set_max_entries(skel->maps.thread_slots, NR_TIDS / 2);
	err = tables_bpf__load(skel);
	if (!err)
		err = add_segment(0);
	if (err) {
		printf("# cannot load the test programs: %s\n", strerror(-err));
		tables_bpf__destroy(skel);
		skel = NULL;
		return false;
	}
	set_generation(0, 0, GEN_SLOTS);
	skel->bss->table_newest = 0;
	skel->bss->table_oldest = 0;
	skel->bss->table_pid = PID_A;
	skel->bss->table_process = PROCESS_A;
	return true;
}

/* --stacks: whether a block's stack was sent rides with it, for its free */
static void test_site(void)
{
	__u64 from = 0x10000, a = address_at(5, &from);

	skel->bss->table_site = 1;
	ASSERT_EQ(add(a, 24, 9), 0, "site: a block whose stack was sent");
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "site: taken");
	ASSERT_TRUE(skel->bss->taken_site == 1 && skel->bss->taken_size == 24 &&
		    skel->bss->taken_tid == 9, "site: kept with its size and owner");
}

static void test_insert_take(void)
{
	__u64 from = 0x10000, a = address_at(5, &from);

	ASSERT_EQ(add(a, 100, 7), 0, "insert: a new block takes a slot");
	ASSERT_EQ(slot_addr(0, 5), a, "insert: at its first slot");
	ASSERT_EQ(generation(0).used, 1, "insert: the generation counts the slot used");
	ASSERT_EQ(table_blocks(), 1, "insert: one block in the table");
	ASSERT_EQ(add(a, 200, 8), 1, "insert: the same address again is there already");
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "take: a live block");
	ASSERT_EQ(skel->bss->taken_size, 200, "take: the size of the latest insert");
	ASSERT_EQ(skel->bss->taken_tid, 8, "take: its owner");
	ASSERT_EQ(skel->bss->taken_site, 0, "take: no call site");
	ASSERT_EQ(slot_addr(0, 5), a | MW_SLOT_FREED, "take: leaves a tombstone");
	ASSERT_EQ(table_blocks(), 0, "take: no block in the table");
	ASSERT_EQ(take(a), MW_BLOCK_UNKNOWN, "a free meeting its own tombstone: seen freed");
	ASSERT_EQ(add(a, 300, 7), 0, "insert: a block takes its own tombstone's slot");
	ASSERT_EQ(generation(0).used, 1, "insert: a tombstone taken is no new slot used");
	ASSERT_EQ(add(a + 8 * GEN_SLOTS, 40000, 7), 0,
		  "insert: a block with size bits in the key goes in");
	ASSERT_EQ(take(a + 8 * GEN_SLOTS), MW_BLOCK_LIVE, "take: a free, which knows no size, finds it");
	ASSERT_EQ(skel->bss->taken_size, 40000, "take: its size back from both words");
	ASSERT_EQ(add(a + 16 * GEN_SLOTS, (__u64)1 << 42, 7), 0,
		  "insert: a block over the slot's 64 KiB (here 4 TiB) goes in, its size apart");
	ASSERT_EQ(take(a + 16 * GEN_SLOTS), MW_BLOCK_LIVE, "take: the big block");
	ASSERT_EQ(skel->bss->taken_size, (__u64)1 << 42, "take: the big block's size back");
	ASSERT_EQ(add(a + 32 * GEN_SLOTS, 1, MW_ALLOC_TID_MASK + 1), -1,
		  "insert: a TID beyond 22 bits is untracked");
}

static void test_tombstones(void)
{
	__u64 from = 0x20000, x1 = address_at(10, &from), x2 = address_at(10, &from);
	__u64 x3 = address_at(10, &from), x4 = address_at(10, &from);

	add(x1, 1, 1);
	add(x2, 2, 1);
	add(x3, 3, 1);
	ASSERT_TRUE(slot_addr(0, 10) == x1 && slot_addr(0, 11) == x2 &&
		    slot_addr(0, 12) == x3, "collisions: the next slots in turn");
	ASSERT_EQ(take(x2), MW_BLOCK_LIVE, "collisions: the middle one freed");
	ASSERT_EQ(take(x3), MW_BLOCK_LIVE, "a search goes on past a tombstone");
	ASSERT_EQ(skel->bss->taken_size, 3, "past a tombstone: the right block");
	ASSERT_EQ(add(x4, 4, 1), 0, "insert: with tombstones on its way");
	ASSERT_EQ(slot_addr(0, 11), x4, "insert: takes the first tombstone");
	ASSERT_EQ(generation(0).used, 3, "insert: three slots used, tombstones included");
	ASSERT_EQ(take(x1), MW_BLOCK_LIVE, "the first block still found");
	ASSERT_EQ(take(x4), MW_BLOCK_LIVE, "the block in a tombstone's slot found");
}

static void test_wrap_and_full(void)
{
	__u64 from = 0x30000, w1 = address_at(GEN_SLOTS - 1, &from);
	__u64 w2 = address_at(GEN_SLOTS - 1, &from), any = 0x40000;
	int i, added = 0;

	add(w1, 1, 1);
	ASSERT_EQ(add(w2, 2, 1), 0, "wrap-around: a block homed at the last slot");
	ASSERT_EQ(slot_addr(0, 0), w2, "wrap-around: goes on at slot 0");
	ASSERT_EQ(take(w2), MW_BLOCK_LIVE, "wrap-around: found at slot 0");
	ASSERT_EQ(skel->bss->table_wake_pending, 0, "no wake-up below half the generation");
	for (i = 0; i < GEN_SLOTS; i++, any += 16)
		added += !add(any, 8, 2);
	ASSERT_EQ(added, GEN_SLOTS - 1, "a full window: every other slot taken");
	ASSERT_EQ(skel->bss->table_wake_pending, 1, "half the generation used: user space woken");
	ASSERT_EQ(add(any, 8, 2), -1, "a full window: the next block is untracked");
	ASSERT_EQ(generation(0).used, GEN_SLOTS, "a full window: every slot used");
	ASSERT_EQ(take(w1), MW_BLOCK_LIVE, "a full window: a block still found");
	ASSERT_EQ(add(any, 8, 2), 0, "a full window: a freed slot is taken again");
}

static void test_preexisting(void)
{
	__u64 from = 0x50000, b = address_at(20, &from);

	ASSERT_EQ(take(b), MW_BLOCK_PREEXISTING, "-p: a block never seen is from before");
	ASSERT_EQ(run(skel->progs.table_tombstone, b, 0, 0), 0, "-p: its tombstone goes in");
	ASSERT_EQ(table_blocks(), 0, "-p: a tombstone is no block");
	ASSERT_EQ(take(b), MW_BLOCK_UNKNOWN, "-p: freed again (tcache flush): seen freed");
	ASSERT_EQ(add(b, 50, 9), 0, "-p: the address allocated again");
	ASSERT_EQ(take(b), MW_BLOCK_LIVE, "-p: then live");
	ASSERT_EQ(skel->bss->taken_size, 50, "-p: with its size");
}

static void test_launched(void)
{
	ASSERT_EQ(take(0x60000), MW_BLOCK_UNKNOWN, "launched: a block never seen is unknown");
}

static void test_generations(void)
{
	__u64 from = 0x70000, a = address_at(3, &from), c = address_at(4, &from);
	__u64 d = address_at(6, &from), e = address_at(7, &from);

	add(a, 10, 1);
	add(c, 100, 1);
	add(d, 1000, 1);
	if (!ASSERT_OK(add_segment(1) || add_segment(2), "generations: segments added"))
		return;
	set_generation(1, 1, GEN_SLOTS);
	skel->bss->table_newest = 1;
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "an older generation searched");
	ASSERT_EQ(generation(0).freed_old, 1, "a free from an older generation counted in it");
	/* a free never seen, then the address handed out again: in both generations */
	ASSERT_EQ(add(c, 200, 2), 0, "the newest generation takes new blocks");
	ASSERT_EQ(generation(1).used, 1, "the newest generation's slot used");
	ASSERT_EQ(take(c), MW_BLOCK_LIVE, "both hold the address: the newest first");
	ASSERT_EQ(skel->bss->taken_size, 200, "the newest generation's block");
	ASSERT_EQ(take(c), MW_BLOCK_UNKNOWN, "its tombstone in the newest ends the search");
	ASSERT_EQ(generation(0).freed_old, 1, "the older generation untouched");
	skel->bss->table_oldest = 1;
	ASSERT_EQ(take(d), MW_BLOCK_PREEXISTING, "a generation older than the oldest: not searched");
	/* the ring of generations wraps: 31 is older than 0 */
	set_generation(MW_MAX_GENERATIONS - 1, 2, GEN_SLOTS);
	skel->bss->table_newest = MW_MAX_GENERATIONS - 1;
	skel->bss->table_oldest = MW_MAX_GENERATIONS - 1;
	add(e, 5, 3);
	set_generation(0, 0, GEN_SLOTS);
	skel->bss->table_newest = 0;
	ASSERT_EQ(take(e), MW_BLOCK_LIVE, "the ring wraps: the generation before 0 is the last");
}

/* A free searches only the generations whose range of granules holds its address. */
static void test_ranges(void)
{
	__u64 from = 16 << MW_GRANULE_SHIFT, far = 64 << MW_GRANULE_SHIFT;
	__u64 a = address_at(8, &from), b = address_at(9, &far), c = address_at(10, &from);
	__u64 granule = a >> MW_GRANULE_SHIFT;

	ASSERT_EQ(generation(0).first_granule, MW_NO_GRANULE, "ranges: a new generation has none");
	add(a, 10, 1);
	ASSERT_EQ(generation(0).first_granule, granule, "ranges: an insert sets the first");
	ASSERT_EQ(generation(0).last_granule, granule, "ranges: and the last");
	add(b, 20, 1);
	ASSERT_EQ(generation(0).last_granule, b >> MW_GRANULE_SHIFT, "ranges: widened upwards");
	ASSERT_EQ(generation(0).first_granule, granule, "ranges: the first kept");
	if (!ASSERT_OK(add_segment(1), "ranges: a segment added"))
		return;
	set_generation(1, 1, GEN_SLOTS);
	skel->bss->table_newest = 1;
	/* the newest holds @a too, but no slot of it was taken for @a's granule */
	put_slot(1, 8, mw_alloc_key(a, PROCESS_A, 99), mw_alloc_info(99, 2, 0));
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "ranges: the block found");
	ASSERT_EQ(skel->bss->taken_size, 10, "ranges: a generation outside the range not searched");
	ASSERT_EQ(add(c, 30, 1), 0, "ranges: a block of the same granule in the newest");
	ASSERT_EQ(generation(1).first_granule, granule, "ranges: the newest's range holds it");
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "ranges: now the newest is searched");
	ASSERT_EQ(skel->bss->taken_size, 99, "ranges: and its slot found first");
}

/* Two processes with blocks at the same addresses, as a forked child and its parent. */
static void test_processes(void)
{
	__u64 from = 0x90000, a = address_at(12, &from);

	add(a, 10, 7);
	skel->bss->table_process = PROCESS_B;
	ASSERT_EQ(take(a), MW_BLOCK_PREEXISTING, "processes: another's block is not found");
	ASSERT_EQ(add(a, 20, 8), 0, "processes: the same address of another is a new block");
	ASSERT_EQ(table_blocks(), 2, "processes: two blocks");
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "processes: each takes its own");
	ASSERT_EQ(skel->bss->taken_size, 20, "processes: with its size");
	ASSERT_EQ(take(a), MW_BLOCK_UNKNOWN, "processes: its own tombstone: seen freed");
	skel->bss->table_process = 0;
	ASSERT_EQ(take(a), MW_BLOCK_PREEXISTING,
		  "processes: process 0, an exec's tombstones', does not take it");
	skel->bss->table_process = PROCESS_A;
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "processes: the first one's block is still there");
	ASSERT_EQ(skel->bss->taken_size, 10, "processes: with its size");
	ASSERT_EQ(skel->bss->taken_tid, 7, "processes: and its owner");
}

static void test_forget(void)
{
	__u64 from = 0x80000, a = address_at(1, &from), b = address_at(2, &from);
	__u64 c = address_at(3, &from), d = address_at(4, &from);
	__u32 owner = 1000, slot = claim(owner);

	add(a, 10, owner);
	add(b, 20, owner);
	add(c, 40, 1001);
	take(b);
	skel->bss->table_process = PROCESS_B;
	add(d, 80, 1002);
	add(a, 160, 1002);
	skel->bss->table_process = PROCESS_A;
	run(skel->progs.table_forget, 0, 0, 0);
	ASSERT_EQ(record(slot).released_calls, 1, "exec: the owner's live block released");
	ASSERT_EQ(record(slot).released_bytes, 10, "exec: its bytes");
	ASSERT_EQ(skel->bss->process_records[PROCESS_A].orphan_released_bytes, 40,
		  "exec: a block without a record: its process's orphan");
	ASSERT_EQ(table_blocks(), 2, "exec: only the other process's blocks left");
	ASSERT_TRUE((slot_addr(0, 1) & MW_SLOT_FREED) && (slot_addr(0, 2) & MW_SLOT_FREED) &&
		    (slot_addr(0, 3) & MW_SLOT_FREED), "exec: its slots are tombstones");
	ASSERT_EQ(take(a), MW_BLOCK_PREEXISTING, "exec: its tombstones are no longer its own");
	ASSERT_EQ(take(b), MW_BLOCK_PREEXISTING, "exec: nor its old tombstones");
	skel->bss->table_process = PROCESS_B;
	ASSERT_EQ(take(d), MW_BLOCK_LIVE, "exec: another process's block past them is found");
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "exec: and its block at the same address");
	ASSERT_EQ(skel->bss->taken_size, 160, "exec: with its size");
}

/*
 * A reaped process's slot retired (process_forget over the retiring slots):
 * its blocks and tombstones leave without releases (its exit released
 * them), so the slot's next owner finds neither, and another process's
 * blocks and a slot not retiring stay.
 */
static void test_retire(void)
{
	__u64 from = 0xa0000, a = address_at(1, &from), b = address_at(2, &from);
	__u64 c = address_at(3, &from), big = address_at(4, &from);
	__u32 owner = 1000, slot = claim(owner);

	add(a, 10, owner);
	add(b, 20, owner);
	add(big, 1 << 20, owner);
	take(b);
	skel->bss->table_process = PROCESS_B;
	add(c, 40, 1002);
	add(a, 80, 1002);
	skel->bss->table_process = PROCESS_A;
	skel->bss->retiring_slots[0] = 1ULL << PROCESS_A;
	run(skel->progs.process_forget, 0, 0, 0);
	ASSERT_EQ(record(slot).released_calls, 0, "retire: no release counted");
	ASSERT_EQ(skel->bss->process_records[PROCESS_A].orphan_released_calls, 0,
		  "retire: no orphan either");
	ASSERT_EQ(table_blocks(), 2, "retire: only the other process's blocks left");
	/* the slot's next owner, with -f's preexisting blocks */
	ASSERT_EQ(take(a), MW_BLOCK_PREEXISTING, "retire: its blocks are not the next owner's");
	ASSERT_EQ(take(b), MW_BLOCK_PREEXISTING, "retire: nor its tombstones, seen freed");
	ASSERT_EQ(take(big), MW_BLOCK_PREEXISTING, "retire: nor its big block");
	ASSERT_EQ(add(big, 1 << 20, owner), 0, "retire: the big block's address is a new block");
	ASSERT_EQ(take(big), MW_BLOCK_LIVE, "retire: found as the next owner's");
	ASSERT_EQ(skel->bss->taken_size, 1 << 20, "retire: with its own size");
	skel->bss->table_process = PROCESS_B;
	ASSERT_EQ(take(c), MW_BLOCK_LIVE, "retire: another process's block past them is found");
	ASSERT_EQ(take(a), MW_BLOCK_LIVE, "retire: and its block at the same address");
	ASSERT_EQ(skel->bss->taken_size, 80, "retire: with its size");
}

/* The watched set: a process in it until its last thread began to exit. */
static void test_watched(void)
{
	__u32 pid = getpid(), slot = 3;

	ASSERT_EQ(run(skel->progs.process_watched, 0, 0, 0), 0, "watched: not in the set");
	skel->bss->process_records[slot].pid = pid;
	bpf_map_update_elem(bpf_map__fd(skel->maps.processes), &pid, &slot, BPF_ANY);
	ASSERT_EQ(run(skel->progs.process_watched, 0, 0, 0), 3, "watched: in the set, its slot");
	skel->bss->process_records[slot].exiting = 1;
	ASSERT_EQ(run(skel->progs.process_watched, 0, 0, 0), 0,
		  "watched: exiting, its TGID no longer watched");
}

static void test_thread_slots(void)
{
	int fd = bpf_map__fd(skel->maps.threads), queue = bpf_map__fd(skel->maps.free_slots);
	__u32 s, queued[2] = { 5, 6 };
	struct mw_thread t;
	char comm[16] = "";

	prctl(PR_GET_NAME, comm);
	ASSERT_EQ(claim(100), 1, "claim: the first thread takes slot 1");
	t = record(1);
	ASSERT_EQ(t.tid, 100, "claim: its TID published");
	ASSERT_STREQ(t.comm, comm, "claim: the thread's name");
	ASSERT_TRUE(t.start_ns, "claim: the task's start time");
	ASSERT_EQ(t.pid, PID_A, "claim: its process");
	ASSERT_EQ(t.process, PROCESS_A, "claim: its process's slot");
	ASSERT_EQ(claim(100), 1, "claim: its next event finds the same slot");
	ASSERT_EQ(claim(101), 2, "claim: the next thread the next slot");
	ASSERT_EQ(skel->bss->slots_claimed, 2, "claim: two slots handed out");

	/* exited: its TID now names a new thread */
	t = record(1);
	t.exited = 1;
	bpf_map_update_elem(fd, &(__u32){ 1 }, &t, BPF_ANY);
	ASSERT_EQ(claim(100), 3, "an exited record's TID: a new slot");
	ASSERT_EQ(record(1).tid, 100, "the exited record kept");

	/* user space folds slot 1: zeroed and queued */
	memset(&t, 0, sizeof(t));
	bpf_map_update_elem(fd, &(__u32){ 1 }, &t, BPF_ANY);
	bpf_map_update_elem(queue, NULL, &(__u32){ 1 }, BPF_ANY);
	ASSERT_EQ(claim(102), 1, "reuse: a freed slot from the queue first");
	ASSERT_EQ(skel->bss->slots_claimed, 3, "reuse: no slot handed out from the top");
	for (s = 0; s < 2; s++)
		bpf_map_update_elem(queue, NULL, &queued[s], BPF_ANY);
	ASSERT_EQ(claim(103), 5, "reuse: in the order they were freed");
	ASSERT_EQ(claim(104), 6, "reuse: the next one");

	skel->bss->slots_claimed = MW_MAX_THREADS - 2;
	ASSERT_EQ(claim(105), MW_MAX_THREADS - 1, "exhaustion: the last slot handed out");
	ASSERT_EQ(claim(106), 0, "exhaustion: then none");
	ASSERT_EQ(skel->bss->lost_events, 1, "exhaustion: its events counted lost");
	ASSERT_EQ(skel->bss->slots_claimed, MW_MAX_THREADS - 1, "exhaustion: nothing claimed past the end");
	bpf_map_update_elem(queue, NULL, &(__u32){ 4 }, BPF_ANY);
	ASSERT_EQ(claim(106), 4, "exhaustion: a freed slot still taken");
	ASSERT_EQ(claim(NR_TIDS), 0, "a TID beyond pid_max at the start: no slot");
	ASSERT_EQ(skel->bss->lost_events, 2, "a TID beyond pid_max: counted lost");
}

static const struct {
	void (*run)(void);
	bool preexisting;	/* -p */
} tests[] = {
	{ test_insert_take, true },
	{ test_site, true },
	{ test_tombstones, true },
	{ test_wrap_and_full, true },
	{ test_preexisting, true },
	{ test_launched, false },
	{ test_generations, true },
	{ test_ranges, true },
	{ test_processes, true },
	{ test_forget, true },
	{ test_retire, true },
	{ test_watched, true },
	{ test_thread_slots, true },
};

int main(void)
{
	const char *ci = getenv("CI");
	size_t i;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (geteuid() != 0 || !setup(true)) {
		if (ci && !strcmp(ci, "true"))
			ASSERT_TRUE(false, "the test programs load (CI: needs root and BPF)");
		else
			tap_skip("BPF-level tests of the live table and the thread slots",
				 "needs root and BPF");
		return tap_done();
	}
	/* each on a fresh object: the first is loaded already */
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (i && !setup(tests[i].preexisting)) {
			ASSERT_TRUE(false, "the test programs load again");
			break;
		}
		tests[i].run();
	}
	tables_bpf__destroy(skel);
	return tap_done();
}
