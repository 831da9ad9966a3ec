// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "stacks/sites.h"

/* FNV-1a over the process and the addresses; never 0, the empty key */
static __u64 stack_hash(__u32 process, const __u64 *pcs, int n)
{
	__u64 h = 0xcbf29ce484222325ULL ^ process;
	int i;

	for (i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 0x100000001b3ULL;
	return h ?: 1;
}

static bool same_stack(const struct site *site, __u32 process, const __u64 *pcs, int n)
{
	return site->process == process && !site->closed && site->nr_frames == n &&
	       !memcmp(site->pcs, pcs, n * sizeof(*pcs));
}

static long site_add(struct stack_sites *s, __u32 process, const __u64 *pcs, int n)
{
	struct site *site;

	if (s->nr == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct site *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	site = &s->v[s->nr];
	*site = (struct site){ .process = process, .nr_frames = n };
	site->pcs = malloc(n * sizeof(*pcs));
	if (!site->pcs)
		return -1;
	memcpy(site->pcs, pcs, n * sizeof(*pcs));
	return s->nr++;
}

void frame_free(struct site_frame *f)
{
	free(f->function);
	free(f->module);
	free(f->build_id);
	free(f->file);
	*f = (struct site_frame){ 0 };
}

const char *frame_module_name(const struct site_frame *f)
{
	const char *slash = f->module ? strrchr(f->module, '/') : NULL;

	return slash ? slash + 1 : f->module ?: FRAME_ANON;
}

const struct site_frame *site_frame_at(const struct site *site, int i, struct site_frame *bare)
{
	if (site->frames)
		return &site->frames[i];
	*bare = (struct site_frame){ .offset = site->pcs[i] };
	return bare;
}

long sites_find(struct stack_sites *s, __u32 process, const __u64 *pcs, int n)
{
	__u64 key = stack_hash(process, pcs, n);
	struct u64map_entry *e;
	long site;

	/* another stack with the same hash: the next key */
	for (;; key = key + 1 ?: 1) {
		e = u64map_find(&s->index, key);
		if (!e)
			break;
		if (same_stack(&s->v[e->a], process, pcs, n))
			return e->a;
	}
	site = site_add(s, process, pcs, n);
	if (site < 0)
		return -1;
	e = u64map_get(&s->index, key);
	if (!e) {
		free(s->v[--s->nr].pcs);
		return -1;
	}
	e->a = site;
	return site;
}

static __u64 block_key(__u32 process, __u64 ptr)
{
	return (__u64)process << 48 | ptr;
}

/*
 * The calls a sampled call of @size stands for: the kernel samples the call
 * during which its thread's byte count passes an exponentially distributed
 * mark of mean sample_bytes, so a call of @size is sampled with probability
 * 1 - exp(-size / sample_bytes) (Go's heap profile weighs its samples so).
 * Rounded per call, the same at its free: the sums stay whole and consistent.
 */
static __u64 sample_weight(const struct stack_sites *s, __u64 size, __u64 *bytes)
{
	double calls;

	if (!s->sample_bytes || !size) {
		*bytes = size;
		return 1;
	}
	calls = 1 / -expm1(-(double)size / s->sample_bytes);
	*bytes = llround(calls * size);
	return llround(calls);
}

/*
 * Thread @tid's part of @site, made if new; NULL when out of memory. A
 * site has the few threads that run its code: a scan finds one. Past
 * SITE_THREADS - 1 threads (a thread per task), the next ones share the last
 * part, TID 0: the scan and the list stay short.
 */
static struct site_thread *site_thread(struct site *site, __u32 tid)
{
	struct site_thread *more;
	__u32 i, cap;

	for (i = 0; i < site->nr_threads; i++) {
		if (site->threads[i].tid == tid)
			return &site->threads[i];
	}
	if (site->nr_threads == SITE_THREADS)
		return &site->threads[SITE_THREADS - 1];
	if (site->nr_threads == SITE_THREADS - 1)
		tid = 0;
	if (site->nr_threads == site->threads_cap) {
		cap = site->threads_cap ? site->threads_cap * 2 : 2;
		more = realloc(site->threads, cap * sizeof(*more));
		if (!more)
			return NULL;
		site->threads = more;
		site->threads_cap = cap;
	}
	site->threads[site->nr_threads] = (struct site_thread){ .tid = tid };
	return &site->threads[site->nr_threads++];
}

/* A block's site lost its block: freed, or found replaced. @freed: by a free. */
static void site_release(struct stack_sites *s, const struct u64map_entry *block, bool freed)
{
	struct site *site = &s->v[(__u32)block->a];
	struct site_thread *t = site_thread(site, block->a >> 32);
	__u64 bytes, calls = sample_weight(s, block->b, &bytes);

	site->live_calls -= calls;
	site->live_bytes -= bytes;
	site->free_calls += freed ? calls : 0;
	/* its thread's part was made with the block */
	if (t) {
		t->live_calls -= calls;
		t->live_bytes -= bytes;
		t->free_calls += freed ? calls : 0;
	}
}

int sites_alloc(struct stack_sites *s, size_t index, __u32 process, __u32 tid, __u64 ptr,
		__u64 size)
{
	struct site *site = &s->v[index];
	struct u64map_entry *e = u64map_find(&s->blocks, block_key(process, ptr));
	__u64 bytes, calls = sample_weight(s, size, &bytes);
	struct site_thread *t;

	/* the record of its last free was lost: that block is gone */
	if (e) {
		site_release(s, e, false);
		s->unpaired++;
	} else {
		e = u64map_get(&s->blocks, block_key(process, ptr));
		if (!e)
			return -ENOMEM;
	}
	/* after the release, which may add to the same site's parts */
	t = site_thread(site, tid);
	if (!t) {
		u64map_take(&s->blocks, block_key(process, ptr), NULL);
		return -ENOMEM;
	}
	site->samples++;
	site->alloc_calls += calls;
	site->alloc_bytes += bytes;
	site->live_calls += calls;
	site->live_bytes += bytes;
	t->alloc_calls += calls;
	t->alloc_bytes += bytes;
	t->live_calls += calls;
	t->live_bytes += bytes;
	e->a = index | (__u64)tid << 32;
	e->b = size;
	return 0;
}

void sites_free(struct stack_sites *s, __u32 process, __u64 ptr)
{
	struct u64map_entry block;

	if (u64map_take(&s->blocks, block_key(process, ptr), &block))
		site_release(s, &block, true);
}

int sites_syscall(struct stack_sites *s, size_t site, __u32 tid, __u64 grown, __u64 returned,
		  __u64 returned_actual)
{
	struct site *v = &s->v[site];
	struct site_thread *t = site_thread(v, tid);

	if (!t)
		return -ENOMEM;
	v->syscall_calls++;
	v->grown_bytes += grown;
	v->returned_bytes += returned;
	v->returned_actual_bytes += returned_actual;
	t->syscall_calls++;
	t->grown_bytes += grown;
	t->returned_bytes += returned;
	t->returned_actual_bytes += returned_actual;
	s->syscalls++;
	return 0;
}

int sites_forget(struct stack_sites *s, __u32 process)
{
	__u64 *keys = malloc((s->blocks.nr ?: 1) * sizeof(*keys));
	size_t i, n = 0;

	if (!keys)
		return -ENOMEM;
	/* found first, taken after: taking one moves others in the table */
	for (i = 0; i < s->blocks.cap; i++) {
		if (s->blocks.slots[i].key && s->blocks.slots[i].key >> 48 == process)
			keys[n++] = s->blocks.slots[i].key;
	}
	for (i = 0; i < n; i++)
		sites_free(s, process, keys[i] & ((1ULL << 48) - 1));
	free(keys);
	s->forgets++;
	for (i = 0; i < s->nr; i++) {
		if (s->v[i].process == process && !s->v[i].closed)
			s->v[i].closed = s->forgets;
	}
	return 0;
}

bool site_listed(const struct site *site, enum sites_order order)
{
	return site_order_bytes(site, order) >= (order == SITES_BY_MOVED ? SITES_MOVED_MIN : 1);
}

__u64 site_order_bytes(const struct site *site, enum sites_order order)
{
	switch (order) {
	case SITES_BY_LIVE:
		return site->live_bytes;
	case SITES_BY_ALLOC:
		return site->alloc_bytes;
	case SITES_BY_GROWN:
		return site->grown_bytes;
	case SITES_BY_RETURNED:
		return site->returned_bytes;
	case SITES_BY_MOVED:
		return site->grown_bytes > site->returned_bytes ? site->grown_bytes :
								  site->returned_bytes;
	}
	return 0;
}

/* qsort() has no argument for the order: sites_sort() sets it before sorting */
static __thread enum sites_order sort_order;

/* Descending by the order's bytes, then live, then allocated bytes, then where they are. */
static int by_order(const void *a, const void *b)
{
	const struct site *x = *(const struct site **)a, *y = *(const struct site **)b;
	__u64 kx = site_order_bytes(x, sort_order), ky = site_order_bytes(y, sort_order);

	if (kx != ky)
		return kx < ky ? 1 : -1;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes < y->alloc_bytes ? 1 : -1;
	return x < y ? -1 : x > y;
}

void sites_sort(const struct site **v, size_t n, enum sites_order order)
{
	sort_order = order;
	qsort(v, n, sizeof(*v), by_order);
}

size_t sites_top(const struct stack_sites *s, enum sites_order order, const struct site **top,
		 size_t n)
{
	const struct site **all;
	size_t i, k = 0;

	all = malloc((s->nr ?: 1) * sizeof(*all));
	if (!all)
		return 0;
	for (i = 0; i < s->nr; i++) {
		if (site_listed(&s->v[i], order))
			all[k++] = &s->v[i];
	}
	sites_sort(all, k, order);
	if (k > n)
		k = n;
	memcpy(top, all, k * sizeof(*all));
	free(all);
	return k;
}

void sites_free_all(struct stack_sites *s)
{
	size_t i;
	int j;

	for (i = 0; i < s->nr; i++) {
		for (j = 0; s->v[i].frames && j < s->v[i].nr_frames; j++)
			frame_free(&s->v[i].frames[j]);
		free(s->v[i].frames);
		free(s->v[i].pcs);
		free(s->v[i].threads);
	}
	free(s->v);
	u64map_free(&s->index);
	u64map_free(&s->blocks);
	*s = (struct stack_sites){ 0 };
}
