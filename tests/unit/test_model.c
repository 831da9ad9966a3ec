// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The derived quantities of the counters and the per-thread table's update cycle. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "model/model.h"
#include "sys/log.h"
#include "tap.h"

/* main.o is not linked: the library objects' log flag, unless one of them defines it */


/* a PID that does not exist: no /proc name can be read for it */
#define NO_PID 4194000

/* Every counter of struct mw_thread, by name, with @base + its position. */
static void fill(struct mw_thread *t, __u64 base)
{
	__u64 k = base;
	int i;

	t->alloc_calls = k++;
	t->alloc_bytes = k++;
	t->free_calls = k++;
	t->free_bytes = k++;
	t->free_other_calls = k++;
	t->free_other_bytes = k++;
	t->free_unknown_calls = k++;
	t->free_preexisting_calls = k++;
	t->free_preexisting_bytes = k++;
	t->untracked_allocs = k++;
	t->untracked_bytes = k++;
	t->released_calls = k++;
	t->released_bytes = k++;
	for (i = 0; i < MW_SYS_NR; i++)
		t->syscalls[i] = k++;
	t->brk_grow_bytes = k++;
	t->brk_shrink_bytes = k++;
	t->mmap_anon_bytes = k++;
	t->mmap_file_bytes = k++;
	t->mmap_none_bytes = k++;
	t->munmap_bytes = k++;
	t->mremap_grow_bytes = k++;
	t->mremap_shrink_bytes = k++;
	t->mprotect_rw_bytes = k++;
	t->mprotect_none_bytes = k++;
	for (i = 0; i < MW_ADV_NR; i++)
		t->madvise_bytes[i] = k++;
}

/* the counters up to madvise_bytes[], then the resident ones */
#define NR_SYSCALL_COUNTERS (13 + MW_SYS_NR + 10 + MW_ADV_NR)
#define NR_COUNTERS (NR_SYSCALL_COUNTERS + 2 * MW_RSS_NR + MW_SYS_NR)

/* How many counters of @t hold @a + @b times their position (as after fill+add). */
static int count_sums(const struct mw_thread *t, __u64 a, __u64 b)
{
	struct mw_thread x = { 0 }, y = { 0 };
	const size_t at = offsetof(struct mw_thread, alloc_calls);
	const __u64 *p = (const __u64 *)((const char *)t + at);
	const __u64 *px = (const __u64 *)((const char *)&x + at);
	const __u64 *py = (const __u64 *)((const char *)&y + at);
	int i, n = 0;

	fill(&x, a);
	fill(&y, b);
	for (i = 0; i < NR_COUNTERS; i++)
		n += p[i] == px[i] + py[i];
	return n;
}

static void test_live_bytes(void)
{
	struct mw_thread t = { 0 };

	ASSERT_EQ(mw_live_bytes(&t), 0, "live: all zero");
	t.alloc_bytes = 1000;
	t.untracked_bytes = 100;
	t.released_bytes = 300;
	ASSERT_EQ(mw_live_bytes(&t), 600, "live: alloc - untracked - released");
	t.free_bytes = 999;
	t.free_other_bytes = 999;
	ASSERT_EQ(mw_live_bytes(&t), 600, "live: free_bytes does not count, released does");
	t.released_bytes = 900;
	ASSERT_EQ(mw_live_bytes(&t), 0, "live: released == tracked gives 0");
	t.released_bytes = 5000;
	ASSERT_EQ(mw_live_bytes(&t), 0, "live: released > tracked clamps at 0");
	t.alloc_bytes = 1ULL << 40;
	t.untracked_bytes = 0;
	t.released_bytes = 1;
	ASSERT_EQ(mw_live_bytes(&t), (1ULL << 40) - 1, "live: large values");
	/*
	 * A read of the map that races with the BPF program can see untracked_bytes
	 * already raised but alloc_bytes not yet (everything untracked when the live
	 * table is full): still 0, never a wrapped 16 EiB.
	 */
	t.alloc_bytes = 4096;
	t.untracked_bytes = 8192;
	t.released_bytes = 0;
	ASSERT_EQ(mw_live_bytes(&t), 0, "live: untracked > alloc clamps at 0");
}

