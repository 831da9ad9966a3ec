// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The curses screen: setup and restore, drawing what view.c decided, keys,
 * resize. Nothing here decides what a number is or which rows show.
 */
#define _GNU_SOURCE
#define NCURSES_WIDECHAR 1
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ncursesw/curses.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/keys.h"
#include "output/tui.h"
#include "output/view.h"
#include "output/view_sites.h"
#include "stacks/stacks.h"

#define B(v) format_bytes((char[16]){ 0 }, 16, (v))
#define N(v) format_count((char[16]){ 0 }, 16, (v))

enum pair {
	PAIR_RSS = 1,
	PAIR_LIVE,
	PAIR_RETURNED,
	PAIR_RETAINED,
	PAIR_GROWN,
	PAIR_ASKED,
	PAIR_HEADER,
	PAIR_SORT,
	PAIR_KEY,
};

static const enum pair series_pair[HIST_NR] = {
	[HIST_RSS] = PAIR_RSS,
	[HIST_LIVE] = PAIR_LIVE,
	[HIST_RETURNED] = PAIR_RETURNED,
};

static const enum pair meter_pair[VIEW_M_NR] = {
	[VIEW_M_RSS] = PAIR_RSS,
	[VIEW_M_LIVE] = PAIR_LIVE,
	[VIEW_M_RETAINED] = PAIR_RETAINED,
	[VIEW_M_GROWN] = PAIR_GROWN,
	[VIEW_M_RET_ASK] = PAIR_ASKED,
	[VIEW_M_RET_ACT] = PAIR_RETURNED,
};

/* the chart's value labels and axis, left of the plot */
#define AXIS_WIDTH 8
/* label, brackets, a space and a value: a meter's width beyond its bar */
#define METER_LABEL 11
#define METER_TEXT (METER_LABEL + 3 + 7)
/* below this a bar says nothing: its detail text gives way */
#define METER_MIN_BAR 8

static struct {
	SCREEN *screen;
	bool colors;
	struct view view;
	struct history history;
	/* --stacks: the sites, the stacks thread's; NULL without */
	struct stacks *stacks;
	/* the sites screen: the last look's rows, the selected site's identity, the stack shown */
	struct site *rows;
	size_t nr_rows, cap_rows;
	struct sites_totals totals;
	const __u64 *selected;
	struct site stack;
} tui;

static attr_t color(enum pair p)
{
	return tui.colors ? COLOR_PAIR(p) : A_NORMAL;
}

/* Prints at (@y, @x), cut at the right edge; returns the column after the text. */
static int __attribute__((format(printf, 4, 5))) put(int y, int x, attr_t attr,
						     const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (x >= COLS)
		return x;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	attron(attr);
	mvaddnstr(y, x, buf, COLS - x);
	attroff(attr);
	return x + n;
}

static void put_glyph(int y, int x, attr_t attr, wchar_t glyph)
{
	attron(attr);
	mvaddnwstr(y, x, &glyph, 1);
	attroff(attr);
}

