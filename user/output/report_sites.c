// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdlib.h>
#include <string.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/json.h"
#include "output/report_sites.h"
#include "stacks/callers.h"
#include "stacks/sites.h"

#define B(v) format_bytes((char[16]){ 0 }, 16, (v))
#define N(v) format_count((char[16]){ 0 }, 16, (v))

/* Symbol names, modules and files are the target's: escaped, whatever their length. */
static void put_escaped(FILE *out, const char *s)
{
	escape_write(out, s, strlen(s));
}

/* "function (module) file:line", or module+0xOFFSET without a symbol ([anon]+0xADDRESS). */
static void print_frame(FILE *out, const struct site_frame *f)
{
	const char *module = frame_module_name(f);

	if (f->function) {
		put_escaped(out, f->function);
		fputs(" (", out);
		put_escaped(out, module);
		fputc(')', out);
	} else {
		put_escaped(out, module);
		fprintf(out, "+0x%llx", f->offset);
	}
	if (f->file) {
		fputc(' ', out);
		put_escaped(out, f->file);
		fprintf(out, ":%d", f->line);
	}
}

/*
 * Whether @f is Go's switch to its system stack: the frames of the
 * goroutine that switched are on another stack, which nothing unwinds to.
 */
static bool go_system_stack(const struct site_frame *f)
{
	return f->function && !strncmp(f->function, "runtime.systemstack", 19);
}

/* A site's numbers, or a caller's (summed), without the line's end. */
static void print_counts(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	/* sampled: each number an estimate */
	const char *e = sites->sample_bytes ? "~" : "";

	fputs(" ", out);
	if (s->alloc_calls) {
		fprintf(out, " live %s%s in %s%s blocks, allocated %s%s in %s%s calls, %s%s frees",
			e, B(s->live_bytes), e, N(s->live_calls), e, B(s->alloc_bytes), e,
			N(s->alloc_calls), e, N(s->free_calls));
		if (sites->sample_bytes)
			fprintf(out, " (%s samples)", N(s->samples));
	}
	/* every syscall has its stack (but those over the cap, counted apart): exact */
	if (s->syscall_calls)
		fprintf(out, " grew %s, returned %s (%s left RSS) in %s syscalls",
			B(s->grown_bytes), B(s->returned_bytes), B(s->returned_actual_bytes),
			N(s->syscall_calls));
}

/* The bytes a thread's part of a site weighs, to list the heaviest first. */
static __u64 thread_weight(const struct site_thread *t)
{
	return t->live_bytes + t->alloc_bytes + t->grown_bytes + t->returned_bytes;
}

