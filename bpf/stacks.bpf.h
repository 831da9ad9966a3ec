/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --stacks=all: each counted allocator call (--stacks=sampled: one per about
 * stacks_sample_bytes asked) sends its caller's registers and the top of its
 * user stack through a ring buffer, unwound in user space with
 * the modules' DWARF call-frame information (code without frame pointers
 * too); its block, and the block's free, follow with the same thread's
 * records. Without --stacks the consts below are false and 0 and the verifier drops
 * every path here: the default probes do what they did.
 */
#ifndef MW_STACKS_BPF_H
#define MW_STACKS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memwatch.h"
#include "processes.bpf.h"

/* set by user space before load: --stacks=all, or --stacks=sampled's mean interval */
const volatile bool stacks_all;
const volatile __u64 stacks_sample_bytes;

/* intervals of mean stacks_sample_bytes, by quantile (memwatch.h): filled after load */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MW_SAMPLE_QUANTILES);
	__type(key, __u32);
	__type(value, __u64);
} sample_intervals SEC(".maps");

/* records that found the ring buffer full: reported, never hidden */
__u64 stacks_lost;
/* of them, samples: calls with no site, which with the sites' make every sampled call */
__u64 stacks_samples_lost;
/* and syscalls' stacks: with those unwound and those over the cap, every memory syscall */
__u64 stacks_syscalls_lost;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);	/* sized by user space: one page without --stacks */
} stack_events SEC(".maps");

/* struct mw_stack_image records, each waking user space */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} stack_images SEC(".maps");

_Static_assert(sizeof(struct pt_regs) <= MW_STACK_REGS_BYTES, "the registers fit a sample");

/*
 * User space is woken once MW_STACK_WAKE_BYTES wait, not at every record:
 * woken as soon as it had caught up, it spent most of its time in poll()
 * and the wake-ups' interrupts, and fell behind. It looks every 10 ms
 * anyway, which bounds how long a record waits.
 */
static __always_inline void stack_submit(void *record)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&stack_events, BPF_RB_AVAIL_DATA) >= MW_STACK_WAKE_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(record, flags);
}

/* User space reads the modules of @t's process image now. */
static __always_inline void stack_modules(struct mw_process *p, const struct mw_thread *t)
{
	struct mw_stack_image e = { .pid = t->pid, .process = t->process, .execs = p->execs };

	p->stacks_image = e.execs + 1;
	if (bpf_ringbuf_output(&stack_images, &e, sizeof(e), BPF_RB_FORCE_WAKEUP))
		__sync_fetch_and_add(&stacks_lost, 1);
}

/*
 * Before an image's first sample: user space reads its modules while it is
 * still mapped, even when it has a backlog of samples to unwind first (a
 * shell script's short images, a process that exits soon).
 */
static __always_inline void stack_image(struct mw_process *p, const struct mw_thread *t)
{
	if (p->stacks_image != p->execs + 1)
		stack_modules(p, t);
}

/*
 * @t's process mapped a file's code (the loader a library, dlopen): read
 * again, its modules have the new one before any sample that needs it is
 * unwound, whether the process is still there by then or not.
 */
static __always_inline void stack_code_mapped(const struct mw_thread *t)
{
	struct mw_process *p = process_at(t->process);

	if ((stacks_all || stacks_sample_bytes) && p)
		stack_modules(p, t);
}

static __always_inline void stack_head(struct mw_stack_head *h, enum mw_stack_record type,
				       const struct mw_thread *t, __u64 id)
{
	h->type = type;
	h->pid = t->pid;
	h->tid = t->tid;
	h->process = t->process;
	h->id = id;
}

/*
 * The return addresses the thread's pending uretprobes replaced, as the
 * kernel saved them (its uprobe_task's return_instances, innermost first):
 * read here rather than saved by memwatch's entry probes, which would cost
 * every call, and right for anyone's uretprobes.
 */
