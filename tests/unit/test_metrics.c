// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The Prometheus and OpenMetrics expositions of a model built here: names,
 * HELP and TYPE, escaping of hostile names, OpenMetrics' counter names and
 * # EOF, no counter going down when exited threads fold or a TID is reused,
 * and the format each Accept header gets.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#include "output/escape.h"
#include "output/metrics.h"
#include "tap.h"

/* a PID that does not exist: no /proc name can be read for it */
#define NO_PID 4194000
#define HOSTILE_COMM "q\"b\\s\nn\xff\xc3("
#define HOSTILE_ESCAPED "q\\\"b\\\\s\\nn\xEF\xBF\xBD\xEF\xBF\xBD("

static struct mw_thread thread(const char *comm, __u64 start, __u64 n, bool exited)
{
	struct mw_thread t = { 0 };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	t.start_ns = start;
	t.exited = exited;
	t.alloc_calls = n;
	t.alloc_bytes = 64 * n;
	t.free_calls = n / 2;
	t.free_bytes = 32 * n;
	t.syscalls[MW_SYS_MMAP] = 2;
	t.mmap_anon_bytes = 8192 * n;
	t.munmap_bytes = 4096;
	t.rss_returned[MW_SYS_MUNMAP] = 4096;
	t.madvise_bytes[MW_ADV_FREE] = 4096 * n;
	return t;
}

static char *render(const struct mw_model *m, enum metrics_format f, bool threads)
{
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);
	int err;

	if (!out)
		return NULL;
	err = metrics_write(out, m, f, threads);
	fclose(out);
	if (err) {
		free(text);
		return NULL;
	}
	return text;
}

/* The value of the sample "@series VALUE", or -1 when there is none. */
static long long value_of(const char *text, const char *series)
{
	size_t len = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, series, len) && p[len] == ' ')
			return strtoll(p + len + 1, NULL, 10);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

static int count_of(const char *text, const char *s)
{
	int n = 0;

	for (; (text = strstr(text, s)); text++)
		n++;
	return n;
}

static bool has_line(const char *text, const char *line)
{
	char *want;
	bool found;

	if (asprintf(&want, "\n%s\n", line) < 0)
		return false;
	found = strstr(text, want) || !strncmp(text, want + 1, strlen(want + 1));
	free(want);
	return found;
}

/* Whether every byte of @text is part of valid UTF-8. */
static bool valid_utf8(const char *text)
{
	size_t len = strlen(text);
	unsigned int cp;

	while (len) {
		int n = utf8_decode(text, len, &cp);

		if (n < 0)
			return false;
		text += n;
		len -= n;
	}
	return true;
}

/*
 * Every sample follows a HELP then a TYPE line of its family, each family
 * appears once and in one piece: the family of a counter's sample NAME_total
 * is NAME_total in 0.0.4, NAME in OpenMetrics.
 */
static bool families_well_formed(const char *text, enum metrics_format f, char *why, size_t len)
{
	char family[256] = "", type[16] = "", seen[64][128];
	char *copy = strdup(text), *line, *save = NULL;
	size_t nr_seen = 0, i;
	bool ok = true, help = false;

	for (line = strtok_r(copy, "\n", &save); ok && line; line = strtok_r(NULL, "\n", &save)) {
		char name[256];

		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%255s", family);
			help = true;
			for (i = 0; i < nr_seen; i++)
				ok &= strcmp(seen[i], family) != 0;
			if (!ok)
				snprintf(why, len, "family %s twice", family);
			if (nr_seen < 64)
				snprintf(seen[nr_seen++], sizeof(seen[0]), "%s", family);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			ok = help && sscanf(line + 7, "%255s %15s", name, type) == 2 &&
			     !strcmp(name, family);
			if (!ok)
				snprintf(why, len, "TYPE without its HELP: %s", line);
			continue;
		}
		if (line[0] == '#')
			continue;
		sscanf(line, "%255[^{ ]", name);
		if (f == METRICS_OPENMETRICS && !strcmp(type, "counter"))
			ok = strlen(name) == strlen(family) + 6 && !strncmp(name, family, strlen(family)) &&
			     !strcmp(name + strlen(family), "_total");
		else if (f == METRICS_OPENMETRICS && !strcmp(type, "info"))
			ok = strlen(name) == strlen(family) + 5 && !strncmp(name, family, strlen(family)) &&
			     !strcmp(name + strlen(family), "_info");
		else
			ok = !strcmp(name, family);
		if (!ok)
			snprintf(why, len, "sample %s in family %s", name, family);
	}
	free(copy);
	return ok;
}