static void test_grown_returned(void)
{
	struct mw_thread t = { 0 };

	t.brk_grow_bytes = 1 << 0;
	t.mmap_anon_bytes = 1 << 1;
	t.mprotect_rw_bytes = 1 << 2;
	t.mremap_grow_bytes = 1 << 3;
	t.mmap_file_bytes = 1 << 4;
	t.mmap_none_bytes = 1 << 5;
	t.brk_shrink_bytes = 1 << 6;
	t.munmap_bytes = 1 << 7;
	t.mremap_shrink_bytes = 1 << 8;
	t.madvise_bytes[MW_ADV_DONTNEED] = 1 << 9;
	t.madvise_bytes[MW_ADV_FREE] = 1 << 10;
	t.madvise_bytes[MW_ADV_REMOVE] = 1 << 11;
	t.madvise_bytes[MW_ADV_PAGEOUT] = 1 << 12;
	t.madvise_bytes[MW_ADV_COLD] = 1 << 13;
	t.madvise_bytes[MW_ADV_OTHER] = 1 << 14;
	t.mprotect_none_bytes = 1 << 15;
	t.alloc_bytes = 1 << 16;
	t.syscalls[MW_SYS_MMAP] = 1 << 17;

	ASSERT_EQ(mw_grown_bytes(&t), 0xf,
		  "grown: brk_grow + mmap_anon + mprotect_rw + mremap_grow only");
	ASSERT_EQ(mw_returned_bytes(&t), 0xfc0,
		  "returned: brk_shrink + munmap + mremap_shrink + DONTNEED/FREE/REMOVE only");

	memset(&t, 0, sizeof(t));
	t.mmap_file_bytes = 123456;
	t.mmap_none_bytes = 654321;
	ASSERT_EQ(mw_grown_bytes(&t), 0, "grown: file and PROT_NONE mappings are not growth");
	t.madvise_bytes[MW_ADV_PAGEOUT] = 4096;
	t.madvise_bytes[MW_ADV_COLD] = 8192;
	t.madvise_bytes[MW_ADV_OTHER] = 16384;
	t.mprotect_none_bytes = 32768;
	ASSERT_EQ(mw_returned_bytes(&t), 0,
		  "returned: pageout, cold, other, mprotect none are not");
	t.madvise_bytes[MW_ADV_DONTNEED] = 4096;
	ASSERT_EQ(mw_returned_bytes(&t), 4096, "returned: DONTNEED alone");
}

static void test_returned_actual(void)
{
	struct mw_thread t = { 0 };
	int i;

	for (i = 0; i < MW_SYS_NR; i++)
		t.rss_returned[i] = 1ULL << i;
	ASSERT_EQ(mw_returned_actual(&t),
		  1ULL << MW_SYS_BRK | 1ULL << MW_SYS_MUNMAP | 1ULL << MW_SYS_MREMAP |
			  1ULL << MW_SYS_MADVISE | 1ULL << MW_SYS_PROCESS_MADVISE,
		  "returned actual: brk, munmap, mremap, madvise and process_madvise only");
	ASSERT_EQ(MW_RETURNING_SYSCALLS, mw_returned_actual(&t),
		  "returned actual: the calls the BPF side credits, bit for bit");
	ASSERT_TRUE(!mw_returning_keys[MW_SYS_MMAP] &&
			    !strcmp(mw_returning_keys[MW_SYS_PROCESS_MADVISE], "process_madvise"),
		    "returned actual: its JSON keys are the returning calls'");
}

