// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/thread_table.h"
#include "sys/fileio.h"
#include "memwatch.skel.h"

/* the kernel's largest pid_max */
#define PID_MAX_LIMIT	(4 * 1024 * 1024)
/* the initial PID namespace's inode number, fixed by the kernel (PROC_PID_INIT_INO) */
#define PID_NS_INIT_INO	0xEFFFFFFCU

/* an array map's values are 8-byte aligned: the records are mapped as a C array */
_Static_assert(sizeof(struct mw_thread) % 8 == 0, "mw_thread is not an array map's stride");

/*
 * The programs see the initial PID namespace's TIDs, below its pid_max.
 * Since Linux 6.14 another namespace has a pid_max of its own: there the
 * kernel's limit is taken.
 */
static long tid_limit(void)
{
	struct stat ns;
	long pid_max;
	char *text;

	if (stat("/proc/self/ns/pid", &ns) || ns.st_ino != PID_NS_INIT_INO)
		return PID_MAX_LIMIT;
	text = read_path("/proc/sys/kernel/pid_max", NULL);
	pid_max = text ? atol(text) : 0;
	free(text);
	return pid_max > 0 && pid_max <= PID_MAX_LIMIT ? pid_max : PID_MAX_LIMIT;
}

void thread_table_size(struct memwatch_bpf *skel)
{
	/* two TIDs to an element */
	bpf_map__set_max_entries(skel->maps.thread_slots, (tid_limit() + 1) / 2);
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
	LIBBPF_OPTS(bpf_map_create_opts, outer);
	int err = -ENOMEM;

	memset(tt, 0, sizeof(*tt));
	tt->wait_outer_fd = tt->wait_inner_fd = -1;
	tt->free_slots_fd = bpf_map__fd(skel->maps.free_slots);
	tt->slots_claimed = &skel->bss->slots_claimed;
	tt->nr_tids = 2 * bpf_map__max_entries(skel->maps.thread_slots);
	tt->seen = calloc(MW_MAX_THREADS, sizeof(*tt->seen));
	tt->retiring = calloc(MW_MAX_THREADS, sizeof(*tt->retiring));
	if (!tt->seen || !tt->retiring)
		goto fail;
	tt->records = map_array(skel->maps.threads, &tt->records_len);
	if (!tt->records)
		goto fail_errno;
	tt->tid_slots = map_array(skel->maps.thread_slots, &tt->tid_slots_len);
	if (!tt->tid_slots)
		goto fail_errno;
	tt->wait_inner_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (tt->wait_inner_fd < 0)
		goto fail_errno;
	outer.inner_map_fd = tt->wait_inner_fd;
	tt->wait_outer_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, NULL, 4, 4, 1, &outer);
	if (tt->wait_outer_fd < 0)
		goto fail_errno;
	return 0;

fail_errno:
	err = -errno;
fail:
	thread_table_close(tt);
	return err;
}

void thread_table_close(struct thread_table *tt)
{
	if (tt->records)
		munmap(tt->records, tt->records_len);
	if (tt->tid_slots)
		munmap(tt->tid_slots, tt->tid_slots_len);
	/* 0 in a table never opened, where it is not ours */
	if (tt->wait_outer_fd > 0)
		close(tt->wait_outer_fd);
	if (tt->wait_inner_fd > 0)
		close(tt->wait_inner_fd);
	free(tt->seen);
	free(tt->retiring);
	memset(tt, 0, sizeof(*tt));
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
	struct mw_thread sum, rec;
	size_t i;

	for (i = first; i < end; i++) {
		struct table_slot *s = &tt->seen[i];

		/* one copy: what a fold takes from the row is what the slot is compared with */
		rec = tt->records[s->index];
		s->released_calls = rec.released_calls;
		s->released_bytes = rec.released_bytes;
		if (i == first) {
			sum = rec;
			continue;
		}
		mw_thread_add(&sum, &rec);
		if (rec.start_ns < sum.start_ns)
			continue;
		sum.start_ns = rec.start_ns;
		memcpy(sum.comm, rec.comm, sizeof(sum.comm));
		sum.exited = rec.exited;
	}
	return model_set_thread(m, tt->seen[first].tid, &sum);
}

