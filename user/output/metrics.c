// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The exposition: a family per registry counter or array, the sums derived
 * from them, and the process's own levels. A counter's sample is its
 * family's name plus _total; 0.0.4 names the family with the suffix,
 * OpenMetrics without it (and adds UNIT lines and the closing # EOF).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "output/escape.h"
#include "output/metrics.h"

/* One series' labels and the counters its samples read. */
struct series {
	char *labels;			/* pid="1",comm="x", and a thread's */
	const struct mw_thread *t;
};

struct render {
	FILE *out;
	enum metrics_format format;
};

/* what the sample names are built in: a prefix, a registry name, a unit suffix */
#define NAME_MAX_LEN 128

void metrics_write_label_value(FILE *out, const char *s, size_t len)
{
	while (len) {
		unsigned int cp;
		int n = utf8_decode(s, len, &cp);

		if (n < 0) {
			fputs("\xEF\xBF\xBD", out);	/* U+FFFD for the bytes of no character */
			n = -n;
		} else if (cp == '\\') {
			fputs("\\\\", out);
		} else if (cp == '"') {
			fputs("\\\"", out);
		} else if (cp == '\n') {
			fputs("\\n", out);
		} else {
			fwrite(s, 1, n, out);
		}
		s += n;
		len -= n;
	}
}

/* How closely a media range matches a type, the least first. */
enum match {
	MATCH_NONE,
	MATCH_ANY,		/* the full wildcard */
	MATCH_TYPE,		/* TYPE with the subtype wildcard */
	MATCH_EXACT,
};

/* The q of the most specific range that matched a type so far, in thousandths. */
struct accepted {
	enum match match;
	int q;
};

/* [*s, *e) without the spaces and tabs around it */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static bool token_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) == n && !strncasecmp(s, word, n);
}

/* How the media type [s, e) matches @type/@subtype. */
static enum match range_match(const char *s, const char *e, const char *type, const char *subtype)
{
	const char *slash = memchr(s, '/', e - s);

	if (!slash)
		return MATCH_NONE;
	if (token_is(s, slash, "*") && token_is(slash + 1, e, "*"))
		return MATCH_ANY;
	if (!token_is(s, slash, type))
		return MATCH_NONE;
	if (token_is(slash + 1, e, "*"))
		return MATCH_TYPE;
	return token_is(slash + 1, e, subtype) ? MATCH_EXACT : MATCH_NONE;
}

/* A qvalue (RFC 9110: 0 to 1, three decimals at most) in thousandths, -1 if it is none. */
static int parse_q(const char *s, const char *e)
{
	static const int scale[] = { 100, 10, 1 };
	int q, digits = 0;

	if (s == e || (*s != '0' && *s != '1'))
		return -1;
	q = (*s++ - '0') * 1000;
	if (s < e && *s == '.') {
		for (s++; s < e && digits < 3 && *s >= '0' && *s <= '9'; s++)
			q += (*s - '0') * scale[digits++];
	}
	return s == e && q <= 1000 ? q : -1;
}

/* A more specific match decides; among equally specific ones, the highest q. */
static void consider(struct accepted *a, enum match m, int q)
{
	if (m > a->match || (m && m == a->match && q > a->q)) {
		a->match = m;
		a->q = q;
	}
}

/* The media range [s, e): TYPE/SUBTYPE, then ;NAME=VALUE parameters, spaces allowed around both. */
static void accept_range(const char *s, const char *e, struct accepted *om, struct accepted *text)
{
	const char *type = s, *type_end = memchr(s, ';', e - s) ?: e, *param = type_end;
	const char *version = NULL, *version_end = NULL;
	enum match m;
	int q = 1000;

	trim(&type, &type_end);
	while (param < e) {
		const char *name = param + 1, *next = memchr(name, ';', e - name) ?: e;
		const char *eq = memchr(name, '=', next - name), *name_end = eq, *value = eq + 1;
		const char *value_end = next;

		param = next;
		if (!eq)
			continue;
		trim(&name, &name_end);
		trim(&value, &value_end);
		if (token_is(name, name_end, "q")) {
			q = parse_q(value, value_end);
			/* RFC 9110 has no meaning for it: the range is not counted */
			if (q < 0)
				return;
		} else if (token_is(name, name_end, "version")) {
			version = value;
			version_end = value_end;
		}
	}
	m = range_match(type, type_end, "application", "openmetrics-text");
	/* another version of OpenMetrics (0.0.1) is not what memwatch writes */
	if (m == MATCH_EXACT && version && !token_is(version, version_end, "1.0.0"))
		m = MATCH_NONE;
	consider(om, m, q);
	consider(text, range_match(type, type_end, "text", "plain"), q);
}