static void test_rate(void)
{
	ASSERT_TRUE(mw_rate(300, 100, 2.0) == 100.0, "rate: 200 over 2 s is 100/s");
	ASSERT_TRUE(mw_rate(150, 100, 0.5) == 100.0, "rate: 50 over 0.5 s is 100/s");
	ASSERT_TRUE(mw_rate(100, 100, 1.0) == 0.0, "rate: no change is 0");
	ASSERT_TRUE(mw_rate(300, 100, 0) == 0.0, "rate: zero interval is 0");
	ASSERT_TRUE(mw_rate(300, 100, -1.0) == 0.0, "rate: negative interval is 0");
	ASSERT_TRUE(mw_rate(100, 300, 1.0) == 0.0, "rate: counter went back is 0");
	ASSERT_TRUE(mw_rate(1ULL << 50, 0, 1.0) == (double)(1ULL << 50), "rate: large counter");
}

static void test_thread_add(void)
{
	struct mw_thread dst = { 0 }, src = { 0 }, want = { 0 };

	ASSERT_EQ((offsetof(struct mw_thread, call) - offsetof(struct mw_thread, alloc_calls)) /
		  sizeof(__u64), NR_COUNTERS, "add: the test names every counter");
	fill(&dst, 1000);
	fill(&src, 1);
	strcpy(dst.comm, "dst");
	strcpy(src.comm, "src");
	dst.exited = 0;
	src.exited = 1;
	dst.call.size = 33;
	dst.call.depth = 1;
	dst.call.fn = MW_FN_ALLOC;
	src.call.size = 44;
	src.call.depth = 2;
	src.call.fn = MW_FN_REALLOC;

	mw_thread_add(&dst, &src);
	ASSERT_EQ(count_sums(&dst, 1000, 1), NR_COUNTERS, "add: every counter summed");
	ASSERT_EQ(dst.madvise_bytes[MW_ADV_OTHER], 1000 + 1 + 2 * (NR_SYSCALL_COUNTERS - 1),
		  "add: last madvise bucket summed");
	ASSERT_EQ(dst.syscalls[MW_SYS_NONE], 1000 + 1 + 2 * 13, "add: syscalls[0] summed");
	ASSERT_EQ(dst.alloc_calls, 1001, "add: first counter summed");
	ASSERT_STREQ(dst.comm, "dst", "add: comm untouched");
	ASSERT_EQ(dst.exited, 0, "add: exited untouched");
	ASSERT_EQ(dst.call.size, 33, "add: in-flight call size untouched");
	ASSERT_EQ(dst.call.depth, 1, "add: in-flight call depth untouched");
	ASSERT_EQ(dst.call.fn, MW_FN_ALLOC, "add: in-flight call fn untouched");
	ASSERT_STREQ(src.comm, "src", "add: src comm untouched");
	fill(&want, 1);
	ASSERT_TRUE(!memcmp(&src.alloc_calls, &want.alloc_calls, NR_COUNTERS * sizeof(__u64)),
		    "add: src counters untouched");
}

static struct mw_thread counters(const char *comm, __u64 alloc_bytes, bool exited)
{
	struct mw_thread t = { 0 };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	t.alloc_calls = alloc_bytes / 16;
	t.alloc_bytes = alloc_bytes;
	t.mmap_anon_bytes = alloc_bytes * 2;
	t.syscalls[MW_SYS_MMAP] = 3;
	t.madvise_bytes[MW_ADV_FREE] = alloc_bytes / 4;
	t.exited = exited;
	return t;
}

/* Whether the model's total is the sum of its rows' counters, and rows are sorted. */
static bool totals_are_sums(const struct mw_model *m)
{
	struct mw_thread sum = { 0 };
	size_t i;

	for (i = 0; i < m->nr_rows; i++) {
		if (i && m->rows[i - 1].tid >= m->rows[i].tid)
			return false;
		mw_thread_add(&sum, &m->rows[i].now);
	}
	return !memcmp(&sum.alloc_calls, &m->total.alloc_calls,
		       offsetof(struct mw_thread, call) - offsetof(struct mw_thread, alloc_calls));
}

