// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "memwatch.h"
#include "stacks/stacks.h"
#include "stacks/unwind.h"

/* Every site of process slot @process, with its modules in @dwfl. 0 or -ENOMEM. */
static int symbolize_process(struct stacks *s, __u32 process, Dwfl *dwfl)
{
	size_t i;

	for (i = 0; i < s->sites.nr; i++) {
		if (s->sites.v[i].process == process && site_symbolize(&s->sites.v[i], dwfl))
			return -ENOMEM;
	}
	return 0;
}

/*
 * The unwinder of the sample's process: made at its first sample, made again
 * after an exec (the kernel released the old image's blocks: so do their
 * sites, whose frames are symbolized already). NULL when out of memory.
 */
static struct unwinder *unwinder_of(struct stacks *s, const struct mw_stack_head *h)
{
	struct unwinder **u;

	if (h->process >= MW_MAX_PROCESSES)
		return NULL;
	u = &s->unwinders[h->process];
	if (*u && (*u)->execs == h->execs)
		return *u;
	if (*u) {
		/* the old image's modules go: its sites take their symbols first */
		if (symbolize_process(s, h->process, (*u)->dwfl) ||
		    sites_forget(&s->sites, h->process))
			return NULL;
		unwinder_free(*u);
	} else {
		*u = malloc(sizeof(**u));
		if (!*u)
			return NULL;
	}
	if (unwinder_init(*u, h->pid, h->execs)) {
		free(*u);
		*u = NULL;
	}
	return *u;
}

static int on_sample(struct stacks *s, const struct mw_stack_sample *r)
{
	struct unwinder *u = unwinder_of(s, &r->head);
	__u64 pcs[MW_MAX_FRAMES];
	struct u64map_entry *e;
	long site;
	int n;

	if (!u)
		return -ENOMEM;
	n = unwind_sample(u, r, pcs);
	site = sites_find(&s->sites, r->head.process, pcs, n);
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

/*
 * How long a record may wait: the kernel wakes the thread only once a few MiB
 * wait (bpf/stacks.bpf.h), and a process's first sample should be read while
 * its modules are still mapped.
 */
#define POLL_MS 10

static void *consume(void *arg)
{
	struct stacks *s = arg;
	int n;

	while (!s->stopping) {
		n = ring_buffer__poll(s->rb, POLL_MS);
		if (n < 0 && n != -EINTR) {
			s->err = n;
			break;
		}
	}
	return NULL;
}

int stacks_start(struct stacks *s, int map_fd)
{
	int err;

	*s = (struct stacks){ 0 };
	s->unwinders = calloc(MW_MAX_PROCESSES, sizeof(*s->unwinders));
	if (!s->unwinders)
		return -ENOMEM;
	s->rb = ring_buffer__new(map_fd, on_record, s, NULL);
	if (!s->rb)
		return -errno;
	err = pthread_create(&s->thread, NULL, consume, s);
	s->running = !err;
	return -err;
}

/* The @top sites in @order, symbolized for the report. */
static int symbolize_top(struct stacks *s, enum sites_order order, int top)
{
	const struct site **list = malloc(top * sizeof(*list));
	struct unwinder *u;
	size_t i, n;
	int err = 0;

	if (!list)
		return -ENOMEM;
	n = sites_top(&s->sites, order, list, top);
	for (i = 0; i < n && !err; i++) {
		u = s->unwinders[list[i]->process];
		err = site_symbolize((struct site *)list[i], u ? u->dwfl : NULL);
	}
	free(list);
	return err;
}

int stacks_stop(struct stacks *s, int top)
{
	int n;

	if (!s->running)
		return 0;
	s->stopping = true;
	pthread_join(s->thread, NULL);
	s->running = false;
	n = ring_buffer__consume(s->rb);
	if (n < 0 && !s->err)
		s->err = n;
	if (!s->err && top)
		s->err = symbolize_top(s, SITES_BY_LIVE, top);
	if (!s->err && top)
		s->err = symbolize_top(s, SITES_BY_ALLOC, top);
	return s->err;
}

void stacks_close(struct stacks *s)
{
	int i;

	stacks_stop(s, 0);
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
