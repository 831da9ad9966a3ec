// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdlib.h>
#include <string.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/json.h"
#include "output/report_sites.h"
#include "stacks/sites.h"

#define B(v) format_bytes((char[16]){ 0 }, 16, (v))
#define N(v) format_count((char[16]){ 0 }, 16, (v))

/* Symbol names, modules and files are the target's: escaped, whatever their length. */
static void put_escaped(FILE *out, const char *s)
{
	escape_write(out, s, strlen(s));
}

/* "function (module) file:line", or module+0xOFFSET without a symbol, or the bare address. */
static void print_frame(FILE *out, const struct site_frame *f)
{
	const char *module = f->module ? strrchr(f->module, '/') : NULL;

	module = module ? module + 1 : f->module;
	if (!module) {
		fprintf(out, "0x%llx (in no module)", f->offset);
		return;
	}
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

static void print_site(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	/* sampled: each number an estimate */
	const char *e = sites->sample_bytes ? "~" : "";
	int i;

	fprintf(out, "  live %s%s in %s%s blocks, allocated %s%s in %s%s calls, %s%s frees", e,
		B(s->live_bytes), e, N(s->live_calls), e, B(s->alloc_bytes), e, N(s->alloc_calls),
		e, N(s->free_calls));
	if (sites->sample_bytes)
		fprintf(out, " (%s samples)", N(s->samples));
	fputc('\n', out);
	for (i = 0; i < s->nr_frames; i++) {
		fputs("      ", out);
		print_frame(out, site_frame_at(s, i, &(struct site_frame){ 0 }));
		fputc('\n', out);
	}
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
	fprintf(out, ": %zu sites from %llu stacks; %llu records lost to a full ring buffer (%llu "
		"stacks), %llu blocks without their stack\n", s->nr, (unsigned long long)s->samples,
		(unsigned long long)s->lost, (unsigned long long)s->lost_samples,
		(unsigned long long)s->unpaired);
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

/* Allocation sites grow and return nothing themselves: syscall sites (to come) do. */
static void json_site(FILE *out, const struct stack_sites *sites, const struct site *s)
{
	int i;

	fputs("{\"frames\":[", out);
	for (i = 0; i < s->nr_frames; i++) {
		if (i)
			fputc(',', out);
		json_frame(out, site_frame_at(s, i, &(struct site_frame){ 0 }));
	}
	fprintf(out, "],\"alloc_calls\":%llu,\"alloc_bytes\":%llu,\"live_calls\":%llu,"
		"\"live_bytes\":%llu,\"free_calls\":%llu,\"grown_bytes\":0,\"returned_bytes\":0,"
		"\"returned_actual_bytes\":0,\"sampled\":%s,\"samples\":%llu}",
		(unsigned long long)s->alloc_calls, (unsigned long long)s->alloc_bytes,
		(unsigned long long)s->live_calls, (unsigned long long)s->live_bytes,
		(unsigned long long)s->free_calls, sites->sample_bytes ? "true" : "false",
		(unsigned long long)s->samples);
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

void report_sites_json(FILE *out, const struct mw_model *m)
{
	const struct stack_sites *s = m->sites;
	const struct site **top;
	size_t n, i, by_live;

	if (!s)
		return;
	fprintf(out, ",\"stacks\":{\"mode\":\"%s\",\"sample_bytes\":%llu,\"sites\":%zu,"
		"\"samples\":%llu,\"lost\":%llu,\"lost_samples\":%llu,\"unpaired\":%llu,"
		"\"top\":%d}",
		s->sample_bytes ? "sampled" : "all", (unsigned long long)s->sample_bytes, s->nr,
		(unsigned long long)s->samples, (unsigned long long)s->lost,
		(unsigned long long)s->lost_samples, (unsigned long long)s->unpaired, m->sites_top);
	fputs(",\"sites\":[", out);
	top = malloc(2 * m->sites_top * sizeof(*top));
	if (top) {
		/* the top by live bytes, then those of the top by allocated bytes not listed yet */
		by_live = sites_top(s, SITES_BY_LIVE, top, m->sites_top);
		n = by_live + sites_top(s, SITES_BY_ALLOC, top + by_live, m->sites_top);
		for (i = 0; i < n; i++) {
			if (i >= by_live && listed(top, by_live, top[i]))
				continue;
			if (i)
				fputc(',', out);
			json_site(out, s, top[i]);
		}
	}
	fputc(']', out);
	free(top);
}
