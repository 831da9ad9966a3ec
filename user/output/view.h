/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What the live view shows, decided without curses (htop's split): the
 * thread table's columns that fit a width, the rows' order, cumulative or
 * per-second values, the screen's layout, meter bars and the history chart
 * with their glyphs. user/output/tui.c only draws what this module decides.
 */
#ifndef MW_VIEW_H
#define MW_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>
#include "model/history.h"
#include "model/model.h"
#include "stacks/sites.h"

/* every table's columns, in display order */
enum view_col {
	VIEW_COL_TID,
	VIEW_COL_COMM,
	VIEW_COL_STATE,
	/* the registry's (bpf/counters.h): ALLOCS, ALLOC_BYTES, FREES, FREE_BYTES, OTHERS */
#define MW_COLUMN(name, unit, group, TAG, header) VIEW_COL_##TAG,
	MW_THREAD_TABLE_COLUMNS
#undef MW_COLUMN
	VIEW_COL_LIVE,
	VIEW_COL_GROWN,
	VIEW_COL_RET_ASK,
	VIEW_COL_RET_ACT,
	VIEW_COL_RES_NOW,
	VIEW_COL_EVENTS,
	/* the registry's bytes by call: BRK_GROW, ..., MPROTECT_NONE */
#define MW_COLUMN(name, unit, group, TAG, header) VIEW_COL_##TAG,
	MW_CALL_TABLE_COLUMNS
#undef MW_COLUMN
	VIEW_COL_MADV_DONTNEED,
	VIEW_COL_MADV_FREE,
	VIEW_COL_MADV_OTHER,
	VIEW_COL_NR,
};

/* The tables the columns make up: each column says which it belongs to. */
enum view_table {
	VIEW_LIVE,		/* the live view's threads */
	VIEW_THREADS,		/* the text reports' threads */
	VIEW_SYSCALLS,		/* the text summary's bytes per syscall and thread */
	VIEW_TABLE_NR,
};

#define VIEW_IN(table) (1u << (table))

enum view_kind {
	VIEW_TEXT,
	VIEW_BYTES,
	VIEW_COUNT,
};

struct view_column {
	const char *name;	/* header with cumulative values */
	const char *rate_name;	/* header in rate mode; NULL for a level, shown as is */
	int width;
	enum view_kind kind;
	bool heap;		/* needs the malloc probes: dropped without them */
	unsigned int tables;	/* VIEW_IN() of the tables that show it */
	/* how telling it is: a narrow width keeps the lowest ranks of a table */
	int rank;
};

struct view {
	enum view_col sort;
	bool reverse;		/* against the column's natural order */
	bool rate;		/* counters per second instead of since attach */
	bool hide_exited;
	bool ascii;		/* no Unicode glyphs */
	bool paused;		/* the model is not updated */
	bool help;		/* the help screen is up */
	/* several processes: their rows alone; every thread in one list */
	bool collapsed, flat;
	bool stacks;		/* memwatch runs with --stacks: the sites screen can show */
	/* the sites screen (s), in an order; a row selected (Up, Down), its stack shown (Enter) */
	bool sites, stack;
	enum sites_order sites_order;
	size_t selected;
	const char *notice;	/* what the last key could not do, shown until the next one */
};

void view_init(struct view *v);
const struct view_column *view_column(enum view_col c);
const char *view_header(const struct view *v, enum view_col c);
/* Whether a locale's codeset can show the Unicode glyphs. */
bool view_unicode(const char *codeset);

/*
 * The columns of @table that fit @width terminal cells, in display order,
 * into @cols (room for VIEW_COL_NR); their number. The least telling go
 * first when the width is short; without @heap the allocator's columns are
 * left out.
 */
int view_fit(enum view_table table, int width, bool heap, enum view_col *cols);
/* The columns of @table that view_fit() left out of @cols, into @out; their number. */
int view_left_out(enum view_table table, bool heap, const enum view_col *cols, int n,
		  enum view_col *out);
/* Where column @i of @cols starts. */
int view_col_x(const enum view_col *cols, int i);
/*
 * @text in column @c's width into @buf: names to the left, numbers to the
 * right, UTF-8 counted in cells; a wider text is left whole.
 */
char *view_pad(char *buf, size_t len, enum view_col c, const char *text);
/* Whether the rows go from the largest value of the sort column down. */
bool view_descending(const struct view *v);
/* Moves the sort key @step (+1 or -1) columns along the @n shown ones. */
void view_sort_step(struct view *v, const enum view_col *cols, int n, int step);

/* What column @c shows for @row, and sorts by. */
double view_value(const struct view *v, const struct mw_model *m, const struct mw_row *row,
		  enum view_col c);
/* Column @c's text for @row. */
char *view_cell(const struct view *v, const struct mw_model *m, const struct mw_row *row,
		enum view_col c, char *buf, size_t len);
/* The rows to show, in order, into @out (room for m->nr_rows); their number. */
size_t view_rows(const struct view *v, const struct mw_model *m, const struct mw_row **out);

/* A row of the flat list of several processes' threads, and the process it is of. */
struct view_flat_row {
	const struct mw_row *row;
	const struct mw_model *m;
};

/*
 * Several processes, flat: every process's threads from @first on, in one
 * order, into @out (room for all their rows); their number.
 */
size_t view_flat_rows(const struct view *v, const struct mw_model *first,
		      struct view_flat_row *out);

/*
 * Several processes (-p A,B): process @m's totals as a row, its PID in the
 * TID column; and the sums of every process from @first on, TID 0.
 */
void view_process_row(const struct mw_model *m, struct mw_row *row);
void view_total_row(const struct mw_model *first, struct mw_row *row);

/* Resident memory no thread made: rows with a value under RES_NOW alone. */
struct view_unowned {
	const char *name;
	__u64 bytes;
};

#define VIEW_UNOWNED_NR 2

void view_unowned(const struct mw_model *m, struct view_unowned *out);

/* Where things go on a screen of @lines; a chart of 0 lines is left out. */
struct view_layout {
	int meters_top;		/* VIEW_METER_ROWS lines */
	int legend_top;		/* the chart's legend, just above it */
	int chart_top, chart_height;
	int table_top;		/* the column headers, then rows up to the footer */
	int table_rows;
	int footer;
};

#define VIEW_TEXT_LINES 3
#define VIEW_METER_ROWS 3

void view_layout(int lines, struct view_layout *l);

/* The process meters, two columns of VIEW_METER_ROWS, on one scale. */
enum view_meter {
	VIEW_M_RSS,
	VIEW_M_LIVE,
	VIEW_M_RETAINED,
	VIEW_M_GROWN,
	VIEW_M_RET_ASK,
	VIEW_M_RET_ACT,
	VIEW_M_NR,
};

struct view_meter_value {
	const char *label;
	__u64 value;
	bool known;		/* false for heap values without malloc probes */
};

/* The meters' values into @out (VIEW_M_NR); the scale of their bars. */
__u64 view_meters(const struct mw_model *m, struct view_meter_value *out);
/* Whether meter @meter is a level (RSS, live heap, retained), not a count since the attach. */
bool view_meter_is_level(int meter);
/*
 * Several processes: their meters summed, retained of each, levels of the
 * processes alive only; the scale.
 */
__u64 view_meters_set(const struct mw_model *first, struct view_meter_value *out);
/* A round top for values up to @max: 4 significant bits, at least a page. */
__u64 view_scale(__u64 max);
/* @width cells of a bar for @value of @scale into @buf (room for @width + 1). */
void view_bar(wchar_t *buf, int width, __u64 value, __u64 scale, bool ascii);

/* The history chart: RSS, live heap and returned on one scale. */
struct view_chart_cell {
	unsigned char dots;	/* braille dot bits; with ASCII non-zero when drawn */
	signed char series;	/* enum history_series drawn last here, -1 for none */
};

struct view_chart {
	int width, height;
	struct view_chart_cell *cells;	/* width * height, row 0 at the top */
	__u64 top;			/* the value of the top edge */
	size_t samples;			/* shown, the newest at the right edge */
	double span_s;			/* time from the oldest shown to the newest */
};

/* Draws the series in @series_mask (1 << HIST_x) of @h into @c's cells. */
void view_chart(const struct history *h, unsigned int series_mask, bool ascii,
		struct view_chart *c);
wchar_t view_chart_glyph(const struct view_chart_cell *cell, bool ascii);
/* The legend's mark of series @s: a short line of dots, or its ASCII mark. */
wchar_t view_legend_glyph(enum history_series s, bool ascii);
extern const char *const view_series_name[HIST_NR];

/* "14.0s", "3m20s", "2h05m". */
char *view_duration(char *buf, size_t len, double seconds);

/* What the help screen says below the keys, NULL-terminated. */
extern const char *const view_help_notes[];

#endif /* MW_VIEW_H */