static __always_inline void stack_fixups(struct mw_stack_sample *s)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct return_instance *ri = BPF_CORE_READ(task, utask, return_instances);
	int i;

	for (i = 0; i < MW_STACK_FIXUPS && ri; i++) {
		s->fixups[i].slot = BPF_CORE_READ(ri, stack);
		s->fixups[i].ret = BPF_CORE_READ(ri, orig_ret_vaddr);
		ri = BPF_CORE_READ(ri, next);
	}
	s->nr_fixups = i;
}

/*
 * A sample of @type with the user registers at @regs (a kernel copy), and the
 * stack from the stack pointer's page up, whole pages while they can be read:
 * a shallow stack (a thread's, near its top) still yields what it has. Not
 * submitted yet; NULL when the buffer was full.
 */
static __always_inline struct mw_stack_sample *stack_reserve(const void *regs,
							     enum mw_stack_record type,
							     struct mw_process *p,
							     const struct mw_thread *t)
{
	struct mw_stack_sample *s;
	__u64 base;
	int i;

	stack_image(p, t);
	s = bpf_ringbuf_reserve(&stack_events, sizeof(*s), 0);
	if (!s) {
		__sync_fetch_and_add(&stacks_lost, 1);
		return NULL;
	}
	/* unique per thread: one call's entry is microseconds after the last */
	stack_head(&s->head, type, t, bpf_ktime_get_ns());
	s->head.execs = p->execs;
	bpf_probe_read_kernel(s->regs, sizeof(struct pt_regs), regs);
	base = PT_REGS_SP((struct pt_regs *)s->regs) & ~(__u64)(MW_STACK_PAGE_SIZE - 1);
	s->base = base;
	s->len = 0;
	for (i = 0; i < MW_STACK_PAGES; i++) {
		if (bpf_probe_read_user(s->stack + i * MW_STACK_PAGE_SIZE, MW_STACK_PAGE_SIZE,
					(void *)(base + i * MW_STACK_PAGE_SIZE)))
			break;
		s->len += MW_STACK_PAGE_SIZE;
	}
	stack_fixups(s);
	return s;
}

/* An allocator call's sample, at its entry probe: its id, 0 when the buffer was full. */
static __always_inline __u64 stack_sample(struct pt_regs *ctx, struct mw_process *p,
					  const struct mw_thread *t)
{
	struct mw_stack_sample *s = stack_reserve(ctx, MW_STACK_SAMPLE, p, t);
	__u64 id;

	if (!s) {
		__sync_fetch_and_add(&stacks_samples_lost, 1);
		return 0;
	}
	id = s->head.id;
	stack_submit(s);
	return id;
}

static __always_inline __s64 sample_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & (MW_SAMPLE_QUANTILES - 1);
	__u64 *bytes = bpf_map_lookup_elem(&sample_intervals, &i);

	return bytes && *bytes ? *bytes : stacks_sample_bytes;
}

/*
 * --stacks=sampled: whether the call of @t reaches its thread's next sample
 * point; a call asking more than the interval is one sample all the same
 * (user space weighs each sample by how likely a call of its size was to be one).
 */
static __always_inline bool stack_sampled(struct mw_thread *t)
{
	if (!t->sample_left)
		t->sample_left = sample_interval();
	t->sample_left -= t->call.size;
	if (t->sample_left > 0)
		return false;
	t->sample_left = sample_interval();
	return true;
}

/* At an outermost counted call's entry (@t from call_begin(), of process @p): its stack. */
static __always_inline void stack_begin(struct pt_regs *ctx, struct mw_process *p,
					struct mw_thread *t)
{
	if (!t || !p || !(stacks_all || stacks_sample_bytes))
		return;
	t->call.stack_id = 0;
	if (stacks_all || stack_sampled(t))
		t->call.stack_id = stack_sample(ctx, p, t);
}

/* Whether the call of @t sent its stack: its block is sent, and its free. */
static __always_inline bool stack_sent(const struct mw_thread *t)
{
	return (stacks_all || stacks_sample_bytes) && t->call.stack_id;
}

