// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include "stacks/callers.h"
#include "stacks/u64map.h"

/* FNV-1a over what makes a caller; never 0, the empty key */
static __u64 caller_hash(const struct site *site)
{
	__u64 h = 0xcbf29ce484222325ULL;

	h = (h ^ site->process) * 0x100000001b3ULL;
	h = (h ^ site->closed) * 0x100000001b3ULL;
	h = (h ^ site->pcs[site->caller]) * 0x100000001b3ULL;
	return h ?: 1;
}

/*
 * The same process slot's same image (a closed site's address in another
 * image is other code) and the same caller's call.
 */
static bool same_caller(const struct site *a, const struct site *b)
{
	return a->process == b->process && a->closed == b->closed &&
	       a->pcs[a->caller] == b->pcs[b->caller];
}

static void caller_add(struct site_caller *c, const struct site *site)
{
	struct site *sum = &c->sum;

	sum->alloc_calls += site->alloc_calls;
	sum->alloc_bytes += site->alloc_bytes;
	sum->live_calls += site->live_calls;
	sum->live_bytes += site->live_bytes;
	sum->free_calls += site->free_calls;
	sum->samples += site->samples;
	sum->syscall_calls += site->syscall_calls;
	sum->grown_bytes += site->grown_bytes;
	sum->returned_bytes += site->returned_bytes;
	sum->returned_actual_bytes += site->returned_actual_bytes;
	c->sites++;
}

/* The caller entry of @site in @index, made if new; NULL when out of memory. */
static struct site_caller *caller_of(struct site_callers *c, struct u64map *index,
				     const struct stack_sites *s, size_t site)
{
	struct u64map_entry *e;
	__u64 key;

	/* another caller with the same hash: the next key */
	for (key = caller_hash(&s->v[site]);; key = key + 1 ?: 1) {
		e = u64map_find(index, key);
		if (!e)
			break;
		if (same_caller(&c->v[e->a].sum, &s->v[site]))
			return &c->v[e->a];
	}
	e = u64map_get(index, key);
	if (!e)
		return NULL;
	e->a = c->nr;
	/* its first site's stack (borrowed: the sites own it), no count yet */
	c->v[c->nr] = (struct site_caller){
		.sum = { .process = s->v[site].process,
			 .nr_frames = s->v[site].nr_frames,
			 .pcs = s->v[site].pcs,
			 .caller = s->v[site].caller,
			 .frames = s->v[site].frames,
			 .closed = s->v[site].closed },
		.first = site,
	};
	return &c->v[c->nr++];
}

int callers_group(const struct stack_sites *s, struct site_callers *c)
{
	struct u64map index = { 0 };
	struct site_caller *caller;
	size_t i;

	*c = (struct site_callers){ .v = malloc((s->nr ?: 1) * sizeof(*c->v)) };
	if (!c->v)
		return -ENOMEM;
	for (i = 0; i < s->nr; i++) {
		caller = caller_of(c, &index, s, i);
		if (!caller) {
			u64map_free(&index);
			callers_free(c);
			return -ENOMEM;
		}
		caller_add(caller, &s->v[i]);
	}
	u64map_free(&index);
	return 0;
}

size_t callers_top(const struct site_callers *c, enum sites_order order,
		   const struct site_caller **top, size_t n)
{
	const struct site **all = malloc((c->nr ?: 1) * sizeof(*all));
	size_t i, k = 0;

	if (!all)
		return 0;
	for (i = 0; i < c->nr; i++) {
		if (site_listed(&c->v[i].sum, order))
			all[k++] = &c->v[i].sum;
	}
	/* by their sums, then by address: the order of their first sites */
	sites_sort(all, k, order);
	if (k > n)
		k = n;
	/* sum is a site_caller's first member: a pointer to it points to its caller */
	for (i = 0; i < k; i++)
		top[i] = (const struct site_caller *)all[i];
	free(all);
	return k;
}

void callers_free(struct site_callers *c)
{
	free(c->v);
	*c = (struct site_callers){ 0 };
}
