/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Syscall accounting: the memory syscalls' tracepoints. Enter records the
 * arguments, a successful exit counts; --trace sends a record per call.
 */
#ifndef MW_SYSCALLS_BPF_H
#define MW_SYSCALLS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "threads.bpf.h"
#include "stacks.bpf.h"

#define PROT_WRITE	0x2
#define PROT_EXEC	0x4
#define MAP_ANONYMOUS	0x20
#define MADV_DONTNEED	4
#define MADV_FREE	8
#define MADV_REMOVE	9
#define MADV_COLD	20
#define MADV_PAGEOUT	21
#define MADV_DONTNEED_LOCKED 24
#define MAX_ERRNO	4095

/* set by user space before load */
const volatile bool trace_syscalls;	/* --trace: a record per syscall */

/* --trace records the ring buffer had no room for */
__u64 trace_lost;

/*
 * Allocated as regions are mapped: preallocated, its 65,536 elements cost
 * every attach 10-17 ms and 4.5 MiB of kernel memory for a target that maps
 * a few dozen.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct mw_region_key);
	__type(value, struct mw_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);	/* sized by user space for --trace */
} trace_events SEC(".maps");

static __always_inline __u64 page_align(__u64 len)
{
	return (len + page_size - 1) & ~(page_size - 1);
}

/* Resident bytes (file, anon, shmem) this thread's own faults and calls added, net. */
static __always_inline __s64 resident_change(const struct mw_thread *t)
{
	return (__s64)(t->rss_gained[MW_RSS_FILE] + t->rss_gained[MW_RSS_ANON] +
		       t->rss_gained[MW_RSS_SHMEM]) -
	       (__s64)(t->rss_lost[MW_RSS_FILE] + t->rss_lost[MW_RSS_ANON] +
		       t->rss_lost[MW_RSS_SHMEM]);
}

/* Records the call's arguments: no counter changes before its exit. The record, or NULL. */
static __always_inline struct mw_syscall_inflight *sys_begin(enum mw_syscall nr, __u64 addr,
							     __u64 len, __u64 arg, __u64 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_syscall_inflight *s;
	struct mw_thread *t;
	__u32 process;

	if (!watched(id, &process))
		return NULL;
	t = thread_get(id, process);
	if (!t)
		return NULL;
	s = &t->sys;
	s->nr = nr;
	s->addr = addr;
	s->len = len;
	s->arg = arg;
	s->flags = flags;
	s->foreign = 0;
	if (trace_syscalls) {
		s->start_ns = bpf_ktime_get_ns();
		s->resident_mark = resident_change(t);
	}
	if (stacks_all || stacks_sample_bytes)
		s->returned_mark = t->rss_returned[nr];
	return s;
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
	__u32 process;

	if (!watched(id, &process))
		return NULL;
	t = thread_get(id, process);
	if (!t)
		return NULL;
	s = &t->sys;
	/* none or another: attached while the call was under way */
	if (s->nr != nr)
		return NULL;
	if (trace_syscalls)
		trace_syscall(t, s, tid, ret);
	s->nr = MW_SYS_NONE;
	if ((ret < 0 && ret >= -MAX_ERRNO) || s->foreign)
		return NULL;
	t->syscalls[nr]++;
	*sp = s;
	return t;
}

/*
 * --stacks: the finished call's stack, with the bytes it grew and returned
 * and the resident bytes that left RSS during it.
 */
static __always_inline void sys_stack(const struct mw_thread *t,
				      const struct mw_syscall_inflight *s, enum mw_syscall nr,
				      __u64 grown, __u64 returned)
{
	stack_syscall(t, nr, grown, returned, t->rss_returned[nr] - s->returned_mark);
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
	sys_stack(t, s, MW_SYS_BRK, new_end > old_end ? new_end - old_end : 0,
		  new_end < old_end ? old_end - new_end : 0);
	return 0;
}

/* Thread @t mapped @len bytes at @start. */
static __always_inline void region_created(const struct mw_thread *t, __u64 start, __u64 len)
{
	struct mw_region_key key = { .start = start, .pid = t->pid };
	struct mw_region region = { .len = len, .tid = t->tid };

	if (bpf_map_update_elem(&regions, &key, &region, BPF_ANY))
		count_lost();
}

/*
 * Forgets a region @t's process unmapped. An unmapped head keeps the rest
 * owned: glibc reserves twice an arena's size and unmaps the unaligned start.
 */