static void draw_header(const struct mw_model *m)
{
	const struct mw_target_info *info = &m->info;
	__u64 untracked = 0, untracked_bytes = 0;
	const struct mw_model *p;
	char up[32], cmd[1024];
	double events = 0;
	int x;

	x = put(0, 0, A_BOLD, "memwatch");
	x = put(0, x, A_NORMAL, "  pid %d (%s)", info->pid, ESC(info->comm, MW_COMM_LEN));
	/* the meters and the chart are the whole set's */
	if (m->next_process)
		x = put(0, x, A_NORMAL, " and %zu more process%s", model_processes(m) - 1,
			model_processes(m) > 2 ? "es" : "");
	for (p = m; p; p = p->next_process) {
		events += p->events_rate;
		untracked += p->total.untracked_allocs;
		untracked_bytes += p->total.untracked_bytes;
	}
	x = put(0, x, A_NORMAL, "  watching %s  events/s %s  lost %llu  "
		"untracked %llu (%s)",
		view_duration(up, sizeof(up), m->elapsed_s), N(llround(events)),
		(unsigned long long)m->lost_events, (unsigned long long)untracked,
		B(untracked_bytes));
	if (model_owners_aged(m))
		x = put(0, x, A_BOLD, "  RES_NOW %.0fs old", model_owners_age(m));
	if (m->target_exited)
		x = put(0, x, A_BOLD, "  target exited");
	if (tui.view.paused)
		put(0, x + 2, A_REVERSE, "PAUSED");
	/* the target's bytes: escaped, cut to what a line can show */
	if (m->cmdline_len)
		put(1, 0, A_NORMAL, "cmd: %s",
		    escape_mem(cmd, sizeof(cmd), m->cmdline, m->cmdline_len));
	else
		put(1, 0, A_NORMAL, "cmd: [%s]", ESC(info->comm, MW_COMM_LEN));
	if (info->malloc_probed)
		put(2, 0, A_NORMAL, "allocator: %s (%s)  probes: %d uprobes, %d uretprobes, "
		    "%d tracepoints", ESC(info->allocator, sizeof(info->allocator)),
		    info->allocator_origin, info->uprobes, info->uretprobes, info->tracepoints);
	else
		put(2, 0, A_NORMAL, "allocator: not probed (%s)  probes: %d tracepoints",
		    ESC(info->allocator, sizeof(info->allocator)), info->tracepoints);
}

/* --cgroup before its first process: the header says what the view waits for. */
static void draw_header_none(const struct mw_model *m)
{
	char up[32];
	int x;

	x = put(0, 0, A_BOLD, "memwatch");
	x = put(0, x, A_BOLD, "  no process yet: waiting for one to join the cgroup");
	x = put(0, x, A_NORMAL, "  watching %s  lost %llu",
		view_duration(up, sizeof(up), m->elapsed_s), (unsigned long long)m->lost_events);
	if (tui.view.paused)
		put(0, x + 2, A_REVERSE, "PAUSED");
	put(2, 0, A_NORMAL, "probes: %d tracepoints", m->info.tracepoints);
}

static void draw_meter(int y, int x, int bar, const struct view_meter_value *mv,
		       enum pair pair, __u64 scale, const char *detail)
{
	wchar_t cells[256];

	put(y, x, A_BOLD, "%-*s", METER_LABEL, mv->label);
	x += METER_LABEL;
	if (bar > 0) {
		if (bar > (int)(sizeof(cells) / sizeof(cells[0])) - 1)
			bar = sizeof(cells) / sizeof(cells[0]) - 1;
		view_bar(cells, bar, mv->known ? mv->value : 0, scale, tui.view.ascii);
		put(y, x, A_NORMAL, "[");
		attron(color(pair));
		mvaddnwstr(y, x + 1, cells, bar);
		attroff(color(pair));
		put(y, x + 1 + bar, A_NORMAL, "]");
		x += bar + 2;
	}
	x = put(y, x, A_BOLD, " %7s", mv->known ? B(mv->value) : "n/a");
	if (detail)
		put(y, x, A_NORMAL, " %s", detail);
}

