/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The one ABI shared by the BPF programs and user space.
 *
 * The kernel side keeps cumulative counters per thread; user space only reads
 * them and computes deltas. Every size is in bytes, every count in calls.
 */
#ifndef MEMWATCH_H
#define MEMWATCH_H

#include "counters.h"

#define MW_COMM_LEN 16

/* What the live table knew of a block being freed. */
enum mw_block_seen {
	MW_BLOCK_UNKNOWN,	/* never seen allocated, or seen freed already */
	MW_BLOCK_LIVE,		/* allocated while counting: size and owner known */
	MW_BLOCK_PREEXISTING,	/* -p: never seen at all, so allocated before counting began */
};

/*
 * An entry uprobe's cookie: how its program reads the size asked for, where
 * functions share a program. realloc's and reallocarray's are one program, so
 * that the verifier checks the live table's removal once for both.
 */
enum mw_probe_cookie {
	MW_COOKIE_SIZE,		/* the size is an argument */
	MW_COOKIE_ARRAY,	/* reallocarray: nmemb * size, the 2nd and 3rd arguments */
};

/* allocator entry points, grouped by how their result is accounted */
enum mw_alloc_fn {
	MW_FN_NONE,
	MW_FN_ALLOC,		/* malloc calloc aligned_alloc memalign valloc pvalloc */
	MW_FN_REALLOC,		/* realloc reallocarray */
	MW_FN_POSIX_MEMALIGN,	/* result written through a pointer */
};

/*
 * An allocator call between its entry uprobe and its uretprobe. depth counts
 * nested calls (glibc's realloc(NULL, n) calls malloc, memalign may too):
 * only the outermost call is accounted.
 */
struct mw_alloc_inflight {
	__u64 size;		/* bytes asked for */
	__u64 ptr;		/* realloc: old block; posix_memalign: result slot */
	__u64 old_size;		/* realloc: size of the old block, if tracked */
	__u32 old_tid;		/* realloc: thread that allocated the old block */
	__u16 fn;		/* enum mw_alloc_fn */
	__u8 old_tracked;	/* realloc: enum mw_block_seen of the old block */
	__u8 depth;
	__u64 stack_id;		/* --stacks: its stack record's id, 0 if it found no room */
};

/*
 * A syscall between its enter and exit tracepoints. Syscalls of one thread
 * never nest, so one per thread is enough.
 */
struct mw_syscall_inflight {
	__u64 addr;		/* brk: the break asked for; process_madvise: the iovecs */
	__u64 len;		/* mremap: the old length; process_madvise: how many iovecs */
	__u64 arg;		/* prot, advice, mremap's new length; brk: the break before */
	__u64 flags;		/* mmap, mremap; process_madvise: the pidfd */
	/* --trace only */
	__u64 start_ns;
	__s64 resident_mark;	/* mw_resident_change() of the thread at entry */
	/* --stacks: the thread's rss_returned[] of the call at entry */
	__u64 returned_mark;
	__u32 nr;		/* enum mw_syscall, MW_SYS_NONE when idle */
	__u32 foreign;		/* process_madvise on another process: traced, not counted */
};

/*
 * A thread's record: a slot of the threads array, found from its TID through
 * the thread_slots array. Slot 0 is never used: a TID without a slot has 0.
 */
struct mw_thread {
	char comm[MW_COMM_LEN];
	__u32 tid;		/* 0 while the slot is free */
	__u32 pid;		/* its process's TGID */
	__u32 process;		/* its process's slot in process_records */
	__u32 exited;
	__u64 start_ns;		/* the task's start time: tells its TID's next owner from it */

	/* the registry's counters (counters.h), in its order: the hot allocator ones first */
	MW_THREAD_COUNTERS(MW_COUNTER_FIELD, MW_COUNTER_ARRAY_FIELD)

	/* scratch state of the BPF programs, not counters */
	struct mw_alloc_inflight call;
	struct mw_syscall_inflight sys;
	/* --stacks=sampled: bytes its allocations may still ask before the next sample; 0: none drawn */
	__s64 sample_left;
};

/* Slots of the threads array, slot 0 included: a process with more threads loses their events. */
#define MW_MAX_THREADS		8192

/*
 * A watched process's record: a slot of the process_records array, found
 * from its TGID through the processes hash map. User space claims a slot
 * and enters the TGID before attaching; with -f the fork tracepoint does
 * the same for a watched process's child. The resident fields are its mm's, as kmem:rss_stat
 * reports them; the kernel writes them, user space reads them in place.
 * Slot 0 is never used.
 */