static int by_weight(const void *a, const void *b)
{
	__u64 x = thread_weight(*(const struct site_thread *const *)a);
	__u64 y = thread_weight(*(const struct site_thread *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/* the threads a site's text names, the heaviest; JSON has them all */
#define TEXT_THREADS 4

/* A site of several threads: each one's part, the heaviest first. */
static void print_threads(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	const struct site_thread **order;
	const char *e = sites->sample_bytes ? "~" : "";
	__u32 i;

	if (s->nr_threads < 2)
		return;
	order = malloc(s->nr_threads * sizeof(*order));
	if (!order)
		return;
	for (i = 0; i < s->nr_threads; i++)
		order[i] = &s->threads[i];
	qsort(order, s->nr_threads, sizeof(*order), by_weight);
	fputs("      by thread:", out);
	for (i = 0; i < s->nr_threads && i < TEXT_THREADS; i++) {
		if (order[i]->tid)
			fprintf(out, "%s %u", i ? ";" : "", order[i]->tid);
		else
			fprintf(out, "%s other threads", i ? ";" : "");
		if (order[i]->alloc_calls)
			fprintf(out, " live %s%s, allocated %s%s", e, B(order[i]->live_bytes), e,
				B(order[i]->alloc_bytes));
		if (order[i]->syscall_calls)
			fprintf(out, " grew %s, returned %s", B(order[i]->grown_bytes),
				B(order[i]->returned_bytes));
	}
	if (s->nr_threads > TEXT_THREADS)
		fprintf(out, "; %u more", s->nr_threads - TEXT_THREADS);
	fputc('\n', out);
	free(order);
}

static void print_site(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	int i;

	print_counts(out, sites, s);
	fputc('\n', out);
	print_threads(out, sites, s);
	for (i = 0; i < s->nr_frames; i++) {
		fputs("      ", out);
		print_frame(out, site_frame_at(s, i, &(struct site_frame){ 0 }));
		fputc('\n', out);
	}
	if (s->nr_frames && go_system_stack(site_frame_at(s, s->nr_frames - 1,
							   &(struct site_frame){ 0 })))
		fputs("      (Go's system stack: the goroutine's frames before it are not unwound)\n",
		      out);
}

/* Its summed numbers, how many sites, then the caller's frame. */
static void print_caller(FILE *out, const struct stack_sites *sites, const struct site_caller *c)
{
	print_counts(out, sites, &c->sum);
	fprintf(out, "; %zu site%s\n      ", c->sites, c->sites == 1 ? "" : "s");
	print_frame(out, site_frame_at(&c->sum, c->sum.caller, &(struct site_frame){ 0 }));
	fputc('\n', out);
}

/* The sites grouped by caller: the top ones by live and allocated bytes, those that moved. */
static void print_callers(FILE *out, const struct mw_model *m)
{
	const struct site_caller **top;
	struct site_callers c;
	size_t n, i;

	if (callers_group(m->sites, &c))
		return;
	top = malloc((c.nr ?: 1) * sizeof(*top));
	if (!top) {
		callers_free(&c);
		return;
	}
	n = callers_top(&c, SITES_BY_LIVE, top, m->sites_top);
	fprintf(out, "top %zu callers by live bytes:\n", n);
	for (i = 0; i < n; i++)
		print_caller(out, m->sites, top[i]);
	n = callers_top(&c, SITES_BY_ALLOC, top, m->sites_top);
	fprintf(out, "top %zu callers by allocated bytes:\n", n);
	for (i = 0; i < n; i++)
		print_caller(out, m->sites, top[i]);
	n = callers_top(&c, SITES_BY_MOVED, top, c.nr);
	fprintf(out, "%zu callers that grew or returned at least %s:\n", n, B(SITES_MOVED_MIN));
	for (i = 0; i < n; i++)
		print_caller(out, m->sites, top[i]);
	free(top);
	callers_free(&c);
}

void report_sites_text(FILE *out, const struct mw_model *m)
{
	const struct stack_sites *s = m->sites;
	const struct site **top;
	size_t n, i;

	if (!s)
		return;
	if (s->sample_bytes)
		fprintf(out, "\ncall sites (--stacks=sampled, one allocation per ~%s asked: ~ marks "
			"estimates)", B(s->sample_bytes));
	else
		fputs("\ncall sites (--stacks=all)", out);
	fprintf(out, ": %zu sites from %llu allocator and %llu syscall stacks; %llu records lost "
		"to a full ring buffer (%llu allocator and %llu syscall stacks), %llu blocks "
		"without their stack, %llu syscalls over the rate cap (at no site: grew %s, "
		"returned %s, %s left RSS)\n", s->nr, (unsigned long long)s->samples, (unsigned long long)s->syscalls,
		(unsigned long long)s->lost, (unsigned long long)s->lost_samples,
		(unsigned long long)s->lost_syscalls, (unsigned long long)s->unpaired,
		(unsigned long long)s->capped, B(s->capped_grown), B(s->capped_returned),
		B(s->capped_returned_actual));
	top = malloc(m->sites_top * sizeof(*top));
	if (!top)
		return;
	n = sites_top(s, SITES_BY_LIVE, top, m->sites_top);
	fprintf(out, "top %zu by live bytes:\n", n);
	for (i = 0; i < n; i++)
		print_site(out, s, top[i]);
	n = sites_top(s, SITES_BY_ALLOC, top, m->sites_top);
	fprintf(out, "top %zu by allocated bytes:\n", n);
	for (i = 0; i < n; i++)
		print_site(out, s, top[i]);
	free(top);
	top = malloc((s->nr ?: 1) * sizeof(*top));
	if (!top)
		return;
	n = sites_top(s, SITES_BY_MOVED, top, s->nr);
	fprintf(out, "%zu syscall sites that grew or returned at least %s:\n", n, B(SITES_MOVED_MIN));
	for (i = 0; i < n; i++)
		print_site(out, s, top[i]);
	free(top);
	print_callers(out, m);
}

static void json_frame(FILE *out, const struct site_frame *f)
{
	fputs("{\"function\":", out);
	if (f->function)
		json_string(out, f->function);
	else
		fputs("null", out);
	fputs(",\"module\":", out);
	if (f->module)
		json_string(out, f->module);
	else
		fputs("null", out);
	fputs(",\"file\":", out);
	if (f->file)
		json_string(out, f->file);
	else
		fputs("null", out);
	if (f->file)
		fprintf(out, ",\"line\":%d", f->line);
	else
		fputs(",\"line\":null", out);
	fprintf(out, ",\"offset\":%llu}", f->offset);
}

/* A site's numbers, or a caller's (summed). */
static void json_counts(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	fprintf(out, ",\"alloc_calls\":%llu,\"alloc_bytes\":%llu,\"live_calls\":%llu,"
		"\"live_bytes\":%llu,\"free_calls\":%llu,\"syscall_calls\":%llu,"
		"\"grown_bytes\":%llu,\"returned_bytes\":%llu,\"returned_actual_bytes\":%llu,"
		"\"sampled\":%s,\"samples\":%llu",
		(unsigned long long)s->alloc_calls, (unsigned long long)s->alloc_bytes,
		(unsigned long long)s->live_calls, (unsigned long long)s->live_bytes,
		(unsigned long long)s->free_calls, (unsigned long long)s->syscall_calls,
		(unsigned long long)s->grown_bytes, (unsigned long long)s->returned_bytes,
		(unsigned long long)s->returned_actual_bytes, sites->sample_bytes ? "true" : "false",
		(unsigned long long)s->samples);
}

static void json_site(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	int i;

	fputs("{\"frames\":[", out);
	for (i = 0; i < s->nr_frames; i++) {
		if (i)
			fputc(',', out);
		json_frame(out, site_frame_at(s, i, &(struct site_frame){ 0 }));
	}
	fputc(']', out);
	json_counts(out, sites, s);
	fputs(",\"threads\":[", out);
	for (i = 0; i < (int)s->nr_threads; i++) {
		const struct site_thread *t = &s->threads[i];

		fprintf(out, "%s{\"tid\":%u,\"alloc_calls\":%llu,\"alloc_bytes\":%llu,"
			"\"live_calls\":%llu,\"live_bytes\":%llu,\"free_calls\":%llu,"
			"\"syscall_calls\":%llu,\"grown_bytes\":%llu,\"returned_bytes\":%llu,"
			"\"returned_actual_bytes\":%llu}", i ? "," : "", t->tid,
			(unsigned long long)t->alloc_calls, (unsigned long long)t->alloc_bytes,
			(unsigned long long)t->live_calls, (unsigned long long)t->live_bytes,
			(unsigned long long)t->free_calls, (unsigned long long)t->syscall_calls,
			(unsigned long long)t->grown_bytes, (unsigned long long)t->returned_bytes,
			(unsigned long long)t->returned_actual_bytes);
	}
	fputs("]}", out);
}

static bool listed(const struct site *const *top, size_t n, const struct site *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (top[i] == s)
			return true;
	}
	return false;
}

static bool caller_listed(const struct site_caller *const *top, size_t n,
			  const struct site_caller *c)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (top[i] == c)
			return true;
	}
	return false;
}

