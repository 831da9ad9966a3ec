// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fileio.h"
#include "thread_table.h"
#include "memwatch.skel.h"

/* the kernel's largest pid_max: the table's size when /proc does not say */
#define PID_MAX_LIMIT	(4 * 1024 * 1024)

/* an array map's values are 8-byte aligned: the records are mapped as a C array */
_Static_assert(sizeof(struct mw_thread) % 8 == 0, "mw_thread is not an array map's stride");

void thread_table_size(struct memwatch_bpf *skel)
{
	char *text = read_path("/proc/sys/kernel/pid_max", NULL);
	long pid_max = text ? atol(text) : 0;

	free(text);
	if (pid_max <= 0 || pid_max > PID_MAX_LIMIT)
		pid_max = PID_MAX_LIMIT;
	/* two TIDs to an element */
	bpf_map__set_max_entries(skel->maps.thread_slots, (pid_max + 1) / 2);
}

static void *map_array(const struct bpf_map *map, size_t *len)
{
	size_t page = sysconf(_SC_PAGESIZE);
	void *mem;

	*len = (bpf_map__value_size(map) * (size_t)bpf_map__max_entries(map) + page - 1) &
	       ~(page - 1);
	mem = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	return mem == MAP_FAILED ? NULL : mem;
}

int thread_table_open(struct thread_table *tt, struct memwatch_bpf *skel)
{
	memset(tt, 0, sizeof(*tt));
	tt->free_slots_fd = bpf_map__fd(skel->maps.free_slots);
	tt->slots_claimed = &skel->bss->slots_claimed;
	tt->nr_tids = 2 * bpf_map__max_entries(skel->maps.thread_slots);
	tt->records = map_array(skel->maps.threads, &tt->records_len);
	tt->tid_slots = map_array(skel->maps.thread_slots, &tt->tid_slots_len);
	tt->seen = calloc(MW_MAX_THREADS, sizeof(*tt->seen));
	tt->retiring = calloc(MW_MAX_THREADS, sizeof(*tt->retiring));
	if (!tt->records || !tt->tid_slots || !tt->seen || !tt->retiring) {
		int err = -errno ?: -ENOMEM;

		thread_table_close(tt);
		return err;
	}
	return 0;
}

void thread_table_close(struct thread_table *tt)
{
	if (tt->records)
		munmap(tt->records, tt->records_len);
	if (tt->tid_slots)
		munmap(tt->tid_slots, tt->tid_slots_len);
	free(tt->seen);
	free(tt->retiring);
	memset(tt, 0, sizeof(*tt));
}

/*
 * The slots folded one update ago: no program reaches them any more. What
 * their blocks released since the fold goes to the orphans; the zeroed
 * slot goes back to the kernel's queue.
 */
static void recycle_retiring(struct thread_table *tt)
{
	size_t i;

	for (i = 0; i < tt->nr_retiring; i++) {
		const struct table_slot *s = &tt->retiring[i];
		struct mw_thread *rec = &tt->records[s->index];

		tt->late_released_calls += rec->released_calls - s->released_calls;
		tt->late_released_bytes += rec->released_bytes - s->released_bytes;
		memset(rec, 0, sizeof(*rec));
		bpf_map_update_elem(tt->free_slots_fd, NULL, &s->index, BPF_ANY);
	}
	tt->nr_retiring = 0;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct table_slot *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * A TID's records: one, or more when the TID went to a new thread after
 * another exited. Their counters add up, as one row with the newest
 * thread's name, exited when it has.
 */
static int set_thread(struct thread_table *tt, struct mw_model *m, size_t first, size_t end)
{
	struct mw_thread sum = tt->records[tt->seen[first].index];
	__u64 newest = sum.start_ns;
	size_t i;

	for (i = first + 1; i < end; i++) {
		const struct mw_thread *rec = &tt->records[tt->seen[i].index];

		mw_thread_add(&sum, rec);
		if (rec->start_ns < newest)
			continue;
		newest = rec->start_ns;
		memcpy(sum.comm, rec->comm, sizeof(sum.comm));
		sum.exited = rec->exited;
	}
	return model_set_thread(m, tt->seen[first].tid, &sum);
}

int thread_table_read(struct thread_table *tt, struct mw_model *m)
{
	__u32 claimed = *(volatile const __u32 *)tt->slots_claimed, index;
	size_t i, first;
	int err = 0;

	recycle_retiring(tt);
	if (claimed >= MW_MAX_THREADS)
		claimed = MW_MAX_THREADS - 1;
	tt->nr_seen = 0;
	for (index = 1; index <= claimed; index++) {
		const struct mw_thread *rec = &tt->records[index];
		struct table_slot *s = &tt->seen[tt->nr_seen];

		/* free, or a new thread's whose TID is not written yet */
		s->tid = *(volatile const __u32 *)&rec->tid;
		if (!s->tid)
			continue;
		s->index = index;
		s->released_calls = rec->released_calls;
		s->released_bytes = rec->released_bytes;
		tt->nr_seen++;
	}
	qsort(tt->seen, tt->nr_seen, sizeof(*tt->seen), cmp_slot);
	for (first = i = 0; !err && i <= tt->nr_seen; i++) {
		if (i < tt->nr_seen && tt->seen[i].tid == tt->seen[first].tid)
			continue;
		if (i > first)
			err = set_thread(tt, m, first, i);
		first = i;
	}
	return err;
}

void thread_table_fold(struct thread_table *tt, const __u32 *tids, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < tt->nr_seen; j++) {
			struct table_slot *s = &tt->seen[j];
			__u32 expected = s->index;

			if (s->tid != tids[i] || s->tid >= tt->nr_tids)
				continue;
			/* unless the TID has a newer record already: the kernel may be writing it */
			__atomic_compare_exchange_n(&tt->tid_slots[s->tid], &expected, 0, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			tt->retiring[tt->nr_retiring++] = *s;
			/* once: a TID folded twice in one update is not */
			s->tid = 0;
		}
	}
}
