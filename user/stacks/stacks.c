// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "memwatch.h"
#include "stacks/stacks.h"
#include "stacks/unwind.h"

/* The unwinder of process slot @process, whose TGID is @pid; NULL when out of memory. */
static struct unwinder *unwinder_of(struct stacks *s, __u32 process, pid_t pid)
{
	struct unwinder **u;

	if (process >= MW_MAX_PROCESSES)
		return NULL;
	u = &s->unwinders[process];
	if (*u)
		return *u;
	*u = malloc(sizeof(**u));
	if (*u && unwinder_init(*u, pid)) {
		free(*u);
		*u = NULL;
	}
	return *u;
}

static int on_sample(struct stacks *s, const struct mw_stack_sample *r)
{
	struct unwinder *u = unwinder_of(s, r->head.process, r->head.pid);
	__u64 pcs[MW_MAX_FRAMES];
	struct u64map_entry *e;
	long site;
	int n;

	if (!u)
		return -ENOMEM;
	n = unwind_sample(u, r, pcs);
	site = sites_find(&s->sites, r->head.process, pcs, n, u->dwfl);
	e = site < 0 ? NULL : u64map_get(&s->pending, r->head.tid);
	if (!e)
		return -ENOMEM;
	e->a = r->head.id;
	e->b = site;
	s->sites.samples++;
	return 0;
}

/* The block of the call whose sample came last from its thread, if that was its sample. */
static int on_alloc(struct stacks *s, const struct mw_stack_block *r)
{
	struct u64map_entry call;

	if (!u64map_take(&s->pending, r->head.tid, &call) || call.a != r->head.id) {
		s->sites.unpaired++;
		return 0;
	}
	return sites_alloc(&s->sites, call.b, r->head.process, r->ptr, r->size);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct mw_stack_head *h = data;
	struct stacks *s = ctx;
	int err = 0;

	if (size < sizeof(*h))
		return 0;
	if (h->type == MW_STACK_SAMPLE && size >= sizeof(struct mw_stack_sample))
		err = on_sample(s, data);
	else if (h->type == MW_STACK_ALLOC && size >= sizeof(struct mw_stack_block))
		err = on_alloc(s, data);
	else if (h->type == MW_STACK_FREE && size >= sizeof(struct mw_stack_block))
		sites_free(&s->sites, h->process, ((const struct mw_stack_block *)data)->ptr);
	if (err && !s->err)
		s->err = err;
	return 0;
}

int stacks_open(struct stacks *s, int map_fd)
{
	*s = (struct stacks){ 0 };
	s->unwinders = calloc(MW_MAX_PROCESSES, sizeof(*s->unwinders));
	if (!s->unwinders)
		return -ENOMEM;
	s->rb = ring_buffer__new(map_fd, on_record, s, NULL);
	return s->rb ? 0 : -errno;
}

int stacks_fd(const struct stacks *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int stacks_read(struct stacks *s)
{
	int n = ring_buffer__consume(s->rb);

	if (n < 0)
		return n;
	return s->err;
}

void stacks_close(struct stacks *s)
{
	int i;

	ring_buffer__free(s->rb);
	for (i = 0; s->unwinders && i < MW_MAX_PROCESSES; i++) {
		if (s->unwinders[i]) {
			unwinder_free(s->unwinders[i]);
			free(s->unwinders[i]);
		}
	}
	free(s->unwinders);
	sites_free_all(&s->sites);
	u64map_free(&s->pending);
	*s = (struct stacks){ 0 };
}
