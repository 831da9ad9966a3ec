/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The model as a Prometheus exposition (text format 0.0.4) or OpenMetrics
 * 1.0.0 text: the metric families come from the counter registry
 * (bpf/counters.h) as the JSON fields do. No HTTP here: the server
 * (metrics_server.c) serves what this writes once per interval.
 */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include "model/model.h"

enum metrics_format {
	METRICS_PROMETHEUS,	/* text/plain; version=0.0.4 */
	METRICS_OPENMETRICS,	/* application/openmetrics-text; version=1.0.0 */
	METRICS_FORMAT_NR,
};

/* The label of per-thread series that stand for the folded exited threads. */
#define METRICS_FOLDED_TID "folded"

/*
 * The format an Accept header asks for: OpenMetrics 1.0.0 when the q of the
 * most specific range that matches it (application/openmetrics-text with no
 * version or version=1.0.0, then the application wildcard, then the full
 * wildcard) is above text/plain's; else (NULL, a tie, a q of 0 for both)
 * the 0.0.4 text.
 */
enum metrics_format metrics_format_of(const char *accept);

/*
 * Writes every metric family of @first and the processes after it
 * (next_process), a series per process, in @format; @threads adds the
 * per-thread families (memwatch_thread_*). 0, -ENOMEM, or -EIO when @out
 * failed.
 */
int metrics_write(FILE *out, const struct mw_model *first, enum metrics_format format,
		  bool threads);

/*
 * @len bytes of @s as a label value's inside, escaped as both formats want:
 * backslash, double quote and newline escaped, each byte that is not part of
 * valid UTF-8 replaced by U+FFFD.
 */
void metrics_write_label_value(FILE *out, const char *s, size_t len);

#endif /* MW_METRICS_H */
