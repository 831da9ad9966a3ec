// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * memwatch's kernel side: per-thread cumulative counters of one target
 * process, fed by the memory syscalls' tracepoints and by uprobes on the
 * malloc family. User space reads the counters each interval; only --trace
 * sends something per event: a record per syscall, through a ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memwatch.h"

#define PROT_WRITE	0x2
#define MAP_ANONYMOUS	0x20
#define MADV_DONTNEED	4
#define MADV_FREE	8
#define MADV_REMOVE	9
#define MADV_COLD	20
#define MADV_PAGEOUT	21
#define MADV_DONTNEED_LOCKED 24
#define MAX_ERRNO	4095
#define PF_EXITING	0x00000004

/* set by user space before load */
const volatile __u32 target_tgid;
const volatile __u64 page_size = 4096;
const volatile bool trace_syscalls;	/* --trace: a record per syscall */
const volatile bool preexisting_blocks;	/* -p: blocks older than the counting exist */

/*
 * Set by user space once every allocator uprobe is attached, cleared while
 * they move to a new image. Links go live one at a time, and an allocation
 * counted while free's probe is not yet live would stay live for good: no
 * entry probe counts before every one is in. The uretprobe always runs, so
 * a call entered while counting is accounted at its return.
 */
__u32 counting;
/* the probed allocator is glibc: a block's size is in its chunk header */
__u32 glibc_chunks;

/* counter-map failures and unpaired probe hits: reported, never hidden */
__u64 lost_events;
/* blocks of threads whose exited rows user space folded, freed since */
__u64 orphan_released_calls;
__u64 orphan_released_bytes;
/* what the target did that memwatch does not follow: child processes, new images */
__u64 forks;
__u64 execs;
/* --trace records the ring buffer had no room for */
__u64 trace_lost;

/*
 * Resident memory of the target's mm. kmem:rss_stat names the mm only by a
 * hash, learned from the target's first own event; its size is the
 * counter's exact current value, so the change is the difference to the
 * last value seen. User space sets rss_now from /proc before attaching.
 */
__u32 target_mm_id;
__u32 target_mm_known;
__u32 exec_pending;		/* launched: the held child still has memwatch's mm */
__s64 rss_now[MW_RSS_NR];
__s64 rss_at_exit[MW_RSS_NR];	/* as the last thread began to exit */
__u32 target_exiting;
/* changes the target's threads did not make: reclaim, khugepaged */
__u64 rss_other_gained[MW_RSS_NR];
__u64 rss_other_lost[MW_RSS_NR];
/* what the process's exit released, after its last thread began to exit */
__u64 rss_exit_lost[MW_RSS_NR];

/*
 * The threads' records, and each TID's slot among them. Every probe hit
 * looks its thread up, so both are arrays, whose lookups the verifier
 * inlines (~4 ns here), where a hash map lookup cost ~70 ns and task storage
 * ~55, three times per malloc+free pair. User space maps both and reads the
 * records in place.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MW_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct mw_thread);
} threads SEC(".maps");

/* Two TIDs per element (an array's values are 8-byte aligned): half the memory. */
struct tid_slots {
	__u32 slot[2];
};

/* Indexed by TID / 2, sized by user space to the kernel's pid_max. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 32768 / 2);
	__type(key, __u32);
	__type(value, struct tid_slots);
} thread_slots SEC(".maps");

/* Slots user space freed, of exited threads it folded; new threads take these first. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MW_MAX_THREADS);
	__type(value, __u32);
} free_slots SEC(".maps");

/* slots handed out from the top of the threads array, slot 0 never */
__u32 slots_claimed;

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

/*
 * The sizes of blocks of MW_ALLOC_SIZE_BIG bytes or more (64 MiB), whose slot
 * has no room for them: each is an mmap of its own, which costs more than
 * an element here. Room for 1 TiB of them (16,384 of 64 MiB).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} big_blocks SEC(".maps");

/* wakes user space when the newest generation is half used, or full */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} table_wakeups SEC(".maps");

/* The size of the big block at @addr, taken out of big_blocks; 0 if it is not there. */
static __noinline __u64 big_block_take(__u64 addr)
{
	__u64 *found = bpf_map_lookup_elem(&big_blocks, &addr), size;

	if (!found)
		return 0;
	size = *found;
	bpf_map_delete_elem(&big_blocks, &addr);
	return size;
}

static __always_inline void table_blocks_add(__s64 n)
{
	__u32 zero = 0;
	__s64 *blocks = bpf_map_lookup_elem(&table_blocks, &zero);

	if (blocks)
		__sync_fetch_and_add(blocks, n);
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct mw_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);	/* sized by user space for --trace */
} trace_events SEC(".maps");

