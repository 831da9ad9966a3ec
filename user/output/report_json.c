// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* One JSON object per line; the field names are a documented interface. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include "output/json.h"
#include "output/report.h"
#include "output/report_sites.h"
#include "output/trace_format.h"

static void json_u64(FILE *out, const char *name, __u64 value)
{
	fprintf(out, ",\"%s\":%llu", name, (unsigned long long)value);
}

/* An array of counters: an object with a field per named element. */
static void json_counter_array(FILE *out, const struct mw_counter *c, const __u64 *values)
{
	bool first = true;
	int i;

	fprintf(out, ",\"%s\":{", c->json);
	for (i = 0; i < c->nr; i++) {
		if (!c->keys[i])
			continue;
		fprintf(out, "%s\"%s\":%llu", first ? "" : ",", c->keys[i],
			(unsigned long long)values[i]);
		first = false;
	}
	fputc('}', out);
}

/* The counters a thread and the process share: the registry's, then the derived sums. */
static void json_counters(FILE *out, const struct mw_thread *t)
{
	size_t i;

	for (i = 0; i < mw_nr_counters; i++) {
		const struct mw_counter *c = &mw_counters[i];

		if (c->nr == 1)
			json_u64(out, c->name, *mw_counter_at(t, c));
		else if (c->json[0])
			json_counter_array(out, c, mw_counter_at(t, c));
	}
#define JSON_DERIVED(name, fn, doc) json_u64(out, #name, fn(t));
	MW_DERIVED(JSON_DERIVED)
#undef JSON_DERIVED
}

static size_t exited_threads(const struct mw_model *m)
{
	size_t i, exited = 0;

	for (i = 0; i < m->nr_rows; i++)
		exited += m->rows[i].exited;
	return exited;
}

static void json_threads(FILE *out, const struct mw_model *m);

/* A time in seconds since the watch began, or null where there is none. */
static void json_seconds_or_null(FILE *out, const char *name, bool known, double s)
{
	if (known)
		fprintf(out, ",\"%s\":%.3f", name, s);
	else
		fprintf(out, ",\"%s\":null", name);
}

/* A process's object, with its "threads" array when @threads. */
static void json_process_object(FILE *out, const struct mw_model *m, bool threads)
{
	const struct proc_status *st = &m->status;

	fprintf(out, "{\"pid\":%d,\"comm\":", m->info.pid);
	json_string(out, m->info.comm);
	fprintf(out, ",\"exited\":%s", m->target_exited ? "true" : "false");
	json_u64(out, "rss_bytes", st->rss_bytes);
	json_u64(out, "rss_anon_bytes", st->rss_anon_bytes);
	json_u64(out, "rss_file_bytes", st->rss_file_bytes);
	json_u64(out, "rss_shmem_bytes", st->rss_shmem_bytes);
	json_counters(out, &m->total);
	json_u64(out, "retained_bytes", m->info.malloc_probed ? model_retained_bytes(m) : 0);
	fprintf(out, ",\"retained_includes_preexisting\":%s",
		model_retained_includes_preexisting(m) ? "true" : "false");
	json_u64(out, "resident_gained_bytes", model_resident_gained(m));
	json_u64(out, "resident_lost_bytes", model_resident_lost(m));
	json_u64(out, "resident_lost_other_bytes", model_resident_lost_other(m));
	json_u64(out, "resident_released_at_exit_bytes", model_resident_released_at_exit(m));
	json_u64(out, "resident_now_bytes", model_resident_now(m));
	json_u64(out, "heap_resident_bytes", m->res.heap_now);
	json_u64(out, "unowned_resident_bytes", m->res.unowned_now);
	json_u64(out, "advised_resident_bytes", m->res.lazyfree);
	fprintf(out, ",\"resident_now_age_s\":%.3f", model_owners_age(m));
	fprintf(out, ",\"rss_tally_anon_bytes\":%lld,\"rss_tally_ok\":%s",
		(long long)model_rss_tally(m, MW_RSS_ANON), model_rss_tally_ok(m) ? "true" : "false");
	json_u64(out, "lost_events", m->lost_events);
	json_u64(out, "kernel_memory_bytes", m->kernel_bytes);
	json_u64(out, "kernel_memory_peak_bytes", m->peak_kernel_bytes);
	json_u64(out, "threads", m->nr_rows);
	json_u64(out, "exited_threads", exited_threads(m));
	json_u64(out, "folded_threads", m->nr_folded);
	json_u64(out, "folded_processes", m->folded_processes);
	json_u64(out, "forks_not_followed", m->forks);
	json_u64(out, "execs", m->execs);
	fprintf(out, ",\"parent_pid\":%d", m->info.parent_pid);
	json_seconds_or_null(out, "forked_at_s", m->info.forked, m->info.entered_at_s);
	json_seconds_or_null(out, "joined_at_s", m->info.joined, m->info.entered_at_s);
	fprintf(out, ",\"left_cgroup\":%s", m->info.left_cgroup ? "true" : "false");
	json_seconds_or_null(out, "alloc_counted_since_s",
			     m->info.malloc_probed && m->info.alloc_counted_since_s >= 0,
			     m->info.alloc_counted_since_s);
	if (threads) {
		fputc(',', out);
		json_threads(out, m);
	}
	fputc('}', out);
}