static __always_inline void region_unmapped(const struct mw_thread *t, __u64 start, __u64 len)
{
	struct mw_region_key key = { .start = start, .pid = t->pid }, rest_key;
	struct mw_region *region = bpf_map_lookup_elem(&regions, &key);
	struct mw_region rest;

	if (!region)
		return;
	if (len < region->len) {
		rest.len = region->len - len;
		rest.tid = region->tid;
		rest.pad = 0;
		rest_key = (struct mw_region_key){ .start = start + len, .pid = t->pid };
		bpf_map_update_elem(&regions, &rest_key, &rest, BPF_ANY);
	}
	bpf_map_delete_elem(&regions, &key);
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
		region_created(t, ctx->ret, len);
	sys_stack(t, s, MW_SYS_MMAP, prot && (flags & MAP_ANONYMOUS) ? len : 0, 0);
	/* a file's code: a module to read (a JIT's anonymous code is none, and is frequent) */
	if ((prot & PROT_EXEC) && !(flags & MAP_ANONYMOUS))
		stack_code_mapped(t);
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
	region_unmapped(t, s->addr, len);
	sys_stack(t, s, MW_SYS_MUNMAP, 0, len);
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
	sys_stack(t, s, MW_SYS_MREMAP, new_len > old_len ? new_len - old_len : 0,
		  new_len < old_len ? old_len - new_len : 0);
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
	sys_stack(t, s, MW_SYS_MPROTECT, prot & PROT_WRITE ? len : 0, 0);
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

/* Whether memory advised with advice in @bucket counts as returned (counters.h's groups). */
static __always_inline bool advice_returns(enum mw_advice bucket)
{
	return MW_RETURNED_ADVICES & (1U << bucket);
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
	sys_stack(t, s, MW_SYS_MADVISE, 0, advice_returns(bucket) ? page_align(s->len) : 0);
	return 0;
}

/*
 * process_madvise(pidfd, iovec, vlen, advice, flags) advises the memory of
 * the process @pidfd names: counted, as madvise, only when that is the
 * caller's own. The kernel resolves the pidfd the same way as it runs the
 * call; a descriptor that is no pidfd fails the call, which counts nothing.
 */
#define PIDFD_SELF_THREAD	-10000
#define PIDFD_SELF_THREAD_GROUP	-20000

/* Whether @pidfd, a pidfd in the current task's file table, names a task of its own process. */
static __noinline bool pidfd_names_own_process(int pidfd)
{
	struct task_struct *current = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file;
	struct hlist_node *first;
	struct task_struct *task;
	struct fdtable *fdt;
	struct pid *pid;

	if (pidfd == PIDFD_SELF_THREAD || pidfd == PIDFD_SELF_THREAD_GROUP)
		return true;
	fdt = BPF_CORE_READ(current, files, fdt);
	if (!fdt || pidfd < 0 || (unsigned int)pidfd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[pidfd]) || !file)
		return false;
	/* pidfs (Linux 6.9) keeps the struct pid in the inode, anon-inode pidfds in the file */
	pid = BPF_CORE_READ(file, f_inode, i_private) ?: BPF_CORE_READ(file, private_data);
	if (!pid)
		return false;
	/* the task holding that pid: pid->tasks[PIDTYPE_PID] lists it by task->pid_links[] */
	first = BPF_CORE_READ(pid, tasks[PIDTYPE_PID].first);
	if (!first)
		return false;
	task = (void *)((char *)first - bpf_core_field_offset(struct task_struct, pid_links));
	return (__u32)BPF_CORE_READ(task, tgid) == bpf_get_current_pid_tgid() >> 32;
}

SEC("tp/syscalls/sys_enter_process_madvise")
int tracepoint__syscalls__sys_enter_process_madvise(struct trace_event_raw_sys_enter *ctx)
{
	int pidfd = ctx->args[0];
	struct mw_syscall_inflight *s;

	s = sys_begin(MW_SYS_PROCESS_MADVISE, ctx->args[1], ctx->args[2], ctx->args[3], pidfd);
	if (s)
		s->foreign = !pidfd_names_own_process(pidfd);
	return 0;
}

SEC("tp/syscalls/sys_exit_process_madvise")
int tracepoint__syscalls__sys_exit_process_madvise(struct trace_event_raw_sys_exit *ctx)
{
	struct mw_syscall_inflight *s;
	struct mw_thread *t = sys_end(MW_SYS_PROCESS_MADVISE, ctx->ret, &s);

	if (!t)
		return 0;
	/* the bytes advised: the kernel's sum of the iovecs it went through */
	t->madvise_bytes[advice_bucket(s->arg)] += ctx->ret;
	sys_stack(t, s, MW_SYS_PROCESS_MADVISE, 0,
		  advice_returns(advice_bucket(s->arg)) ? ctx->ret : 0);
	return 0;
}

#endif /* MW_SYSCALLS_BPF_H */
