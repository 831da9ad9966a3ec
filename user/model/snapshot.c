// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "kernel/kernel.h"
#include "kernel/thread_table.h"
#include "model/smaps_pass.h"
#include "model/snapshot.h"
#include "sys/fileio.h"

/*
 * Copies up to @max entries of a hash map into @keys and @values, a batch at
 * a time; their number in *@count. 0 or -errno.
 */
static int read_map(int fd, __u32 max, void *keys, size_t key_size, void *values,
		    size_t value_size, __u32 *count)
{
	__u64 batch;
	__u32 n;
	int err;

	*count = 0;
	do {
		n = max - *count;
		err = bpf_map_lookup_batch(fd, *count ? &batch : NULL, &batch,
					   (char *)keys + *count * key_size,
					   (char *)values + *count * value_size, &n, NULL);
		/* ENOENT marks the last batch, which may still hold entries */
		if (err && errno != ENOENT)
			return -errno;
		*count += n;
	} while (!err && *count < max);
	return 0;
}

static void add_live_thread(pid_t tid, void *model)
{
	model_add_live_thread(model, tid);
}

/* The region table: who mmap'd what, in @m's process. */
static int read_regions(struct bpf_map *map, struct mw_model *m)
{
	__u32 max = bpf_map__max_entries(map), count, i, n = 0;
	struct mw_region *values = calloc(max, sizeof(*values));
	struct mw_region_key *keys = calloc(max, sizeof(*keys));
	struct mw_region_rec *recs = calloc(max, sizeof(*recs));
	int err = -ENOMEM;

	if (!values || !keys || !recs)
		goto cleanup;
	err = read_map(bpf_map__fd(map), max, keys, sizeof(*keys), values, sizeof(*values),
		       &count);
	if (err)
		goto cleanup;
	for (i = 0; i < count; i++) {
		if (keys[i].pid == (__u32)m->info.pid)
			recs[n++] = (struct mw_region_rec){ keys[i].start, values[i].len,
							    values[i].tid };
	}
	model_set_regions(m, recs, n);
	recs = NULL;
cleanup:
	free(recs);
	free(keys);
	free(values);
	return err;
}

/*
 * The share of each interval that reading resident memory may take: the
 * rollup, then a slice of the full smaps. Their cost grows with the number
 * of mappings (~0.015 s and ~0.2 s for 60,000 here), so a pass over smaps
 * spans as many updates as it needs, and the rows' resident figures are as
 * old as the pass (the views say so beyond one interval).
 */
#define RESIDENT_SHARE 0.05

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void credit_vma(const struct smaps_vma *vma, void *model)
{
	model_credit_vma(model, vma);
}

static void keep_rollup(const struct smaps_vma *vma, void *rollup)
{
	*(struct smaps_vma *)rollup = *vma;
}

/* The whole process's resident memory, in one mapping's fields; 0 or -errno. */
static int read_rollup(pid_t pid, struct smaps_vma *rollup)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	text = read_path(path, NULL);
	if (!text)
		return -errno;
	memset(rollup, 0, sizeof(*rollup));
	err = smaps_parse(text, keep_rollup, rollup);
	free(text);
	/* a process without memory has an empty rollup */
	return err ?: rollup->map.end ? 0 : -ENOENT;
}

/*
 * Who holds resident memory now: each anonymous mapping credited to its
 * creator, by @smaps_pass, the reading of the process's smaps, which goes on
 * across updates.
 */
static void read_ownership(struct memwatch_bpf *skel, struct mw_model *m,
			   struct smaps_pass *smaps_pass)
{
	double start = monotonic_s(), budget = RESIDENT_SHARE * m->interval_s;
	struct smaps_vma rollup;
	bool have_rollup;

	if (read_regions(kernel_regions_map(skel), m))
		return;
	have_rollup = !read_rollup(m->info.pid, &rollup);
	if (!smaps_pass_under_way(smaps_pass) &&
	    !smaps_pass_begin(smaps_pass, m->info.pid, m->elapsed_s, credit_vma, m))
		model_clear_resident(m);
	if (smaps_pass_under_way(smaps_pass) &&
	    smaps_pass_step(smaps_pass, budget - (monotonic_s() - start)) == 1)
		model_commit_resident(m, smaps_pass->began_s);
	/* after a pass's sums: the rollup is the newer */
	if (have_rollup)
		model_set_rollup(m, rollup.anonymous, rollup.lazyfree);
}