/* Two columns of meters on one scale: what the process holds, then what it moved. */
static void draw_meters(const struct mw_model *m, const struct view_layout *l)
{
	struct view_meter_value mv[VIEW_M_NR];
	/* several processes: the whole set's */
	__u64 scale = m->next_process ? view_meters_set(m, mv) : view_meters(m, mv);
	__u64 anon = 0, file = 0;
	const struct mw_model *p;
	char rss_detail[64];
	int detail, bar, i;

	for (p = m; p; p = p->next_process) {
		anon += p->target_exited && m->next_process ? 0 : p->status.rss_anon_bytes;
		file += p->target_exited && m->next_process ? 0 : p->status.rss_file_bytes;
	}
	/* fixed widths: the right column stays where it is as the numbers change */
	snprintf(rss_detail, sizeof(rss_detail), "anon %6s file %6s", B(anon), B(file));
	/* one scale, so one bar width in both columns; the RSS split widens the left one */
	detail = 1 + strlen(rss_detail);
	bar = (COLS - 2 * (METER_TEXT + 1) - detail) / 2;
	if (bar < METER_MIN_BAR) {
		detail = 0;
		bar = (COLS - 2 * (METER_TEXT + 1)) / 2;
	}
	for (i = 0; i < VIEW_M_NR; i++)
		draw_meter(l->meters_top + i % VIEW_METER_ROWS,
			   i < VIEW_METER_ROWS ? 0 : METER_TEXT + bar + 1 + detail, bar, &mv[i],
			   meter_pair[i], scale, i == VIEW_M_RSS && detail ? rss_detail : NULL);
}

static void draw_chart(const struct mw_model *m, const struct view_layout *l)
{
	unsigned int mask = 1u << HIST_RSS | 1u << HIST_RETURNED;
	struct view_chart c = { .width = COLS - AXIS_WIDTH, .height = l->chart_height };
	const struct history_sample *last;
	char span[32];
	int s, x, y;

	if (!c.height || c.width <= 0)
		return;
	if (m->info.malloc_probed)
		mask |= 1u << HIST_LIVE;
	c.cells = calloc((size_t)c.width * c.height, sizeof(*c.cells));
	if (!c.cells)
		return;
	view_chart(&tui.history, mask, tui.view.ascii, &c);

	last = tui.history.len ? history_at(&tui.history, tui.history.len - 1) : NULL;
	x = put(l->legend_top, 0, A_BOLD, "%-*s", AXIS_WIDTH, "history");
	for (s = 0; s < HIST_NR; s++) {
		wchar_t glyph = view_legend_glyph(s, tui.view.ascii);

		if (!(mask & (1u << s)))
			continue;
		put_glyph(l->legend_top, x, color(series_pair[s]) | A_BOLD, glyph);
		put_glyph(l->legend_top, x + 1, color(series_pair[s]) | A_BOLD, glyph);
		x = put(l->legend_top, x + 2, A_NORMAL, " %s %s   ", view_series_name[s],
			B(last ? last->v[s] : 0));
	}
	put(l->legend_top, x, A_DIM, "last %s", view_duration(span, sizeof(span), c.span_s));

	for (y = 0; y < c.height; y++) {
		const char *label = y == 0 ? B(c.top) : y == c.height - 1 ? "0" : "";

		put(l->chart_top + y, 0, A_DIM, "%*s ", AXIS_WIDTH - 2, label);
		put_glyph(l->chart_top + y, AXIS_WIDTH - 1, A_DIM,
			  tui.view.ascii ? L'|' : (*label ? L'┤' : L'│'));
		for (x = 0; x < c.width; x++) {
			const struct view_chart_cell *cell = &c.cells[y * c.width + x];

			if (cell->series >= 0)
				put_glyph(l->chart_top + y, AXIS_WIDTH + x,
					  color(series_pair[cell->series]),
					  view_chart_glyph(cell, tui.view.ascii));
		}
	}
	free(c.cells);
}

/* Column @i's text, aligned in its width. */
static void put_cell(int y, const enum view_col *cols, int i, attr_t attr, const char *text)
{
	char cell[128];

	put(y, view_col_x(cols, i), attr, "%s", view_pad(cell, sizeof(cell), cols[i], text));
}

/*
 * One row of the table at line @y: @row's cells, the TID's as @tid if set,
 * the name indented for a thread under its process.
 */