static void model_small(struct mw_model *m)
{
	struct mw_thread t;

	model_init(m);
	m->info.pid = NO_PID;
	m->info.malloc_probed = true;
	memcpy(m->info.comm, HOSTILE_COMM, sizeof(HOSTILE_COMM));
	m->status.rss_anon_bytes = 1 << 20;
	m->status.rss_file_bytes = 2 << 20;
	m->status.rss_shmem_bytes = 4096;
	m->lost_events = 3;
	model_begin_update(m, 1.0);
	t = thread("main", 100, 10, false);
	model_set_thread(m, 100, &t);
	t = thread("w\"k", 200, 5, false);
	t.untracked_allocs = 2;
	model_set_thread(m, 101, &t);
	/* with -p, a thread seen in /proc before the kernel side has its record */
	memset(&t, 0, sizeof(t));
	snprintf(t.comm, sizeof(t.comm), "idle");
	model_set_thread(m, 102, &t);
	model_end_update(m, false);
}

static void test_label_value(void)
{
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);

	metrics_write_label_value(out, HOSTILE_COMM, strlen(HOSTILE_COMM));
	metrics_write_label_value(out, "\xc3\xa9", 2);
	fclose(out);
	ASSERT_STREQ(text, HOSTILE_ESCAPED "\xc3\xa9",
		     "label value: \\ \" and newline escaped, invalid UTF-8 replaced, é kept");
	free(text);
}

