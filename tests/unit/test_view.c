// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* What the live view shows, without a terminal: columns, order, values, history, chart, glyphs. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "model/history.h"
#include "output/report.h"
#include "output/view.h"
#include "tap.h"

#define MiB (1024ULL * 1024)

/* The header names of the columns of @table that fit @width, space-separated. */
static const char *fitted_in(enum view_table table, int width, bool heap)
{
	static char names[256];
	enum view_col cols[VIEW_COL_NR];
	struct view v;
	int n, i;

	view_init(&v);
	n = view_fit(table, width, heap, cols);
	names[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(names, " ");
		strcat(names, view_header(&v, cols[i]));
	}
	return names;
}

static const char *fitted(int width, bool heap)
{
	return fitted_in(VIEW_LIVE, width, heap);
}

static void test_fit(void)
{
	enum view_col cols[VIEW_COL_NR];
	int n, i;

	ASSERT_STREQ(fitted(80, true), "TID COMM STATE LIVE GROWN RET_ASK RET_ACT RES_NOW",
		     "80 columns: who, live heap against grown, returned and resident");
	ASSERT_STREQ(fitted(120, true),
		     "TID COMM STATE ALLOC'D FREED OTHERS' LIVE GROWN RET_ASK RET_ACT RES_NOW "
		     "EVENTS/s", "120 columns: the allocator's traffic too");
	ASSERT_STREQ(fitted(200, true),
		     "TID COMM STATE ALLOCS ALLOC'D FREES FREED OTHERS' LIVE GROWN RET_ASK "
		     "RET_ACT RES_NOW EVENTS/s", "200 columns: every column");
	ASSERT_STREQ(fitted(80, false), "TID COMM STATE GROWN RET_ASK RET_ACT RES_NOW EVENTS/s",
		     "80 columns without malloc probes: no heap column");
	ASSERT_STREQ(fitted(20, true), "TID", "a very narrow terminal keeps the TID");
	n = view_fit(VIEW_LIVE, 80, true, cols);
	ASSERT_TRUE(view_col_x(cols, n - 1) + view_column(cols[n - 1])->width <= 80,
		    "80 columns: the last column ends inside the width");
	n = view_fit(VIEW_LIVE, 200, true, cols);
	for (i = 1; i < n && cols[i - 1] < cols[i]; i++)
		;
	ASSERT_EQ(i, n, "200 columns: in display order");
	ASSERT_EQ(view_col_x(cols, 2), 7 + 1 + 15 + 1, "STATE starts after TID and COMM");
}

static void test_text_tables(void)
{
	enum view_col cols[VIEW_COL_NR], left[VIEW_COL_NR];
	char buf[64];
	int n;

	ASSERT_STREQ(fitted_in(VIEW_THREADS, 80, true),
		     "TID COMM STATE LIVE GROWN RET_ASK RET_ACT RES_NOW",
		     "text threads at 80 columns: the live view's choice");
	ASSERT_STREQ(fitted_in(VIEW_THREADS, 1 << 16, true),
		     "TID COMM STATE ALLOCS ALLOC'D FREES FREED OTHERS' LIVE GROWN RET_ASK RET_ACT "
		     "RES_NOW", "text threads unlimited: every column but the live view's rate");
	ASSERT_STREQ(fitted_in(VIEW_SYSCALLS, 80, true), "TID COMM BRK+ BRK- MMAP MUNMAP DONTNEED",
		     "syscalls at 80 columns: what grew and what was returned");
	ASSERT_STREQ(fitted_in(VIEW_SYSCALLS, 1 << 16, false),
		     "TID COMM BRK+ BRK- MMAP MMAPFILE MMAPNONE MUNMAP MREMAP+ MREMAP- MPROT_RW "
		     "MPROT_NO DONTNEED MADVFREE MADV_ETC", "syscalls unlimited: every column");
	n = view_fit(VIEW_THREADS, 80, true, cols);
	ASSERT_EQ(view_left_out(VIEW_THREADS, true, cols, n, left), 5,
		  "80 columns leave 5 thread columns out");
	ASSERT_EQ(left[0], VIEW_COL_ALLOCS, "the first left out in display order: ALLOCS");
	n = view_fit(VIEW_THREADS, 80, false, cols);
	ASSERT_EQ(view_left_out(VIEW_THREADS, false, cols, n, left), 0,
		  "without malloc probes 80 columns hold every column there is");

	ASSERT_STREQ(view_pad(buf, sizeof(buf), VIEW_COL_GROWN, "4.0K"), "     4.0K",
		     "a number to the right of its 9 cells");
	ASSERT_STREQ(view_pad(buf, sizeof(buf), VIEW_COL_COMM, "mw-worker1"), "mw-worker1     ",
		     "a name to the left of its 15 cells");
	ASSERT_STREQ(view_pad(buf, sizeof(buf), VIEW_COL_COMM, "\xc3\xa9t\xc3\xa9"),
		     "\xc3\xa9t\xc3\xa9            ", "UTF-8: padded by cells, not bytes");
	ASSERT_STREQ(view_pad(buf, sizeof(buf), VIEW_COL_STATE, "exited"), "exited",
		     "a wider text left whole");
}