static void draw_row(int y, const struct mw_model *m, const struct mw_row *row,
		     const enum view_col *cols, int n, attr_t attr, const char *tid, bool indent)
{
	char buf[ESCAPED_SIZE(MW_COMM_LEN)], name[ESCAPED_SIZE(MW_COMM_LEN) + 2];
	int i;

	for (i = 0; i < n; i++) {
		view_cell(&tui.view, m, row, cols[i], buf, sizeof(buf));
		if (cols[i] == VIEW_COL_TID && tid) {
			put_cell(y, cols, i, attr, tid);
		} else if (cols[i] == VIEW_COL_COMM && indent) {
			snprintf(name, sizeof(name), "  %s", buf);
			put_cell(y, cols, i, attr, name);
		} else {
			put_cell(y, cols, i, attr, buf);
		}
	}
}

/* The table's lines left for rows, and the rows that did not fit. */
struct table_fill {
	int y;
	size_t room, hidden;
	const enum view_col *cols;
	int n;
};

static void fill_row(struct table_fill *f, const struct mw_model *m, const struct mw_row *row,
		     attr_t attr, bool indent)
{
	if (!f->room) {
		f->hidden++;
		return;
	}
	draw_row(f->y++, m, row, f->cols, f->n, attr, NULL, indent);
	f->room--;
}

/* The rows of several processes' table: their own, their threads', or both. */
static size_t processes_rows(const struct mw_model *first, bool processes, bool threads)
{
	const struct mw_model *m;
	size_t need = 0, r;

	for (m = first; m; m = m->next_process) {
		need += processes;
		for (r = 0; threads && r < m->nr_rows; r++)
			need += !(tui.view.hide_exited && m->rows[r].exited);
	}
	return need;
}

/* Every process's threads in one list, sorted together (t). */
static void fill_flat(struct table_fill *f, const struct mw_model *first, size_t nr)
{
	struct view_flat_row *rows = calloc(nr ?: 1, sizeof(*rows));
	size_t r;

	if (!rows)
		return;
	nr = view_flat_rows(&tui.view, first, rows);
	for (r = 0; r < nr; r++)
		fill_row(f, rows[r].m, rows[r].row, rows[r].row->exited ? A_DIM : A_NORMAL, false);
	free(rows);
}

/* Each process's totals in a bold row, its threads under it unless collapsed (c). */
static void fill_tree(struct table_fill *f, const struct mw_model *first)
{
	const struct mw_model *m;
	const struct mw_row **rows;
	struct mw_row row;
	size_t nr, r;

	for (m = first; m; m = m->next_process) {
		view_process_row(m, &row);
		fill_row(f, m, &row, A_BOLD | (row.exited ? A_DIM : 0), false);
		if (tui.view.collapsed)
			continue;
		rows = calloc(m->nr_rows ?: 1, sizeof(*rows));
		if (!rows)
			return;
		nr = view_rows(&tui.view, m, rows);
		for (r = 0; r < nr; r++)
			fill_row(f, m, rows[r], rows[r]->exited ? A_DIM : A_NORMAL, true);
		free(rows);
	}
}

/*
 * Several processes (-p A,B, -f, --cgroup): a tree (each process's totals,
 * its threads under it as one process's are sorted), the processes alone, or
 * every thread in one list; then the grand total on the last line. What
 * does not fit is counted on the line before it.
 */
static void draw_processes(const struct mw_model *first, const struct view_layout *l,
			   const enum view_col *cols, int n)
{
	/* the last line of the table is the total's */
	int last = l->table_top + l->table_rows;
	struct table_fill f = { .y = l->table_top + 1, .cols = cols, .n = n };
	bool flat = tui.view.flat;
	size_t need = processes_rows(first, !flat, flat || !tui.view.collapsed);
	struct mw_row row;

	if (last < f.y)
		return;
	/* rows left out take a line that says so */
	f.room = (size_t)(last - f.y);
	if (need > f.room)
		f.room = f.room ? f.room - 1 : 0;
	if (flat)
		fill_flat(&f, first, need);
	else
		fill_tree(&f, first);
	if (f.hidden)
		put(f.y++, 0, A_DIM, "%*s (%zu more rows: a taller terminal shows them)",
		    view_column(VIEW_COL_TID)->width, "+", f.hidden);
	view_total_row(first, &row);
	draw_row(f.y, first, &row, cols, n, A_BOLD | A_REVERSE, "=", false);
}