static void test_model_cycle(void)
{
	struct mw_thread c;
	const struct mw_row *r;
	struct mw_model m;

	model_init(&m);
	m.info.pid = NO_PID;
	ASSERT_EQ(m.nr_rows, 0, "cycle: starts empty");
	ASSERT_TRUE(model_find(&m, 100) == NULL, "cycle: find in an empty model");

	/* update 1: two threads, given out of order */
	model_begin_update(&m, 1.0);
	c = counters("worker-300", 3000, false);
	ASSERT_OK(model_set_thread(&m, 300, &c), "cycle 1: set 300");
	c = counters("main", 1000, false);
	ASSERT_OK(model_set_thread(&m, 100, &c), "cycle 1: set 100");
	r = model_find(&m, 300);
	ASSERT_TRUE(r && r->tid == 300, "cycle 1: find 300 before end_update");
	r = model_find(&m, 100);
	ASSERT_TRUE(r && r->now.alloc_bytes == 1000, "cycle 1: find 100 before end_update");
	model_end_update(&m, false);
	if (!ASSERT_EQ(m.nr_rows, 2, "cycle 1: two rows"))
		goto cleanup;
	ASSERT_EQ(m.rows[0].tid, 100, "cycle 1: sorted, 100 first");
	ASSERT_EQ(m.rows[1].tid, 300, "cycle 1: sorted, 300 second");
	ASSERT_TRUE(!m.rows[0].exited && !m.rows[1].exited, "cycle 1: both live");
	ASSERT_STREQ(m.rows[0].comm, "main", "cycle 1: comm from counters (pid not alive)");
	ASSERT_STREQ(m.rows[1].comm, "worker-300", "cycle 1: comm of 300");
	ASSERT_EQ(m.total.alloc_bytes, 4000, "cycle 1: total alloc_bytes");
	ASSERT_EQ(m.total.madvise_bytes[MW_ADV_FREE], 1000, "cycle 1: total madvise FREE");
	ASSERT_EQ(m.total.syscalls[MW_SYS_MMAP], 6, "cycle 1: total mmap calls");
	ASSERT_TRUE(totals_are_sums(&m), "cycle 1: total is the sum of the rows");
	ASSERT_TRUE(m.elapsed_s == 1.0 && m.interval_s == 1.0, "cycle 1: elapsed and interval");
	r = model_find(&m, 300);
	ASSERT_TRUE(r && r->now.alloc_bytes == 3000, "cycle 1: find 300 after end_update");
	ASSERT_TRUE(model_find(&m, 200) == NULL, "cycle 1: no row 200");

	/* update 2: 300 exits (its counters say so), 200 appears */
	model_begin_update(&m, 3.5);
	ASSERT_TRUE(m.interval_s == 2.5, "cycle 2: interval since the previous update");
	c = counters("main", 1500, false);
	ASSERT_OK(model_set_thread(&m, 100, &c), "cycle 2: set 100");
	c = counters("worker-300", 3300, true);
	ASSERT_OK(model_set_thread(&m, 300, &c), "cycle 2: set 300 exited");
	c = counters("worker-200", 2000, false);
	ASSERT_OK(model_set_thread(&m, 200, &c), "cycle 2: set 200");
	r = model_find(&m, 200);
	ASSERT_TRUE(r && r->tid == 200, "cycle 2: find new row 200 before end_update");
	r = model_find(&m, 300);
	ASSERT_TRUE(r && r->now.alloc_bytes == 3300, "cycle 2: find old row 300 before end_update");
	model_end_update(&m, false);
	if (!ASSERT_EQ(m.nr_rows, 3, "cycle 2: three rows"))
		goto cleanup;
	ASSERT_TRUE(m.rows[0].tid == 100 && m.rows[1].tid == 200 && m.rows[2].tid == 300,
		    "cycle 2: sorted 100, 200, 300");
	ASSERT_TRUE(m.rows[2].exited, "cycle 2: 300 exited");
	ASSERT_EQ(m.rows[2].now.alloc_bytes, 3300, "cycle 2: exited row keeps its counters");
	ASSERT_STREQ(m.rows[2].comm, "worker-300", "cycle 2: exited row keeps its comm");
	ASSERT_TRUE(!m.rows[0].exited && !m.rows[1].exited, "cycle 2: 100 and 200 live");
	ASSERT_EQ(m.rows[0].prev.alloc_bytes, 1000, "cycle 2: prev of 100 is update 1");
	ASSERT_EQ(m.rows[0].now.alloc_bytes, 1500, "cycle 2: now of 100");
	ASSERT_EQ(m.rows[1].prev.alloc_bytes, 0, "cycle 2: new row has zero prev");
	ASSERT_TRUE(mw_rate(m.rows[0].now.alloc_bytes, m.rows[0].prev.alloc_bytes,
			    m.interval_s) == 200.0, "cycle 2: rate of 100 is 200 B/s");
	ASSERT_EQ(m.total.alloc_bytes, 1500 + 2000 + 3300, "cycle 2: total includes exited row");
	ASSERT_EQ(m.total_prev.alloc_bytes, 4000, "cycle 2: total_prev is update 1's total");
	ASSERT_TRUE(totals_are_sums(&m), "cycle 2: total is the sum of the rows");

	/* update 3: 400 listed by /proc only; 300 no longer in the map */
	model_begin_update(&m, 4.0);
	ASSERT_OK(model_add_live_thread(&m, 400), "cycle 3: add live 400");
	ASSERT_TRUE(model_find(&m, 400) != NULL, "cycle 3: find live 400 before end_update");
	c = counters("main", 1600, false);
	ASSERT_OK(model_set_thread(&m, 100, &c), "cycle 3: set 100");
	c = counters("worker-200", 2100, false);
	ASSERT_OK(model_set_thread(&m, 200, &c), "cycle 3: set 200");
	ASSERT_OK(model_add_live_thread(&m, 100), "cycle 3: add live 100 (already set)");
	model_end_update(&m, false);
	if (!ASSERT_EQ(m.nr_rows, 4, "cycle 3: four rows"))
		goto cleanup;
	r = model_find(&m, 400);
	ASSERT_TRUE(r && !r->exited, "cycle 3: live 400 not exited");
	ASSERT_TRUE(r && r->now.alloc_bytes == 0, "cycle 3: live 400 has no counters");
	ASSERT_EQ(m.rows[3].tid, 400, "cycle 3: 400 sorted last");
	r = model_find(&m, 100);
	ASSERT_TRUE(r && r->now.alloc_bytes == 1600 && !r->exited,
		    "cycle 3: add_live after set keeps the counters");
	r = model_find(&m, 300);
	ASSERT_TRUE(r && r->exited && r->now.alloc_bytes == 3300,
		    "cycle 3: unseen exited row stays, exited, counters kept");
	ASSERT_EQ(m.total.alloc_bytes, 1600 + 2100 + 3300, "cycle 3: total");
	ASSERT_TRUE(totals_are_sums(&m), "cycle 3: total is the sum of the rows");

	/* update 4: 400 is gone from /proc and was never traced */
	model_begin_update(&m, 5.0);
	c = counters("main", 1700, false);
	ASSERT_OK(model_set_thread(&m, 100, &c), "cycle 4: set 100");
	c = counters("worker-200", 2200, false);
	ASSERT_OK(model_set_thread(&m, 200, &c), "cycle 4: set 200");
	model_end_update(&m, false);
	ASSERT_EQ(m.nr_rows, 4, "cycle 4: rows kept");
	r = model_find(&m, 400);
	ASSERT_TRUE(r && r->exited, "cycle 4: live thread not seen again is exited");
	r = model_find(&m, 200);
	ASSERT_TRUE(r && !r->exited && r->prev.alloc_bytes == 2100 &&
		    r->now.alloc_bytes == 2200, "cycle 4: 200 prev and now");
	ASSERT_TRUE(!m.rows[0].stale && !m.rows[3].stale, "cycle 4: no row left stale");
	ASSERT_EQ(m.total.alloc_bytes, 1700 + 2200 + 3300, "cycle 4: total");
	ASSERT_TRUE(totals_are_sums(&m), "cycle 4: total is the sum of the rows");

	/* update 5: a thread once given up reappears in the map, alive */
	model_begin_update(&m, 6.0);
	c = counters("late", 64, false);
	ASSERT_OK(model_set_thread(&m, 400, &c), "cycle 5: set 400");
	model_end_update(&m, false);
	r = model_find(&m, 400);
	ASSERT_TRUE(r && !r->exited && r->now.alloc_bytes == 64, "cycle 5: 400 live again");
cleanup:
	model_free(&m);
	ASSERT_TRUE(m.rows == NULL && m.nr_rows == 0 && m.cap_rows == 0, "cycle: model_free");
}