static __always_inline bool is_target(__u64 pid_tgid)
{
	return (pid_tgid >> 32) == target_tgid;
}

static __always_inline void count_lost(void)
{
	__sync_fetch_and_add(&lost_events, 1);
}

/* Where @tid's slot number is kept, NULL for a TID beyond the pid_max at start. */
static __always_inline __u32 *tid_slot(__u32 tid)
{
	__u32 key = tid / 2;
	struct tid_slots *pair = bpf_map_lookup_elem(&thread_slots, &key);

	return pair ? &pair->slot[tid & 1] : NULL;
}

/* The record in *@slot, NULL for none. */
static __always_inline struct mw_thread *slot_record(const __u32 *slot)
{
	/* a copy: user space may clear the slot meanwhile */
	__u32 index = *slot;

	return index ? bpf_map_lookup_elem(&threads, &index) : NULL;
}

/* @tid's record, live or exited, NULL if it has none. */
static __always_inline struct mw_thread *thread_of(__u32 tid)
{
	__u32 *slot = tid_slot(tid);

	return slot ? slot_record(slot) : NULL;
}

/*
 * A record for the calling thread, whose TID has none or an exited one's:
 * a recycled slot, else the next never used.
 */
static __noinline struct mw_thread *thread_new(__u32 tid, __u32 *slot)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mw_thread *t = slot_record(slot);
	__u64 start_ns = task->start_time;
	__u32 index;

	/*
	 * The thread itself, past its exit event (a futex word written as it
	 * exits). Not a thread whose exec took the exited leader's TID: it
	 * inherits the leader's start time too, but is not exiting.
	 */
	if (t && t->start_ns == start_ns && (task->flags & PF_EXITING))
		return t;
	if (bpf_map_pop_elem(&free_slots, &index)) {
		/* a racing claim past the end fails the lookup below */
		if (slots_claimed >= MW_MAX_THREADS - 1) {
			count_lost();
			return NULL;
		}
		index = __sync_fetch_and_add(&slots_claimed, 1) + 1;
	}
	t = bpf_map_lookup_elem(&threads, &index);
	if (!t) {
		count_lost();
		return NULL;
	}
	t->start_ns = start_ns;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	/* last (x86 keeps stores in order): user space skips a slot whose TID is 0 */
	t->tid = tid;
	*slot = index;
	return t;
}

/*
 * The calling thread's record, created on its first event. Inlined: a
 * BPF-to-BPF call costs more than the few instructions it saves.
 */
static __always_inline struct mw_thread *thread_get(__u32 tid)
{
	__u32 *slot = tid_slot(tid);
	struct mw_thread *t;

	if (!slot) {
		count_lost();
		return NULL;
	}
	t = slot_record(slot);
	/* an exited thread's record: its TID went to a new thread */
	if (t && !t->exited)
		return t;
	return thread_new(tid, slot);
}

static __always_inline struct mw_thread *current_thread(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!is_target(id))
		return NULL;
	return thread_get((__u32)id);
}

static __always_inline __u64 page_align(__u64 len)
{
	return (len + page_size - 1) & ~(page_size - 1);
}

/* ---- syscalls: enter records the arguments, a successful exit counts ---- */

/* Resident bytes (file, anon, shmem) this thread's own faults and calls added, net. */
static __always_inline __s64 resident_change(const struct mw_thread *t)
{
	return (__s64)(t->rss_gained[MW_RSS_FILE] + t->rss_gained[MW_RSS_ANON] +
		       t->rss_gained[MW_RSS_SHMEM]) -
	       (__s64)(t->rss_lost[MW_RSS_FILE] + t->rss_lost[MW_RSS_ANON] +
		       t->rss_lost[MW_RSS_SHMEM]);
}

/* Records the call's arguments: no counter changes before its exit. */
static __always_inline void sys_begin(enum mw_syscall nr, __u64 addr, __u64 len, __u64 arg,
				      __u64 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_syscall_inflight *s;
	struct mw_thread *t;

	if (!is_target(id))
		return;
	t = thread_get((__u32)id);
	if (!t)
		return;
	s = &t->sys;
	s->nr = nr;
	s->addr = addr;
	s->len = len;
	s->arg = arg;
	s->flags = flags;
	if (trace_syscalls) {
		s->start_ns = bpf_ktime_get_ns();
		s->resident_mark = resident_change(t);
	}
}