enum metrics_format metrics_format_of(const char *accept)
{
	struct accepted om = { 0 }, text = { 0 };
	const char *range = accept;

	while (range && *range) {
		const char *end = strchrnul(range, ',');

		accept_range(range, end, &om, &text);
		range = *end ? end + 1 : NULL;
	}
	/* a q of 0 refuses; text/plain not asked for at all counts as 0 */
	return om.match && om.q > text.q ? METRICS_OPENMETRICS : METRICS_PROMETHEUS;
}

/* HELP text: 0.0.4 escapes backslash and newline, OpenMetrics a double quote too. */
static void write_help(const struct render *r, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", r->out);
		else if (*s == '\n')
			fputs("\\n", r->out);
		else if (*s == '"' && r->format == METRICS_OPENMETRICS)
			fputs("\\\"", r->out);
		else
			fputc(*s, r->out);
	}
}

/* @name: the family's name without _total, as OpenMetrics has it */
static void family_header(const struct render *r, const char *name, bool counter, bool bytes,
			  const char *help)
{
	bool om = r->format == METRICS_OPENMETRICS;
	const char *suffix = counter && !om ? "_total" : "";

	fprintf(r->out, "# HELP %s%s ", name, suffix);
	write_help(r, help);
	fprintf(r->out, "\n# TYPE %s%s %s\n", name, suffix, counter ? "counter" : "gauge");
	if (om && bytes)
		fprintf(r->out, "# UNIT %s bytes\n", name);
}

/* One sample; @key="@value" after the series' labels when @key is set. */
static void sample(const struct render *r, const char *name, bool counter, const char *labels,
		   const char *key, const char *value, __u64 v)
{
	fprintf(r->out, "%s%s{%s", name, counter ? "_total" : "", labels);
	if (key) {
		fprintf(r->out, ",%s=\"", key);
		metrics_write_label_value(r->out, value, strlen(value));
		fputc('"', r->out);
	}
	fprintf(r->out, "} %llu\n", (unsigned long long)v);
}

/* memwatch_[thread_]NAME, with _bytes unless NAME says it already */
static void family_name(char *buf, const char *prefix, const char *name, bool bytes)
{
	size_t len = strlen(name);
	bool has_unit = len >= 6 && !strcmp(name + len - 6, "_bytes");

	snprintf(buf, NAME_MAX_LEN, "%s%s%s", prefix, name, bytes && !has_unit ? "_bytes" : "");
}

/* An array's label: which advice, or which syscall. */
static const char *array_label(const struct mw_counter *c)
{
	return c->keys == mw_advice_keys ? "advice" : "call";
}

/* A family per registry counter, and per array JSON shows (with a label per key). */
static void registry_families(const struct render *r, const char *prefix, const struct series *s,
			      size_t n)
{
	char name[NAME_MAX_LEN];
	size_t i, j;
	int k;

	for (i = 0; i < mw_nr_counters; i++) {
		const struct mw_counter *c = &mw_counters[i];

		if (c->nr > 1 && !c->json[0])
			continue;
		family_name(name, prefix, c->name, c->unit == MW_BYTES);
		family_header(r, name, true, c->unit == MW_BYTES, c->doc);
		for (j = 0; j < n; j++) {
			const __u64 *v = mw_counter_at(s[j].t, c);

			if (c->nr == 1) {
				sample(r, name, true, s[j].labels, NULL, NULL, *v);
				continue;
			}
			for (k = 0; k < c->nr; k++) {
				if (c->keys[k])
					sample(r, name, true, s[j].labels, array_label(c), c->keys[k],
					       v[k]);
			}
		}
	}
}

#define COUNT_DERIVED(...) +1
_Static_assert(0 MW_DERIVED(COUNT_DERIVED) == 4, "a family for every derived sum below");

