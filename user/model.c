// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

__u64 mw_live_bytes(const struct mw_thread *t)
{
	__u64 tracked;

	/* a read racing with the counters' updates can see them out of step */
	if (t->alloc_bytes <= t->untracked_bytes)
		return 0;
	tracked = t->alloc_bytes - t->untracked_bytes;
	return tracked > t->released_bytes ? tracked - t->released_bytes : 0;
}

__u64 mw_grown_bytes(const struct mw_thread *t)
{
	return t->brk_grow_bytes + t->mmap_anon_bytes + t->mprotect_rw_bytes +
	       t->mremap_grow_bytes;
}

__u64 mw_returned_bytes(const struct mw_thread *t)
{
	return t->brk_shrink_bytes + t->munmap_bytes + t->mremap_shrink_bytes +
	       t->madvise_bytes[MW_ADV_DONTNEED] + t->madvise_bytes[MW_ADV_FREE] +
	       t->madvise_bytes[MW_ADV_REMOVE];
}

double mw_rate(__u64 now, __u64 prev, double interval_s)
{
	if (interval_s <= 0 || now < prev)
		return 0;
	return (double)(now - prev) / interval_s;
}

/* The counters are the __u64 fields between exited's padding and the in-flight state. */
#define COUNTERS_BEGIN offsetof(struct mw_thread, alloc_calls)
#define COUNTERS_END offsetof(struct mw_thread, sys)

void mw_thread_add(struct mw_thread *dst, const struct mw_thread *src)
{
	__u64 *d = (__u64 *)((char *)dst + COUNTERS_BEGIN);
	const __u64 *s = (const __u64 *)((const char *)src + COUNTERS_BEGIN);
	size_t i;

	for (i = 0; i < (COUNTERS_END - COUNTERS_BEGIN) / sizeof(__u64); i++)
		d[i] += s[i];
}

void model_init(struct mw_model *m)
{
	memset(m, 0, sizeof(*m));
}

void model_free(struct mw_model *m)
{
	free(m->rows);
	m->rows = NULL;
	m->nr_rows = m->nr_sorted = m->cap_rows = 0;
}

void model_begin_update(struct mw_model *m, double elapsed_s)
{
	size_t i;

	m->interval_s = elapsed_s - m->elapsed_s;
	m->elapsed_s = elapsed_s;
	m->total_prev = m->total;
	for (i = 0; i < m->nr_rows; i++) {
		m->rows[i].prev = m->rows[i].now;
		m->rows[i].stale = true;
	}
}

static int cmp_row(const void *a, const void *b)
{
	const struct mw_row *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

const struct mw_row *model_find(const struct mw_model *m, __u32 tid)
{
	struct mw_row key = { .tid = tid };
	size_t i;

	/* rows added since the last update are not sorted yet */
	for (i = m->nr_sorted; i < m->nr_rows; i++) {
		if (m->rows[i].tid == tid)
			return &m->rows[i];
	}
	return bsearch(&key, m->rows, m->nr_sorted, sizeof(key), cmp_row);
}

static struct mw_row *row_get(struct mw_model *m, __u32 tid)
{
	struct mw_row *row = (struct mw_row *)model_find(m, tid);

	if (row)
		return row;
	if (m->nr_rows == m->cap_rows) {
		size_t cap = m->cap_rows ? m->cap_rows * 2 : 64;
		struct mw_row *rows = realloc(m->rows, cap * sizeof(*rows));

		if (!rows)
			return NULL;
		m->rows = rows;
		m->cap_rows = cap;
	}
	row = &m->rows[m->nr_rows++];
	memset(row, 0, sizeof(*row));
	row->tid = tid;
	return row;
}

int model_set_thread(struct mw_model *m, __u32 tid, const struct mw_thread *counters)
{
	struct mw_row *row = row_get(m, tid);

	if (!row)
		return -ENOMEM;
	row->now = *counters;
	row->exited = counters->exited;
	row->stale = false;
	return 0;
}

int model_add_live_thread(struct mw_model *m, __u32 tid)
{
	struct mw_row *row = row_get(m, tid);

	if (!row)
		return -ENOMEM;
	row->stale = false;
	return 0;
}

void model_end_update(struct mw_model *m, bool pid_alive)
{
	size_t i;

	qsort(m->rows, m->nr_rows, sizeof(*m->rows), cmp_row);
	m->nr_sorted = m->nr_rows;
	memset(&m->total, 0, sizeof(m->total));
	for (i = 0; i < m->nr_rows; i++) {
		struct mw_row *row = &m->rows[i];

		/* listed by /proc earlier, gone now, and never traced */
		if (row->stale)
			row->exited = true;
		if (pid_alive && !row->exited)
			thread_comm_read(m->info.pid, row->tid, row->comm, sizeof(row->comm));
		if (!row->comm[0] || row->exited)
			memcpy(row->comm, row->now.comm, sizeof(row->comm));
		row->stale = false;
		mw_thread_add(&m->total, &row->now);
	}
}