/* One --trace record per finished call; a full ring buffer loses it, counted. */
static __noinline void trace_syscall(struct mw_thread *t, struct mw_syscall_inflight *s, __u32 tid,
				     long ret)
{
	struct mw_trace_event *e;

	e = bpf_ringbuf_reserve(&trace_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&trace_lost, 1);
		return;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->duration_ns = e->time_ns - s->start_ns;
	e->addr = s->addr;
	e->len = s->len;
	e->arg = s->arg;
	e->flags = s->flags;
	e->ret = ret;
	e->resident_change = resident_change(t) - s->resident_mark;
	e->tid = tid;
	e->nr = s->nr;
	/* the name now: the thread's record keeps the one of its first event */
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/*
 * The thread's counters if its pending syscall is @nr and succeeded, else
 * NULL; the call's arguments in *@sp.
 */
static __always_inline struct mw_thread *sys_end(enum mw_syscall nr, long ret,
						 struct mw_syscall_inflight **sp)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct mw_syscall_inflight *s;
	struct mw_thread *t;

	if (!is_target(id))
		return NULL;
	t = thread_get(tid);
	if (!t)
		return NULL;
	s = &t->sys;
	/* none or another: attached while the call was under way */
	if (s->nr != nr)
		return NULL;
	if (trace_syscalls)
		trace_syscall(t, s, tid, ret);
	s->nr = MW_SYS_NONE;
	if (ret < 0 && ret >= -MAX_ERRNO)
		return NULL;
	t->syscalls[nr]++;
	*sp = s;
	return t;
}

/* A direct load through the task's BTF pointer: no probe-read helper calls. */
static __always_inline __u64 current_brk(void)
{
	return bpf_get_current_task_btf()->mm->brk;
}

SEC("tp/syscalls/sys_enter_brk")
int tracepoint__syscalls__sys_enter_brk(struct trace_event_raw_sys_enter *ctx)
{
	sys_begin(MW_SYS_BRK, ctx->args[0], 0, current_brk(), 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_brk")
int tracepoint__syscalls__sys_exit_brk(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_BRK, ctx->ret, &s);
	__u64 old_end, new_end;

	if (!t)
		return 0;
	/* brk returns the new break, or the old one when it fails */
	old_end = page_align(s->arg);
	new_end = page_align(ctx->ret);
	if (new_end > old_end)
		t->brk_grow_bytes += new_end - old_end;
	else
		t->brk_shrink_bytes += old_end - new_end;
	return 0;
}

static __always_inline void region_created(__u64 start, __u64 len, __u32 tid)
{
	struct mw_region region = { .len = len, .tid = tid };

	if (bpf_map_update_elem(&regions, &start, &region, BPF_ANY))
		count_lost();
}

/*
 * Forgets an unmapped region. An unmapped head keeps the rest owned: glibc
 * reserves twice an arena's size and unmaps the unaligned start.
 */
static __always_inline void region_unmapped(__u64 start, __u64 len)
{
	struct mw_region *region = bpf_map_lookup_elem(&regions, &start);
	struct mw_region rest;
	__u64 rest_start;

	if (!region)
		return;
	if (len < region->len) {
		rest.len = region->len - len;
		rest.tid = region->tid;
		rest.pad = 0;
		rest_start = start + len;
		bpf_map_update_elem(&regions, &rest_start, &rest, BPF_ANY);
	}
	bpf_map_delete_elem(&regions, &start);
}

SEC("tp/syscalls/sys_enter_mmap")
int tracepoint__syscalls__sys_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	sys_begin(MW_SYS_MMAP, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
	return 0;
}

SEC("tp/syscalls/sys_exit_mmap")
int tracepoint__syscalls__sys_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_MMAP, ctx->ret, &s);
	__u64 len, prot, flags;

	if (!t)
		return 0;
	len = page_align(s->len);
	prot = s->arg;
	flags = s->flags;
	if (!prot)
		t->mmap_none_bytes += len;
	else if (flags & MAP_ANONYMOUS)
		t->mmap_anon_bytes += len;
	else
		t->mmap_file_bytes += len;
	if (flags & MAP_ANONYMOUS)
		region_created(ctx->ret, len, (__u32)bpf_get_current_pid_tgid());
	return 0;
}

