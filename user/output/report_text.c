// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Plain text: a process line and a thread table per interval, then a summary. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/report.h"

#define B(v) format_bytes((char[16]){ 0 }, 16, (v))
#define N(v) format_count((char[16]){ 0 }, 16, (v))
/* names and paths are the target's: never raw to a terminal */
#define COMM(s) ESC(s, MW_COMM_LEN)

static void print_process_line(FILE *out, const struct mw_model *m, bool rates)
{
	const struct proc_status *st = &m->status;
	const struct mw_thread *t = &m->total;

	fprintf(out, "%8.1fs pid %d (%s)  rss %s (anon %s, file %s)", m->elapsed_s,
		m->info.pid, COMM(m->info.comm), B(st->rss_bytes), B(st->rss_anon_bytes),
		B(st->rss_file_bytes));
	if (m->info.malloc_probed)
		fprintf(out, "  live heap %s  retained %s%s", B(mw_live_bytes(t)),
			model_retained_includes_preexisting(m) ? "<= " : "",
			B(model_retained_bytes(m)));
	/* the summary says why */
	if (model_retained_includes_preexisting(m) && !rates)
		fprintf(out, " (includes blocks allocated before the attach)");
	if (m->info.malloc_probed && rates)
		fprintf(out, "  allocs/s %.0f",
			mw_rate(t->alloc_calls, m->total_prev.alloc_calls, m->interval_s));
	fprintf(out, "  grown %s  returned %s asked / %s actual\n", B(mw_grown_bytes(t)),
		B(mw_returned_bytes(t)), B(mw_returned_actual(t)));
}

/* A counter column of the registry's (bpf/counters.h) in one of the text tables. */
struct text_column {
	const char *header;
	size_t offset;		/* in struct mw_thread */
	bool bytes;
	bool heap;		/* needs the malloc probes: "-" without them */
};

/* the thread table's counters, then the summary's bytes by call */
#define MW_COLUMN(name, unit, group, TAG, header)					\
	{ header, offsetof(struct mw_thread, name), (unit) == MW_BYTES, (group) == MW_HEAP },
static const struct text_column thread_columns[] = { MW_THREAD_TABLE_COLUMNS };
static const struct text_column call_columns[] = { MW_CALL_TABLE_COLUMNS };
#undef MW_COLUMN

/* a count's column is 9 wide, a size's 8 */
static int column_width(const struct text_column *c)
{
	return c->bytes ? 8 : 9;
}

static const char *column_cell(const struct text_column *c, const struct mw_thread *t,
			       char *buf, size_t len)
{
	__u64 value = *(const __u64 *)((const char *)t + c->offset);

	return c->bytes ? format_bytes(buf, len, value) : format_count(buf, len, value);
}

static void print_thread_table(FILE *out, const struct mw_model *m)
{
	int blank = 0;
	size_t i, j;

	fprintf(out, "%9s %-15s %-5s ", "TID", "COMM", "STATE");
	for (j = 0; j < MW_ARRAY_SIZE(thread_columns); j++) {
		fprintf(out, "%*s ", column_width(&thread_columns[j]), thread_columns[j].header);
		blank += column_width(&thread_columns[j]) + 1;
	}
	fprintf(out, "%8s %8s %8s %8s %8s\n", "LIVE", "GROWN", "RET_ASK", "RET_ACT", "RES_NOW");
	for (i = 0; i < m->nr_rows; i++) {
		const struct mw_row *row = &m->rows[i];
		const struct mw_thread *t = &row->now;
		bool heap = m->info.malloc_probed;
		char buf[16];

		fprintf(out, "%9u %-15s %-5s ", row->tid, COMM(row->comm),
			row->exited ? "exit" : "live");
		for (j = 0; j < MW_ARRAY_SIZE(thread_columns); j++) {
			const struct text_column *c = &thread_columns[j];

			fprintf(out, "%*s ", column_width(c),
				c->heap && !heap ? "-" : column_cell(c, t, buf, sizeof(buf)));
		}
		fprintf(out, "%8s %8s %8s %8s %8s\n", heap ? B(mw_live_bytes(t)) : "-",
			B(mw_grown_bytes(t)), B(mw_returned_bytes(t)), B(mw_returned_actual(t)),
			B(row->resident_now));
	}
	/* resident memory no thread created while we watched */
	fprintf(out, "%9s %-15s %-5s %*s %8s\n", "-", "[brk heap]", "", blank + 35, "",
		B(m->res.heap_now));
	fprintf(out, "%9s %-15s %-5s %*s %8s\n", "-", "[other anon]", "", blank + 35, "",
		B(m->res.unowned_now));
	if (model_owners_aged(m))
		fprintf(out, "%9s RES_NOW as of %.1fs ago (smaps, read a slice per interval)\n", "",
			model_owners_age(m));
}