/* The sums every view shows: live heap, grown, returned as asked and actually. */
static void derived_families(const struct render *r, const char *prefix, const struct series *s,
			     size_t n)
{
	char name[NAME_MAX_LEN];
	size_t j;

	family_name(name, prefix, "live_heap_bytes", true);
	family_header(r, name, false, true,
		      "blocks still allocated: alloc_bytes - untracked_bytes - released_bytes");
	for (j = 0; j < n; j++)
		sample(r, name, false, s[j].labels, NULL, NULL, mw_live_bytes(s[j].t));
	family_name(name, prefix, "grown_bytes", true);
	family_header(r, name, true, true, "taken from the OS: the sum of the GROWN counters");
	for (j = 0; j < n; j++)
		sample(r, name, true, s[j].labels, NULL, NULL, mw_grown_bytes(s[j].t));
	family_name(name, prefix, "returned_bytes", true);
	family_header(r, name, true, true,
		      "returned to the OS: as asked (the sum of the RETURNED counters), and "
		      "actually (resident bytes that left RSS during those calls)");
	for (j = 0; j < n; j++) {
		sample(r, name, true, s[j].labels, "how", "asked", mw_returned_bytes(s[j].t));
		sample(r, name, true, s[j].labels, "how", "actual", mw_returned_actual(s[j].t));
	}
}

/* @m's live and exited threads, the folded ones among the exited. */
static void count_threads(const struct mw_model *m, __u64 *live, __u64 *exited)
{
	size_t i;

	*live = 0;
	*exited = m->nr_folded;
	for (i = 0; i < m->nr_rows; i++) {
		if (m->rows[i].tid == MW_FOLDED_TID)
			continue;
		if (m->rows[i].exited)
			(*exited)++;
		else
			(*live)++;
	}
}

/*
 * The processes' levels, from @first on, each with its labels in @s (in the
 * same order), and memwatch's own counts: no thread has these. Lost events
 * and kernel memory are memwatch's, not a process's: one series, with the
 * first process's labels, so that sum() counts them once.
 */
static void process_families(const struct render *r, const struct mw_model *first,
			     const struct series *s)
{
	const struct mw_model *m;
	__u64 live, exited;
	bool probed = false;
	size_t j;

	family_header(r, "memwatch_rss_bytes", false, true,
		      "the process's resident memory by kind, from /proc/PID/status");
	for (m = first, j = 0; m; m = m->next_process, j++) {
		sample(r, "memwatch_rss_bytes", false, s[j].labels, "type", "anon",
		       m->status.rss_anon_bytes);
		sample(r, "memwatch_rss_bytes", false, s[j].labels, "type", "file",
		       m->status.rss_file_bytes);
		sample(r, "memwatch_rss_bytes", false, s[j].labels, "type", "shmem",
		       m->status.rss_shmem_bytes);
		probed |= m->info.malloc_probed;
	}
	if (probed) {
		family_header(r, "memwatch_retained_bytes", false, true,
			      "anonymous RSS the allocator holds beyond the live heap");
		for (m = first, j = 0; m; m = m->next_process, j++) {
			if (m->info.malloc_probed)
				sample(r, "memwatch_retained_bytes", false, s[j].labels, NULL, NULL,
				       model_retained_bytes(m));
		}
	}
	family_header(r, "memwatch_lost_events", true, false,
		      "events the kernel side could not record");
	sample(r, "memwatch_lost_events", true, s[0].labels, NULL, NULL, first->lost_events);
	family_header(r, "memwatch_threads", false, false,
		      "the process's threads seen while watched, live or exited");
	for (m = first, j = 0; m; m = m->next_process, j++) {
		count_threads(m, &live, &exited);
		sample(r, "memwatch_threads", false, s[j].labels, "state", "live", live);
		sample(r, "memwatch_threads", false, s[j].labels, "state", "exited", exited);
	}
	family_header(r, "memwatch_folded_threads", true, false,
		      "exited threads whose counters were folded into one per-thread series");
	for (m = first, j = 0; m; m = m->next_process, j++)
		sample(r, "memwatch_folded_threads", true, s[j].labels, NULL, NULL, m->nr_folded);
	family_header(r, "memwatch_kernel_memory_bytes", false, true,
		      "the kernel memory memwatch's BPF maps hold");
	sample(r, "memwatch_kernel_memory_bytes", false, s[0].labels, NULL, NULL,
	       first->kernel_bytes);
}