/* More rows than the first allocation, given in descending order. */
static void test_model_many(void)
{
	struct mw_thread c;
	struct mw_model m;
	__u32 tid;
	int found = 0, ordered = 1;
	size_t i;

	model_init(&m);
	m.info.pid = NO_PID;
	model_begin_update(&m, 1.0);
	for (tid = 1000; tid > 0; tid -= 5) {
		c = counters("t", tid, false);
		if (model_set_thread(&m, tid, &c))
			break;
	}
	ASSERT_EQ(m.nr_rows, 200, "many: 200 rows");
	for (tid = 5; tid <= 1000; tid += 5) {
		const struct mw_row *r = model_find(&m, tid);

		found += r && r->now.alloc_bytes == tid;
	}
	ASSERT_EQ(found, 200, "many: all found before end_update");
	model_end_update(&m, false);
	for (i = 0; i < m.nr_rows; i++)
		ordered &= m.rows[i].tid == 5 * (i + 1);
	ASSERT_TRUE(ordered, "many: sorted after end_update");
	found = 0;
	for (tid = 5; tid <= 1000; tid += 5) {
		const struct mw_row *r = model_find(&m, tid);

		found += r && r->now.alloc_bytes == tid;
	}
	ASSERT_EQ(found, 200, "many: all found after end_update");
	ASSERT_TRUE(!model_find(&m, 7) && !model_find(&m, 1005) && !model_find(&m, 0),
		    "many: absent tids not found");
	ASSERT_EQ(m.total.alloc_bytes, 5ULL * 200 * 201 / 2, "many: total");
	model_free(&m);
}