static void test_prometheus(void)
{
	struct mw_model m;
	char why[256] = "";
	char *text;

	model_small(&m);
	text = render(&m, METRICS_PROMETHEUS, false);
	if (!ASSERT_TRUE(text, "0.0.4: rendered"))
		return;
	ASSERT_TRUE(families_well_formed(text, METRICS_PROMETHEUS, why, sizeof(why)) ||
		    !printf("# %s\n", why), "0.0.4: each family once, HELP then TYPE, its samples");
	ASSERT_TRUE(valid_utf8(text), "0.0.4: valid UTF-8 throughout");
	ASSERT_TRUE(has_line(text, "# TYPE memwatch_alloc_calls_total counter"),
		    "0.0.4: counter family named with _total");
	ASSERT_TRUE(strstr(text, "# HELP memwatch_alloc_calls_total allocator calls"),
		    "0.0.4: HELP from the registry's doc");
	ASSERT_TRUE(has_line(text, "# TYPE memwatch_live_heap_bytes gauge"), "0.0.4: gauge");
	ASSERT_TRUE(!strstr(text, "# EOF") && !strstr(text, "# UNIT"), "0.0.4: no # EOF, no UNIT");
#define LABELS "{pid=\"4194000\",comm=\"" HOSTILE_ESCAPED "\""
	ASSERT_EQ(value_of(text, "memwatch_alloc_calls_total" LABELS "}"), 15,
		  "alloc_calls_total: the threads' sum, comm escaped");
	ASSERT_EQ(value_of(text, "memwatch_alloc_bytes_total" LABELS "}"), 64 * 15, "alloc_bytes_total");
	ASSERT_EQ(value_of(text, "memwatch_free_calls_total" LABELS "}"), 5 + 2, "free_calls_total");
	ASSERT_EQ(value_of(text, "memwatch_untracked_allocs_total" LABELS "}"), 2,
		  "untracked_allocs_total");
	ASSERT_EQ(value_of(text, "memwatch_live_heap_bytes" LABELS "}"), 64 * 15,
		  "live_heap_bytes: what was allocated, none of it released");
	ASSERT_EQ(value_of(text, "memwatch_grown_bytes_total" LABELS "}"), 8192 * 15,
		  "grown_bytes_total");
	ASSERT_EQ(value_of(text, "memwatch_returned_bytes_total" LABELS ",how=\"asked\"}"),
		  2 * 4096 + 4096 * 15, "returned_bytes_total{how=asked}");
	ASSERT_EQ(value_of(text, "memwatch_returned_bytes_total" LABELS ",how=\"actual\"}"), 2 * 4096,
		  "returned_bytes_total{how=actual}");
	ASSERT_EQ(value_of(text, "memwatch_syscalls_total" LABELS ",call=\"mmap\"}"), 4,
		  "syscalls_total{call=mmap}");
	ASSERT_EQ(value_of(text, "memwatch_syscalls_total" LABELS ",call=\"process_madvise\"}"), 0,
		  "syscalls_total{call=process_madvise}");
	ASSERT_EQ(value_of(text, "memwatch_madvise_bytes_total" LABELS ",advice=\"free\"}"),
		  4096 * 15, "madvise_bytes_total{advice=free}");
	ASSERT_EQ(value_of(text, "memwatch_rss_returned_bytes_total" LABELS ",call=\"munmap\"}"),
		  2 * 4096, "rss_returned_bytes_total{call=munmap}");
	ASSERT_EQ(value_of(text, "memwatch_rss_bytes" LABELS ",type=\"anon\"}"), 1 << 20,
		  "rss_bytes{type=anon}");
	ASSERT_EQ(value_of(text, "memwatch_rss_bytes" LABELS ",type=\"shmem\"}"), 4096,
		  "rss_bytes{type=shmem}");
	ASSERT_TRUE(value_of(text, "memwatch_retained_bytes" LABELS "}") >= 0, "retained_bytes");
	ASSERT_EQ(value_of(text, "memwatch_lost_events_total" LABELS "}"), 3, "lost_events_total");
	ASSERT_EQ(value_of(text, "memwatch_threads" LABELS ",state=\"live\"}"), 3,
		  "threads{live}: the one without a kernel record too");
	ASSERT_TRUE(!strstr(text, "rss_gained") && !strstr(text, "tid="),
		    "no hidden arrays, no per-thread series without --metrics-threads");
	free(text);
	text = render(&m, METRICS_PROMETHEUS, true);
	if (!ASSERT_TRUE(text, "0.0.4 threads: rendered"))
		goto cleanup;
	ASSERT_TRUE(families_well_formed(text, METRICS_PROMETHEUS, why, sizeof(why)) ||
		    !printf("# %s\n", why), "0.0.4 threads: families well formed");
	ASSERT_EQ(value_of(text, "memwatch_thread_alloc_calls_total" LABELS
			   ",tid=\"101\",start=\"200\"}"), 5,
		  "thread series: tid and start, no thread_comm");
	ASSERT_TRUE(has_line(text, "# TYPE memwatch_thread_info gauge"),
		    "thread info: a gauge named _info in 0.0.4");
	ASSERT_EQ(value_of(text, "memwatch_thread_info" LABELS
			   ",tid=\"101\",start=\"200\",thread_comm=\"w\\\"k\"}"), 1,
		  "thread info: the escaped thread_comm, in no other series");
	ASSERT_EQ(count_of(text, "thread_comm="), count_of(text, "\nmemwatch_thread_info{"),
		  "thread info: thread_comm in the info series only");
	ASSERT_TRUE(!strstr(text, "tid=\"102\""),
		    "a thread without a kernel record (start 0) has no series yet");
	ASSERT_EQ(value_of(text, "memwatch_alloc_calls_total" LABELS "}"), 15,
		  "thread series: the process family keeps its own name and sum");
cleanup:
	free(text);
	model_free(&m);
}

static void test_openmetrics(void)
{
	struct mw_model m;
	char why[256] = "";
	char *text;
	size_t len;

	model_small(&m);
	text = render(&m, METRICS_OPENMETRICS, true);
	if (!ASSERT_TRUE(text, "OpenMetrics: rendered"))
		goto cleanup;
	len = strlen(text);
	ASSERT_TRUE(len > 6 && !strcmp(text + len - 6, "# EOF\n"), "OpenMetrics: ends with # EOF");
	ASSERT_TRUE(families_well_formed(text, METRICS_OPENMETRICS, why, sizeof(why)) ||
		    !printf("# %s\n", why), "OpenMetrics: counter families without _total, samples with");
	ASSERT_TRUE(has_line(text, "# TYPE memwatch_alloc_calls counter") &&
			    !strstr(text, "# TYPE memwatch_alloc_calls_total"),
		    "OpenMetrics: TYPE names the counter family without _total");
	ASSERT_TRUE(has_line(text, "# UNIT memwatch_alloc_bytes bytes") &&
			    has_line(text, "# UNIT memwatch_live_heap_bytes bytes"),
		    "OpenMetrics: UNIT bytes, a suffix of its family's name");
	ASSERT_EQ(value_of(text, "memwatch_alloc_calls_total" LABELS "}"), 15,
		  "OpenMetrics: samples named as in 0.0.4");
	ASSERT_TRUE(has_line(text, "# TYPE memwatch_thread info") &&
			    value_of(text, "memwatch_thread_info" LABELS
				     ",tid=\"100\",start=\"100\",thread_comm=\"main\"}") == 1,
		    "OpenMetrics: the thread's name in an info family");
	ASSERT_TRUE(valid_utf8(text), "OpenMetrics: valid UTF-8 throughout");
cleanup:
	free(text);
	model_free(&m);
}