int thread_table_read(struct thread_table *tt, struct mw_model *m, pid_t pid)
{
	__u32 claimed = *(volatile const __u32 *)tt->slots_claimed, index;
	size_t i, first;
	int err = 0;

	if (claimed >= MW_MAX_THREADS)
		claimed = MW_MAX_THREADS - 1;
	tt->nr_seen = 0;
	for (index = 1; index <= claimed; index++) {
		const struct mw_thread *rec = &tt->records[index];
		struct table_slot *s = &tt->seen[tt->nr_seen];

		/*
		 * 0: free, or a new thread's whose TID is not published yet; the
		 * acquire pairs with the kernel's publishing exchange
		 */
		s->tid = __atomic_load_n(&rec->tid, __ATOMIC_ACQUIRE);
		if (!s->tid || rec->pid != (__u32)pid)
			continue;
		s->index = index;
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

/* The first of the records read for @tid, or nr_seen: they are sorted by TID. */
static size_t first_seen(const struct thread_table *tt, __u32 tid)
{
	size_t lo = 0, hi = tt->nr_seen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tt->seen[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Returns once every BPF program running now has finished: after a map-in-
 * map update the kernel waits for an RCU grace period (synchronize_rcu()),
 * and the programs run under rcu_read_lock().
 */
static int wait_for_programs(const struct thread_table *tt)
{
	__u32 key = 0;

	/* a table over plain memory (the unit tests) has no programs */
	if (tt->wait_outer_fd < 0)
		return 0;
	if (bpf_map_update_elem(tt->wait_outer_fd, &key, &tt->wait_inner_fd, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * A folded record, which no program reaches any more: what its blocks
 * released since the read goes to the orphans, the zeroed slot to the
 * kernel's queue.
 */
static void recycle(struct thread_table *tt, const struct table_slot *s)
{
	struct mw_thread *rec = &tt->records[s->index];

	tt->late_released_calls += rec->released_calls - s->released_calls;
	tt->late_released_bytes += rec->released_bytes - s->released_bytes;
	memset(rec, 0, sizeof(*rec));
	/* cannot fail: the queue has room for every slot */
	bpf_map_update_elem(tt->free_slots_fd, NULL, &s->index, BPF_ANY);
}

/*
 * Recycles the @nr first records of tt->retiring, unpublished already, once
 * no program that found one before may still add to it. 0 or -errno.
 */
static int recycle_retiring(struct thread_table *tt, size_t nr)
{
	size_t i;
	int err;

	err = wait_for_programs(tt);
	if (err)
		return err;
	for (i = 0; i < nr; i++)
		recycle(tt, &tt->retiring[i]);
	return 0;
}

/* Takes @s's TID off its record, unless the TID has a newer record already. */
static void unpublish(struct thread_table *tt, const struct table_slot *s)
{
	__u32 expected = s->index;

	/* the kernel makes no record for a TID beyond the table */
	if (s->tid >= tt->nr_tids)
		return;
	/* the kernel may be writing the newer one */
	__atomic_compare_exchange_n(&tt->tid_slots[s->tid], &expected, 0, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

int thread_table_fold(struct thread_table *tt, const __u32 *tids, size_t n)
{
	size_t i, j, nr = 0;

	for (i = 0; i < n; i++) {
		for (j = first_seen(tt, tids[i]); j < tt->nr_seen && tt->seen[j].tid == tids[i]; j++) {
			if (tt->seen[j].tid >= tt->nr_tids)
				continue;
			unpublish(tt, &tt->seen[j]);
			tt->retiring[nr++] = tt->seen[j];
		}
	}
	/* one that found a slot before it was cleared may still add to the record */
	return nr ? recycle_retiring(tt, nr) : 0;
}

static bool slot_in(__u32 slot, const __u32 *slots, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (slots[i] == slot)
			return true;
	}
	return false;
}

int thread_table_forget_processes(struct thread_table *tt, const __u32 *slots, size_t n)
{
	__u32 claimed = *(volatile const __u32 *)tt->slots_claimed, index;
	size_t nr = 0;

	if (claimed >= MW_MAX_THREADS)
		claimed = MW_MAX_THREADS - 1;
	for (index = 1; index <= claimed; index++) {
		const struct mw_thread *rec = &tt->records[index];
		struct table_slot *s = &tt->retiring[nr];

		s->tid = __atomic_load_n(&rec->tid, __ATOMIC_ACQUIRE);
		if (!s->tid || !slot_in(rec->process, slots, n))
			continue;
		s->index = index;
		/* read last: nothing of a reaped process's is freed after */
		s->released_calls = rec->released_calls;
		s->released_bytes = rec->released_bytes;
		unpublish(tt, s);
		nr++;
	}
	return recycle_retiring(tt, nr);
}