/* pid_alive: live rows get their name from /proc, others keep the counters' one. */
static void test_model_names(void)
{
	struct mw_thread c;
	const struct mw_row *r;
	struct mw_model m;
	pid_t self = gettid();

	prctl(PR_SET_NAME, "mw-model-unit", 0, 0, 0);
	model_init(&m);
	m.info.pid = getpid();
	model_begin_update(&m, 1.0);
	c = counters("bpf-name", 10, false);
	ASSERT_OK(model_set_thread(&m, self, &c), "names: set own thread");
	c = counters("gone-thread", 20, false);
	ASSERT_OK(model_set_thread(&m, NO_PID, &c), "names: set a tid not in /proc");
	c = counters("dead", 30, true);
	ASSERT_OK(model_set_thread(&m, NO_PID + 1, &c), "names: set an exited tid");
	model_end_update(&m, true);
	r = model_find(&m, self);
	ASSERT_STREQ(r ? r->comm : "", "mw-model-unit", "names: live row named from /proc");
	r = model_find(&m, NO_PID);
	ASSERT_STREQ(r ? r->comm : "", "gone-thread",
		     "names: unreadable /proc name, counters' one");
	r = model_find(&m, NO_PID + 1);
	ASSERT_STREQ(r ? r->comm : "", "dead", "names: exited row, counters' name");

	/* the thread renames itself; the next update reads the new name */
	prctl(PR_SET_NAME, "mw-renamed", 0, 0, 0);
	model_begin_update(&m, 2.0);
	c = counters("bpf-name", 10, false);
	model_set_thread(&m, self, &c);
	model_end_update(&m, true);
	r = model_find(&m, self);
	ASSERT_STREQ(r ? r->comm : "", "mw-renamed", "names: renamed thread reread");

	/* the process is gone: a live row keeps the name it had */
	model_begin_update(&m, 3.0);
	c = counters("bpf-name", 10, false);
	model_set_thread(&m, self, &c);
	model_end_update(&m, false);
	r = model_find(&m, self);
	ASSERT_STREQ(r ? r->comm : "", "mw-renamed", "names: pid not alive keeps the last name");
	model_free(&m);
}