/* The first process: the one object of the records before -p took several. */
static void json_process(FILE *out, const struct mw_model *m)
{
	fprintf(out, "\"process\":");
	json_process_object(out, m, false);
}

/* Every process watched, the first included, in the order -p named them. */
static void json_processes(FILE *out, const struct mw_model *m)
{
	fprintf(out, "\"processes\":[");
	for (; m; m = m->next_process) {
		json_process_object(out, m, true);
		if (m->next_process)
			fputc(',', out);
	}
	fputc(']', out);
}

/*
 * The processes' sums, zero while there is none. Lost events and kernel
 * memory are memwatch's, the same in each process's object: counted once.
 */
static void json_total(FILE *out, const struct mw_model *first)
{
	__u64 rss = 0, anon = 0, file = 0, shmem = 0, retained = 0, gained = 0, lost = 0;
	__u64 lost_other = 0, at_exit = 0, now = 0, advised = 0, threads = 0, exited = 0;
	__u64 forks = 0, execs = 0;
	struct mw_thread sum = { 0 };
	const struct mw_model *m;
	bool folded_row;
	__u64 n = 0;

	for (m = first->no_process ? NULL : first; m; m = m->next_process) {
		/* the folded one stands for several */
		n += m->folded_processes ?: 1;
		mw_thread_add(&sum, &m->total);
		gained += model_resident_gained(m);
		lost += model_resident_lost(m);
		lost_other += model_resident_lost_other(m);
		at_exit += model_resident_released_at_exit(m);
		/* every thread seen: a folded row stands for nr_folded exited ones */
		folded_row = model_find(m, MW_FOLDED_TID) != NULL;
		threads += m->nr_rows - folded_row + m->nr_folded;
		exited += exited_threads(m) - folded_row + m->nr_folded;
		forks += m->forks;
		execs += m->execs;
		/* levels of the processes alive: what an exited one held is gone */
		if (m->target_exited)
			continue;
		rss += m->status.rss_bytes;
		anon += m->status.rss_anon_bytes;
		file += m->status.rss_file_bytes;
		shmem += m->status.rss_shmem_bytes;
		retained += m->info.malloc_probed ? model_retained_bytes(m) : 0;
		now += model_resident_now(m);
		advised += m->res.lazyfree;
	}
	fprintf(out, "\"total\":{\"processes\":%llu", (unsigned long long)n);
	json_u64(out, "rss_bytes", rss);
	json_u64(out, "rss_anon_bytes", anon);
	json_u64(out, "rss_file_bytes", file);
	json_u64(out, "rss_shmem_bytes", shmem);
	json_counters(out, &sum);
	json_u64(out, "retained_bytes", retained);
	json_u64(out, "resident_gained_bytes", gained);
	json_u64(out, "resident_lost_bytes", lost);
	json_u64(out, "resident_lost_other_bytes", lost_other);
	json_u64(out, "resident_released_at_exit_bytes", at_exit);
	json_u64(out, "resident_now_bytes", now);
	json_u64(out, "advised_resident_bytes", advised);
	json_u64(out, "lost_events", first->lost_events);
	json_u64(out, "kernel_memory_bytes", first->kernel_bytes);
	json_u64(out, "threads", threads);
	json_u64(out, "exited_threads", exited);
	json_u64(out, "forks_not_followed", forks);
	json_u64(out, "execs", execs);
	json_u64(out, "processes_not_watched", first->processes_unwatched);
	fputc('}', out);
}

