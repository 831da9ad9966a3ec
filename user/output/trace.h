/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* --trace: reads the BPF ring buffer of syscall records and prints each. */
#ifndef MW_TRACE_H
#define MW_TRACE_H

#include <stdio.h>
#include <linux/types.h>

struct ring_buffer;


struct mw_trace_event;

/* How a record is printed: the reporter's syscall(). */
typedef void trace_print_fn(FILE *out, const struct mw_trace_event *e, __u64 start_ns);

struct trace {
	struct ring_buffer *rb;
	FILE *out;
	trace_print_fn *print;
	__u64 start_ns;		/* CLOCK_MONOTONIC when tracing began: time 0 of the lines */
	__u64 records;		/* printed */
};

/* Starts reading the ring buffer map @map_fd. 0 or -errno. */
int trace_open(struct trace *t, int map_fd, FILE *out, trace_print_fn *print);
/* A descriptor that polls readable when records wait. */
int trace_fd(const struct trace *t);
/* Prints every record waiting. 0 or -errno. */
int trace_read(struct trace *t);
void trace_close(struct trace *t);

#endif /* MW_TRACE_H */