/* An anonymous mapping at @start with @anon resident bytes, @lazyfree of them MADV_FREE'd. */
static struct smaps_vma anon_vma(__u64 start, __u64 anon, __u64 lazyfree)
{
	struct smaps_vma v = { .anonymous = anon, .lazyfree = lazyfree };

	v.map.start = start;
	v.map.end = start + 4096;
	v.map.path = "";
	return v;
}

/* An smaps reading spans updates: the rows show the last whole one, and how old it is. */
static void test_model_resident(void)
{
	struct mw_region_rec *regions = calloc(2, sizeof(*regions));
	struct smaps_vma v;
	struct mw_thread c;
	struct mw_model m;
	__u32 tids[40];
	int i;

	if (!ASSERT_TRUE(regions, "resident: memory"))
		return;
	model_init(&m);
	m.info.pid = NO_PID;
	model_begin_update(&m, 1.0);
	c = counters("main", 100, false);
	model_set_thread(&m, 100, &c);
	model_end_update(&m, false);
	regions[0] = (struct mw_region_rec){ .start = 0x10000, .len = 0x10000, .tid = 100 };
	regions[1] = (struct mw_region_rec){ .start = 0x40000, .len = 0x1000, .tid = 200 };
	model_set_regions(&m, regions, 2);

	/* a reading begun at 1.0 credits as it goes; nothing shows until it ends */
	model_clear_resident(&m);
	v = anon_vma(0x10000, 8192, 4096);
	model_credit_vma(&m, &v);
	ASSERT_EQ(model_find(&m, 100)->resident_now, 0, "resident: nothing shown mid-reading");
	model_begin_update(&m, 2.0);
	model_set_thread(&m, 100, &c);
	c = counters("worker", 100, false);
	model_set_thread(&m, 200, &c);
	model_end_update(&m, false);
	v = anon_vma(0x40000, 4096, 0);
	model_credit_vma(&m, &v);
	v = anon_vma(0x90000, 12288, 0);
	model_credit_vma(&m, &v);
	model_begin_update(&m, 3.0);
	model_end_update(&m, false);
	model_commit_resident(&m, 1.0);
	ASSERT_EQ(model_find(&m, 100)->resident_now, 8192, "resident: the first row's share");
	ASSERT_EQ(model_find(&m, 100)->advised_resident, 4096, "resident: its LazyFree");
	ASSERT_EQ(model_find(&m, 200)->resident_now, 4096,
		  "resident: a row made mid-reading gets its share");
	ASSERT_EQ(m.res.unowned_now, 12288, "resident: no region, unowned");
	ASSERT_EQ(model_resident_now(&m), 24576, "resident: the reading's sum until a rollup");
	ASSERT_EQ(m.res.lazyfree, 4096, "resident: the reading's LazyFree until a rollup");
	ASSERT_TRUE(model_owners_age(&m) == 2.0, "resident: begun 2 s before this update");
	ASSERT_TRUE(model_owners_aged(&m), "resident: two intervals old is shown as old");
	model_set_rollup(&m, 30000, 0);
	ASSERT_EQ(model_resident_now(&m), 30000, "resident: the rollup gives the process total");
	ASSERT_EQ(model_find(&m, 100)->resident_now, 8192, "resident: the rollup leaves rows");

	/* a reading begun at the previous update is one interval old: not shown as old */
	model_clear_resident(&m);
	model_begin_update(&m, 4.0);
	model_end_update(&m, false);
	model_commit_resident(&m, 3.0);
	ASSERT_TRUE(!model_owners_aged(&m), "resident: one interval old is not shown as old");
	ASSERT_EQ(model_find(&m, 100)->resident_now, 0, "resident: an empty reading clears");

	/* rows folded mid-reading: what was credited to them goes to the folded row */
	model_clear_resident(&m);
	model_begin_update(&m, 5.0);
	for (i = 0; i < MW_MAX_EXITED_ROWS + 2; i++) {
		c = counters("gone", 100, true);
		model_set_thread(&m, 1000 + i, &c);
	}
	model_end_update(&m, false);
	v = anon_vma(0x10000, 4096, 0);
	regions = calloc(1, sizeof(*regions));
	if (!ASSERT_TRUE(regions, "resident: memory for a region"))
		goto cleanup;
	regions[0] = (struct mw_region_rec){ .start = 0x10000, .len = 0x1000, .tid = 1000 };
	model_set_regions(&m, regions, 1);
	model_credit_vma(&m, &v);
	/* 100 and 200 went unseen, so exited too: the four least resident, lowest TIDs, fold */
	ASSERT_EQ(model_fold_exited(&m, tids), 4, "resident: four exited rows fold");
	ASSERT_EQ(tids[2], 1000, "resident: 1000 among them");
	model_commit_resident(&m, 5.0);
	ASSERT_EQ(model_find(&m, MW_FOLDED_TID)->resident_now, 4096,
		  "resident: a folded row's credit goes to the exited(N) row");
	ASSERT_TRUE(model_owners_age(&m) == 0, "resident: read in this update, age 0");
cleanup:
	model_free(&m);
}