SEC("tp/syscalls/sys_enter_munmap")
int tracepoint__syscalls__sys_enter_munmap(struct trace_event_raw_sys_enter *ctx)
{
	sys_begin(MW_SYS_MUNMAP, ctx->args[0], ctx->args[1], 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_munmap")
int tracepoint__syscalls__sys_exit_munmap(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_MUNMAP, ctx->ret, &s);
	__u64 len;

	if (!t)
		return 0;
	len = page_align(s->len);
	t->munmap_bytes += len;
	region_unmapped(s->addr, len);
	return 0;
}

SEC("tp/syscalls/sys_enter_mremap")
int tracepoint__syscalls__sys_enter_mremap(struct trace_event_raw_sys_enter *ctx)
{
	sys_begin(MW_SYS_MREMAP, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
	return 0;
}

SEC("tp/syscalls/sys_exit_mremap")
int tracepoint__syscalls__sys_exit_mremap(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_MREMAP, ctx->ret, &s);
	__u64 old_len, new_len;

	if (!t)
		return 0;
	old_len = page_align(s->len);
	new_len = page_align(s->arg);
	if (new_len > old_len)
		t->mremap_grow_bytes += new_len - old_len;
	else
		t->mremap_shrink_bytes += old_len - new_len;
	return 0;
}

SEC("tp/syscalls/sys_enter_mprotect")
int tracepoint__syscalls__sys_enter_mprotect(struct trace_event_raw_sys_enter *ctx)
{
	sys_begin(MW_SYS_MPROTECT, ctx->args[0], ctx->args[1], ctx->args[2], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_mprotect")
int tracepoint__syscalls__sys_exit_mprotect(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_MPROTECT, ctx->ret, &s);
	__u64 len, prot;

	if (!t)
		return 0;
	len = page_align(s->len);
	prot = s->arg;
	/* read-only and exec changes (RELRO, JITs) neither grow nor return memory */
	if (!prot)
		t->mprotect_none_bytes += len;
	else if (prot & PROT_WRITE)
		t->mprotect_rw_bytes += len;
	return 0;
}

SEC("tp/syscalls/sys_enter_madvise")
int tracepoint__syscalls__sys_enter_madvise(struct trace_event_raw_sys_enter *ctx)
{
	sys_begin(MW_SYS_MADVISE, ctx->args[0], ctx->args[1], ctx->args[2], 0);
	return 0;
}

static __always_inline enum mw_advice advice_bucket(__u64 advice)
{
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		return MW_ADV_DONTNEED;
	case MADV_FREE:
		return MW_ADV_FREE;
	case MADV_REMOVE:
		return MW_ADV_REMOVE;
	case MADV_PAGEOUT:
		return MW_ADV_PAGEOUT;
	case MADV_COLD:
		return MW_ADV_COLD;
	default:
		return MW_ADV_OTHER;
	}
}

SEC("tp/syscalls/sys_exit_madvise")
int tracepoint__syscalls__sys_exit_madvise(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_MADVISE, ctx->ret, &s);
	enum mw_advice bucket;

	if (!t)
		return 0;
	bucket = advice_bucket(s->arg);
	t->madvise_bytes[bucket] += page_align(s->len);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int tracepoint__sched__sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct mw_thread *t = current_thread();
	int i;

	if (!t)
		return 0;
	/* the thread may have renamed itself since its first event */
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	t->exited = 1;
	if (!ctx->group_dead)
		return 0;
	/* the last thread, before the mm is torn down: the final RSS */
	for (i = 0; i < MW_RSS_NR; i++)
		rss_at_exit[i] = rss_now[i];
	target_exiting = 1;
	return 0;
}

/*
 * The old image's heap is gone with its mm: each of its blocks is released,
 * and the table starts over, tombstones included. The exec'ing thread is
 * the only one left, so nothing else touches the table meanwhile.
 */
static long forget_block(struct bpf_map *map, __u32 *index, struct mw_alloc *slot, void *ctx)
{
	__u64 key = slot->key, info = slot->info, size = mw_alloc_size(key, info);
	__u32 tid = mw_alloc_tid(info);
	struct mw_thread *owner;

	slot->key = MW_SLOT_EMPTY;
	slot->info = 0;
	if (key == MW_SLOT_EMPTY || key & MW_SLOT_FREED)
		return 0;
	table_blocks_add(-1);
	if (size == MW_ALLOC_SIZE_BIG)
		size = big_block_take(mw_alloc_addr(key));
	owner = thread_of(tid);
	if (owner) {
		__sync_fetch_and_add(&owner->released_calls, 1);
		__sync_fetch_and_add(&owner->released_bytes, size);
	} else {
		__sync_fetch_and_add(&orphan_released_calls, 1);
		__sync_fetch_and_add(&orphan_released_bytes, size);
	}
	return 0;
}

