// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "memwatch.h"
#include "stacks/caller_frame.h"
#include "stacks/callers.h"
#include "stacks/stacks.h"
#include "stacks/unwind.h"
#include "sys/log.h"
#include "sys/clock.h"

/*
 * A look of the live view waits for the lock: it gets it now, between two
 * records, rather than after the whole backlog (a mutex hands itself to
 * nobody in particular, and this thread would take it back at once).
 */
static void yield_to_view(struct stacks *s)
{
	while (__atomic_load_n(&s->view_waiting, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&s->view_done, &s->lock);
}

/*
 * Every site of process slot @process, with its modules in @dwfl, a site at
 * a time for the view: thousands of sites may take seconds. 0 or -ENOMEM.
 */
static int symbolize_process(struct stacks *s, __u32 process, Dwfl *dwfl)
{
	size_t i;

	for (i = 0; i < s->sites.nr; i++) {
		yield_to_view(s);
		if (s->sites.v[i].process == process &&
		    site_symbolize(&s->sites.v[i], dwfl, &s->symbols))
			return -ENOMEM;
	}
	return 0;
}

static struct unwinder *unwinder_new(pid_t pid, __u64 execs)
{
	struct unwinder *u = malloc(sizeof(*u));

	if (u && unwinder_init(u, pid, execs)) {
		free(u);
		u = NULL;
	}
	return u;
}

/*
 * The image process slot @process unwound is done (it exec'd, or the slot
 * has a new process): the kernel
 * released its blocks, so do their sites, symbolized before its modules go.
 */
static int image_end(struct stacks *s, __u32 process)
{
	struct unwinder *u = s->unwinders[process];

	if (symbolize_process(s, process, u->dwfl) || sites_forget(&s->sites, process))
		return -ENOMEM;
	s->unwinders[process] = u->next;
	unwinder_free(u);
	free(u);
	return 0;
}

/* The unwinder of the sample's image; NULL when out of memory. */
static struct unwinder *unwinder_of(struct stacks *s, const struct mw_stack_head *h)
{
	struct unwinder *u;

	if (h->process >= MW_MAX_PROCESSES)
		return NULL;
	/* a process's samples come image after image, a slot's process after process */
	while ((u = s->unwinders[h->process]) &&
	       (u->execs != h->execs || u->pid != (pid_t)h->pid)) {
		if (image_end(s, h->process))
			return NULL;
	}
	/* its announcement was lost: its modules are read at its first sample */
	if (!u)
		u = s->unwinders[h->process] = unwinder_new(h->pid, h->execs);
	return u;
}

/*
 * An image announced, or code it mapped: its unwinder (made after its
 * process's earlier images' when new) reads its modules now.
 */
static int on_image(void *ctx, void *data, size_t size)
{
	const struct mw_stack_image *e = data;
	struct stacks *s = ctx;
	struct unwinder **u;

	if (size < sizeof(*e) || e->process >= MW_MAX_PROCESSES)
		return 0;
	for (u = &s->unwinders[e->process]; *u; u = &(*u)->next) {
		if ((*u)->pid == (pid_t)e->pid && (*u)->execs == e->execs) {
			unwinder_mapped(*u);
			return 0;
		}
	}
	*u = unwinder_new(e->pid, e->execs);
	if (*u)
		unwinder_load(*u);
	else if (!s->err)
		s->err = -ENOMEM;
	return 0;
}

/* The site of @r's stack, unwound; -1 when out of memory. */
static long site_of(struct stacks *s, const struct mw_stack_sample *r)
{
	struct unwinder *u = unwinder_of(s, &r->head);
	size_t made = s->sites.nr;
	__u64 pcs[MW_MAX_FRAMES];
	long site;
	int n;

	if (!u)
		return -1;
	n = unwind_sample(u, r, pcs);
	site = sites_find(&s->sites, r->head.process, pcs, n);
	/* a new site: where its stack leaves the allocator, while its modules are at hand */
	if (site >= 0 && (size_t)site == made)
		s->sites.v[site].caller = stack_caller(u->dwfl, pcs, n);
	return site;
}

static int on_sample(struct stacks *s, const struct mw_stack_sample *r)
{
	long site = site_of(s, r);
	struct u64map_entry *e;

	e = site < 0 ? NULL : u64map_get(&s->pending, r->head.tid);
	if (!e)
		return -ENOMEM;
	e->a = r->head.id;
	e->b = site;
	s->sites.samples++;
	return 0;
}

/* A memory syscall's stack: its effect counted at its site. */
static int on_syscall(struct stacks *s, const struct mw_stack_sample *r)
{
	long site = site_of(s, r);

	if (site < 0)
		return -ENOMEM;
	return sites_syscall(&s->sites, site, r->head.tid, r->sys.grown, r->sys.returned,
			     r->sys.returned_actual);
}

/* The block of the call whose sample came last from its thread, if that was its sample. */
static int on_alloc(struct stacks *s, const struct mw_stack_block *r)
{
	struct u64map_entry call;

	if (!u64map_take(&s->pending, r->head.tid, &call) || call.a != r->head.id) {
		s->sites.unpaired++;
		return 0;
	}
	return sites_alloc(&s->sites, call.b, r->head.process, r->head.tid, r->ptr, r->size);
}


static int on_record(void *ctx, void *data, size_t size)
{
	const struct mw_stack_head *h = data;
	struct stacks *s = ctx;
	int err = 0;

	yield_to_view(s);
	if (size < sizeof(*h))
		return 0;
	/* an image announced meanwhile reads its modules before a backlog is unwound */
	ring_buffer__consume(s->images);
	if (h->type == MW_STACK_SAMPLE && size >= sizeof(struct mw_stack_sample))
		err = on_sample(s, data);
	else if (h->type == MW_STACK_SYSCALL && size >= sizeof(struct mw_stack_sample))
		err = on_syscall(s, data);
	else if (h->type == MW_STACK_ALLOC && size >= sizeof(struct mw_stack_block))
		err = on_alloc(s, data);
	else if (h->type == MW_STACK_FREE && size >= sizeof(struct mw_stack_block))
		sites_free(&s->sites, h->process, ((const struct mw_stack_block *)data)->ptr);
	if (err && !s->err)
		s->err = err;
	return 0;
}

/*
 * How long a record may wait: the kernel wakes the thread at once for an
 * image announced, but for samples only once a few MiB wait (bpf/stacks.bpf.h).
 */
#define POLL_MS 10

static void *consume(void *arg)
{
	struct stacks *s = arg;
	struct pollfd pfd[2] = {
		{ .fd = ring_buffer__epoll_fd(s->images), .events = POLLIN },
		{ .fd = ring_buffer__epoll_fd(s->rb), .events = POLLIN },
	};
	int n;

	while (!s->stopping) {
		if (poll(pfd, 2, POLL_MS) < 0 && errno != EINTR) {
			s->err = -errno;
			break;
		}
		/* the records in a batch: the view's look waits for one at most */
		pthread_mutex_lock(&s->lock);
		ring_buffer__consume(s->images);
		n = ring_buffer__consume(s->rb);
		pthread_mutex_unlock(&s->lock);
		if (n < 0) {
			s->err = n;
			break;
		}
	}
	return NULL;
}

int stacks_start(struct stacks *s, int map_fd, int images_fd, __u64 sample_bytes)
{
	int err;

	*s = (struct stacks){
		.sites.sample_bytes = sample_bytes,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.view_done = PTHREAD_COND_INITIALIZER,
	};
	s->unwinders = calloc(MW_MAX_PROCESSES, sizeof(*s->unwinders));
	if (!s->unwinders)
		return -ENOMEM;
	s->images = ring_buffer__new(images_fd, on_image, s, NULL);
	if (!s->images)
		return -errno;
	s->rb = ring_buffer__new(map_fd, on_record, s, NULL);
	if (!s->rb)
		return -errno;
	err = pthread_create(&s->thread, NULL, consume, s);
	s->running = !err;
	return -err;
}

/* @site's frames from its process's modules (an ended image's sites have theirs already). */
static int symbolize(struct stacks *s, const struct site *site)
{
	struct unwinder *u = s->unwinders[site->process];

	return site_symbolize((struct site *)site, u ? u->dwfl : NULL, &s->symbols);
}

/* The @top sites in @order, symbolized for the report. */
static int symbolize_top(struct stacks *s, enum sites_order order, int top)
{
	const struct site **list = malloc((top ?: 1) * sizeof(*list));
	size_t i, n;
	int err = 0;

	if (!list)
		return -ENOMEM;
	n = sites_top(&s->sites, order, list, top);
	for (i = 0; i < n && !err; i++)
		err = symbolize(s, list[i]);
	free(list);
	return err;
}

/*
 * The first site of each caller a report lists: the @top by live and by
 * allocated bytes, and every one whose syscalls moved bytes.
 */
static int symbolize_callers(struct stacks *s, size_t top)
{
	const enum sites_order orders[] = { SITES_BY_LIVE, SITES_BY_ALLOC, SITES_BY_MOVED };
	const struct site_caller **list;
	struct site_callers callers;
	size_t i, j, n;
	int err;

	err = callers_group(&s->sites, &callers);
	list = err ? NULL : malloc((callers.nr ?: 1) * sizeof(*list));
	if (!list) {
		callers_free(&callers);
		return -ENOMEM;
	}
	for (i = 0; i < sizeof(orders) / sizeof(*orders) && !err; i++) {
		n = callers_top(&callers, orders[i], list,
				orders[i] == SITES_BY_MOVED ? callers.nr : top);
		for (j = 0; j < n && !err; j++)
			err = symbolize(s, &s->sites.v[list[j]->first]);
	}
	free(list);
	callers_free(&callers);
	return err;
}

/* Every site, in its process's modules: the exports write them all. */
static int symbolize_all(struct stacks *s)
{
	size_t i;
	int err;

	for (i = 0; i < s->sites.nr; i++) {
		err = symbolize(s, &s->sites.v[i]);
		if (err)
			return err;
	}
	return 0;
}

int stacks_stop(struct stacks *s, int top, bool all)
{
	int n;

	if (!s->running)
		return 0;
	s->stopping = true;
	pthread_join(s->thread, NULL);
	s->running = false;
	ring_buffer__consume(s->images);
	n = ring_buffer__consume(s->rb);
	if (n < 0 && !s->err)
		s->err = n;
	if (!s->err && all)
		s->err = symbolize_all(s);
	if (!s->err && top)
		s->err = symbolize_top(s, SITES_BY_LIVE, top);
	if (!s->err && top)
		s->err = symbolize_top(s, SITES_BY_ALLOC, top);
	/* the syscall sites listed are every one that moved enough, however many */
	if (!s->err && top)
		s->err = symbolize_top(s, SITES_BY_MOVED, s->sites.nr);
	if (!s->err && top)
		s->err = symbolize_callers(s, top);
	vlog("stacks: %llu frames looked up by build ID, %llu of them symbolized already",
	     (unsigned long long)(s->symbols.hits + s->symbols.misses),
	     (unsigned long long)s->symbols.hits);
	return s->err;
}

/*
 * The share of the thread's time the looks may take to symbolize, and what
 * they may save of it: a site costs milliseconds (a deep stack, a module's
 * first symbols tens or hundreds), the ring buffer fills in tens of
 * milliseconds under --stacks=all, and a key every 50 ms (Down held) is a
 * look every 50 ms. The rows left show their addresses until a later look.
 */
#define PEEK_SYMBOLIZE_SHARE 0.1
#define PEEK_SYMBOLIZE_SAVED_S 0.02

size_t stacks_peek(struct stacks *s, enum sites_order order, struct site *rows, size_t n,
		   struct sites_totals *t)
{
	const struct site **top = malloc((n ?: 1) * sizeof(*top));
	size_t i, k = 0;
	double now;

	if (!top)
		return 0;
	__atomic_store_n(&s->view_waiting, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->view_waiting, false, __ATOMIC_RELAXED);
	now = monotonic_s();
	s->symbolize_s += (now - s->peek_s) * PEEK_SYMBOLIZE_SHARE;
	if (s->symbolize_s > PEEK_SYMBOLIZE_SAVED_S)
		s->symbolize_s = PEEK_SYMBOLIZE_SAVED_S;
	s->peek_s = now;
	k = sites_top(&s->sites, order, top, n);
	for (i = 0; i < k; i++) {
		/* out of time or memory: the addresses until a later look */
		if (!top[i]->frames && s->symbolize_s > 0) {
			symbolize(s, top[i]);
			s->symbolize_s -= monotonic_s() - now;
			now = monotonic_s();
		}
		rows[i] = *top[i];
		/* the thread's to grow, once the lock is let go: not the view's to read */
		rows[i].threads = NULL;
		rows[i].nr_threads = rows[i].threads_cap = 0;
	}
	*t = (struct sites_totals){ s->sites.nr, s->sites.samples, s->sites.syscalls,
				    s->sites.unpaired, s->sites.sample_bytes };
	pthread_cond_signal(&s->view_done);
	pthread_mutex_unlock(&s->lock);
	free(top);
	return k;
}

void stacks_close(struct stacks *s)
{
	struct unwinder *u;
	int i;

	stacks_stop(s, 0, false);
	ring_buffer__free(s->rb);
	ring_buffer__free(s->images);
	for (i = 0; s->unwinders && i < MW_MAX_PROCESSES; i++) {
		while ((u = s->unwinders[i])) {
			s->unwinders[i] = u->next;
			unwinder_free(u);
			free(u);
		}
	}
	free(s->unwinders);
	sites_free_all(&s->sites);
	symbol_cache_free(&s->symbols);
	u64map_free(&s->pending);
	*s = (struct stacks){ 0 };
}
