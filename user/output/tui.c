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
#include "output/tui.h"
#include "output/view.h"
#include "sys/fileio.h"

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
	bool paused;
	bool help;
	char cmdline[1024];
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

/* The command line as /proc shows it, arguments apart by spaces, escaped as it is the target's. */
static void read_cmdline(const struct mw_model *m)
{
	char path[64], *text;
	size_t len, i;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", m->info.pid);
	text = read_path(path, &len);
	if (!text || !len) {
		snprintf(tui.cmdline, sizeof(tui.cmdline), "[%s]", ESC(m->info.comm, MW_COMM_LEN));
		free(text);
		return;
	}
	/* the last NUL ends the last argument; a process may have rewritten it away */
	if (!text[len - 1])
		len--;
	for (i = 0; i < len; i++) {
		if (!text[i])
			text[i] = ' ';
	}
	escape_mem(tui.cmdline, sizeof(tui.cmdline), text, len);
	free(text);
}

static void draw_header(const struct mw_model *m)
{
	const struct mw_target_info *info = &m->info;
	const struct mw_thread *t = &m->total;
	char up[32];
	int x;

	x = put(0, 0, A_BOLD, "memwatch");
	x = put(0, x, A_NORMAL, "  pid %d (%s)  watching %s  events/s %s  lost %llu  "
		"untracked %llu (%s)", info->pid, ESC(info->comm, MW_COMM_LEN),
		view_duration(up, sizeof(up), m->elapsed_s),
		N(llround(mw_rate(view_events(t), view_events(&m->total_prev), m->interval_s))),
		(unsigned long long)m->lost_events, (unsigned long long)t->untracked_allocs,
		B(t->untracked_bytes));
	if (model_owners_aged(m))
		x = put(0, x, A_BOLD, "  RES_NOW %.0fs old", model_owners_age(m));
	if (m->target_exited)
		x = put(0, x, A_BOLD, "  target exited");
	if (tui.paused)
		put(0, x + 2, A_REVERSE, "PAUSED");
	put(1, 0, A_NORMAL, "cmd: %s", tui.cmdline);
	if (info->malloc_probed)
		put(2, 0, A_NORMAL, "allocator: %s (%s)  probes: %d uprobes, %d uretprobes, "
		    "%d tracepoints", ESC(info->allocator, sizeof(info->allocator)),
		    info->allocator_origin, info->uprobes, info->uretprobes, info->tracepoints);
	else
		put(2, 0, A_NORMAL, "allocator: not probed (%s)  probes: %d tracepoints",
		    ESC(info->allocator, sizeof(info->allocator)), info->tracepoints);
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
	__u64 scale = view_meters(m, mv);
	char rss_detail[64];
	int detail, bar, i;

	/* fixed widths: the right column stays where it is as the numbers change */
	snprintf(rss_detail, sizeof(rss_detail), "anon %6s file %6s",
		 B(m->status.rss_anon_bytes), B(m->status.rss_file_bytes));
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

/* Column @i's text, aligned in its width: names left, numbers right. */
static void put_cell(int y, const enum view_col *cols, int i, attr_t attr, const char *text)
{
	const struct view_column *col = view_column(cols[i]);
	int x = view_col_x(cols, i);

	if (col->kind == VIEW_TEXT)
		put(y, x, attr, "%-*.*s", col->width, col->width, text);
	else
		put(y, x, attr, "%*s", col->width, text);
}

static void draw_table(const struct mw_model *m, const struct view_layout *l)
{
	static const char *const unowned[] = { "[brk heap]", "[other anon]" };
	const __u64 unowned_bytes[] = { m->res.heap_now, m->res.unowned_now };
	enum view_col cols[VIEW_COL_NR];
	const struct mw_row **rows;
	int n = view_fit(COLS, m->info.malloc_probed, cols), res_col = -1, room, i, y;
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

	rows = calloc(m->nr_rows ?: 1, sizeof(*rows));
	if (!rows)
		return;
	nr = view_rows(&tui.view, m, rows);
	/* the resident memory no thread made keeps its two lines at the bottom */
	room = l->table_rows - (res_col >= 0 ? 2 : 0);
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
	for (i = 0; res_col >= 0 && i < 2 && y < l->footer; i++, y++) {
		put_cell(y, cols, 0, A_DIM, "-");
		put_cell(y, cols, 1, A_DIM, unowned[i]);
		put_cell(y, cols, res_col, A_DIM, B(unowned_bytes[i]));
	}
	free(rows);
}

static void draw_footer(const struct view_layout *l)
{
	static const char *const keys[][2] = {
		{ "q", "quit" }, { "<>", "sort" }, { "r", "reverse" }, { "p", "pause" },
		{ "e", "exited" }, { "d", "rate" }, { "h", "help" },
	};
	const struct view *v = &tui.view;
	size_t i;
	int x = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		x = put(l->footer, x, color(PAIR_KEY) | A_BOLD | (tui.colors ? 0 : A_REVERSE),
			"%s", keys[i][0]);
		x = put(l->footer, x, A_NORMAL, " %s  ", keys[i][1]);
	}
	put(l->footer, x, A_DIM, "sort: %s %s, %s, exited %s", view_header(v, v->sort),
	    view_descending(v) ? "descending" : "ascending",
	    v->rate ? "per second" : "since attach", v->hide_exited ? "hidden" : "shown");
}

