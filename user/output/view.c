// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/view.h"

#define LIVE VIEW_IN(VIEW_LIVE)
#define THREADS (VIEW_IN(VIEW_LIVE) | VIEW_IN(VIEW_THREADS))
#define SYSCALLS VIEW_IN(VIEW_SYSCALLS)
#define EVERY (THREADS | SYSCALLS)

/*
 * Every table's columns. The rank says which a narrow terminal keeps, most
 * telling first: who, then the question memwatch answers (live heap against
 * grown, returned and still resident), then the allocator's traffic; per
 * syscall, what grew and what was returned first.
 */
/*
 * How telling a registry counter's column is, among the rest (see below);
 * one the list does not name (a new counter) comes after them.
 */
#define COUNTER_RANK(c)									\
	((c) == VIEW_COL_ALLOC_BYTES ? 8 : (c) == VIEW_COL_FREE_BYTES ? 9 :		\
	 (c) == VIEW_COL_OTHERS ? 10 : (c) == VIEW_COL_ALLOCS ? 12 :			\
	 (c) == VIEW_COL_FREES ? 13 : 15)

/*
 * The same among the bytes by call: what grew and what was returned first; a
 * new call's column after the advice columns' 5 and 7.
 */
#define CALL_RANK(c)									\
	((c) == VIEW_COL_BRK_GROW ? 2 : (c) == VIEW_COL_MMAP_ANON ? 3 :			\
	 (c) == VIEW_COL_MUNMAP ? 4 : (c) == VIEW_COL_BRK_SHRINK ? 6 :			\
	 (c) == VIEW_COL_MREMAP_GROW ? 8 : (c) == VIEW_COL_MREMAP_SHRINK ? 9 :		\
	 (c) == VIEW_COL_MMAP_FILE ? 10 : (c) == VIEW_COL_MPROTECT_RW ? 11 :		\
	 (c) == VIEW_COL_MPROTECT_NONE ? 12 : (c) == VIEW_COL_MMAP_NONE ? 13 : 15)