/* A malloc'd label string: the process's, then @row's if given. */
static char *labels_of(const struct mw_model *m, const struct mw_row *row)
{
	const struct mw_target_info *info = &m->info;
	char *text = NULL;
	size_t size;
	FILE *f;

	f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	fprintf(f, "pid=\"%d\",comm=\"", info->pid);
	metrics_write_label_value(f, info->comm, strnlen(info->comm, sizeof(info->comm)));
	fputc('"', f);
	if (row && row->tid == MW_FOLDED_TID) {
		fprintf(f, ",tid=\"" METRICS_FOLDED_TID "\"");
	} else if (row) {
		/*
		 * The start time tells a TID's next thread from the one that had
		 * it. The thread's name is no label here: the target renames its
		 * threads at will, and each name would start new series
		 * (memwatch_thread_info carries it).
		 */
		fprintf(f, ",tid=\"%u\",start=\"%llu\"", row->tid,
			(unsigned long long)row->now.start_ns);
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * Whether @row has its series: a thread the kernel side has no record of yet
 * (with -p, one seen only in /proc) has start 0 and no counts. /proc's start
 * time (stat field 22) is no substitute: it is the boot-time clock in clock
 * ticks, the record's is task->start_time in nanoseconds of the monotonic
 * clock, so the label would change once the record came, a new series for
 * the same thread. Such a thread's series begin with its first counted call.
 */
static bool has_series(const struct mw_row *row)
{
	return row->tid == MW_FOLDED_TID || row->now.start_ns;
}

/* A thread's name, in the one series whose identity it does not make. */
static void thread_info_family(const struct render *r, const struct series *s, size_t n,
			       const struct mw_row **rows)
{
	size_t j;

	/* OpenMetrics has a type for it; 0.0.4 has the convention of a gauge named _info */
	if (r->format == METRICS_OPENMETRICS)
		fputs("# HELP memwatch_thread the thread's name (thread_comm), which it may change\n"
		      "# TYPE memwatch_thread info\n", r->out);
	else
		fputs("# HELP memwatch_thread_info the thread's name (thread_comm), which it may "
		      "change\n# TYPE memwatch_thread_info gauge\n", r->out);
	for (j = 0; j < n; j++) {
		if (rows[j]->tid == MW_FOLDED_TID)
			continue;
		fprintf(r->out, "memwatch_thread_info{%s,thread_comm=\"", s[j].labels);
		metrics_write_label_value(r->out, rows[j]->comm,
					  strnlen(rows[j]->comm, sizeof(rows[j]->comm)));
		fputs("\"} 1\n", r->out);
	}
}

/*
 * The per-thread families, a series per row of every process from @first
 * on: the folded row's keeps its counters.
 */
static int thread_families(const struct render *r, const struct mw_model *first)
{
	const struct mw_row **rows = NULL;
	const struct mw_model *m;
	size_t i, n = 0, nr = 0;
	struct series *s;
	int err = 0;

	for (m = first; m; m = m->next_process)
		nr += m->nr_rows;
	if (!nr)
		return 0;
	s = calloc(nr, sizeof(*s));
	rows = calloc(nr, sizeof(*rows));
	if (!s || !rows) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (m = first; m; m = m->next_process) {
		for (i = 0; i < m->nr_rows; i++) {
			if (!has_series(&m->rows[i]))
				continue;
			rows[n] = &m->rows[i];
			s[n].t = &m->rows[i].now;
			s[n].labels = labels_of(m, &m->rows[i]);
			if (!s[n].labels) {
				err = -ENOMEM;
				goto cleanup;
			}
			n++;
		}
	}
	thread_info_family(r, s, n, rows);
	registry_families(r, "memwatch_thread_", s, n);
	derived_families(r, "memwatch_thread_", s, n);
cleanup:
	for (i = 0; i < n; i++)
		free(s[i].labels);
	free(rows);
	free(s);
	return err;
}

int metrics_write(FILE *out, const struct mw_model *first, enum metrics_format format,
		  bool threads)
{
	struct render r = { .out = out, .format = format };
	const struct mw_model *m;
	struct series *procs;
	size_t j, n = 0;
	int err = 0;

	for (m = first; m; m = m->next_process)
		n++;
	procs = calloc(n, sizeof(*procs));
	if (!procs)
		return -ENOMEM;
	/* a series per process, labelled with its pid and comm */
	for (m = first, j = 0; m; m = m->next_process, j++) {
		procs[j].t = &m->total;
		procs[j].labels = labels_of(m, NULL);
		if (!procs[j].labels) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	registry_families(&r, "memwatch_", procs, n);
	derived_families(&r, "memwatch_", procs, n);
	process_families(&r, first, procs);
	if (threads)
		err = thread_families(&r, first);
	if (!err && format == METRICS_OPENMETRICS)
		fputs("# EOF\n", out);
	if (!err && ferror(out))
		err = -EIO;
cleanup:
	for (j = 0; j < n; j++)
		free(procs[j].labels);
	free(procs);
	return err;
}