static void draw_help(void)
{
	int lines = 0, width = 0, top, left, i;

	for (i = 0; view_help[i]; i++, lines++) {
		if ((int)strlen(view_help[i]) > width)
			width = strlen(view_help[i]);
	}
	top = (LINES - lines - 2) / 2;
	left = (COLS - width - 4) / 2;
	if (top < 0)
		top = 0;
	if (left < 0)
		left = 0;
	for (i = -1; i <= lines; i++)
		put(top + 1 + i, left, A_REVERSE, "  %-*s  ", width,
		    i >= 0 && i < lines ? view_help[i] : "");
}

static void draw(const struct mw_model *m)
{
	struct view_layout l;

	view_layout(LINES, &l);
	erase();
	draw_header(m);
	draw_meters(m, &l);
	draw_chart(m, &l);
	draw_table(m, &l);
	draw_footer(&l);
	if (tui.help)
		draw_help();
	refresh();
}

int tui_init(const struct mw_model *m)
{
	sigset_t winch;

	/* LC_CTYPE only: the summary's numbers keep their decimal point */
	setlocale(LC_CTYPE, "");
	tui.screen = newterm(NULL, stdout, stdin);
	if (!tui.screen)
		return -1;
	view_init(&tui.view);
	tui.view.ascii = !view_unicode(nl_langinfo(CODESET));
	history_init(&tui.history);
	read_cmdline(m);
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

void tui_done(void)
{
	if (!tui.screen)
		return;
	endwin();
	delscreen(tui.screen);
	tui.screen = NULL;
}

static void tui_interval(FILE *out, const struct mw_model *m)
{
	(void)out;
	history_sample_model(&tui.history, m);
	/* a launched command writes to the same terminal: repaint every line over it */
	if (m->info.launched)
		redrawwin(stdscr);
	draw(m);
}

static enum report_input tui_input(const struct mw_model *m)
{
	enum view_col cols[VIEW_COL_NR];
	int n = view_fit(COLS, m->info.malloc_probed, cols), key;
	bool changed = false;

	while ((key = getch()) != ERR) {
		changed = true;
		if (key == 'q' || key == 'Q' || key == KEY_F(10))
			return REPORT_QUIT;
		if (tui.help && key != KEY_RESIZE) {
			tui.help = false;
			continue;
		}
		switch (key) {
		case '<':
		case ',':
		case KEY_F(7):
			view_sort_step(&tui.view, cols, n, -1);
			break;
		case '>':
		case '.':
		case KEY_F(8):
			view_sort_step(&tui.view, cols, n, 1);
			break;
		case 'r':
			tui.view.reverse = !tui.view.reverse;
			break;
		case 'p':
			tui.paused = !tui.paused;
			break;
		case 'e':
			tui.view.hide_exited = !tui.view.hide_exited;
			break;
		case 'd':
			tui.view.rate = !tui.view.rate;
			break;
		case 'h':
		case '?':
		case KEY_F(1):
			tui.help = true;
			break;
		default:
			/* KEY_RESIZE: curses already knows the new size */
			break;
		}
	}
	if (changed)
		draw(m);
	return tui.paused ? REPORT_PAUSE : REPORT_RUN;
}

static void tui_summary(FILE *out, const struct mw_model *m)
{
	tui_done();
	report_text.summary(out, m);
}

const struct reporter report_tui = {
	.interval = tui_interval,
	.summary = tui_summary,
	.input = tui_input,
};