static struct mw_thread counters(const char *comm, __u64 alloc, __u64 freed, __u64 grown)
{
	struct mw_thread t = { 0 };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	t.alloc_calls = alloc / 16;
	t.alloc_bytes = alloc;
	t.released_bytes = freed;
	t.free_bytes = freed;
	t.brk_grow_bytes = grown;
	return t;
}

/*
 * Three threads; at 1s: live 100, 300, 200 bytes; at 3s thread 30 allocated
 * 1000 more bytes and thread 10 exited.
 */
static void build_model(struct mw_model *m)
{
	struct mw_thread a = counters("zeta", 100, 0, 4096);
	struct mw_thread b = counters("alpha", 300, 0, 8192);
	struct mw_thread c = counters("mid", 200, 0, 0);

	model_init(m);
	m->info.malloc_probed = true;
	model_begin_update(m, 1.0);
	model_set_thread(m, 30, &c);
	model_set_thread(m, 10, &a);
	model_set_thread(m, 20, &b);
	model_end_update(m, false);

	model_begin_update(m, 3.0);
	a.exited = 1;
	c.alloc_bytes += 1000;
	c.alloc_calls += 10;
	model_set_thread(m, 10, &a);
	model_set_thread(m, 20, &b);
	model_set_thread(m, 30, &c);
	model_end_update(m, false);
}

