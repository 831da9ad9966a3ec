// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "output/trace.h"
#include "memwatch.h"

static int print_record(void *ctx, void *data, size_t size)
{
	struct trace *t = ctx;

	if (size < sizeof(struct mw_trace_event))
		return 0;
	t->print(t->out, data, t->start_ns);
	t->records++;
	return 0;
}

int trace_open(struct trace *t, int map_fd, FILE *out, trace_print_fn *print)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	*t = (struct trace){
		.out = out,
		.print = print,
		/* bpf_ktime_get_ns() counts on the same clock */
		.start_ns = now.tv_sec * 1000000000ULL + now.tv_nsec,
	};
	t->rb = ring_buffer__new(map_fd, print_record, t, NULL);
	return t->rb ? 0 : -errno;
}

int trace_fd(const struct trace *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int trace_read(struct trace *t)
{
	int n = ring_buffer__consume(t->rb);

	return n < 0 ? n : 0;
}

void trace_close(struct trace *t)
{
	ring_buffer__free(t->rb);
	t->rb = NULL;
}