static void draw_table(const struct mw_model *m, const struct view_layout *l)
{
	struct view_unowned unowned[VIEW_UNOWNED_NR];
	enum view_col cols[VIEW_COL_NR];
	const struct mw_row **rows;
	int n = view_fit(VIEW_LIVE, COLS, m->info.malloc_probed, cols), res_col = -1, room, i, y;
	size_t nr, shown, r;
	char buf[32];

	if (l->table_rows <= 0)
		return;
	attron(color(PAIR_HEADER));
	mvhline(l->table_top, 0, ' ', COLS);
	attroff(color(PAIR_HEADER));
	for (i = 0; i < n; i++) {
		attr_t attr = cols[i] == tui.view.sort ? color(PAIR_SORT) | A_BOLD
						       : color(PAIR_HEADER);

		put_cell(l->table_top, cols, i, attr | (tui.colors ? 0 : A_REVERSE),
			 view_header(&tui.view, cols[i]));
		if (cols[i] == VIEW_COL_RES_NOW)
			res_col = i;
	}
	/* no row until a process comes */
	if (m->no_process)
		return;
	if (m->next_process) {
		draw_processes(m, l, cols, n);
		return;
	}

	rows = calloc(m->nr_rows ?: 1, sizeof(*rows));
	if (!rows)
		return;
	nr = view_rows(&tui.view, m, rows);
	/* the resident memory no thread made keeps its lines at the bottom */
	room = l->table_rows - (res_col >= 0 ? VIEW_UNOWNED_NR : 0);
	shown = nr <= (size_t)(room > 0 ? room : 0) ? nr : (size_t)(room > 1 ? room - 1 : 0);
	y = l->table_top + 1;
	for (r = 0; r < shown; r++, y++) {
		attr_t attr = rows[r]->exited ? A_DIM : A_NORMAL;

		for (i = 0; i < n; i++)
			put_cell(y, cols, i, attr,
				 view_cell(&tui.view, m, rows[r], cols[i], buf, sizeof(buf)));
	}
	if (shown < nr)
		put(y++, 0, A_DIM, "%*s (%zu more threads: a taller terminal shows them)",
		    view_column(VIEW_COL_TID)->width, "+", nr - shown);
	view_unowned(m, unowned);
	for (i = 0; res_col >= 0 && i < VIEW_UNOWNED_NR && y < l->footer; i++, y++) {
		put_cell(y, cols, 0, A_DIM, "-");
		put_cell(y, cols, 1, A_DIM, unowned[i].name);
		put_cell(y, cols, res_col, A_DIM, B(unowned[i].bytes));
	}
	free(rows);
}

/*
 * A look at the sites down to the last of @rows lines that show the
 * selected one: the stacks thread waits meanwhile (stacks_peek()). The selection follows its site
 * wherever the order moved it; a stack shown gets its site's new numbers.
 */
static void look_at_sites(int rows)
{
	struct view *v = &tui.view;
	size_t n = view_sites_scroll(v->selected, rows) + (rows > 0 ? rows : 0), i;

	if (n > tui.cap_rows) {
		struct site *grown = realloc(tui.rows, n * sizeof(*grown));

		if (!grown)
			return;
		tui.rows = grown;
		tui.cap_rows = n;
	}
	tui.nr_rows = stacks_peek(tui.stacks, v->sites_order, tui.rows, n, &tui.totals);
	v->selected = view_sites_follow(tui.rows, tui.nr_rows, tui.selected, v->selected);
	tui.selected = tui.nr_rows ? tui.rows[v->selected].pcs : NULL;
	for (i = 0; v->stack && i < tui.nr_rows; i++) {
		if (tui.rows[i].pcs == tui.stack.pcs)
			tui.stack = tui.rows[i];
	}
}