static const struct view_column columns[VIEW_COL_NR] = {
	[VIEW_COL_TID] = { "TID", NULL, 7, VIEW_COUNT, false, EVERY, 0 },
	[VIEW_COL_COMM] = { "COMM", NULL, 15, VIEW_TEXT, false, EVERY, 1 },
	[VIEW_COL_STATE] = { "STATE", NULL, 5, VIEW_TEXT, false, THREADS, 2 },
	/* a registry counter's column (bpf/counters.h): its header, per second in rate mode */
#define MW_COLUMN(name, unit, group, TAG, header)					\
	[VIEW_COL_##TAG] = { header, header "/s", 9,					\
			     (unit) == MW_BYTES ? VIEW_BYTES : VIEW_COUNT, (group) == MW_HEAP,	\
			     THREADS, COUNTER_RANK(VIEW_COL_##TAG) },
	MW_THREAD_TABLE_COLUMNS
#undef MW_COLUMN
	[VIEW_COL_LIVE] = { "LIVE", NULL, 9, VIEW_BYTES, true, THREADS, 3 },
	[VIEW_COL_GROWN] = { "GROWN", "GROWN/s", 9, VIEW_BYTES, false, THREADS, 4 },
	[VIEW_COL_RET_ASK] = { "RET_ASK", "RET_ASK/s", 9, VIEW_BYTES, false, THREADS, 7 },
	[VIEW_COL_RET_ACT] = { "RET_ACT", "RET_ACT/s", 9, VIEW_BYTES, false, THREADS, 5 },
	[VIEW_COL_RES_NOW] = { "RES_NOW", NULL, 9, VIEW_BYTES, false, THREADS, 6 },
	/* a rate over the last interval: the summary has no use for it */
	[VIEW_COL_EVENTS] = { "EVENTS/s", "EVENTS/s", 9, VIEW_COUNT, false, LIVE, 11 },
	/* the registry's bytes by call (bpf/counters.h) */
#define MW_COLUMN(name, unit, group, TAG, header)					\
	[VIEW_COL_##TAG] = { header, header "/s", 9, VIEW_BYTES, false, SYSCALLS,	\
			     CALL_RANK(VIEW_COL_##TAG) },
	MW_CALL_TABLE_COLUMNS
#undef MW_COLUMN
	[VIEW_COL_MADV_DONTNEED] = { "DONTNEED", "DONTNEED/s", 9, VIEW_BYTES, false, SYSCALLS, 5 },
	[VIEW_COL_MADV_FREE] = { "MADVFREE", "MADVFREE/s", 9, VIEW_BYTES, false, SYSCALLS, 7 },
	[VIEW_COL_MADV_OTHER] = { "MADV_ETC", "MADV_ETC/s", 9, VIEW_BYTES, false, SYSCALLS, 14 },
};

const char *const view_series_name[HIST_NR] = {
	[HIST_RSS] = "RSS",
	[HIST_LIVE] = "live heap",
	[HIST_RETURNED] = "returned (actual)",
};

const char *const view_help_notes[] = {
	"Chart: RSS, live heap and bytes that really left RSS, on one scale.",
	"LIVE: the thread's blocks still allocated. GROWN: taken from the OS.",
	"RET_ASK / RET_ACT: returned to the OS as asked / as really left RSS.",
	"RES_NOW: resident anonymous memory of the mappings the thread made.",
	"retained = anonymous RSS - live heap: what the allocator keeps.",
	"With -p, retained<= also holds blocks allocated before the attach.",
	NULL,
};

void view_init(struct view *v)
{
	*v = (struct view){ .sort = VIEW_COL_TID };
}

const struct view_column *view_column(enum view_col c)
{
	return &columns[c];
}

const char *view_header(const struct view *v, enum view_col c)
{
	return v->rate && columns[c].rate_name ? columns[c].rate_name : columns[c].name;
}

bool view_unicode(const char *codeset)
{
	return codeset && (!strcasecmp(codeset, "UTF-8") || !strcasecmp(codeset, "utf8"));
}

static bool in_table(enum view_col c, enum view_table table, bool heap)
{
	return columns[c].tables & VIEW_IN(table) && (heap || !columns[c].heap);
}

int view_fit(enum view_table table, int width, bool heap, enum view_col *cols)
{
	bool keep[VIEW_COL_NR] = { false };
	int used = 0, n = 0, rank, i;

	/* ranks are small: a pass per rank is simpler than sorting */
	for (rank = 0; rank < VIEW_COL_NR; rank++) {
		for (i = 0; i < VIEW_COL_NR; i++) {
			/* one space before every column but the first */
			int need = columns[i].width + (used ? 1 : 0);

			if (columns[i].rank != rank || !in_table(i, table, heap))
				continue;
			if (used + need > width)
				goto fitted;
			used += need;
			keep[i] = true;
		}
	}
fitted:
	for (i = 0; i < VIEW_COL_NR; i++) {
		if (keep[i])
			cols[n++] = i;
	}
	return n;
}

int view_left_out(enum view_table table, bool heap, const enum view_col *cols, int n,
		  enum view_col *out)
{
	int nr = 0, i, j = 0;

	for (i = 0; i < VIEW_COL_NR; i++) {
		if (j < n && cols[j] == (enum view_col)i)
			j++;
		else if (in_table(i, table, heap))
			out[nr++] = i;
	}
	return nr;
}

int view_col_x(const enum view_col *cols, int i)
{
	int x = 0, j;

	for (j = 0; j < i; j++)
		x += columns[cols[j]].width + 1;
	return x;
}

void view_sort_step(struct view *v, const enum view_col *cols, int n, int step)
{
	int i;

	if (n <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (cols[i] == v->sort) {
			v->sort = cols[(i + step + n) % n];
			return;
		}
	}
	/* sorted by a column the width dropped: start from an end */
	v->sort = step > 0 ? cols[0] : cols[n - 1];
}

char *view_pad(char *buf, size_t len, enum view_col c, const char *text)
{
	const struct view_column *col = &columns[c];
	size_t bytes = strlen(text);
	int cells = 0, pad;
	size_t i;

	/* a cell begins at every byte but a UTF-8 continuation byte */
	for (i = 0; i < bytes; i++)
		cells += ((unsigned char)text[i] & 0xc0) != 0x80;
	pad = cells < col->width ? col->width - cells : 0;
	if (col->kind == VIEW_TEXT)
		snprintf(buf, len, "%s%*s", text, pad, "");
	else
		snprintf(buf, len, "%*s%s", pad, "", text);
	return buf;
}

/* A counter column's cumulative value in @t. */
static __u64 counter(const struct mw_thread *t, enum view_col c)
{
	switch (c) {
#define MW_COLUMN(name, unit, group, TAG, header)					\
	case VIEW_COL_##TAG:								\
		return t->name;
		MW_THREAD_TABLE_COLUMNS
#undef MW_COLUMN
	case VIEW_COL_GROWN:
		return mw_grown_bytes(t);
	case VIEW_COL_RET_ASK:
		return mw_returned_bytes(t);
	case VIEW_COL_RET_ACT:
		return mw_returned_actual(t);
	case VIEW_COL_EVENTS:
		return mw_events(t);
#define MW_COLUMN(name, unit, group, TAG, header)					\
	case VIEW_COL_##TAG:								\
		return t->name;
		MW_CALL_TABLE_COLUMNS
#undef MW_COLUMN
	case VIEW_COL_MADV_DONTNEED:
		return t->madvise_bytes[MW_ADV_DONTNEED];
	case VIEW_COL_MADV_FREE:
		return t->madvise_bytes[MW_ADV_FREE];
	case VIEW_COL_MADV_OTHER:
		return t->madvise_bytes[MW_ADV_REMOVE] + t->madvise_bytes[MW_ADV_PAGEOUT] +
		       t->madvise_bytes[MW_ADV_COLD] + t->madvise_bytes[MW_ADV_OTHER];
	default:
		return 0;
	}
}

double view_value(const struct view *v, const struct mw_model *m, const struct mw_row *row,
		  enum view_col c)
{
	switch (c) {
	case VIEW_COL_TID:
		return row->tid;
	case VIEW_COL_COMM:
		return 0;
	case VIEW_COL_STATE:
		return row->exited;
	case VIEW_COL_LIVE:
		return mw_live_bytes(&row->now);
	case VIEW_COL_RES_NOW:
		return row->resident_now;
	case VIEW_COL_EVENTS:
		return mw_rate(counter(&row->now, c), counter(&row->prev, c), m->interval_s);
	default:
		if (v->rate)
			return mw_rate(counter(&row->now, c), counter(&row->prev, c),
				       m->interval_s);
		return counter(&row->now, c);
	}
}

char *view_cell(const struct view *v, const struct mw_model *m, const struct mw_row *row,
		enum view_col c, char *buf, size_t len)
{
	const struct view_column *col = &columns[c];
	unsigned long long value;

	if (c == VIEW_COL_COMM) {
		/* the target's name, escaped and cut to the column at a whole character */
		if (len > (size_t)col->width + 1)
			len = col->width + 1;
		return escape_mem(buf, len, row->comm, strnlen(row->comm, sizeof(row->comm)));
	}
	if (c == VIEW_COL_STATE) {
		snprintf(buf, len, "%s", row->exited ? "exit" : row->left ? "left" :
					 row->waiting ? "wait" : "live");
		return buf;
	}
	if (col->heap && !m->info.malloc_probed) {
		snprintf(buf, len, "-");
		return buf;
	}
	value = llround(view_value(v, m, row, c));
	if (col->kind == VIEW_BYTES)
		return format_bytes(buf, len, value);
	if (c == VIEW_COL_TID) {
		snprintf(buf, len, "%llu", value);
		return buf;
	}
	return format_count(buf, len, value);
}

bool view_descending(const struct view *v)
{
	/* numbers read best largest first, names, IDs and states in their order */
	bool natural = columns[v->sort].kind != VIEW_TEXT && v->sort != VIEW_COL_TID;

	return natural != v->reverse;
}

struct sort_ctx {
	const struct view *v;
	const struct mw_model *m;
};

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct mw_row *x = *(const struct mw_row *const *)a;
	const struct mw_row *y = *(const struct mw_row *const *)b;
	const struct sort_ctx *ctx = arg;
	enum view_col c = ctx->v->sort;
	int order;

	if (c == VIEW_COL_COMM) {
		order = strcmp(x->comm, y->comm);
	} else {
		double vx = view_value(ctx->v, ctx->m, x, c), vy = view_value(ctx->v, ctx->m, y, c);

		order = vx < vy ? -1 : vx > vy;
	}
	if (view_descending(ctx->v))
		order = -order;
	/* rows that tie keep the table's order */
	return order ?: (x->tid < y->tid ? -1 : x->tid > y->tid);
}

size_t view_rows(const struct view *v, const struct mw_model *m, const struct mw_row **out)
{
	struct sort_ctx ctx = { v, m };
	size_t i, n = 0;

	for (i = 0; i < m->nr_rows; i++) {
		if (!(v->hide_exited && m->rows[i].exited))
			out[n++] = &m->rows[i];
	}
	qsort_r(out, n, sizeof(*out), cmp_rows, &ctx);
	return n;
}

static int cmp_flat(const void *a, const void *b, void *arg)
{
	const struct view_flat_row *x = a, *y = b;
	const struct view *v = arg;
	struct sort_ctx ctx = { v, x->m };

	/* the counters' rates share one interval: @x's model serves both */
	return cmp_rows(&x->row, &y->row, &ctx);
}

size_t view_flat_rows(const struct view *v, const struct mw_model *first,
		      struct view_flat_row *out)
{
	const struct mw_model *m;
	size_t i, n = 0;

	for (m = first; m; m = m->next_process) {
		for (i = 0; i < m->nr_rows; i++) {
			if (!(v->hide_exited && m->rows[i].exited))
				out[n++] = (struct view_flat_row){ &m->rows[i], m };
		}
	}
	qsort_r(out, n, sizeof(*out), cmp_flat, (void *)v);
	return n;
}

void view_process_row(const struct mw_model *m, struct mw_row *row)
{
	memset(row, 0, sizeof(*row));
	row->tid = m->info.pid;
	row->exited = m->target_exited;
	row->left = m->info.left_cgroup;
	row->waiting = (m->info.forked || m->info.joined) && m->info.alloc_counted_since_s < 0 &&
		       !m->info.malloc_probed && !m->info.allocator[0];
	memcpy(row->comm, m->info.comm, sizeof(row->comm));
	row->now = m->total;
	row->prev = m->total_prev;
	row->resident_now = model_resident_now(m);
	row->advised_resident = m->res.lazyfree;
}

void view_total_row(const struct mw_model *first, struct mw_row *row)
{
	const struct mw_model *m;

	memset(row, 0, sizeof(*row));
	snprintf(row->comm, sizeof(row->comm), "total");
	row->exited = true;
	for (m = first; m; m = m->next_process) {
		mw_thread_add(&row->now, &m->total);
		mw_thread_add(&row->prev, &m->total_prev);
		row->resident_now += model_resident_now(m);
		row->advised_resident += m->res.lazyfree;
		row->exited &= m->target_exited;
	}
}

void view_unowned(const struct mw_model *m, struct view_unowned *out)
{
	out[0] = (struct view_unowned){ "[brk heap]", m->res.heap_now };
	out[1] = (struct view_unowned){ "[other anon]", m->res.unowned_now };
}

/* Below this the chart has no room to say anything: the table gets it all. */
#define CHART_MIN_SCREEN 18
#define CHART_MIN 3
#define CHART_MAX 12

void view_layout(int lines, struct view_layout *l)
{
	int top = VIEW_TEXT_LINES + VIEW_METER_ROWS;

	*l = (struct view_layout){ .meters_top = VIEW_TEXT_LINES, .legend_top = -1,
				   .chart_top = -1, .footer = lines - 1 };
	if (lines >= CHART_MIN_SCREEN) {
		l->chart_height = (lines - 10) / 3;
		if (l->chart_height < CHART_MIN)
			l->chart_height = CHART_MIN;
		if (l->chart_height > CHART_MAX)
			l->chart_height = CHART_MAX;
		l->legend_top = top;
		l->chart_top = top + 1;
		top = l->chart_top + l->chart_height;
	}
	l->table_top = top;
	l->table_rows = l->footer - top - 1;
	if (l->table_rows < 0)
		l->table_rows = 0;
}

/* One scale for all the meters known: the largest value's. */
static __u64 meters_scale(const struct view_meter_value *mv)
{
	__u64 max = 0;
	int i;

	for (i = 0; i < VIEW_M_NR; i++) {
		if (mv[i].known && mv[i].value > max)
			max = mv[i].value;
	}
	return view_scale(max);
}

__u64 view_meters(const struct mw_model *m, struct view_meter_value *out)
{
	const struct mw_thread *t = &m->total;
	bool heap = m->info.malloc_probed;

	out[VIEW_M_RSS] = (struct view_meter_value){ "RSS", m->status.rss_bytes, true };
	out[VIEW_M_LIVE] = (struct view_meter_value){ "live heap", mw_live_bytes(t), heap };
	out[VIEW_M_RETAINED] = (struct view_meter_value){
		model_retained_includes_preexisting(m) ? "retained<=" : "retained",
		model_retained_bytes(m), heap };
	out[VIEW_M_GROWN] = (struct view_meter_value){ "grown", mw_grown_bytes(t), true };
	out[VIEW_M_RET_ASK] = (struct view_meter_value){ "ret asked", mw_returned_bytes(t),
							 true };
	out[VIEW_M_RET_ACT] = (struct view_meter_value){ "ret actual", mw_returned_actual(t),
							 true };
	return meters_scale(out);
}

bool view_meter_is_level(int meter)
{
	return meter == VIEW_M_RSS || meter == VIEW_M_LIVE || meter == VIEW_M_RETAINED;
}

__u64 view_meters_set(const struct mw_model *first, struct view_meter_value *out)
{
	struct view_meter_value one[VIEW_M_NR];
	const struct mw_model *m;
	int i;

	view_meters(first, out);
	for (i = 0; i < VIEW_M_NR; i++)
		out[i].value = 0;
	for (m = first; m; m = m->next_process) {
		view_meters(m, one);
		for (i = 0; i < VIEW_M_NR; i++) {
			/* what an exited process held is gone: levels are the living's */
			if (one[i].known && !(m->target_exited && view_meter_is_level(i)))
				out[i].value += one[i].value;
			out[i].known |= one[i].known;
		}
		/* an upper bound once any process's is */
		if (one[VIEW_M_RETAINED].known && model_retained_includes_preexisting(m))
			out[VIEW_M_RETAINED].label = one[VIEW_M_RETAINED].label;
	}
	return meters_scale(out);
}

__u64 view_scale(__u64 max)
{
	__u64 step;
	int bits;

	if (max <= 4096)
		return 4096;
	/* the step is the highest set bit / 8: tops like 40M, 48M, 56M, 64M */
	bits = 63 - __builtin_clzll(max);
	step = 1ULL << (bits - 3);
	return (max + step - 1) / step * step;
}

/* a cell filled from the left in eighths: index 1 is one eighth */
static const wchar_t eighths[] = L" ▏▎▍▌▋▊▉█";

void view_bar(wchar_t *buf, int width, __u64 value, __u64 scale, bool ascii)
{
	/* in eighths of a cell: a bar is exact to an eighth in Unicode */
	long long fill = scale ? llround((double)value / scale * width * 8) : 0;
	int i;

	if (fill > width * 8LL)
		fill = width * 8LL;
	for (i = 0; i < width; i++) {
		long long part = fill - i * 8LL;

		if (part <= 0)
			buf[i] = L' ';
		else if (ascii)
			buf[i] = part >= 4 ? L'|' : L' ';
		else
			buf[i] = eighths[part >= 8 ? 8 : part];
	}
	buf[width] = L'\0';
}

/* Braille dot bits of the 2x4 dot grid of a cell, by [dot column][dot row from the top]. */
static const unsigned char braille_bit[2][4] = {
	{ 0x01, 0x02, 0x04, 0x40 },
	{ 0x08, 0x10, 0x20, 0x80 },
};

/* ASCII marks of the series: the chart's legend shows them */
static const char ascii_mark[HIST_NR] = { [HIST_RSS] = '#', [HIST_LIVE] = 'o',
					  [HIST_RETURNED] = '+' };

/* Sets the dot at (@x, @y), counted in dots from the top left, for @series. */
static void chart_dot(struct view_chart *c, bool ascii, int x, int y, int series)
{
	int per_x = ascii ? 1 : 2, per_y = ascii ? 1 : 4;
	struct view_chart_cell *cell = &c->cells[(y / per_y) * c->width + x / per_x];

	cell->dots |= ascii ? 1 : braille_bit[x % 2][y % 4];
	cell->series = series;
}

void view_chart(const struct history *h, unsigned int series_mask, bool ascii,
		struct view_chart *c)
{
	int per_x = ascii ? 1 : 2, per_y = ascii ? 1 : 4;
	int dots_x = c->width * per_x, dots_y = c->height * per_y;
	size_t shown = h->len < (size_t)dots_x ? h->len : (size_t)dots_x;
	size_t first = h->len - shown, i;
	__u64 max = 0;
	int s;

	for (i = 0; i < (size_t)(c->width * c->height); i++)
		c->cells[i] = (struct view_chart_cell){ 0, -1 };
	for (i = first; i < h->len; i++) {
		for (s = 0; s < HIST_NR; s++) {
			if (series_mask & (1u << s) && history_at(h, i)->v[s] > max)
				max = history_at(h, i)->v[s];
		}
	}
	c->top = view_scale(max);
	c->samples = shown;
	c->span_s = shown ? history_at(h, h->len - 1)->t - history_at(h, first)->t : 0;
	if (!dots_y)
		return;
	/* returned first and RSS last: where lines meet, RSS's colour shows */
	for (s = HIST_NR - 1; s >= 0; s--) {
		int prev_level = -1;

		if (!(series_mask & (1u << s)))
			continue;
		for (i = first; i < h->len; i++) {
			int x = dots_x - (int)(h->len - i);
			int level = llround((double)history_at(h, i)->v[s] / c->top * (dots_y - 1));
			int lo = level, hi = level, y;

			/* a jump since the previous sample is drawn as a vertical line */
			if (prev_level >= 0 && prev_level < level)
				lo = prev_level + 1;
			else if (prev_level > level)
				hi = prev_level - 1;
			for (y = lo; y <= hi; y++)
				chart_dot(c, ascii, x, dots_y - 1 - y, s);
			prev_level = level;
		}
	}
}

wchar_t view_chart_glyph(const struct view_chart_cell *cell, bool ascii)
{
	if (cell->series < 0)
		return L' ';
	if (ascii)
		return ascii_mark[cell->series];
	/* the Braille Patterns block is U+2800 plus the dot bits */
	return 0x2800 + cell->dots;
}

wchar_t view_legend_glyph(enum history_series s, bool ascii)
{
	/* braille dots 3 and 6: a line across the middle of the cell */
	return ascii ? ascii_mark[s] : 0x2800 + 0x24;
}

char *view_duration(char *buf, size_t len, double seconds)
{
	long s = (long)seconds;

	if (seconds < 60)
		snprintf(buf, len, "%.1fs", seconds);
	else if (s < 3600)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
	return buf;
}