/* The TIDs of the rows @v shows, in order: "20 30 10". */
static const char *order(const struct view *v, const struct mw_model *m)
{
	static char tids[64];
	const struct mw_row *rows[8];
	size_t n = view_rows(v, m, rows), i;

	tids[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(tids + strlen(tids), sizeof(tids) - strlen(tids), "%s%u", i ? " " : "",
			 rows[i]->tid);
	return tids;
}

static void test_sort(void)
{
	enum view_col cols[VIEW_COL_NR];
	struct mw_model m;
	struct view v;
	int n;

	build_model(&m);
	view_init(&v);
	ASSERT_STREQ(order(&v, &m), "10 20 30", "default: by TID, lowest first");
	ASSERT_TRUE(!view_descending(&v), "TID ascending");
	v.reverse = true;
	ASSERT_STREQ(order(&v, &m), "30 20 10", "r reverses the TID order");
	v.reverse = false;
	v.sort = VIEW_COL_LIVE;
	ASSERT_STREQ(order(&v, &m), "30 20 10", "by LIVE: largest first");
	ASSERT_TRUE(view_descending(&v), "LIVE descending");
	v.reverse = true;
	ASSERT_STREQ(order(&v, &m), "10 20 30", "by LIVE reversed: smallest first");
	v.reverse = false;
	v.sort = VIEW_COL_COMM;
	ASSERT_STREQ(order(&v, &m), "20 30 10", "by COMM: alpha, mid, zeta");
	v.sort = VIEW_COL_GROWN;
	ASSERT_STREQ(order(&v, &m), "20 10 30", "by GROWN: ties keep TID order");
	v.sort = VIEW_COL_STATE;
	ASSERT_STREQ(order(&v, &m), "20 30 10", "by STATE: live first");
	v.hide_exited = true;
	ASSERT_STREQ(order(&v, &m), "20 30", "e hides the exited thread");

	view_init(&v);
	n = view_fit(VIEW_LIVE, 80, true, cols);
	view_sort_step(&v, cols, n, 1);
	ASSERT_EQ(v.sort, VIEW_COL_COMM, "> moves from TID to COMM");
	view_sort_step(&v, cols, n, -1);
	view_sort_step(&v, cols, n, -1);
	ASSERT_EQ(v.sort, VIEW_COL_RES_NOW, "< from TID wraps to the last shown column");
	v.sort = VIEW_COL_ALLOCS;
	view_sort_step(&v, cols, n, 1);
	ASSERT_EQ(v.sort, VIEW_COL_TID, "a sort column the width hides: > starts at the first");
	model_free(&m);
}

static void test_values(void)
{
	const struct mw_row *row;
	struct mw_row *named;
	struct mw_model m;
	struct view v;
	char buf[32];

	build_model(&m);
	view_init(&v);
	row = model_find(&m, 30);
	ASSERT_EQ(view_value(&v, &m, row, VIEW_COL_ALLOC_BYTES), 1200, "cumulative ALLOC'D");
	ASSERT_STREQ(view_cell(&v, &m, row, VIEW_COL_ALLOC_BYTES, buf, sizeof(buf)), "1.2K",
		     "cumulative ALLOC'D in human units");
	ASSERT_STREQ(view_header(&v, VIEW_COL_ALLOC_BYTES), "ALLOC'D", "cumulative header");
	v.rate = true;
	ASSERT_EQ(view_value(&v, &m, row, VIEW_COL_ALLOC_BYTES), 500,
		  "rate: 1000 bytes in 2 seconds");
	ASSERT_STREQ(view_cell(&v, &m, row, VIEW_COL_ALLOC_BYTES, buf, sizeof(buf)), "500B",
		     "rate cell");
	ASSERT_STREQ(view_header(&v, VIEW_COL_ALLOC_BYTES), "ALLOC'D/s", "rate header");
	ASSERT_EQ(view_value(&v, &m, row, VIEW_COL_ALLOCS), 5, "rate of calls");
	ASSERT_EQ(view_value(&v, &m, row, VIEW_COL_LIVE), 1200, "LIVE is a level in rate mode");
	ASSERT_STREQ(view_header(&v, VIEW_COL_LIVE), "LIVE", "a level's header has no /s");
	ASSERT_EQ(view_value(&v, &m, row, VIEW_COL_EVENTS), 5, "EVENTS/s: allocator calls");
	v.rate = false;
	ASSERT_EQ(view_value(&v, &m, row, VIEW_COL_EVENTS), 5, "EVENTS/s is a rate in both modes");
	ASSERT_STREQ(view_cell(&v, &m, model_find(&m, 10), VIEW_COL_STATE, buf, sizeof(buf)),
		     "exit", "an exited thread's state");
	ASSERT_STREQ(view_cell(&v, &m, row, VIEW_COL_STATE, buf, sizeof(buf)), "live",
		     "a live thread's state");
	m.info.malloc_probed = false;
	ASSERT_STREQ(view_cell(&v, &m, row, VIEW_COL_LIVE, buf, sizeof(buf)), "-",
		     "no heap value without malloc probes");
	/* the same row, renamed by hand */
	named = &m.rows[row - m.rows];
	memcpy(named->comm, "\x1b]0;X\a\xc2\x9b", sizeof("\x1b]0;X\a\xc2\x9b"));
	ASSERT_STREQ(view_cell(&v, &m, row, VIEW_COL_COMM, buf, sizeof(buf)), "\\x1b]0;X\\x07",
		     "COMM: escaped, cut to its 15 cells before an escape that does not fit");
	memcpy(named->comm, "\xc3\xa9t\xc3\xa9", sizeof("\xc3\xa9t\xc3\xa9"));
	ASSERT_STREQ(view_cell(&v, &m, row, VIEW_COL_COMM, buf, sizeof(buf)), "\xc3\xa9t\xc3\xa9",
		     "COMM: UTF-8 shown as it is");
	model_free(&m);
}

static void test_history(void)
{
	static struct history h;
	struct history_sample s = { 0 };
	int i;

	history_init(&h);
	ASSERT_EQ(h.len, 0, "empty history");
	for (i = 0; i < HISTORY_CAP + 5; i++) {
		s.t = i;
		s.v[HIST_RSS] = i * 10;
		history_add(&h, &s);
	}
	ASSERT_EQ(h.len, HISTORY_CAP, "the ring keeps HISTORY_CAP samples");
	ASSERT_EQ(history_at(&h, 0)->t, 5, "wrapped: the oldest kept is the 6th");
	ASSERT_EQ(history_at(&h, HISTORY_CAP - 1)->t, HISTORY_CAP + 4, "the newest last");
	ASSERT_EQ(history_at(&h, 1)->v[HIST_RSS], 60, "values follow their sample");
}

static void test_scale_and_bars(void)
{
	wchar_t bar[16];

	ASSERT_EQ(view_scale(0), 4096, "nothing: a page");
	ASSERT_EQ(view_scale(47 * MiB + 600 * 1024), 48 * MiB, "47.6M: 48M");
	ASSERT_EQ(view_scale(64 * MiB), 64 * MiB, "64M exactly");
	ASSERT_EQ(view_scale(65 * MiB), 72 * MiB, "65M: 72M");
	view_bar(bar, 4, 45, 100, false);
	ASSERT_TRUE(!wcscmp(bar, L"█▊  "), "45% of 4 cells: 1 cell and 6 eighths");
	view_bar(bar, 4, 45, 100, true);
	ASSERT_TRUE(!wcscmp(bar, L"||  "), "ASCII: cells at least half full");
	view_bar(bar, 4, 500, 100, false);
	ASSERT_TRUE(!wcscmp(bar, L"████"), "beyond the scale: full");
	ASSERT_TRUE(view_unicode("UTF-8") && view_unicode("utf8"), "UTF-8 shows Unicode");
	ASSERT_TRUE(!view_unicode("ANSI_X3.4-1968") && !view_unicode(NULL),
		    "the C locale falls back to ASCII");
}

static void test_chart(void)
{
	static struct history h;
	struct view_chart_cell cells[4 * 2];
	struct view_chart c = { .width = 4, .height = 2, .cells = cells };
	struct history_sample s = { 0 };
	const unsigned int all = 1u << HIST_RSS | 1u << HIST_LIVE | 1u << HIST_RETURNED;

	history_init(&h);
	/* flat RSS at the top, the heap falling to 0, nothing returned */
	s.v[HIST_RSS] = 8192;
	s.v[HIST_LIVE] = 8192;
	history_add(&h, &s);
	s.t = 1;
	s.v[HIST_LIVE] = 0;
	history_add(&h, &s);
	view_chart(&h, all, false, &c);
	ASSERT_EQ(c.top, 8192, "scaled to the largest sample");
	ASSERT_EQ(c.samples, 2, "both samples shown");
	ASSERT_EQ((int)c.span_s, 1, "spanning one second");
	/* two samples fill the rightmost cell's two dot columns */
	ASSERT_EQ(cells[3].dots, 0x01 | 0x08 | 0x10 | 0x20 | 0x80,
		  "top row: RSS flat at the top, the heap's fall starting in the newer column");
	ASSERT_EQ(cells[3].series, HIST_RSS, "RSS drawn last, its colour shows");
	ASSERT_EQ(cells[7].dots, 0x40 | 0x80 | 0x08 | 0x10 | 0x20,
		  "bottom row: returned at 0, the heap's fall reaching it");
	ASSERT_EQ(cells[7].series, HIST_LIVE, "the heap's colour where RSS is not");
	ASSERT_EQ(view_chart_glyph(&cells[3], false), 0x28b9, "braille glyph of the dots");
	ASSERT_EQ(view_chart_glyph(&cells[0], false), L' ', "an empty cell");
	ASSERT_EQ(cells[2].series, -1, "nothing left of the samples");

	view_chart(&h, 1u << HIST_RSS, true, &c);
	ASSERT_EQ(c.samples, 2, "ASCII: a sample per cell");
	ASSERT_EQ(view_chart_glyph(&cells[3], true), L'#', "ASCII: RSS is #");
	ASSERT_EQ(view_chart_glyph(&cells[2], true), L'#', "ASCII: the older sample one cell left");
	ASSERT_EQ(view_chart_glyph(&cells[7], true), L' ', "ASCII: no series at 0 in that mask");
	view_chart(&h, 1u << HIST_LIVE, true, &c);
	ASSERT_EQ(view_chart_glyph(&cells[7], true), L'o', "ASCII: the heap at 0 is o");
	ASSERT_EQ(view_legend_glyph(HIST_RETURNED, true), L'+', "ASCII legend: the chart's mark");
	ASSERT_EQ(view_legend_glyph(HIST_RSS, false), L'⠤', "Unicode legend: a line of dots");
}

static void test_layout(void)
{
	struct view_layout l;
	char buf[16];

	view_layout(40, &l);
	ASSERT_EQ(l.chart_height, 10, "40 lines: a 10-line chart");
	ASSERT_EQ(l.table_top, l.chart_top + l.chart_height, "the table right below the chart");
	ASSERT_EQ(l.table_top + 1 + l.table_rows, l.footer, "rows up to the footer");
	ASSERT_EQ(l.footer, 39, "the footer on the last line");
	view_layout(24, &l);
	ASSERT_EQ(l.chart_height, 4, "24 lines: a 4-line chart");
	ASSERT_TRUE(l.table_rows >= 8, "24 lines: room for 8 rows");
	view_layout(12, &l);
	ASSERT_EQ(l.chart_height, 0, "12 lines: no chart");
	ASSERT_EQ(l.table_top, VIEW_TEXT_LINES + VIEW_METER_ROWS, "the table below the meters");
	ASSERT_STREQ(view_duration(buf, sizeof(buf), 14.04), "14.0s", "seconds");
	ASSERT_STREQ(view_duration(buf, sizeof(buf), 200), "3m20s", "minutes");
	ASSERT_STREQ(view_duration(buf, sizeof(buf), 7500), "2h05m", "hours");
}

/* The longest line of @text in cells, UTF-8 counted a cell per character. */
static int widest(const char *text)
{
	int width = 0, cells = 0;

	for (; *text; text++) {
		if (*text == '\n')
			cells = 0;
		else if (((unsigned char)*text & 0xc0) != 0x80 && ++cells > width)
			width = cells;
	}
	return width;
}

static void test_text_report(void)
{
	struct mw_model m;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	build_model(&m);
	snprintf(m.info.comm, sizeof(m.info.comm), "channel");
	snprintf(m.info.allocator, sizeof(m.info.allocator),
		 "/usr/lib/x86_64-linux-gnu/a-long-directory-name/libc.so.6");
	m.info.allocator_origin = "libc";
	f = open_memstream(&text, &len);
	report_text_summary(f, &m, 80);
	fclose(f);
	ASSERT_TRUE(widest(text) <= 80, "the summary at 80 columns: no line wider");
	ASSERT_TRUE(strstr(text, "    TID COMM            STATE      LIVE     GROWN   RET_ASK   "
			   "RET_ACT   RES_NOW\n"), "at 80 columns: the thread table's columns that fit");
	ASSERT_TRUE(strstr(text, "not shown at 80 columns: ALLOCS, ALLOC'D, FREES, FREED, OTHERS'"),
		    "at 80 columns: the columns left out are named");
	ASSERT_TRUE(strstr(text, "(freed\n    already, as by"), "a long line goes on indented");
	free(text);

	text = NULL;
	f = open_memstream(&text, &len);
	report_text_summary(f, &m, 0);
	fclose(f);
	ASSERT_TRUE(widest(text) > 150, "the summary unlimited: its lines whole");
	ASSERT_TRUE(strstr(text, "    TID COMM            STATE    ALLOCS   ALLOC'D     FREES     FREED"
			   "   OTHERS'      LIVE     GROWN   RET_ASK   RET_ACT   RES_NOW\n"),
		    "unlimited: every thread column");
	ASSERT_TRUE(strstr(text, "     30 mid             live         22      1.2K") != NULL,
		    "a thread's row under the headers");
	ASSERT_TRUE(!strstr(text, "not shown"), "unlimited: nothing left out");
	free(text);
	model_free(&m);
}

int main(void)
{
	test_fit();
	test_text_tables();
	test_text_report();
	test_sort();
	test_values();
	test_history();
	test_scale_and_bars();
	test_chart();
	test_layout();
	return tap_done();
}