static void text_interval(FILE *out, const struct mw_model *m)
{
	print_process_line(out, m, true);
	print_thread_table(out, m);
	fputc('\n', out);
}

#define ADVICE_COLUMN(TAG, name, group, column) column,
/* the advices with a column of their own; the others add up in MADV_ETC */
static const char *const advice_columns[MW_ADV_NR] = { MW_ADVICES(ADVICE_COLUMN) };

static void print_syscall_table(FILE *out, const struct mw_model *m)
{
	size_t i, j;

	fprintf(out, "%9s %-15s", "TID", "COMM");
	for (j = 0; j < MW_ARRAY_SIZE(call_columns); j++)
		fprintf(out, " %8s", call_columns[j].header);
	for (j = 0; j < MW_ADV_NR; j++) {
		if (advice_columns[j])
			fprintf(out, " %8s", advice_columns[j]);
	}
	fprintf(out, " %8s\n", "MADV_ETC");
	for (i = 0; i < m->nr_rows; i++) {
		const struct mw_row *row = &m->rows[i];
		const struct mw_thread *t = &row->now;
		__u64 other_advice = 0;
		char buf[16];

		fprintf(out, "%9u %-15s", row->tid, COMM(row->comm));
		for (j = 0; j < MW_ARRAY_SIZE(call_columns); j++)
			fprintf(out, " %8s", column_cell(&call_columns[j], t, buf, sizeof(buf)));
		for (j = 0; j < MW_ADV_NR; j++) {
			if (advice_columns[j])
				fprintf(out, " %8s", B(t->madvise_bytes[j]));
			else
				other_advice += t->madvise_bytes[j];
		}
		fprintf(out, " %8s\n", B(other_advice));
	}
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

static void text_summary(FILE *out, const struct mw_model *m)
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
	print_thread_table(out, m);
	fputc('\n', out);
	print_syscall_table(out, m);
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
		fprintf(out, "not followed: %llu child processes\n", (unsigned long long)m->forks);
	if (m->execs)
		fprintf(out, "execs: %llu, each releasing the old image's heap; its image's malloc "
			"probes moved to its allocator %d times (its calls before that not seen), kept "
			"on the same file %d, nothing to probe %d, replaced before memwatch looked %d\n",
			(unsigned long long)m->execs, info->reattached, info->kept,
			info->unprobed_images, info->unseen_images);
	if (m->tracer.pid)
		fprintf(out, "warning: pid %d (%s) traced the target during the watch%s\n",
			m->tracer.pid, ESC(m->tracer.exe, sizeof(m->tracer.exe)), m->tracer.writes_code ?
			": a debugger's breakpoints may have met memwatch's uprobes" : "");
	if (m->info.traced)
		fprintf(out, "trace: %llu syscalls printed, %llu lost to a full ring buffer\n",
			(unsigned long long)m->trace_records, (unsigned long long)m->trace_lost);
	fprintf(out, "\nlost events: %llu  untracked allocations: %llu (%s)  "
		"frees of unknown blocks (freed already, as by a thread's tcache flush at its exit, "
		"or never seen allocated): %llu\n",
		(unsigned long long)m->lost_events, (unsigned long long)t->untracked_allocs,
		B(t->untracked_bytes), (unsigned long long)t->free_unknown_calls);
	if (model_retained_includes_preexisting(m))
		fprintf(out, "frees of blocks allocated before the attach: %llu (%s)\n",
			(unsigned long long)t->free_preexisting_calls,
			B(t->free_preexisting_bytes));
	if (m->kernel_bytes)
		fprintf(out, "kernel memory: %llu MiB (at most %llu MiB): memwatch's BPF maps, the "
			"live table's included\n", (unsigned long long)(m->kernel_bytes >> 20),
			(unsigned long long)(m->peak_kernel_bytes >> 20));
}

const struct reporter report_text = {
	.interval = text_interval,
	.summary = text_summary,
};