/* The sites' title: the order, how many, what was lost, then the mode. */
static void draw_sites_title(const struct mw_model *m, int y)
{
	const struct sites_totals *t = &tui.totals;
	int x;

	x = put(y, 0, A_BOLD, "call sites by %s", view_sites_order_name(tui.view.sites_order));
	x = put(y, x, A_NORMAL, ": %zu sites, %s allocator and %s syscall stacks, %llu lost, "
		"%llu unpaired, %llu capped", t->sites, N(t->samples), N(t->syscalls),
		(unsigned long long)m->stacks_lost, (unsigned long long)t->unpaired,
		(unsigned long long)m->stacks_capped);
	if (t->sample_bytes)
		put(y, x, A_DIM, "  --stacks=sampled: a call per ~%s asked, ~ marks estimates",
		    B(t->sample_bytes));
	else
		put(y, x, A_DIM, "  --stacks=all");
}

/* The sites screen (s): a row per site in the order chosen, the selected one highlighted. */
static void draw_sites(const struct mw_model *m, int top, int footer)
{
	enum view_site_col cols[VIEW_SITE_NR];
	int n = view_sites_fit(COLS, tui.view.sites_order, cols), rows = footer - top - 2, i, x;
	enum view_site_col sorted = view_sites_order_col(tui.view.sites_order);
	char cell[32], frames[1024];
	size_t first, r;

	look_at_sites(rows);
	draw_sites_title(m, top);
	attron(color(PAIR_HEADER));
	mvhline(top + 1, 0, ' ', COLS);
	attroff(color(PAIR_HEADER));
	for (i = 0, x = 0; i < n; i++, x += VIEW_SITE_COL_WIDTH + 1)
		put(top + 1, x, (cols[i] == sorted ? color(PAIR_SORT) | A_BOLD : color(PAIR_HEADER)) |
			(tui.colors ? 0 : A_REVERSE), "%*s", VIEW_SITE_COL_WIDTH,
		    view_site_header(cols[i]));
	put(top + 1, x, color(PAIR_HEADER) | (tui.colors ? 0 : A_REVERSE),
	    "CALLER < ITS CALLERS");
	if (!tui.nr_rows)
		put(top + 2, 0, A_DIM, "no site with %s yet",
		    view_sites_order_name(tui.view.sites_order));
	first = view_sites_scroll(tui.view.selected, rows);
	for (r = first; r < tui.nr_rows && (int)(r - first) < rows; r++) {
		const struct site *site = &tui.rows[r];
		attr_t attr = r == tui.view.selected ? A_REVERSE : A_NORMAL;
		int y = top + 2 + (int)(r - first);

		if (attr != A_NORMAL)
			mvchgat(y, 0, -1, attr, 0, NULL);
		for (i = 0, x = 0; i < n; i++, x += VIEW_SITE_COL_WIDTH + 1)
			put(y, x, attr, "%s", view_site_cell(site, cols[i], tui.totals.sample_bytes,
							     cell, sizeof(cell)));
		put(y, x, attr, "%s", view_site_frames(site, frames, sizeof(frames)));
	}
}