struct mw_process {
	__s64 rss_now[MW_RSS_NR];
	__s64 rss_at_exit[MW_RSS_NR];	/* as its last thread began to exit */
	/* -f, --cgroup: its counters as the kernel entered it (a child's: its parent's copy) */
	__s64 rss_at_entry[MW_RSS_NR];
	/* changes its threads did not make: reclaim, khugepaged */
	__u64 rss_other_gained[MW_RSS_NR];
	__u64 rss_other_lost[MW_RSS_NR];
	/* what its exit released, after its last thread began to exit */
	__u64 rss_exit_lost[MW_RSS_NR];
	/* child processes not followed (no -f, or no slot left); its new images */
	__u64 forks;
	__u64 execs;
	/* -f, --cgroup: when the kernel entered it (bpf_ktime_get_ns()), 0 for a named one */
	__u64 entered_ns;
	/* its blocks freed after user space folded their owner's record */
	__u64 orphan_released_calls;
	__u64 orphan_released_bytes;
	__u32 pid;		/* its TGID, 0 while the slot is free */
	__u32 mm_id;		/* kmem:rss_stat's hash of its mm, once known */
	__u32 mm_known;
	__u32 exec_pending;	/* launched: the held child still has memwatch's mm */
	__u32 exiting;		/* its last thread began to exit: its TGID may be reused */
	__u32 counting;		/* its allocator probes are all live (heap.bpf.h) */
	__u32 glibc_chunks;	/* its allocator is glibc: a block's size is in its chunk header */
	__u32 preexisting;	/* blocks older than its counting exist: -p, or a forked child's */
	__u32 parent;		/* -f: its parent's slot, 0 for a named or launched process */
	__u32 mm_shared;	/* -f: a vfork child, in its parent's mm until it execs */
	__u32 joined;		/* --cgroup: entered as it was moved into the cgroup */
	__u32 left;		/* --cgroup: moved out of it: its events count no more */
	__u32 parent_pid;	/* -f: its parent's TGID (the parent's slot may have a new owner) */
	/*
	 * Its leader's task was freed (sched_process_free): nothing of it runs
	 * any more, and user space, once it read the record one last time,
	 * gives the slot to the next process (procs_retire()).
	 */
	__u32 reaped;
	/* --stacks: execs + 1 of the image whose modules user space was told to read */
	__u64 stacks_image;
};

/*
 * Slots of the process_records array, slot 0 included: no more processes are
 * watched at once. A reaped process's slot goes to the next one.
 */
#define MW_MAX_PROCESSES	1024

/*
 * Key of the region table: the start address an mmap returned and the
 * process whose it is (a forked child maps at its parent's addresses).
 */
struct mw_region_key {
	__u64 start;
	__u32 pid;
	__u32 pad;
};

/*
 * Value of the region table: which thread created the mapping. The brk heap
 * and mappings older than the attach are not in it.
 */
struct mw_region {
	__u64 len;
	__u32 tid;
	__u32 pad;
};

/*
 * A slot of the live-allocation table, an array searched from a hash of the
 * block's address and process: 16 bytes, four to a cache line, 64 bytes per
 * block at 4 slots. The key is the block's identity, its address (below
 * 2^48, every 64-bit Linux user address space without a hint for more, and
 * 8-aligned) with its process's slot in process_records on top (10 bits: a
 * forked child has its parent's addresses, a block of one process is never
 * found by another's free, and a slot's blocks and tombstones leave it
 * before its next owner gets it), and the top 6 bits of the block's size. The info word
 * holds the call site (32 bits, issue 15), the owner's TID (22 bits, the
 * kernel's PID_MAX_LIMIT) and the size's low 10 bits. A block of 64 KiB or
 * more has MW_ALLOC_SIZE_BIG in its slot, its size in the big_blocks map.
 */
struct mw_alloc {
	__u64 key;		/* size >> 10 << 58 | process << 48 | address */
	__u64 info;		/* site << 32 | tid << 10 | (size & 1023) */
};

/*
 * A slot whose block was freed keeps the key with its lowest bit set
 * (blocks are at least 8-aligned): a search goes on past it, an insert may
 * take it, and a free that finds its own block there frees a block freed
 * already. An exec leaves its process's slots as tombstones of process 0,
 * which is no process's: other processes' searches still pass them.
 */
#define MW_SLOT_EMPTY		0	/* never used: a search stops here */
#define MW_SLOT_FREED		1	/* the tombstone bit */
#define MW_ALLOC_ADDR_BITS	48
#define MW_ALLOC_ADDR_MASK	((1ULL << MW_ALLOC_ADDR_BITS) - 1)
#define MW_ALLOC_PROCESS_BITS	10
#define MW_ALLOC_BLOCK_BITS	(MW_ALLOC_ADDR_BITS + MW_ALLOC_PROCESS_BITS)
#define MW_ALLOC_BLOCK_MASK	((1ULL << MW_ALLOC_BLOCK_BITS) - 1)
#define MW_ALLOC_SIZE_LOW_BITS	10
#define MW_ALLOC_TID_BITS	22
#define MW_ALLOC_TID_MASK	((1U << MW_ALLOC_TID_BITS) - 1)
#define MW_ALLOC_SIZE_BITS	(64 - MW_ALLOC_BLOCK_BITS + MW_ALLOC_SIZE_LOW_BITS)
#define MW_ALLOC_SIZE_BIG	((1ULL << MW_ALLOC_SIZE_BITS) - 1)