static __always_inline void stack_block(enum mw_stack_record type, const struct mw_thread *t,
					__u64 id, __u64 ptr, __u64 size)
{
	struct mw_stack_block *b = bpf_ringbuf_reserve(&stack_events, sizeof(*b), 0);

	if (!b) {
		__sync_fetch_and_add(&stacks_lost, 1);
		return;
	}
	stack_head(&b->head, type, t, id);
	b->head.execs = 0;
	b->ptr = ptr;
	b->size = size;
	stack_submit(b);
}

/* The block the call of @t made, for the stack its entry sent. */
static __always_inline void stack_alloc(const struct mw_thread *t, __u64 ptr, __u64 size)
{
	if (stack_sent(t))
		stack_block(MW_STACK_ALLOC, t, t->call.stack_id, ptr, size);
}

/*
 * A block of the live table freed by @t, whose call sent its stack (@sent, kept
 * with the block): sent before the allocator can hand the address out again,
 * so that its next allocation's record comes after.
 */
static __always_inline void stack_free(const struct mw_thread *t, __u64 ptr, __u32 sent)
{
	if ((stacks_all || stacks_sample_bytes) && sent)
		stack_block(MW_STACK_FREE, t, 0, ptr, 0);
}

/*
 * Syscall stacks are not sampled: every memory syscall sends one, up to
 * STACK_SYSCALLS_PER_WINDOW in each STACK_SYSCALL_WINDOW_NS. A Go runtime's
 * madvise traffic or glibc's arena growth a few pages at a time would
 * otherwise flood the ring buffer; the calls over the cap are counted with
 * their bytes, never silently missing from their sites. The window is short
 * so that a burst is bounded (100 records, 1.6 MiB of the buffer).
 */
#define STACK_SYSCALL_WINDOW_NS		100000000ULL
#define STACK_SYSCALLS_PER_WINDOW	100

__u64 stack_syscall_window;	/* the current window's start */
__u64 stack_syscalls_sent;	/* stacks sent in it */
/* calls over the cap, and their grown, returned and returned actual bytes */
__u64 stacks_capped;
__u64 stacks_capped_grown;
__u64 stacks_capped_returned;
__u64 stacks_capped_returned_actual;

/* Whether a syscall stack fits the current window (approximate across CPUs: only a rate). */
static __always_inline bool stack_syscall_allowed(void)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - stack_syscall_window >= STACK_SYSCALL_WINDOW_NS) {
		stack_syscall_window = now;
		stack_syscalls_sent = 0;
	}
	return __sync_fetch_and_add(&stack_syscalls_sent, 1) < STACK_SYSCALLS_PER_WINDOW;
}

/*
 * At a successful memory syscall's exit by @t: its stack, from the user
 * registers the syscall entered with, and what it did.
 */
static __always_inline void stack_syscall(const struct mw_thread *t, enum mw_syscall nr,
					  __u64 grown, __u64 returned, __u64 returned_actual)
{
	struct mw_process *p = process_at(t->process);
	struct mw_stack_sample *s;

	if (!(stacks_all || stacks_sample_bytes) || !p)
		return;
	if (!stack_syscall_allowed()) {
		__sync_fetch_and_add(&stacks_capped, 1);
		__sync_fetch_and_add(&stacks_capped_grown, grown);
		__sync_fetch_and_add(&stacks_capped_returned, returned);
		__sync_fetch_and_add(&stacks_capped_returned_actual, returned_actual);
		return;
	}
	s = stack_reserve((const void *)bpf_task_pt_regs(bpf_get_current_task_btf()),
			  MW_STACK_SYSCALL, p, t);
	if (!s) {
		__sync_fetch_and_add(&stacks_syscalls_lost, 1);
		return;
	}
	s->sys.nr = nr;
	s->sys.pad = 0;
	s->sys.grown = grown;
	s->sys.returned = returned;
	s->sys.returned_actual = returned_actual;
	stack_submit(s);
}

#endif /* MW_STACKS_BPF_H */