/* A site's whole stack (Enter), innermost first; any key goes back to the sites. */
static void draw_stack(const struct mw_model *m, int top, int footer)
{
	const struct site *site = &tui.stack;
	const char *e = tui.totals.sample_bytes ? "~" : "";
	char line[2048];
	int i, y = top + 2;

	look_at_sites(footer - top - 2);
	draw_sites_title(m, top);
	put(top + 1, 0, A_BOLD, "live %s%s in %s%s blocks, allocated %s%s in %s%s calls, %s%s frees, "
	    "grown %s, returned %s (%s actually)", e, B(site->live_bytes), e, N(site->live_calls), e,
	    B(site->alloc_bytes), e, N(site->alloc_calls), e, N(site->free_calls),
	    B(site->grown_bytes), B(site->returned_bytes), B(site->returned_actual_bytes));
	for (i = 0; i < site->nr_frames && y < footer; i++, y++) {
		/* the last line says what did not fit */
		if (y == footer - 1 && i < site->nr_frames - 1) {
			put(y, 0, A_DIM, "(%d more frames: a taller terminal shows them)",
			    site->nr_frames - i);
			break;
		}
		put(y, 0, A_NORMAL, "%s", view_site_frame_line(site, i, line, sizeof(line)));
	}
}

static void draw_footer(const struct mw_model *m, const struct view_layout *l)
{
	const struct view *v = &tui.view;
	const struct key_binding *b;
	char keys[32];
	size_t i;
	int x = 0;

	/* what a key could not do: the whole line, or it would be cut */
	if (v->notice) {
		put(l->footer, 0, A_BOLD, "%s", v->notice);
		return;
	}
	for (i = 0; i < key_bindings_nr; i++) {
		b = &key_bindings[i];
		if ((b->screen == KEYS_SITES) != v->sites && b->screen != KEYS_ANY &&
		    b->screen != KEYS_STACKS)
			continue;
		if ((b->screen == KEYS_SEVERAL && !m->next_process) ||
		    (b->screen == KEYS_STACKS && !v->stacks))
			continue;
		x = put(l->footer, x, color(PAIR_KEY) | A_BOLD | (tui.colors ? 0 : A_REVERSE),
			"%s", keys_footer(b, keys, sizeof(keys)));
		x = put(l->footer, x, A_NORMAL, " %s  ", b->footer);
	}
	if (v->stack)
		put(l->footer, x, A_DIM, "any key: back to the sites");
	else if (v->sites)
		put(l->footer, x, A_DIM, "order: %s", view_sites_order_name(v->sites_order));
	else
		put(l->footer, x, A_DIM, "sort: %s %s, %s, exited %s", view_header(v, v->sort),
		    view_descending(v) ? "descending" : "ascending",
		    v->rate ? "per second" : "since attach", v->hide_exited ? "hidden" : "shown");
}

static void draw_help(void)
{
	int lines = 0, width = 0, top, left, i;
	char buf[256];
	const char *line;

	for (i = 0; (line = keys_help_line(i, buf, sizeof(buf))); i++, lines++) {
		if ((int)strlen(line) > width)
			width = strlen(line);
	}
	top = (LINES - lines - 2) / 2;
	left = (COLS - width - 4) / 2;
	if (top < 0)
		top = 0;
	if (left < 0)
		left = 0;
	for (i = -1; i <= lines; i++)
		put(top + 1 + i, left, A_REVERSE, "  %-*s  ", width,
		    i >= 0 && i < lines ? keys_help_line(i, buf, sizeof(buf)) : "");
}

static void draw(const struct mw_model *m)
{
	struct view_layout l;

	view_layout(LINES, &l);
	erase();
	if (m->no_process)
		draw_header_none(m);
	else
		draw_header(m);
	draw_meters(m, &l);
	/* the sites take the chart's lines and the table's */
	if (tui.view.stack)
		draw_stack(m, l.meters_top + VIEW_METER_ROWS, l.footer);
	else if (tui.view.sites)
		draw_sites(m, l.meters_top + VIEW_METER_ROWS, l.footer);
	else
		draw_chart(m, &l);
	if (!tui.view.sites)
		draw_table(m, &l);
	draw_footer(m, &l);
	if (tui.view.help)
		draw_help();
	refresh();
}