_Static_assert(MW_MAX_PROCESSES <= 1U << MW_ALLOC_PROCESS_BITS,
	       "a process's slot fits in a block's key");

/* The identity of process slot @process's block at @addr: what a search matches. */
static inline __u64 mw_alloc_block(__u64 addr, __u32 process)
{
	return addr | (__u64)process << MW_ALLOC_ADDR_BITS;
}

static inline __u64 mw_alloc_key(__u64 addr, __u32 process, __u64 size)
{
	return mw_alloc_block(addr, process) |
	       size >> MW_ALLOC_SIZE_LOW_BITS << MW_ALLOC_BLOCK_BITS;
}

static inline __u64 mw_alloc_info(__u64 size, __u32 tid, __u32 site)
{
	return (__u64)site << 32 | (__u64)tid << MW_ALLOC_SIZE_LOW_BITS |
	       (size & ((1U << MW_ALLOC_SIZE_LOW_BITS) - 1));
}

/* The block a slot's key is of: its address, tombstone bit included, and process. */
static inline __u64 mw_alloc_key_block(__u64 key)
{
	return key & MW_ALLOC_BLOCK_MASK;
}

/* The address in a slot's key, with its tombstone bit. */
static inline __u64 mw_alloc_addr(__u64 key)
{
	return key & MW_ALLOC_ADDR_MASK;
}

static inline __u32 mw_alloc_process(__u64 key)
{
	return mw_alloc_key_block(key) >> MW_ALLOC_ADDR_BITS;
}

static inline __u64 mw_alloc_size(__u64 key, __u64 info)
{
	return key >> MW_ALLOC_BLOCK_BITS << MW_ALLOC_SIZE_LOW_BITS |
	       (info & ((1U << MW_ALLOC_SIZE_LOW_BITS) - 1));
}

static inline __u32 mw_alloc_tid(__u64 info)
{
	return info >> MW_ALLOC_SIZE_LOW_BITS & MW_ALLOC_TID_MASK;
}

static inline __u32 mw_alloc_site(__u64 info)
{
	return info >> 32;
}

/* A big block's key in big_blocks. */
struct mw_big_key {
	__u64 addr;
	__u32 process;		/* its slot in process_records */
	__u32 pad;
};

/*
 * The live table grows by generations: each one an open-addressing table of
 * its own over a run of equal segments (arrays of MW_SEGMENT_SLOTS slots in
 * an array of maps). Allocations go to the newest generation, a free
 * searches from the newest to the oldest; user space adds a generation when
 * the newest is half used and drops an old one once it holds no block.
 */
#define MW_SEGMENT_SHIFT	16
#define MW_SEGMENT_SLOTS	(1U << MW_SEGMENT_SHIFT)
#define MW_MAX_GENERATIONS	32	/* a ring: a power of 2 */

struct mw_generation {
	__u32 first_segment;	/* its segments: an index into the array of maps */
	__u32 slots;		/* a multiple of MW_SEGMENT_SLOTS; 0: not searched */
	__u64 used;		/* slots taken while empty: blocks and tombstones */
	__u64 grow_at;		/* at this many used slots the kernel wakes user space */
	__u64 freed_old;	/* blocks freed from it while a newer one existed */
	/*
	 * The granules of address space (MW_GRANULE_SHIFT) its slots were ever
	 * taken for, first to last: a free of an address outside them does not
	 * search it. A batch's blocks come from one part of the heap, so the
	 * free of an old one skips the newer generations' slots.
	 */
	__u64 first_granule;	/* MW_NO_GRANULE: none yet */
	__u64 last_granule;
};

#define MW_GRANULE_SHIFT	20	/* 1 MiB: a generation's range widens once per MiB */
#define MW_NO_GRANULE		(~0ULL)

/* A generation of @slots slots from segment @first_segment, before it is searched. */
static inline void mw_generation_init(struct mw_generation *g, __u32 first_segment, __u64 slots)
{
	g->first_segment = first_segment;
	g->used = 0;
	g->grow_at = slots / 2;
	g->freed_old = 0;
	g->first_granule = MW_NO_GRANULE;
	g->last_granule = 0;
}

/*
 * A --trace record, one per traced syscall of the target (failed ones too),
 * sent through the trace ring buffer as the call returns.
 */
