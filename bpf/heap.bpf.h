/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The malloc family: entry uprobes record the request, one uretprobe
 * accounts for the outermost call, and frees take blocks out of the live
 * table, credited to the thread that allocated them.
 */
#ifndef MW_HEAP_BPF_H
#define MW_HEAP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memwatch.h"
#include "common.bpf.h"
#include "threads.bpf.h"
#include "live_table.bpf.h"
#include "stacks.bpf.h"

/*
 * A process's counting (struct mw_process) is set by user space once every
 * allocator uprobe of the process is attached, cleared while they move to a
 * new image. Links go live one at a time, and an allocation counted while
 * free's probe is not yet live would stay live for good: no entry probe
 * counts before every one is in. The uretprobe always runs, so a call
 * entered while counting is accounted at its return.
 */

/*
 * glibc's usable size of the block at @ptr, from its chunk header, or 0
 * unless @p's allocator is glibc: the chunk size has three flag bits, and
 * an mmapped chunk (0x2) cannot lend its last word to a next chunk's header.
 */
static __always_inline __u64 chunk_usable_size(const struct mw_process *p, __u64 ptr)
{
	__u64 head;

	if (!p->glibc_chunks || bpf_probe_read_user(&head, sizeof(head), (void *)(ptr - 8)))
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
	alloc_insert_freed(ptr, t->process);
}

/* Counts an allocation and enters it in the live table. */
static __always_inline void account_alloc(struct mw_thread *t, __u32 tid, __u64 ptr,
					   __u64 size)
{
	int err;

	t->alloc_calls++;
	t->alloc_bytes += size;
	/* the site field says whether its stack was sent: its free is then sent too */
	err = alloc_add(ptr, size, tid, t->process, stack_sent(t));
	if (err > 0) {
		/* a free we never saw (e.g. an allocator-internal one) left it */
		count_lost();
	} else if (err < 0) {
		t->untracked_allocs++;
		t->untracked_bytes += size;
	}
	stack_alloc(t, ptr, size);
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
			orphan_released(process_at(t->process), size);
			return;
		}
	}
	/* other threads add to the same fields concurrently */
	__sync_fetch_and_add(&owner->released_calls, 1);
	__sync_fetch_and_add(&owner->released_bytes, size);
}

/* Removes @ptr from the live table of @t's process @p, counting the free. */
static __always_inline void free_block(const struct mw_process *p, struct mw_thread *t, __u32 tid,
				       __u64 ptr)
{
	__u32 owner_tid, sent;
	__u64 size;

	t->free_calls++;
	switch (alloc_take(ptr, t->process, p->preexisting, &size, &owner_tid, &sent)) {
	case MW_BLOCK_LIVE:
		stack_free(t, ptr, sent);
		account_free(t, tid, owner_tid, size);
		break;
	case MW_BLOCK_PREEXISTING:
		free_preexisting(t, ptr, chunk_usable_size(p, ptr));
		break;
	default:
		t->free_unknown_calls++;
	}
}

/*
 * The calling thread, if it is not already inside an allocator call; its
 * process in *@pp.
 */
static __always_inline struct mw_thread *call_begin(struct mw_process **pp, enum mw_alloc_fn fn,
						    __u64 size, __u64 ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mw_process *p;
	struct mw_thread *t;
	__u32 process;

	*pp = p = watched(id, &process);
	if (!p)
		return NULL;
	t = thread_get(id, process);
	if (!t)
		return NULL;
	if (t->call.depth) {
		t->call.depth++;
		return NULL;
	}
	/* a call nested in a counted one returns into it, counting or not */
	if (!p->counting)
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
	struct mw_process *p;
	struct mw_thread *t = call_begin(&p, MW_FN_ALLOC, size, 0);

	stack_begin(ctx, p, t);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size)
{
	struct mw_process *p;
	/* an overflowing product makes calloc fail: its size never counts */
	struct mw_thread *t = call_begin(&p, MW_FN_ALLOC, (__u64)nmemb * size, 0);

	stack_begin(ctx, p, t);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(memalign_enter, size_t alignment, size_t size)
{
	struct mw_process *p;
	struct mw_thread *t = call_begin(&p, MW_FN_ALLOC, size, 0);

	stack_begin(ctx, p, t);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
	struct mw_process *p;
	struct mw_thread *t = call_begin(&p, MW_FN_POSIX_MEMALIGN, size, (__u64)memptr);

	stack_begin(ctx, p, t);
	return 0;
}

/*
 * The old block leaves the live table at entry: once the real realloc has
 * freed it, another thread may get the same address back before our
 * uretprobe runs.
 */
static __always_inline void realloc_begin(struct pt_regs *ctx, __u64 ptr, __u64 size)
{
	struct mw_process *p;
	struct mw_thread *t;
	__u32 sent;

	t = call_begin(&p, MW_FN_REALLOC, size, ptr);
	if (!t || !p)
		return;
	stack_begin(ctx, p, t);
	t->call.old_tracked = MW_BLOCK_UNKNOWN;
	if (!ptr)
		return;
	t->call.old_tracked = alloc_take(ptr, t->process, p->preexisting, &t->call.old_size,
					     &t->call.old_tid, &sent);
	/* --stacks: freed at its site now; a failed realloc's block stays uncounted there */
	if (t->call.old_tracked == MW_BLOCK_LIVE)
		stack_free(t, ptr, sent);
	/* its tombstone now: a failed realloc leaves it, a rarer error than a missed one */
	if (t->call.old_tracked == MW_BLOCK_PREEXISTING) {
		t->call.old_size = chunk_usable_size(p, ptr);
		alloc_insert_freed(ptr, t->process);
	}
}

/*
 * realloc(ptr, size) and reallocarray(ptr, nmemb, size), told apart by the
 * cookie. One realloc_begin() after the choice: the verifier walks its
 * removal from the live table once.
 */
SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size, size_t array_size)
{
	__u64 bytes = size;

	if (bpf_get_attach_cookie(ctx) == MW_COOKIE_ARRAY)
		bytes *= array_size;
	realloc_begin(ctx, (__u64)ptr, bytes);
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
			alloc_add(c->ptr, c->old_size, c->old_tid, t->process, 0);
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

	/* a live thread's record is its own: no process lookup */
	t = thread_of(tid);
	if (!t || t->pid != id >> 32 || !t->call.depth) {
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
	struct mw_process *p;
	struct mw_thread *t;
	__u32 process;

	if (!ptr)
		return 0;
	p = watched(id, &process);
	if (!p || !p->counting)
		return 0;
	t = thread_get(id, process);
	/* inside realloc: the outer call accounts for the block */
	if (!t || t->call.depth)
		return 0;
	free_block(p, t, (__u32)id, (__u64)ptr);
	return 0;
}

#endif /* MW_HEAP_BPF_H */
