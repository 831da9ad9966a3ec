/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * One --trace record as a line: strace-like text with the call's resident
 * effect, or a JSON object (type "syscall"). Formatting only: the ring
 * buffer is read in trace.c.
 */
#ifndef MW_TRACE_FORMAT_H
#define MW_TRACE_FORMAT_H

#include <stdio.h>
#include <linux/types.h>
#include "memwatch.h"

/* Prints @e as one line, its time in seconds since @start_ns (CLOCK_MONOTONIC). */
void trace_print_text(FILE *out, const struct mw_trace_event *e, __u64 start_ns);
void trace_print_json(FILE *out, const struct mw_trace_event *e, __u64 start_ns);

#endif /* MW_TRACE_FORMAT_H */