struct mw_trace_event {
	__u64 time_ns;		/* at the return, CLOCK_MONOTONIC */
	__u64 duration_ns;
	__u64 addr;		/* the arguments, as in struct mw_syscall_inflight */
	__u64 len;
	__u64 arg;
	__u64 flags;
	__s64 ret;		/* the result, -errno on failure */
	__s64 resident_change;	/* resident bytes (file, anon, shmem) the call added or removed */
	__u32 tid;
	__u32 nr;		/* enum mw_syscall */
	char comm[MW_COMM_LEN];
};

/*
 * --stacks=sampled: the bytes between two sampled allocations of a thread are
 * drawn from an exponential distribution (as jemalloc, tcmalloc and Go do, so
 * that each byte is equally likely to be sampled): the kernel picks one of
 * these quantiles of it at random, user space computes them.
 */
#define MW_SAMPLE_QUANTILES 4096

/*
 * --stacks: the records of the stack_events ring buffer (bpf/stacks.bpf.h).
 * An allocator call's entry sends the caller's registers and the top of its
 * stack, unwound in user space; its return sends the block it made, with the
 * same id; a free of a block the live table held sends its address. One
 * thread's records arrive in the order it made them.
 */
enum mw_stack_record {
	MW_STACK_SAMPLE = 1,	/* struct mw_stack_sample */
	MW_STACK_ALLOC,		/* struct mw_stack_block: the call's block and size */
	MW_STACK_FREE,		/* struct mw_stack_block: a live block freed (realloc's old one too) */
	MW_STACK_SYSCALL,	/* struct mw_stack_sample at a memory syscall's exit, with its effect */
};

/* The stack copied from the page of the stack pointer up, page by page. */
#define MW_STACK_PAGE_SIZE	4096
#define MW_STACK_PAGES		4
#define MW_STACK_BYTES		(MW_STACK_PAGES * MW_STACK_PAGE_SIZE)
/* room for the kernel's struct pt_regs, copied whole: user space reads its architecture's */
#define MW_STACK_REGS_BYTES	256

/*
 * User space is woken once this much of stack_events waits, not at every
 * record (bpf/stacks.bpf.h): the ring buffer, which user space sizes, must
 * be larger.
 */
#define MW_STACK_WAKE_BYTES	(2U << 20)

struct mw_stack_head {
	__u32 type;		/* enum mw_stack_record */
	__u32 pid;		/* the thread's TGID */
	__u32 tid;
	__u32 process;		/* its process's slot in process_records */
	__u64 id;		/* SAMPLE and ALLOC: the call's (bpf_ktime_get_ns() at entry) */
	__u64 execs;		/* SAMPLE: its process's execs so far: which image's modules */
};

/*
 * A uretprobe (memwatch's on malloc, or anyone's) replaced the return address
 * in the stack slot at @slot with its trampoline's; the kernel kept the real
 * one, @ret. Unwinding reads @ret there, or it would stop at the trampoline
 * (an arena's mmap inside malloc would never reach malloc's caller).
 */
struct mw_stack_fixup {
	__u64 slot;
	__u64 ret;
};

/* uretprobes pending in a thread, innermost first, that a sample carries */
#define MW_STACK_FIXUPS 8

/* SYSCALL: the call and what it did, as the thread's counters count it */
struct mw_stack_syscall {
	__u32 nr;		/* enum mw_syscall */
	__u32 pad;
	__u64 grown;		/* bytes taken from the OS: the counters' grown group */
	__u64 returned;		/* bytes given back as asked: the returned group */
	__u64 returned_actual;	/* resident bytes that left RSS during the call */
};

struct mw_stack_sample {
	struct mw_stack_head head;
	__u8 regs[MW_STACK_REGS_BYTES];	/* struct pt_regs: the entry probe's, or the syscall's user ones */
	__u64 base;		/* the address of stack[0]: the stack pointer's page */
	__u64 len;		/* bytes of stack[] read: pages up to the first unreadable one */
	__u32 nr_fixups;
	__u32 pad;
	struct mw_stack_fixup fixups[MW_STACK_FIXUPS];
	struct mw_stack_syscall sys;	/* SYSCALL only */
	__u8 stack[MW_STACK_BYTES];
};

struct mw_stack_block {
	struct mw_stack_head head;
	__u64 ptr;
	__u64 size;		/* ALLOC: bytes asked for */
};

/*
 * A record of the stack_images ring buffer: a process image's first sample
 * is on its way, or the image mapped code. User space reads the image's
 * modules at once, however many samples it still has to unwind before.
 */
struct mw_stack_image {
	__u32 pid;
	__u32 process;
	__u64 execs;		/* the image's: its process's execs before it */
};

#endif /* MEMWATCH_H */
