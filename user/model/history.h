/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The live view's memory of the last minutes: a ring of samples of the
 * process's RSS, live heap and cumulative returned bytes, one per update.
 */
#ifndef MW_HISTORY_H
#define MW_HISTORY_H

#include <stddef.h>
#include <linux/types.h>
#include "model/model.h"

/* 10 minutes at the default interval: wider than any terminal's chart */
#define HISTORY_CAP 600

enum history_series {
	HIST_RSS,
	HIST_LIVE,
	HIST_RETURNED,		/* resident bytes that really left, cumulative */
	HIST_NR,
};

struct history_sample {
	double t;		/* seconds since attach */
	__u64 v[HIST_NR];
};

struct history {
	struct history_sample ring[HISTORY_CAP];
	size_t next;		/* where the next sample goes */
	size_t len;
};

void history_init(struct history *h);
void history_add(struct history *h, const struct history_sample *s);
/* Adds the model's current values. */
void history_sample_model(struct history *h, const struct mw_model *m);
/* Several processes: one sample of their sums. */
void history_sample_set(struct history *h, const struct mw_model *first);
/* The @i-th sample, 0 the oldest still kept; @i < h->len. */
const struct history_sample *history_at(const struct history *h, size_t i);

#endif /* MW_HISTORY_H */