static int tui_open(const struct mw_model *m, struct stacks *stacks)
{
	sigset_t winch;

	/* LC_CTYPE only: the summary's numbers keep their decimal point */
	setlocale(LC_CTYPE, "");
	tui.screen = newterm(NULL, stdout, stdin);
	if (!tui.screen)
		return -1;
	view_init(&tui.view);
	tui.view.ascii = !view_unicode(nl_langinfo(CODESET));
	tui.stacks = stacks;
	tui.view.stacks = stacks != NULL;
	history_init(&tui.history);
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	tui.colors = has_colors();
	if (tui.colors) {
		start_color();
		use_default_colors();
		init_pair(PAIR_RSS, COLOR_RED, -1);
		init_pair(PAIR_LIVE, COLOR_GREEN, -1);
		init_pair(PAIR_RETURNED, COLOR_CYAN, -1);
		init_pair(PAIR_RETAINED, COLOR_YELLOW, -1);
		init_pair(PAIR_GROWN, COLOR_MAGENTA, -1);
		init_pair(PAIR_ASKED, COLOR_BLUE, -1);
		init_pair(PAIR_HEADER, COLOR_BLACK, COLOR_GREEN);
		init_pair(PAIR_SORT, COLOR_BLACK, COLOR_CYAN);
		init_pair(PAIR_KEY, COLOR_BLACK, COLOR_CYAN);
	}
	/*
	 * curses turns SIGWINCH into KEY_RESIZE. Blocked here, it is delivered
	 * only inside the report loop's ppoll(), like SIGINT, which then wakes
	 * and reads it: no resize waits for the next interval.
	 */
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	sigprocmask(SIG_BLOCK, &winch, NULL);
	draw(m);
	return 0;
}

static void tui_close(void)
{
	if (!tui.screen)
		return;
	endwin();
	delscreen(tui.screen);
	tui.screen = NULL;
	free(tui.rows);
	tui.rows = NULL;
	tui.nr_rows = tui.cap_rows = 0;
}

static void tui_interval(FILE *out, const struct mw_model *m)
{
	(void)out;
	if (m->next_process)
		history_sample_set(&tui.history, m);
	else
		history_sample_model(&tui.history, m);
	/* a launched command writes to the same terminal: repaint every line over it */
	if (m->info.launched)
		redrawwin(stdscr);
	draw(m);
}

/* A curses key as the key table has it (keys.h). */
static int table_key(int key)
{
	if (key >= KEY_F(1) && key <= KEY_F(63))
		return KEYS_F(key - KEY_F0);
	if (key == KEY_UP || key == KEY_DOWN)
		return key == KEY_UP ? KEYS_UP : KEYS_DOWN;
	if (key == KEY_ENTER || key == '\r')
		return KEYS_ENTER;
	return key;
}

static enum report_input tui_input(const struct mw_model *m)
{
	enum view_col cols[VIEW_COL_NR];
	int n = view_fit(VIEW_LIVE, COLS, m->info.malloc_probed, cols), key;
	bool changed = false;

	while ((key = getch()) != ERR) {
		changed = true;
		/* curses already knows the new size */
		if (key == KEY_RESIZE)
			continue;
		key = table_key(key);
		switch (keys_press(&tui.view, key, cols, n)) {
		case VIEW_QUIT:
			return REPORT_QUIT;
		case VIEW_UP:
		case VIEW_DOWN:
			/* the row moved to, whichever site it holds at the next look */
			tui.selected = NULL;
			break;
		case VIEW_STACK:
			if (tui.view.stack && tui.view.selected < tui.nr_rows)
				tui.stack = tui.rows[tui.view.selected];
			else
				tui.view.stack = false;
			break;
		default:
			break;
		}
	}
	if (changed)
		draw(m);
	return tui.view.paused ? REPORT_PAUSE : REPORT_RUN;
}

static void tui_summary(FILE *out, const struct mw_model *m)
{
	tui_close();
	report_text.summary(out, m);
}

const struct reporter report_tui = {
	.name = "tui",
	.interval = tui_interval,
	.summary = tui_summary,
	.open = tui_open,
	.close = tui_close,
	.input = tui_input,
};