static long forget_segment(__u64 i, void *ctx)
{
	__u32 index = i;
	void *segment = bpf_map_lookup_elem(&alloc_segments, &index);

	if (segment)
		bpf_for_each_map_elem(segment, forget_block, NULL, 0);
	return 0;
}

static void forget_blocks(void)
{
	struct mw_generation *g;
	__u32 key;
	int i;

	bpf_loop(((struct bpf_map *)&alloc_segments)->max_entries, forget_segment, NULL, 0);
	for (i = 0; i < MW_MAX_GENERATIONS; i++) {
		/* a copy: the loop's counter stays a bounded register */
		key = i;
		g = bpf_map_lookup_elem(&table_generations, &key);
		if (g)
			g->used = 0;
	}
}

SEC("tp/sched/sched_process_exec")
int tracepoint__sched__sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = *(volatile pid_t *)&ctx->old_pid;
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_thread *old;
	int i;

	if (!is_target(id))
		return 0;
	/* a thread other than the leader exec'd: it took the PID, its own TID is gone */
	if (old_tid != (__u32)id) {
		old = thread_of(old_tid);
		if (old)
			old->exited = 1;
	}
	/* a launched command's own exec starts it; a later one replaces it */
	if (!exec_pending) {
		__sync_fetch_and_add(&execs, 1);
		forget_blocks();
	}
	exec_pending = 0;
	/* a new, empty mm: its hash is learned from its first event */
	target_mm_known = 0;
	for (i = 0; i < MW_RSS_NR; i++)
		rss_now[i] = 0;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_btf__sched__sched_process_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	/* a new thread shares the tgid; a new process is not followed, only counted */
	if (parent->tgid == target_tgid && child->tgid != parent->tgid)
		__sync_fetch_and_add(&forks, 1);
	return 0;
}

static __always_inline bool is_return_call(__u32 nr)
{
	return nr == MW_SYS_BRK || nr == MW_SYS_MUNMAP || nr == MW_SYS_MREMAP ||
	       nr == MW_SYS_MADVISE;
}

SEC("tp/kmem/rss_stat")
int tracepoint__kmem__rss_stat(struct trace_event_raw_rss_stat *ctx)
{
	/* volatile: clang must load the context fields directly, as the verifier wants */
	__u32 mm_id = *(volatile __u32 *)&ctx->mm_id;
	__u32 curr = *(volatile __u32 *)&ctx->curr;
	int member = *(volatile int *)&ctx->member;
	__s64 size = *(volatile long *)&ctx->size;
	struct mw_thread *t;
	__s64 delta;
	__u64 id;
	bool own;
	__u32 nr;

	if (member < 0 || member >= MW_RSS_NR)
		return 0;
	/* the events of every other process on the machine end here, on the mm alone */
	if (target_mm_known && mm_id != target_mm_id)
		return 0;
	id = bpf_get_current_pid_tgid();
	own = curr && is_target(id);
	if (!target_mm_known) {
		if (!own || exec_pending)
			return 0;
		target_mm_id = mm_id;
		target_mm_known = 1;
	}
	/* threads fault concurrently: each change is counted exactly once */
	delta = size - __sync_lock_test_and_set(&rss_now[member], size);
	if (!own) {
		if (delta > 0)
			__sync_fetch_and_add(&rss_other_gained[member], delta);
		else if (target_exiting)
			__sync_fetch_and_add(&rss_exit_lost[member], -delta);
		else
			__sync_fetch_and_add(&rss_other_lost[member], -delta);
		return 0;
	}
	t = thread_get((__u32)id);
	if (!t)
		return 0;
	if (delta > 0) {
		t->rss_gained[member] += delta;
		return 0;
	}
	t->rss_lost[member] += -delta;
	if (member == MW_RSS_SWAP)
		return 0;
	nr = t->sys.nr;
	if (is_return_call(nr) && nr < MW_SYS_NR)
		t->rss_returned[nr] += -delta;
	return 0;
}

/* ---- the live-allocation table ---- */

/*
 * How far a search goes from an address's first slot. Past it the
 * generation counts as full: at half full, 1,000,000 random addresses went
 * at most 39 slots (glibc's consecutive chunks: 0).
 */
#define MAX_PROBES	64

/*
 * An address's first slot: Fibonacci hashing of the address without its
 * alignment bits, which sends consecutive chunks far apart, scaled to the
 * generation by a multiplication, so any size works without a division.
 */
static __always_inline __u32 alloc_home(__u64 ptr, __u32 slots)
{
	__u32 hash = (ptr >> 4) * 0x9e3779b97f4a7c15ULL >> 32;

	return (__u64)hash * slots >> 32;
}