static void json_threads(FILE *out, const struct mw_model *m)
{
	size_t i;

	fprintf(out, "\"threads\":[");
	for (i = 0; i < m->nr_rows; i++) {
		const struct mw_row *row = &m->rows[i];

		fprintf(out, "%s{\"tid\":%u,\"comm\":", i ? "," : "", row->tid);
		json_string(out, row->comm);
		fprintf(out, ",\"exited\":%s", row->exited ? "true" : "false");
		json_counters(out, &row->now);
		json_u64(out, "resident_gained_bytes", mw_resident_gained(&row->now));
		json_u64(out, "resident_lost_bytes", mw_resident_lost(&row->now));
		json_u64(out, "resident_lost_other_bytes", mw_resident_lost_other(&row->now));
		json_u64(out, "resident_now_bytes", row->resident_now);
		json_u64(out, "advised_resident_bytes", row->advised_resident);
		fputc('}', out);
	}
	fputc(']', out);
}

static void json_record(FILE *out, const struct mw_model *m, const char *type)
{
	fprintf(out, "{\"type\":\"%s\",\"elapsed_s\":%.3f,\"interval_s\":%.3f,", type,
		m->elapsed_s, m->interval_s);
	/* --cgroup before its first process: the same fields, of none */
	if (m->no_process) {
		fprintf(out, "\"process\":null,\"threads\":[],\"processes\":[],");
	} else {
		json_process(out, m);
		fputc(',', out);
		json_threads(out, m);
		fputc(',', out);
		json_processes(out, m);
		fputc(',', out);
	}
	json_total(out, m);
}

static void json_interval(FILE *out, const struct mw_model *m)
{
	json_record(out, m, "interval");
	fprintf(out, "}\n");
}

static void json_summary(FILE *out, const struct mw_model *m)
{
	const struct mw_target_info *info = &m->info;

	json_record(out, m, "summary");
	fprintf(out, ",\"probes\":{\"malloc\":%s,\"allocator\":", info->malloc_probed ? "true" : "false");
	json_string(out, info->allocator);
	fprintf(out, ",\"origin\":");
	json_string(out, info->allocator_origin ?: "");
	fprintf(out, ",\"tracepoints\":%d,\"uprobes\":%d,\"uretprobes\":%d,\"reattached\":%d,"
		"\"kept\":%d,\"unprobed_images\":%d,\"unseen_images\":%d}", info->tracepoints,
		info->uprobes, info->uretprobes, info->reattached, info->kept,
		info->unprobed_images, info->unseen_images);
	if (info->traced)
		fprintf(out, ",\"trace\":{\"records\":%llu,\"lost\":%llu}",
			(unsigned long long)m->trace_records, (unsigned long long)m->trace_lost);
	fprintf(out, ",\"target\":{\"launched\":%s,\"exited\":%s", info->launched ? "true" : "false",
		m->target_exited ? "true" : "false");
	if (info->launched && m->target_exited) {
		if (WIFSIGNALED(m->exit_status))
			fprintf(out, ",\"signal\":%d", WTERMSIG(m->exit_status));
		else
			fprintf(out, ",\"exit_code\":%d", WEXITSTATUS(m->exit_status));
	}
	if (m->tracer.pid) {
		fprintf(out, ",\"tracer\":{\"pid\":%d,\"exe\":", m->tracer.pid);
		json_string(out, m->tracer.exe);
		fprintf(out, ",\"writes_code\":%s}", m->tracer.writes_code ? "true" : "false");
	}
	fputc('}', out);
	report_sites_json(out, m);
	fprintf(out, "}\n");
}

const struct reporter report_json = {
	.name = "json",
	.interval = json_interval,
	.summary = json_summary,
	.syscall = trace_print_json,
};
