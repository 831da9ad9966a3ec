// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"

static __u64 sum_resident(const __u64 *per_member)
{
	return per_member[MW_RSS_FILE] + per_member[MW_RSS_ANON] + per_member[MW_RSS_SHMEM];
}

__u64 mw_resident_gained(const struct mw_thread *t)
{
	return sum_resident(t->rss_gained);
}

__u64 mw_resident_lost(const struct mw_thread *t)
{
	return sum_resident(t->rss_lost);
}

__u64 mw_resident_lost_other(const struct mw_thread *t)
{
	return mw_resident_lost(t) - mw_returned_actual(t);
}

__u64 mw_events(const struct mw_thread *t)
{
	__u64 sum = t->alloc_calls + t->free_calls;
	int i;

	for (i = 0; i < MW_SYS_NR; i++)
		sum += t->syscalls[i];
	return sum;
}

double mw_rate(__u64 now, __u64 prev, double interval_s)
{
	if (interval_s <= 0 || now < prev)
		return 0;
	return (double)(now - prev) / interval_s;
}

void model_init(struct mw_model *m)
{
	memset(m, 0, sizeof(*m));
}

void model_free(struct mw_model *m)
{
	free(m->regions);
	m->regions = NULL;
	m->nr_regions = 0;
	free(m->rows);
	m->rows = NULL;
	m->nr_rows = m->nr_sorted = m->cap_rows = 0;
}