/*
 * A search of one generation, one bpf_loop() step per slot: the verifier
 * checks one step instead of MAX_PROBES unrolled.
 */
struct alloc_search {
	__u64 ptr;
	__u64 key;		/* insert: the slot's words; remove: what was there */
	__u64 info;
	__u32 home;
	__u32 slots;
	__u32 first_segment;
	__u32 generation;
	__u32 newest;		/* remove: the generation searched first */
	int result;
	bool found;		/* remove: the block was there, key and info are its */
};

/* Sets @q up to search generation @gen: false if it is not searched. */
static __always_inline bool search_in(struct alloc_search *q, __u32 gen)
{
	struct mw_generation *g;

	gen &= MW_MAX_GENERATIONS - 1;
	g = bpf_map_lookup_elem(&table_generations, &gen);
	if (!g)
		return false;
	q->generation = gen;
	q->slots = *(volatile __u32 *)&g->slots;
	if (!q->slots)
		return false;
	q->first_segment = g->first_segment;
	q->home = alloc_home(q->ptr, q->slots);
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
 * A search for an address stops at an empty slot, so an insert takes the
 * first empty or freed one: the slots before it stay in use or tombstones.
 */
static __always_inline long insert_at(__u32 i, struct alloc_search *q)
{
	struct mw_alloc *slot = alloc_slot(q, i);
	__u64 key;

	if (!slot)
		return 1;
	key = slot->key;
	if (mw_alloc_addr(key) == q->ptr) {
		/* the allocator handed it out again: only this thread knows it yet */
		slot->info = q->info;
		slot->key = q->key;
		q->result = 1;
		return 1;
	}
	if (key != MW_SLOT_EMPTY && !(key & MW_SLOT_FREED))
		return 0;
	/* another thread may claim it first: then search on */
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
 * Enters @ptr in the newest generation with the slot's words @key and @info:
 * 0, 1 if it was there already (a free we never saw left it), -1 if no slot
 * within reach was free.
 */
static __always_inline int alloc_insert(__u64 ptr, __u64 key, __u64 info)
{
	struct alloc_search q = { .ptr = ptr, .key = key, .info = info, .result = -1 };

	if (search_in(&q, *(volatile __u32 *)&table_newest) &&
	    /* the first slot inline: it is the block's in all but a few searches */
	    !insert_at(0, &q))
		bpf_loop(MAX_PROBES - 1, insert_step, &q, 0);
	/* a tombstone (a pre-attach block freed) takes a slot, but is no block */
	if (!q.result && !(ptr & MW_SLOT_FREED))
		table_blocks_add(1);
	else if (q.result < 0)
		table_wake();
	return q.result;
}

/* A tombstone for @ptr, a block that was never in the table. */
static __always_inline void alloc_insert_freed(__u64 ptr)
{
	if (!(ptr >> MW_ALLOC_ADDR_BITS))
		alloc_insert(ptr | MW_SLOT_FREED, ptr | MW_SLOT_FREED, 0);
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
	if (mw_alloc_addr(key) == (q->ptr | MW_SLOT_FREED)) {
		q->result = 1;
		return 1;
	}
	if (mw_alloc_addr(key) != q->ptr)
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

	if (!search_in(q, q->newest - 1 - i))
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
 * Takes @ptr out of the live table: MW_BLOCK_LIVE with its size and owner
 * when it was there. Else MW_BLOCK_UNKNOWN when it was seen freed, or when
 * every block was seen made (a launched command); with -p, a block never
 * seen at all is MW_BLOCK_PREEXISTING.
 */
static __always_inline enum mw_block_seen alloc_take(__u64 ptr, __u64 *size, __u32 *tid)
{
	struct alloc_search q = { .ptr = ptr };
	__u32 older;

	q.newest = *(volatile __u32 *)&table_newest;
	/* most frees are of young blocks */
	if (search_in(&q, q.newest) && !remove_at(0, &q))
		bpf_loop(MAX_PROBES - 1, remove_step, &q, 0);
	older = (q.newest - *(volatile __u32 *)&table_oldest) & (MW_MAX_GENERATIONS - 1);
	if (!q.found && !q.result && older)
		bpf_loop(older, remove_older_step, &q, 0);
	if (q.found) {
		table_blocks_add(-1);
		*size = mw_alloc_size(q.key, q.info);
		*tid = mw_alloc_tid(q.info);
		if (*size == MW_ALLOC_SIZE_BIG)
			*size = big_block_take(ptr);
		return MW_BLOCK_LIVE;
	}
	*size = 0;
	*tid = 0;
	return q.result || !preexisting_blocks ? MW_BLOCK_UNKNOWN : MW_BLOCK_PREEXISTING;
}

/*
 * glibc's usable size of the block at @ptr, from its chunk header, or 0:
 * the chunk size has three flag bits, and an mmapped chunk (0x2) cannot
 * lend its last word to a next chunk's header.
 */
static __always_inline __u64 chunk_usable_size(__u64 ptr)
{
	__u64 head;

	if (!glibc_chunks || bpf_probe_read_user(&head, sizeof(head), (void *)(ptr - 8)))
		return 0;
	head &= ~7ULL;
	if (head < 32)
		return 0;
	return head - (head & 2 ? 16 : 8);
}

/*
 * A block from before the counting, freed. Its tombstone goes in before the
 * allocator can hand the address out again, so that the same block freed
 * once more (glibc's tcache flush when the thread exits) counts as unknown.
 */
static __always_inline void free_preexisting(struct mw_thread *t, __u64 ptr, __u64 size)
{
	t->free_preexisting_calls++;
	t->free_preexisting_bytes += size;
	alloc_insert_freed(ptr);
}

/*
 * alloc_insert() of a block of @size owned by @tid, made at call site @site;
 * -1 also for an address beyond the slot's 48 bits (never without a hint),
 * or a big block that finds big_blocks full.
 */
static __always_inline int alloc_add(__u64 ptr, __u64 size, __u32 tid, __u32 site)
{
	__u64 slot_size = size;
	int err;

	if (ptr >> MW_ALLOC_ADDR_BITS || ptr & MW_SLOT_FREED || tid > MW_ALLOC_TID_MASK)
		return -1;
	if (size >= MW_ALLOC_SIZE_BIG) {
		if (bpf_map_update_elem(&big_blocks, &ptr, &size, BPF_ANY))
			return -1;
		slot_size = MW_ALLOC_SIZE_BIG;
	}
	err = alloc_insert(ptr, mw_alloc_key(ptr, slot_size), mw_alloc_info(slot_size, tid, site));
	/* not in the table, or in it now as a block that is not big */
	if ((err < 0 && slot_size == MW_ALLOC_SIZE_BIG) || (err > 0 && slot_size != MW_ALLOC_SIZE_BIG))
		bpf_map_delete_elem(&big_blocks, &ptr);
	return err;
}

/* ---- the malloc family: entry uprobes record, one uretprobe accounts ---- */

/* Counts an allocation and enters it in the live table. */
static __always_inline void account_alloc(struct mw_thread *t, __u32 tid, __u64 ptr,
					   __u64 size)
{
	int err;

	t->alloc_calls++;
	t->alloc_bytes += size;
	/* the slot has room for a call site; none is known yet */
	err = alloc_add(ptr, size, tid, 0);
	if (err > 0) {
		/* a free we never saw (e.g. an allocator-internal one) left it */
		count_lost();
	} else if (err < 0) {
		t->untracked_allocs++;
		t->untracked_bytes += size;
	}
}

/* Credits a freed block to the thread that allocated it. */
static __always_inline void account_free(struct mw_thread *t, __u32 tid, __u32 owner_tid,
					  __u64 size)
{
	struct mw_thread *owner = t;

	t->free_bytes += size;
	if (owner_tid != tid) {
		t->free_other_calls++;
		t->free_other_bytes += size;
		owner = thread_of(owner_tid);
		if (!owner) {
			__sync_fetch_and_add(&orphan_released_calls, 1);
			__sync_fetch_and_add(&orphan_released_bytes, size);
			return;
		}
	}
	/* other threads add to the same fields concurrently */
	__sync_fetch_and_add(&owner->released_calls, 1);
	__sync_fetch_and_add(&owner->released_bytes, size);
}

/* Removes @ptr from the live table, counting the free. */
static __always_inline void free_block(struct mw_thread *t, __u32 tid, __u64 ptr)
{
	__u32 owner_tid;
	__u64 size;

	t->free_calls++;
	switch (alloc_take(ptr, &size, &owner_tid)) {
	case MW_BLOCK_LIVE:
		account_free(t, tid, owner_tid, size);
		break;
	case MW_BLOCK_PREEXISTING:
		free_preexisting(t, ptr, chunk_usable_size(ptr));
		break;
	default:
		t->free_unknown_calls++;
	}
}

/* The calling thread, if it is not already inside an allocator call. */
static __always_inline struct mw_thread *call_begin(__u32 *tid, enum mw_alloc_fn fn, __u64 size,
						    __u64 ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_thread *t;

	if (!is_target(id))
		return NULL;
	*tid = (__u32)id;
	t = thread_get(*tid);
	if (!t)
		return NULL;
	if (t->call.depth) {
		t->call.depth++;
		return NULL;
	}
	/* a call nested in a counted one returns into it, counting or not */
	if (!counting)
		return NULL;
	t->call.depth = 1;
	t->call.fn = fn;
	t->call.size = size;
	t->call.ptr = ptr;
	return t;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, size_t size)
{
	__u32 tid;

	call_begin(&tid, MW_FN_ALLOC, size, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size)
{
	__u32 tid;

	/* an overflowing product makes calloc fail: its size never counts */
	call_begin(&tid, MW_FN_ALLOC, (__u64)nmemb * size, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(memalign_enter, size_t alignment, size_t size)
{
	__u32 tid;

	call_begin(&tid, MW_FN_ALLOC, size, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
	__u32 tid;

	call_begin(&tid, MW_FN_POSIX_MEMALIGN, size, (__u64)memptr);
	return 0;
}

/*
 * The old block leaves the live table at entry: once the real realloc has
 * freed it, another thread may get the same address back before our
 * uretprobe runs.
 */
static __always_inline void realloc_begin(__u64 ptr, __u64 size)
{
	struct mw_thread *t;
	__u32 tid;

	t = call_begin(&tid, MW_FN_REALLOC, size, ptr);
	if (!t)
		return;
	t->call.old_tracked = MW_BLOCK_UNKNOWN;
	if (!ptr)
		return;
	t->call.old_tracked = alloc_take(ptr, &t->call.old_size, &t->call.old_tid);
	/* its tombstone now: a failed realloc leaves it, a rarer error than a missed one */
	if (t->call.old_tracked == MW_BLOCK_PREEXISTING) {
		t->call.old_size = chunk_usable_size(ptr);
		alloc_insert_freed(ptr);
	}
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
	realloc_begin((__u64)ptr, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(reallocarray_enter, void *ptr, size_t nmemb, size_t size)
{
	realloc_begin((__u64)ptr, (__u64)nmemb * size);
	return 0;
}

/* realloc is a free of the old block plus an allocation of the new one. */
static __always_inline void realloc_end(struct mw_thread *t, __u32 tid, __u64 ret)
{
	struct mw_alloc_inflight *c = &t->call;
	bool old_freed;

	/* realloc(p, 0) may free p and return NULL; any other NULL is a failure */
	old_freed = c->ptr && (ret || !c->size);
	if (c->ptr && !old_freed) {
		/* back where it was at entry, or nearer its first slot */
		if (c->old_tracked == MW_BLOCK_LIVE)
			alloc_add(c->ptr, c->old_size, c->old_tid, 0);
		return;
	}
	if (old_freed) {
		t->free_calls++;
		if (c->old_tracked == MW_BLOCK_LIVE) {
			account_free(t, tid, c->old_tid, c->old_size);
		} else if (c->old_tracked == MW_BLOCK_PREEXISTING) {
			t->free_preexisting_calls++;
			t->free_preexisting_bytes += c->old_size;
		} else {
			t->free_unknown_calls++;
		}
	}
	if (ret)
		account_alloc(t, tid, ret, c->size);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, void *ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct mw_thread *t;
	__u64 ptr = (__u64)ret;
	void *slot;

	if (!is_target(id))
		return 0;
	t = thread_of(tid);
	if (!t || !t->call.depth) {
		/* entered before we attached */
		return 0;
	}
	if (--t->call.depth)
		return 0;

	switch (t->call.fn) {
	case MW_FN_ALLOC:
		if (ptr)
			account_alloc(t, tid, ptr, t->call.size);
		break;
	case MW_FN_REALLOC:
		realloc_end(t, tid, ptr);
		break;
	case MW_FN_POSIX_MEMALIGN:
		/* returns 0 and stores the block through the pointer */
		if ((int)ptr)
			break;
		slot = (void *)t->call.ptr;
		if (bpf_probe_read_user(&ptr, sizeof(ptr), slot) || !ptr) {
			count_lost();
			break;
		}
		account_alloc(t, tid, ptr, t->call.size);
		break;
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(free_enter, void *ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_thread *t;
	__u32 tid;

	if (!ptr || !is_target(id) || !counting)
		return 0;
	tid = (__u32)id;
	t = thread_get(tid);
	/* inside realloc: the outer call accounts for the block */
	if (!t || t->call.depth)
		return 0;
	free_block(t, tid, (__u64)ptr);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