/* The counter samples (names with _total) of @text, as "series value" lines. */
struct sample_set {
	char **series;
	long long *value;
	size_t n;
};

static void samples_read(const char *text, struct sample_set *s)
{
	char *copy = strdup(text), *line, *save = NULL;

	memset(s, 0, sizeof(*s));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *space = strrchr(line, ' ');

		if (line[0] == '#' || !space || !strstr(line, "_total{"))
			continue;
		s->series = realloc(s->series, (s->n + 1) * sizeof(*s->series));
		s->value = realloc(s->value, (s->n + 1) * sizeof(*s->value));
		s->series[s->n] = strndup(line, space - line);
		s->value[s->n++] = strtoll(space + 1, NULL, 10);
	}
	free(copy);
}

static void samples_free(struct sample_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->series[i]);
	free(s->series);
	free(s->value);
}

/* How many series of @before have a smaller value in @after; their first in @why. */
static size_t went_down(const struct sample_set *before, const struct sample_set *after,
			char *why, size_t len)
{
	size_t i, j, n = 0;

	for (i = 0; i < before->n; i++) {
		for (j = 0; j < after->n; j++) {
			if (strcmp(before->series[i], after->series[j]))
				continue;
			if (after->value[j] < before->value[i] && !n++)
				snprintf(why, len, "%s: %lld then %lld", before->series[i],
					 before->value[i], after->value[j]);
			break;
		}
	}
	return n;
}

/* The sum over the per-thread series of memwatch_thread_alloc_calls_total. */
static long long thread_sum(const struct sample_set *s)
{
	long long sum = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (!strncmp(s->series[i], "memwatch_thread_alloc_calls_total{", 34))
			sum += s->value[i];
	}
	return sum;
}

#define NR_EXITED (MW_MAX_EXITED_ROWS + 8)

static void test_fold(void)
{
	struct sample_set before, folded, reused;
	char *text[3] = { NULL, NULL, NULL };
	__u32 tids[NR_EXITED + 2];
	struct mw_thread t;
	struct mw_model m;
	char why[512] = "";
	size_t n, i;
	__u32 tid;

	model_init(&m);
	m.info.pid = NO_PID;
	snprintf(m.info.comm, sizeof(m.info.comm), "pool");
	model_begin_update(&m, 1.0);
	t = thread("main", 1, 1000, false);
	model_set_thread(&m, 10, &t);
	for (tid = 100; tid < 100 + NR_EXITED; tid++) {
		t = thread("worker", 1000 + tid, tid, true);
		model_set_thread(&m, tid, &t);
	}
	model_end_update(&m, false);
	text[0] = render(&m, METRICS_PROMETHEUS, true);
	n = model_fold_exited(&m, tids);
	ASSERT_EQ(n, NR_EXITED - MW_MAX_EXITED_ROWS, "fold: the exited rows beyond the kept ones");
	text[1] = render(&m, METRICS_PROMETHEUS, true);

	/* the next interval: a folded TID is a new thread's, with fewer calls than its last */
	model_begin_update(&m, 2.0);
	t = thread("main", 1, 1000, false);
	model_set_thread(&m, 10, &t);
	for (i = 0; i < m.nr_rows; i++) {
		if (m.rows[i].tid >= 100)
			model_set_thread(&m, m.rows[i].tid, &m.rows[i].now);
	}
	t = thread("worker", 99999, 1, false);
	model_set_thread(&m, tids[0], &t);
	model_end_update(&m, false);
	text[2] = render(&m, METRICS_PROMETHEUS, true);
	if (!ASSERT_TRUE(text[0] && text[1] && text[2], "fold: rendered"))
		goto cleanup;

	samples_read(text[0], &before);
	samples_read(text[1], &folded);
	samples_read(text[2], &reused);
	ASSERT_EQ(went_down(&before, &folded, why, sizeof(why)), 0, "fold: no counter went down");
	if (why[0])
		printf("# %s\n", why);
	ASSERT_EQ(went_down(&folded, &reused, why, sizeof(why)), 0,
		  "TID reuse: no counter went down");
	if (why[0])
		printf("# %s\n", why);
	/* a series that vanished and came back smaller is a reset to Prometheus too */
	ASSERT_EQ(went_down(&before, &reused, why, sizeof(why)), 0,
		  "TID reuse: no series of a folded thread comes back smaller");
	if (why[0])
		printf("# %s\n", why);
	ASSERT_EQ(thread_sum(&before), thread_sum(&folded),
		  "fold: the per-thread series add up to the same before and after");
	ASSERT_EQ(value_of(text[1], "memwatch_thread_alloc_calls_total{pid=\"4194000\",comm=\"pool\","
			   "tid=\"" METRICS_FOLDED_TID "\"}"),
		  100 + 101 + 102 + 103 + 104 + 105 + 106 + 107,
		  "fold: the folded series holds the folded threads' counts");
	ASSERT_EQ(value_of(text[1], "memwatch_thread_alloc_calls_total{pid=\"4194000\",comm=\"pool\","
			   "tid=\"100\",start=\"1100\"}"), -1,
		  "fold: a folded thread's own series is gone");
	ASSERT_EQ(value_of(text[2], "memwatch_thread_alloc_calls_total{pid=\"4194000\",comm=\"pool\","
			   "tid=\"100\",start=\"99999\"}"), 1,
		  "TID reuse: the new thread's series has its own start");
	ASSERT_EQ(value_of(text[1], "memwatch_folded_threads_total{pid=\"4194000\",comm=\"pool\"}"),
		  NR_EXITED - MW_MAX_EXITED_ROWS, "fold: folded_threads_total");
	samples_free(&before);
	samples_free(&folded);
	samples_free(&reused);
cleanup:
	for (i = 0; i < 3; i++)
		free(text[i]);
	model_free(&m);
}