int model_copy(struct mw_model *dst, const struct mw_model *src)
{
	struct mw_row *rows = NULL;
	struct mw_region_rec *regions = NULL;

	if (src->nr_rows) {
		rows = malloc(src->nr_rows * sizeof(*rows));
		if (!rows)
			goto fail;
		memcpy(rows, src->rows, src->nr_rows * sizeof(*rows));
	}
	if (src->nr_regions) {
		regions = malloc(src->nr_regions * sizeof(*regions));
		if (!regions)
			goto fail;
		memcpy(regions, src->regions, src->nr_regions * sizeof(*regions));
	}
	model_free(dst);
	*dst = *src;
	dst->rows = rows;
	dst->cap_rows = src->nr_rows;
	dst->regions = regions;
	return 0;

fail:
	free(rows);
	return -ENOMEM;
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
	/* bsearch() must not be given the NULL rows of an empty model */
	return m->nr_sorted ? bsearch(&key, m->rows, m->nr_sorted, sizeof(key), cmp_row) : NULL;
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

/* The TID 0 row shows the folded threads, plus the releases of their blocks since. */
static void update_folded_row(struct mw_model *m)
{
	struct mw_row *row;

	if (!m->nr_folded)
		return;
	row = row_get(m, MW_FOLDED_TID);
	if (!row)
		return;
	row->now = m->folded;
	row->now.released_calls += m->orphan_released_calls;
	row->now.released_bytes += m->orphan_released_bytes;
	row->exited = true;
	row->stale = false;
	snprintf(row->now.comm, sizeof(row->now.comm), "exited(%llu)",
		 (unsigned long long)m->nr_folded);
	memcpy(row->comm, row->now.comm, sizeof(row->comm));
}

void model_end_update(struct mw_model *m, bool pid_alive)
{
	size_t i;

	update_folded_row(m);
	/* qsort() must not be given the NULL rows of an empty model */
	if (m->nr_rows)
		qsort(m->rows, m->nr_rows, sizeof(*m->rows), cmp_row);
	m->nr_sorted = m->nr_rows;
	memset(&m->total, 0, sizeof(m->total));
	for (i = 0; i < m->nr_rows; i++) {
		struct mw_row *row = &m->rows[i];

		/* listed by /proc earlier, gone now, and never traced */
		if (row->stale)
			row->exited = true;
		if (pid_alive && !row->exited && row->tid != MW_FOLDED_TID)
			thread_comm_read(m->info.pid, row->tid, row->comm, sizeof(row->comm));
		if (!row->comm[0] || row->exited)
			memcpy(row->comm, row->now.comm, sizeof(row->comm));
		row->stale = false;
		mw_thread_add(&m->total, &row->now);
	}
	m->events_rate = mw_rate(mw_events(&m->total), mw_events(&m->total_prev), m->interval_s);
	m->allocs_rate = mw_rate(m->total.alloc_calls, m->total_prev.alloc_calls, m->interval_s);
}

static int cmp_region(const void *a, const void *b)
{
	const struct mw_region_rec *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void model_set_regions(struct mw_model *m, struct mw_region_rec *regions, size_t count)
{
	free(m->regions);
	qsort(regions, count, sizeof(*regions), cmp_region);
	m->regions = regions;
	m->nr_regions = count;
}

void model_clear_resident(struct mw_model *m)
{
	size_t i;

	for (i = 0; i < m->nr_rows; i++)
		m->rows[i].resident_next = m->rows[i].advised_next = 0;
	m->res.heap_next = m->res.unowned_next = m->res.anon_next = m->res.lazyfree_next = 0;
}

void model_commit_resident(struct mw_model *m, double began_s)
{
	size_t i;

	for (i = 0; i < m->nr_rows; i++) {
		m->rows[i].resident_now = m->rows[i].resident_next;
		m->rows[i].advised_resident = m->rows[i].advised_next;
	}
	m->res.heap_now = m->res.heap_next;
	m->res.unowned_now = m->res.unowned_next;
	m->res.owners_at_s = began_s;
	/* the reading's sums stand for the process until the next rollup */
	model_set_rollup(m, m->res.anon_next, m->res.lazyfree_next);
	model_clear_resident(m);
}

void model_set_rollup(struct mw_model *m, __u64 anon, __u64 lazyfree)
{
	m->res.anon_now = anon;
	m->res.lazyfree = lazyfree;
}

double model_owners_age(const struct mw_model *m)
{
	return m->elapsed_s - m->res.owners_at_s;
}

bool model_owners_aged(const struct mw_model *m)
{
	/* a reading begun at the previous update is exactly one interval old */
	return model_owners_age(m) > m->interval_s;
}

/* The region record containing @addr: the last one starting at or below it. */
static const struct mw_region_rec *region_of(const struct mw_model *m, __u64 addr)
{
	size_t lo = 0, hi = m->nr_regions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->regions[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= m->regions[lo - 1].start + m->regions[lo - 1].len)
		return NULL;
	return &m->regions[lo - 1];
}

void model_credit_vma(struct mw_model *m, const struct smaps_vma *vma)
{
	const struct maps_entry *map = &vma->map;
	const struct mw_region_rec *region;
	struct mw_row *row;

	m->res.anon_next += vma->anonymous;
	m->res.lazyfree_next += vma->lazyfree;
	if (!vma->anonymous)
		return;
	if (map->path_len == 6 && !strncmp(map->path, "[heap]", 6)) {
		m->res.heap_next += vma->anonymous;
		return;
	}
	region = map->path[0] == '/' ? NULL : region_of(m, map->start);
	row = region ? (struct mw_row *)model_find(m, region->tid) : NULL;
	/* every mmap makes a row, so a creator without one was folded */
	if (region && !row && m->nr_folded)
		row = (struct mw_row *)model_find(m, MW_FOLDED_TID);
	if (!row) {
		m->res.unowned_next += vma->anonymous;
		return;
	}
	row->resident_next += vma->anonymous;
	row->advised_next += vma->lazyfree;
}

__s64 model_rss_tally(const struct mw_model *m, enum mw_rss member)
{
	__s64 tally = m->res.base[member];
	size_t i;

	for (i = 0; i < m->nr_rows; i++)
		tally += m->rows[i].now.rss_gained[member] - m->rows[i].now.rss_lost[member];
	return tally + m->res.other_gained[member] - m->res.other_lost[member];
}

size_t model_processes(const struct mw_model *first)
{
	size_t n = 0;

	for (; first; first = first->next_process)
		n++;
	return n;
}

bool model_retained_includes_preexisting(const struct mw_model *m)
{
	return m->info.malloc_probed && !m->info.launched;
}

__u64 model_rss_anon(const struct mw_model *m)
{
	return m->status.rss_anon_bytes;
}

__u64 model_retained_bytes(const struct mw_model *m)
{
	__u64 anon = model_rss_anon(m), live = mw_live_bytes(&m->total);

	return anon > live ? anon - live : 0;
}

bool model_rss_tally_ok(const struct mw_model *m)
{
	__s64 diff = model_rss_tally(m, MW_RSS_ANON) - (__s64)model_rss_anon(m);
	__u64 allowed = model_rss_anon(m) / 100;

	if (allowed < 1024 * 1024)
		allowed = 1024 * 1024;
	return (__u64)(diff < 0 ? -diff : diff) <= allowed;
}

__u64 model_resident_gained(const struct mw_model *m)
{
	return mw_resident_gained(&m->total) + sum_resident(m->res.other_gained);
}

__u64 model_resident_lost(const struct mw_model *m)
{
	return mw_resident_lost(&m->total) + sum_resident(m->res.other_lost);
}

__u64 model_resident_lost_other(const struct mw_model *m)
{
	return model_resident_lost(m) - mw_returned_actual(&m->total);
}

__u64 model_resident_released_at_exit(const struct mw_model *m)
{
	return sum_resident(m->res.exit_lost);
}

__u64 model_resident_now(const struct mw_model *m)
{
	return m->res.anon_now;
}

/* Fold order: the least resident first, then the oldest. */
static int cmp_fold(const void *a, const void *b)
{
	const struct mw_row *x = *(const struct mw_row *const *)a;
	const struct mw_row *y = *(const struct mw_row *const *)b;

	if (x->resident_now != y->resident_now)
		return x->resident_now < y->resident_now ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

size_t model_fold_exited(struct mw_model *m, __u32 *tids)
{
	__u64 resident = 0, advised = 0, resident_next = 0, advised_next = 0;
	size_t i, n = 0, nr_fold, kept;
	struct mw_row **exited, *folded;

	exited = calloc(m->nr_rows ?: 1, sizeof(*exited));
	if (!exited)
		return 0;
	for (i = 0; i < m->nr_rows; i++) {
		if (m->rows[i].exited && m->rows[i].tid != MW_FOLDED_TID)
			exited[n++] = &m->rows[i];
	}
	nr_fold = n > MW_MAX_EXITED_ROWS ? n - MW_MAX_EXITED_ROWS : 0;
	qsort(exited, n, sizeof(*exited), cmp_fold);
	for (i = 0; i < nr_fold; i++) {
		tids[i] = exited[i]->tid;
		mw_thread_add(&m->folded, &exited[i]->now);
		resident += exited[i]->resident_now;
		advised += exited[i]->advised_resident;
		resident_next += exited[i]->resident_next;
		advised_next += exited[i]->advised_next;
		exited[i]->stale = true;	/* marks it for removal below */
	}
	free(exited);
	if (!nr_fold)
		return 0;
	for (i = kept = 0; i < m->nr_rows; i++) {
		if (!m->rows[i].stale)
			m->rows[kept++] = m->rows[i];
	}
	m->nr_rows = m->nr_sorted = kept;
	m->nr_folded += nr_fold;
	update_folded_row(m);
	qsort(m->rows, m->nr_rows, sizeof(*m->rows), cmp_row);
	m->nr_sorted = m->nr_rows;
	/* until the next smaps reading credits their regions to it; the one under way goes on */
	folded = (struct mw_row *)model_find(m, MW_FOLDED_TID);
	if (folded) {
		folded->resident_now += resident;
		folded->advised_resident += advised;
		folded->resident_next += resident_next;
		folded->advised_next += advised_next;
	}
	return nr_fold;
}

void model_fold_process(struct mw_model *into, const struct mw_model *from)
{
	int i;

	mw_thread_add(&into->folded, &from->total);
	/* every thread it had: its rows, its own folded row standing for nr_folded */
	into->nr_folded += from->nr_rows - (model_find(from, MW_FOLDED_TID) != NULL) +
			   from->nr_folded;
	into->folded_processes += from->folded_processes ?: 1;
	into->forks += from->forks;
	into->execs += from->execs;
	/* each one's RSS as it began to exit, and the tally's base: the sums still agree */
	into->status.rss_bytes += from->status.rss_bytes;
	into->status.rss_anon_bytes += from->status.rss_anon_bytes;
	into->status.rss_file_bytes += from->status.rss_file_bytes;
	into->status.rss_shmem_bytes += from->status.rss_shmem_bytes;
	for (i = 0; i < MW_RSS_NR; i++) {
		into->res.base[i] += from->res.base[i];
		into->res.at_exit[i] += from->res.at_exit[i];
		into->res.other_gained[i] += from->res.other_gained[i];
		into->res.other_lost[i] += from->res.other_lost[i];
		into->res.exit_lost[i] += from->res.exit_lost[i];
	}
	into->res.exited = true;
}

void model_no_rates(struct mw_model *m)
{
	size_t i;

	m->total_prev = m->total;
	for (i = 0; i < m->nr_rows; i++)
		m->rows[i].prev = m->rows[i].now;
	m->events_rate = m->allocs_rate = 0;
}
