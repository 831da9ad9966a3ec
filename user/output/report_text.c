// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Plain text: a process line and a thread table per interval, then a
 * summary. The tables are view.c's columns, as many as the width holds.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/report.h"
#include "output/report_sites.h"
#include "output/trace_format.h"
#include "output/view.h"

#define B(v) format_bytes((char[16]){ 0 }, 16, (v))
#define N(v) format_count((char[16]){ 0 }, 16, (v))
/* -f, --cgroup: how it came to be watched, and since when its allocator calls count. */
static void print_entry(FILE *out, const struct mw_target_info *info)
{
	if (info->forked)
		fprintf(out, " [forked by %d at %.3fs, ", info->parent_pid, info->entered_at_s);
	else
		fprintf(out, " [joined the cgroup at %.3fs, ", info->entered_at_s);
	if (info->malloc_probed && info->alloc_counted_since_s >= 0)
		fprintf(out, "malloc counted from %.3fs]", info->alloc_counted_since_s);
	else
		fprintf(out, "malloc not counted]");
}

/* What the blocks a process frees may be older than: where its counting began. */
static const char *before_counting(const struct mw_model *m)
{
	if (m->info.forked)
		return "its uprobes, its parent's among them";
	return m->info.joined ? "its uprobes" : "the attach";
}

/* names and paths are the target's: never raw to a terminal */
#define COMM(s) ESC(s, MW_COMM_LEN)

static void print_process_line(FILE *out, const struct mw_model *m, bool rates)
{
	const struct proc_status *st = &m->status;
	const struct mw_thread *t = &m->total;

	fprintf(out, "%8.1fs pid %d (%s)", m->elapsed_s, m->info.pid, COMM(m->info.comm));
	if (m->info.forked || m->info.joined)
		print_entry(out, &m->info);
	if (m->info.left_cgroup)
		fprintf(out, " [left the cgroup: not counted]");
	if (m->folded_processes)
		fprintf(out, " [%llu exited processes folded]",
			(unsigned long long)m->folded_processes);
	fprintf(out, "  rss %s (anon %s, file %s)", B(st->rss_bytes), B(st->rss_anon_bytes),
		B(st->rss_file_bytes));
	if (m->info.malloc_probed)
		fprintf(out, "  live heap %s  retained %s%s", B(mw_live_bytes(t)),
			model_retained_includes_preexisting(m) ? "<= " : "",
			B(model_retained_bytes(m)));
	/* the summary says why */
	if (model_retained_includes_preexisting(m) && !rates)
		fprintf(out, " (includes blocks allocated before %s)", before_counting(m));
	if (m->info.malloc_probed && rates)
		fprintf(out, "  allocs/s %.0f", m->allocs_rate);
	fprintf(out, "  grown %s  returned %s asked / %s actual\n", B(mw_grown_bytes(t)),
		B(mw_returned_bytes(t)), B(mw_returned_actual(t)));
}

/* Room for one cell of any column, padded: a name escaped whole is the longest */
#define CELL ESCAPED_SIZE(MW_COMM_LEN)

/* Ends a table line: its cells without the blanks after the last. */
static void put_line(FILE *out, char *line, size_t len)
{
	while (len && line[len - 1] == ' ')
		len--;
	fprintf(out, "%.*s\n", (int)len, line);
}

/* Column @i of @cols into @line at its place, padded; the line's length after it. */
static size_t put_cell(char *line, size_t len, const enum view_col *cols, int i,
		       const char *text)
{
	char cell[CELL];

	len += sprintf(line + len, "%s%s", i ? " " : "", view_pad(cell, sizeof(cell), cols[i], text));
	return len;
}

/*
 * The header of @cols, then a line per thread. A name is cut to its column
 * only to fit a terminal's @width.
 */
static void print_rows(FILE *out, const struct mw_model *m, const enum view_col *cols, int n,
		       int width)
{
	char line[VIEW_COL_NR * (CELL + 1)], cell[CELL];
	struct view v;
	size_t len = 0, r;
	int i;

	view_init(&v);
	for (i = 0; i < n; i++)
		len = put_cell(line, len, cols, i, view_header(&v, cols[i]));
	put_line(out, line, len);
	for (r = 0; r < m->nr_rows; r++) {
		const struct mw_row *row = &m->rows[r];

		for (len = 0, i = 0; i < n; i++)
			len = put_cell(line, len, cols, i,
				       cols[i] == VIEW_COL_COMM && !width ?
				       escape_mem(cell, sizeof(cell), row->comm,
						  strnlen(row->comm, sizeof(row->comm))) :
				       view_cell(&v, m, row, cols[i], cell, sizeof(cell)));
		put_line(out, line, len);
	}
}