static void read_resident(const struct kernel_process_counts *c, struct mw_resident *res)
{
	memcpy(res->now, c->rss_now, sizeof(res->now));
	memcpy(res->at_exit, c->rss_at_exit, sizeof(res->at_exit));
	memcpy(res->other_gained, c->rss_other_gained, sizeof(res->other_gained));
	memcpy(res->other_lost, c->rss_other_lost, sizeof(res->other_lost));
	memcpy(res->exit_lost, c->rss_exit_lost, sizeof(res->exit_lost));
	res->exited = c->exiting;
}

/*
 * Keeps the rows and the kernel's thread table bounded when threads come
 * and go: the oldest exited rows fold into one, their slots are freed.
 */
static int fold_exited(struct thread_table *tt, struct mw_model *m)
{
	__u32 *tids = calloc(m->nr_rows ?: 1, sizeof(*tids));
	int err;

	if (!tids)
		return -ENOMEM;
	err = thread_table_fold(tt, tids, model_fold_exited(m, tids));
	free(tids);
	return err;
}

void snapshot_read_cmdline(struct mw_model *m)
{
	char path[64], *text;
	size_t len, i;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", m->info.pid);
	text = read_path(path, &len);
	/* a kernel thread's or a zombie's is empty: the views keep the last one read */
	if (!text || !len)
		goto cleanup;
	/* the last NUL ends the last argument; a process may have rewritten it away */
	if (!text[len - 1])
		len--;
	if (len > sizeof(m->cmdline))
		len = sizeof(m->cmdline);
	for (i = 0; i < len; i++)
		m->cmdline[i] = text[i] ?: ' ';
	m->cmdline_len = len;
cleanup:
	free(text);
}

int snapshot_take(struct memwatch_bpf *skel, __u32 process, struct thread_table *tt,
		  struct mw_model *m, struct smaps_pass *smaps_pass, double elapsed_s)
{
	struct kernel_process_counts process_counts;
	struct kernel_counts counts;
	struct proc_status status;
	bool alive;
	int err;

	model_begin_update(m, elapsed_s);
	err = thread_table_read(tt, m, m->info.pid);
	if (err)
		return err;
	/* a zombie keeps its /proc entry but no longer any memory */
	alive = !m->target_exited && !proc_status_read(m->info.pid, &status) && status.has_mm;
	if (alive) {
		m->status = status;
		for_each_thread(m->info.pid, add_live_thread, m);
		/* it changes with an exec, or when the process rewrites its argv */
		snapshot_read_cmdline(m);
	}
	kernel_read_counts(skel, &counts);
	m->lost_events = counts.lost_events;
	m->trace_lost = counts.trace_lost;
	m->stacks_lost = counts.stacks_lost;
	m->stacks_capped = counts.stacks_capped;
	kernel_read_process(skel, process, &process_counts);
	m->orphan_released_calls = process_counts.orphan_released_calls + tt->late_released_calls;
	m->orphan_released_bytes = process_counts.orphan_released_bytes + tt->late_released_bytes;
	m->forks = process_counts.forks;
	m->execs = process_counts.execs;
	m->info.left_cgroup = process_counts.left;
	read_resident(&process_counts, &m->res);
	if (!alive && m->res.exited) {
		/* /proc has nothing left: what the kernel counted as the exit began */
		const __s64 *rss = m->res.at_exit;

		m->status.rss_anon_bytes = rss[MW_RSS_ANON];
		m->status.rss_file_bytes = rss[MW_RSS_FILE];
		m->status.rss_shmem_bytes = rss[MW_RSS_SHMEM];
		m->status.rss_bytes = rss[MW_RSS_ANON] + rss[MW_RSS_FILE] + rss[MW_RSS_SHMEM];
	}
	model_end_update(m, alive);
	/* after the rows exist: regions are credited to them */
	if (alive)
		read_ownership(skel, m, smaps_pass);
	else
		smaps_pass_abandon(smaps_pass);
	return fold_exited(tt, m);
}

void snapshot_take_none(struct memwatch_bpf *skel, struct mw_model *m, double elapsed_s)
{
	struct kernel_counts counts;

	model_begin_update(m, elapsed_s);
	kernel_read_counts(skel, &counts);
	m->lost_events = counts.lost_events;
	m->trace_lost = counts.trace_lost;
	m->stacks_lost = counts.stacks_lost;
	m->stacks_capped = counts.stacks_capped;
}