static void json_caller(FILE *out, const struct stack_sites *sites, const struct site_caller *c)
{
	fputs("{\"frame\":", out);
	json_frame(out, site_frame_at(&c->sum, c->sum.caller, &(struct site_frame){ 0 }));
	fprintf(out, ",\"sites\":%zu", c->sites);
	json_counts(out, sites, &c->sum);
	fputc('}', out);
}

/* ,"callers":[...]: listed as the sites are. */
static void json_callers(FILE *out, const struct mw_model *m)
{
	const struct site_caller **top;
	struct site_callers c;
	size_t n, i;

	fputs(",\"callers\":[", out);
	top = callers_group(m->sites, &c) ? NULL :
	      malloc((2 * m->sites_top + c.nr) * sizeof(*top));
	if (top) {
		n = callers_top(&c, SITES_BY_LIVE, top, m->sites_top);
		n += callers_top(&c, SITES_BY_ALLOC, top + n, m->sites_top);
		n += callers_top(&c, SITES_BY_MOVED, top + n, c.nr);
		for (i = 0; i < n; i++) {
			if (caller_listed(top, i, top[i]))
				continue;
			if (i)
				fputc(',', out);
			json_caller(out, m->sites, top[i]);
		}
	}
	fputc(']', out);
	free(top);
	callers_free(&c);
}

void report_sites_json(FILE *out, const struct mw_model *m)
{
	const struct stack_sites *s = m->sites;
	const struct site **top;
	size_t n, i;

	if (!s)
		return;
	fprintf(out, ",\"stacks\":{\"mode\":\"%s\",\"sample_bytes\":%llu,\"sites\":%zu,"
		"\"samples\":%llu,\"syscalls\":%llu,\"lost\":%llu,\"lost_samples\":%llu,"
		"\"lost_syscalls\":%llu,\"unpaired\":%llu,\"capped\":%llu,\"capped_grown_bytes\":%llu,"
		"\"capped_returned_bytes\":%llu,\"capped_returned_actual_bytes\":%llu,"
		"\"top\":%d}",
		s->sample_bytes ? "sampled" : "all", (unsigned long long)s->sample_bytes, s->nr,
		(unsigned long long)s->samples, (unsigned long long)s->syscalls,
		(unsigned long long)s->lost, (unsigned long long)s->lost_samples,
		(unsigned long long)s->lost_syscalls, (unsigned long long)s->unpaired,
		(unsigned long long)s->capped, (unsigned long long)s->capped_grown,
		(unsigned long long)s->capped_returned,
		(unsigned long long)s->capped_returned_actual, m->sites_top);
	fputs(",\"sites\":[", out);
	top = malloc((2 * m->sites_top + s->nr) * sizeof(*top));
	if (top) {
		/*
		 * The top by live bytes, then those of the top by allocated bytes and
		 * the syscall sites that moved enough, each not listed yet.
		 */
		n = sites_top(s, SITES_BY_LIVE, top, m->sites_top);
		n += sites_top(s, SITES_BY_ALLOC, top + n, m->sites_top);
		n += sites_top(s, SITES_BY_MOVED, top + n, s->nr);
		for (i = 0; i < n; i++) {
			if (listed(top, i, top[i]))
				continue;
			if (i)
				fputc(',', out);
			json_site(out, s, top[i]);
		}
	}
	fputc(']', out);
	free(top);
	json_callers(out, m);
}
