// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>
#include "model/history.h"

void history_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
}

void history_add(struct history *h, const struct history_sample *s)
{
	h->ring[h->next] = *s;
	h->next = (h->next + 1) % HISTORY_CAP;
	if (h->len < HISTORY_CAP)
		h->len++;
}

void history_sample_model(struct history *h, const struct mw_model *m)
{
	struct history_sample s = {
		.t = m->elapsed_s,
		.v = {
			[HIST_RSS] = m->status.rss_bytes,
			[HIST_LIVE] = mw_live_bytes(&m->total),
			[HIST_RETURNED] = mw_returned_actual(&m->total),
		},
	};

	history_add(h, &s);
}

void history_sample_set(struct history *h, const struct mw_model *first)
{
	struct history_sample s = { .t = first->elapsed_s };
	const struct mw_model *m;

	for (m = first; m; m = m->next_process) {
		s.v[HIST_RETURNED] += mw_returned_actual(&m->total);
		/* what an exited process held is gone */
		if (m->target_exited)
			continue;
		s.v[HIST_RSS] += m->status.rss_bytes;
		s.v[HIST_LIVE] += m->info.malloc_probed ? mw_live_bytes(&m->total) : 0;
	}
	history_add(h, &s);
}

const struct history_sample *history_at(const struct history *h, size_t i)
{
	/* the oldest is where the next one goes once the ring is full */
	size_t oldest = h->len < HISTORY_CAP ? 0 : h->next;

	return &h->ring[(oldest + i) % HISTORY_CAP];
}