/* Accept headers and the format each gets. */
static void test_accept(void)
{
	static const struct {
		const char *accept;
		enum metrics_format want;
		const char *why;
	} cases[] = {
		{ NULL, METRICS_PROMETHEUS, "no Accept: text" },
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  METRICS_OPENMETRICS, "Prometheus 2.42's Accept: OpenMetrics" },
		{ "text/plain;q=1,application/openmetrics-text;q=0.01", METRICS_PROMETHEUS,
		  "text at q=1 over OpenMetrics at q=0.01" },
		{ "application/openmetrics-text", METRICS_OPENMETRICS, "OpenMetrics alone, no version" },
		{ "application/openmetrics-text ; q = 0", METRICS_PROMETHEUS,
		  "q=0 refuses, spaces around ; and =" },
		{ "application/openmetrics-text;version=0.0.1", METRICS_PROMETHEUS,
		  "OpenMetrics 0.0.1 is not 1.0.0" },
		{ "text/plain ;version=0.0.4; q=0.5 , application/openmetrics-text ; version = 1.0.0 "
		  "; q=0.6", METRICS_OPENMETRICS, "spaces everywhere, q compared: 0.6 over 0.5" },
		{ "*/*", METRICS_PROMETHEUS, "the full wildcard: text" },
		{ "text/plain;q=0.3,application/openmetrics-text;version=1.0.0;q=0.300",
		  METRICS_PROMETHEUS, "a tie: text" },
		{ "APPLICATION/OpenMetrics-Text;Version=1.0.0", METRICS_OPENMETRICS,
		  "names are case-insensitive" },
		{ "application/openmetrics-textual", METRICS_PROMETHEUS, "another subtype" },
		{ "application/openmetrics-text;q=0.5,*/*;q=0.9", METRICS_PROMETHEUS,
		  "the wildcard's q for text/plain beats OpenMetrics' lower one" },
		{ "application/openmetrics-text;q=1.5", METRICS_PROMETHEUS,
		  "a q beyond 1 is no q: the range is not counted" },
		{ "text/plain;q=0,application/*", METRICS_OPENMETRICS,
		  "text refused, OpenMetrics through application's wildcard" },
		{ "text/plain;q=0,application/openmetrics-text;q=0", METRICS_PROMETHEUS,
		  "both refused: text, the default" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(metrics_format_of(cases[i].accept), cases[i].want, cases[i].why);
}

int main(void)
{
	test_accept();
	test_label_value();
	test_prometheus();
	test_openmetrics();
	test_fold();
	return tap_done();
}