/* What a width too short for the whole table left out: said, so it is not missed. */
static void print_left_out(FILE *out, enum view_table table, bool heap, const enum view_col *cols,
			   int n, int width)
{
	enum view_col left[VIEW_COL_NR];
	struct view v;
	int nr = view_left_out(table, heap, cols, n, left), i;

	if (!nr)
		return;
	view_init(&v);
	fprintf(out, "not shown at %d columns:", width);
	for (i = 0; i < nr; i++)
		fprintf(out, "%s %s", i ? "," : "", view_header(&v, left[i]));
	fprintf(out, " (-o FILE or a pipe gets every column)\n");
}

/* The widest a table may be: the terminal's width, or no limit. */
static int table_width(int width)
{
	return width > 0 ? width : 1 << 16;
}

static void print_thread_table(FILE *out, const struct mw_model *m, int width)
{
	enum view_col cols[VIEW_COL_NR];
	struct view_unowned unowned[VIEW_UNOWNED_NR];
	bool heap = m->info.malloc_probed;
	int n = view_fit(VIEW_THREADS, table_width(width), heap, cols), res_col = -1, i, u;
	char line[VIEW_COL_NR * (CELL + 1)], bytes[16];
	size_t len;

	print_rows(out, m, cols, n, width);
	for (i = 0; i < n; i++) {
		if (cols[i] == VIEW_COL_RES_NOW)
			res_col = i;
	}
	/* resident memory no thread created while we watched */
	view_unowned(m, unowned);
	for (u = 0; res_col >= 0 && u < VIEW_UNOWNED_NR; u++) {
		for (len = 0, i = 0; i < n; i++)
			len = put_cell(line, len, cols, i,
				       i == 0 ? "-" : i == 1 ? unowned[u].name :
				       i == res_col ? format_bytes(bytes, sizeof(bytes),
								   unowned[u].bytes) : "");
		put_line(out, line, len);
	}
	if (model_owners_aged(m))
		fprintf(out, "RES_NOW as of %.1fs ago (smaps, read a slice per interval)\n",
			model_owners_age(m));
	print_left_out(out, VIEW_THREADS, heap, cols, n, width);
}

static void print_interval(FILE *out, const struct mw_model *m, int width)
{
	print_process_line(out, m, true);
	print_thread_table(out, m, width);
	fputc('\n', out);
}

static void print_syscall_table(FILE *out, const struct mw_model *m, int width)
{
	enum view_col cols[VIEW_COL_NR];
	int n = view_fit(VIEW_SYSCALLS, table_width(width), true, cols);

	print_rows(out, m, cols, n, width);
	print_left_out(out, VIEW_SYSCALLS, true, cols, n, width);
}

static void print_exit(FILE *out, const struct mw_model *m)
{
	int status = m->exit_status;

	if (!m->target_exited)
		fprintf(out, "still running");
	else if (!m->info.launched)
		fprintf(out, "exited");
	else if (WIFSIGNALED(status))
		fprintf(out, "killed by signal %d", WTERMSIG(status));
	else
		fprintf(out, "exited with status %d", WEXITSTATUS(status));
}

/* What became of each exec's image, the nonzero ones: they add up to the execs. */
static void print_execs(FILE *out, const struct mw_model *m)
{
	const struct mw_target_info *info = &m->info;
	const struct {
		int n;
		const char *what;
	} fates[] = {
		{ info->reattached, "malloc probes moved to its allocator (calls before that not seen)" },
		{ info->kept, "probes kept: the same allocator file" },
		{ info->unprobed_images, "no malloc to probe" },
		{ info->unseen_images, "replaced by the next exec before memwatch looked" },
	};
	const char *sep = ": ";
	size_t i;

	fprintf(out, "execs: %llu, each releasing the old image's heap",
		(unsigned long long)m->execs);
	for (i = 0; i < MW_ARRAY_SIZE(fates); i++) {
		if (!fates[i].n)
			continue;
		fprintf(out, "%s%d %s", sep, fates[i].n, fates[i].what);
		sep = "; ";
	}
	fputc('\n', out);
}