/*
 * Exited processes fold into the pid 0 one: their threads' counters into its
 * folded row, every thread and process counted; an empty model folds too.
 */
static void test_fold_process(void)
{
	struct mw_model into, a, b, empty;
	struct mw_thread c;
	const struct mw_row *row;
	__u32 tids[8], tid;

	model_init(&into);
	model_init(&a);
	model_init(&b);
	model_init(&empty);
	a.info.pid = b.info.pid = empty.info.pid = NO_PID;
	model_begin_update(&a, 1.0);
	c = counters("a1", 11, true);
	model_set_thread(&a, 11, &c);
	c = counters("a2", 12, true);
	model_set_thread(&a, 12, &c);
	model_end_update(&a, false);
	a.forks = 2;
	a.res.exit_lost[MW_RSS_ANON] = 4096;
	/* b with threads folded already: its TID 0 row stands for them */
	model_begin_update(&b, 1.0);
	for (tid = 100; tid < 100 + MW_MAX_EXITED_ROWS + 3; tid++) {
		c = counters("b", tid, true);
		model_set_thread(&b, tid, &c);
	}
	model_end_update(&b, false);
	ASSERT_EQ(model_fold_exited(&b, tids), 3, "fold process: b folded 3 of its threads");
	model_begin_update(&empty, 1.0);
	model_end_update(&empty, false);

	model_begin_update(&into, 2.0);
	model_fold_process(&into, &a);
	model_fold_process(&into, &b);
	model_fold_process(&into, &empty);
	model_end_update(&into, false);
	model_no_rates(&into);
	ASSERT_EQ(into.folded_processes, 3, "fold process: three processes");
	ASSERT_EQ(into.nr_folded, 2 + MW_MAX_EXITED_ROWS + 3, "fold process: every thread of them");
	row = model_find(&into, MW_FOLDED_TID);
	ASSERT_TRUE(row && into.nr_rows == 1, "fold process: one row, TID 0");
	ASSERT_EQ(into.total.alloc_bytes, a.total.alloc_bytes + b.total.alloc_bytes,
		  "fold process: their counters summed");
	ASSERT_EQ(into.forks, 2, "fold process: forks summed");
	ASSERT_EQ(into.res.exit_lost[MW_RSS_ANON], 4096, "fold process: exit's release summed");
	ASSERT_EQ(into.allocs_rate, 0, "fold process: no rate from folding");
	model_free(&into);
	model_free(&a);
	model_free(&b);
	model_free(&empty);
}

int main(void)
{
	test_live_bytes();
	test_grown_returned();
	test_returned_actual();
	test_rate();
	test_thread_add();
	test_model_cycle();
	test_model_many();
	test_model_names();
	test_model_resident();
	test_fold_process();
	return tap_done();
}