/* --trace: the summary's count of its lines. */
static void print_trace_counts(FILE *out, const struct mw_model *m)
{
	if (m->info.traced)
		fprintf(out, "trace: %llu syscalls printed, %llu lost to a full ring buffer\n",
			(unsigned long long)m->trace_records, (unsigned long long)m->trace_lost);
}

static void print_kernel_memory(FILE *out, const struct mw_model *m)
{
	if (m->kernel_bytes)
		fprintf(out, "kernel memory: %llu MiB (at most %llu MiB): memwatch's BPF maps, the "
			"live table's included\n", (unsigned long long)(m->kernel_bytes >> 20),
			(unsigned long long)(m->peak_kernel_bytes >> 20));
}

static void print_summary(FILE *out, const struct mw_model *m, int width)
{
	const struct mw_target_info *info = &m->info;
	const struct mw_thread *t = &m->total;

	fprintf(out, "=== memwatch summary: pid %d (%s), ", info->pid, COMM(info->comm));
	print_exit(out, m);
	fprintf(out, ", watched %.2fs ===\n", m->elapsed_s);
	if (info->malloc_probed)
		fprintf(out, "allocator: %s (%s), %d uprobes, %d uretprobes, %d tracepoints\n",
			ESC(info->allocator, sizeof(info->allocator)), info->allocator_origin,
			info->uprobes, info->uretprobes, info->tracepoints);
	else
		fprintf(out, "allocator: not probed (%s), %d tracepoints\n",
			ESC(info->allocator, sizeof(info->allocator)), info->tracepoints);
	print_process_line(out, m, false);
	if (info->malloc_probed)
		fprintf(out, "heap: %s allocations (%s), %s frees (%s), %s still live\n",
			N(t->alloc_calls), B(t->alloc_bytes), N(t->free_calls), B(t->free_bytes),
			B(mw_live_bytes(t)));
	fputc('\n', out);
	print_thread_table(out, m, width);
	fputc('\n', out);
	print_syscall_table(out, m, width);
	fprintf(out, "\nresident: gained %s, lost %s (%s during return calls, %s other), "
		"released at exit %s; MADV_FREE'd still resident %s\n",
		B(model_resident_gained(m)), B(model_resident_lost(m)), B(mw_returned_actual(t)),
		B(model_resident_lost_other(m)), B(model_resident_released_at_exit(m)),
		B(m->res.lazyfree));
	fprintf(out, "anon RSS tally %s from the kernel's events vs %s %s\n",
		B(model_rss_tally(m, MW_RSS_ANON)), B(model_rss_anon(m)),
		model_rss_tally_ok(m) ? "(agrees)" : "(DOES NOT AGREE: events were missed)");
	if (m->nr_folded)
		fprintf(out, "exited(N) row: %llu exited threads folded into one\n",
			(unsigned long long)m->nr_folded);
	if (m->forks)
		fprintf(out, "not followed: %llu child processes (their allocator calls still hit the "
			"uprobes they inherited, uncounted: -f counts them)\n",
			(unsigned long long)m->forks);
	if (m->processes_unwatched)
		fprintf(out, "not watched: %llu processes, the watch being full (%d at once)\n",
			(unsigned long long)m->processes_unwatched, MW_MAX_PROCESSES - 1);
	if (m->execs)
		print_execs(out, m);
	if (m->tracer.pid)
		fprintf(out, "warning: pid %d (%s) traced the target during the watch%s\n",
			m->tracer.pid, ESC(m->tracer.exe, sizeof(m->tracer.exe)), m->tracer.writes_code ?
			": a debugger's breakpoints may have met memwatch's uprobes" : "");
	print_trace_counts(out, m);
	fprintf(out, "\nlost events: %llu  untracked allocations: %llu (%s)  "
		"frees of unknown blocks (freed already, as by a thread's tcache flush at its exit, "
		"or never seen allocated): %llu\n",
		(unsigned long long)m->lost_events, (unsigned long long)t->untracked_allocs,
		B(t->untracked_bytes), (unsigned long long)t->free_unknown_calls);
	if (model_retained_includes_preexisting(m))
		fprintf(out, "frees of blocks allocated before %s: %llu (%s)\n", before_counting(m),
			(unsigned long long)t->free_preexisting_calls,
			B(t->free_preexisting_bytes));
	print_kernel_memory(out, m);
}

typedef void print_fn(FILE *out, const struct mw_model *m, int width);

/* To a terminal, the report is laid out whole, then its long lines wrapped. */
static void print_fitted(FILE *out, const struct mw_model *m, int width, print_fn *print)
{
	char *text = NULL;
	size_t len = 0;
	FILE *report;

	if (width <= 0) {
		print(out, m, 0);
		return;
	}
	report = open_memstream(&text, &len);
	if (!report) {
		print(out, m, width);
		return;
	}
	print(report, m, width);
	if (!fclose(report))
		format_wrap(out, text, len, width);
	free(text);
}

void report_text_interval(FILE *out, const struct mw_model *m, int width)
{
	print_fitted(out, m, width, print_interval);
}

void report_text_summary(FILE *out, const struct mw_model *m, int width)
{
	print_fitted(out, m, width, print_summary);
}

/* Several processes (-p): one line of their sums after their reports. */
static void print_total(FILE *out, const struct mw_model *first)
{
	__u64 rss = 0, live = 0, grown = 0, returned = 0, actual = 0, threads = 0;
	const struct mw_model *m;
	int n = 0;

	for (m = first; m; m = m->next_process) {
		/* the folded one stands for several */
		n += m->folded_processes ?: 1;
		/* levels of the processes alive: what an exited one held is gone */
		rss += m->target_exited ? 0 : m->status.rss_bytes;
		live += m->info.malloc_probed && !m->target_exited ? mw_live_bytes(&m->total) : 0;
		grown += mw_grown_bytes(&m->total);
		returned += mw_returned_bytes(&m->total);
		actual += mw_returned_actual(&m->total);
		/* every thread seen: a folded row stands for nr_folded */
		threads += m->nr_rows - (model_find(m, MW_FOLDED_TID) != NULL) + m->nr_folded;
	}
	if (n < 2)
		return;
	fprintf(out, "%8.1fs total of %d processes  rss %s  live heap %s  threads %llu  grown %s  "
		"returned %s asked / %s actual\n\n", first->elapsed_s, n, B(rss), B(live),
		(unsigned long long)threads, B(grown), B(returned), B(actual));
}

/* --cgroup before its first process: what is watched for, and memwatch's own counts. */
static void print_none(FILE *out, const struct mw_model *m)
{
	fprintf(out, "%8.1fs no process yet: waiting for one to join the cgroup  lost events %llu\n\n",
		m->elapsed_s, (unsigned long long)m->lost_events);
}

static void print_none_summary(FILE *out, const struct mw_model *m)
{
	fprintf(out, "=== memwatch summary: no process joined the cgroup, watched %.2fs ===\n"
		"%d tracepoints; no process to count\n", m->elapsed_s, m->info.tracepoints);
	print_trace_counts(out, m);
	fprintf(out, "\nlost events: %llu\n", (unsigned long long)m->lost_events);
	print_kernel_memory(out, m);
}

/* Each process's report in the order -p named them, then their total. */
static void text_interval(FILE *out, const struct mw_model *first)
{
	const struct mw_model *m;

	if (first->no_process) {
		print_none(out, first);
		return;
	}
	for (m = first; m; m = m->next_process)
		report_text_interval(out, m, format_terminal_width(out));
	print_total(out, first);
}

static void text_summary(FILE *out, const struct mw_model *first)
{
	const struct mw_model *m;

	if (first->no_process) {
		print_none_summary(out, first);
		return;
	}
	for (m = first; m; m = m->next_process) {
		report_text_summary(out, m, format_terminal_width(out));
		if (m->next_process)
			fputc('\n', out);
	}
	if (first->next_process) {
		fputc('\n', out);
		print_total(out, first);
	}
	report_sites_text(out, first);
}

const struct reporter report_text = {
	.name = "text",
	.interval = text_interval,
	.summary = text_summary,
	.syscall = trace_print_text,
};
