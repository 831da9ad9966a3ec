// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/live_table.h"
#include "sys/fileio.h"
#include "sys/log.h"
#include "memwatch.skel.h"

#define GEN_MASK		(MW_MAX_GENERATIONS - 1)
#define GENS_BYTES		4096	/* the generations' array, mapped: a page */
_Static_assert(MW_MAX_GENERATIONS * sizeof(struct mw_generation) <= GENS_BYTES,
	       "the generations fit the page mapped");
/* the thread's longest sleep: how soon it sees an exec's empty table, or a stop */
#define POLL_MS			100
/* old generations are looked at for blocks at most this often */
#define DROP_CHECK_NS		1000000000ULL

static __u64 meminfo_available(void)
{
	char *text = read_path("/proc/meminfo", NULL), *line;
	unsigned long long kib = 0;

	line = text ? strstr(text, "MemAvailable:") : NULL;
	if (line)
		sscanf(line, "MemAvailable: %llu kB", &kib);
	free(text);
	return kib * 1024;
}

/* What memwatch's memory cgroup and its ancestors leave it: BPF maps are charged there. */
static __u64 cgroup_room(void)
{
	char *text = read_path("/proc/self/cgroup", NULL), path[4096], *slash;
	__u64 room = UINT64_MAX;

	/* cgroup v2: one line "0::/path" */
	if (!text || strncmp(text, "0::", 3)) {
		free(text);
		return room;
	}
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s", text + 3);
	free(text);
	path[strcspn(path, "\n")] = 0;
	for (;;) {
		size_t len = strlen(path);
		char *max, *current;

		snprintf(path + len, sizeof(path) - len, "/memory.max");
		max = read_path(path, NULL);
		snprintf(path + len, sizeof(path) - len, "/memory.current");
		current = read_path(path, NULL);
		path[len] = 0;
		if (max && current && strncmp(max, "max", 3)) {
			__u64 limit = strtoull(max, NULL, 10), used = strtoull(current, NULL, 10);
			__u64 left = limit > used ? limit - used : 0;

			if (left < room)
				room = left;
		}
		free(max);
		free(current);
		slash = strrchr(path, '/');
		if (!slash || slash == path + strlen("/sys/fs/cgroup"))
			break;
		*slash = 0;
	}
	return room;
}

__u64 live_table_memory_budget(void)
{
	__u64 available = meminfo_available(), room = cgroup_room();

	return available < room ? available : room;
}

/* --max-allocs blocks at the worst moment, in whole segments */
static __u64 max_slots(unsigned long max_allocs)
{
	__u64 slots = (__u64)max_allocs * (MW_TABLE_BYTES_PER_BLOCK / sizeof(struct mw_alloc));

	return slots < MW_SEGMENT_SLOTS ? slots : slots & ~(__u64)(MW_SEGMENT_SLOTS - 1);
}

void live_table_size(struct memwatch_bpf *skel, unsigned long max_allocs)
{
	/* a generation of a part of a segment takes a whole one; room to find runs */
	__u64 segments = 2 * (max_slots(max_allocs) / MW_SEGMENT_SLOTS) + MW_MAX_GENERATIONS;

	bpf_map__set_max_entries(skel->maps.alloc_segments, segments);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The kernel memory a map is charged, from its fdinfo; 0 if unknown. */
static __u64 map_memlock(int fd)
{
	char path[64], *text, *line;
	unsigned long long bytes = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	text = read_path(path, NULL);
	line = text ? strstr(text, "memlock:") : NULL;
	if (line)
		sscanf(line, "memlock: %llu", &bytes);
	free(text);
	return bytes;
}

static void count_memory(struct live_table *lt)
{
	__u64 segments = 0, bytes;
	__u32 i;

	for (i = 0; i < lt->nr_segments; i++)
		segments += lt->segment_used[i];
	bytes = lt->other_bytes + segments * lt->segment_bytes;
	__atomic_store_n(&lt->kernel_bytes, bytes, __ATOMIC_RELAXED);
	if (bytes > lt->peak_kernel_bytes)
		__atomic_store_n(&lt->peak_kernel_bytes, bytes, __ATOMIC_RELAXED);
}

void live_table_kernel_memory(const struct live_table *lt, __u64 *now, __u64 *peak)
{
	*now = __atomic_load_n(&lt->kernel_bytes, __ATOMIC_RELAXED);
	*peak = __atomic_load_n(&lt->peak_kernel_bytes, __ATOMIC_RELAXED);
}

/* The first of @n free entries in a row in the array of maps, or -1. */
static long find_segments(const struct live_table *lt, __u32 n)
{
	__u32 i, run = 0;

	for (i = 0; i < lt->nr_segments; i++) {
		run = lt->segment_used[i] ? 0 : run + 1;
		if (run == n)
			return i + 1 - n;
	}
	return -1;
}

/*
 * Entries @first.. @first + @n - 1 of the array of maps get new segments
 * (zeroed by the kernel: every slot empty). One batch: the kernel waits for
 * running programs once. 0 or -errno.
 */
static int add_segments(struct live_table *lt, __u32 first, __u32 n)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	__u32 *keys = calloc(n, sizeof(*keys)), i, created = 0, count = n;
	int *fds = calloc(n, sizeof(*fds)), err = -ENOMEM;

	if (!keys || !fds)
		goto cleanup;
	for (created = 0; created < n; created++) {
		keys[created] = first + created;
		fds[created] = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(__u32),
					      sizeof(struct mw_alloc), MW_SEGMENT_SLOTS, &opts);
		if (fds[created] < 0) {
			err = -errno;
			goto cleanup;
		}
	}
	if (!lt->segment_bytes)
		lt->segment_bytes = map_memlock(fds[0]);
	err = bpf_map_update_batch(lt->segments_fd, keys, fds, &count, NULL) ? -errno : 0;
	if (!err)
		for (i = 0; i < n; i++)
			lt->segment_used[first + i] = true;
cleanup:
	/* the array of maps holds them now */
	for (i = 0; i < created; i++)
		close(fds[i]);
	free(keys);
	free(fds);
	return err;
}

static int remove_segments(struct live_table *lt, __u32 first, __u32 n)
{
	__u32 *keys = calloc(n, sizeof(*keys)), i, count = n;
	int err;

	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		keys[i] = first + i;
	err = bpf_map_delete_batch(lt->segments_fd, keys, &count, NULL) ? -errno : 0;
	for (i = 0; i < count; i++)
		lt->segment_used[first + i] = false;
	free(keys);
	return err;
}

static __u32 segments_of(__u32 slots)
{
	return (slots + MW_SEGMENT_SLOTS - 1) / MW_SEGMENT_SLOTS;
}

/*
 * Returns once every program running before has finished: a map-in-map
 * update waits for them. The newest generation's first segment is put back
 * in its own place.
 */
static int wait_for_programs(struct live_table *lt)
{
	const struct mw_generation *g = &lt->gens_map[lt->skel->bss->table_newest];
	__u32 key = g->first_segment, id, count = 1;
	int fd, err = 0;

	if (bpf_map_lookup_elem(lt->segments_fd, &key, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_batch(lt->segments_fd, &key, &fd, &count, NULL))
		err = -errno;
	close(fd);
	return err;
}

/* Blocks in the table now, summed over the CPUs. */
static __s64 table_blocks(const struct live_table *lt)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	__s64 *per_cpu, sum = 0;
	__u32 zero = 0;

	if (ncpu <= 0)
		return 0;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (per_cpu && !bpf_map_lookup_elem(bpf_map__fd(lt->skel->maps.table_blocks), &zero,
					    per_cpu))
		for (i = 0; i < ncpu; i++)
			sum += per_cpu[i];
	free(per_cpu);
	return sum;
}

/*
 * A new newest generation of twice the blocks there are (at least a
 * segment), within --max-allocs: it is half used when the blocks have
 * doubled, so at that moment the generations hold 4 slots per block.
 */
static int add_generation(struct live_table *lt)
{
	struct mw_generation *gens = lt->gens_map;
	__u32 newest = lt->skel->bss->table_newest, next = (newest + 1) & GEN_MASK;
	__s64 blocks = table_blocks(lt);
	__u64 slots = blocks > 0 ? 2 * (__u64)blocks : 0;
	long first;
	int err;

	/* the nearest whole segments: the blocks are a little past the threshold by now */
	slots = (slots + MW_SEGMENT_SLOTS / 2) & ~(__u64)(MW_SEGMENT_SLOTS - 1);
	if (slots < MW_SEGMENT_SLOTS)
		slots = MW_SEGMENT_SLOTS;
	if (lt->slots + slots > lt->max_slots)
		slots = (lt->max_slots - lt->slots) & ~(__u64)(MW_SEGMENT_SLOTS - 1);
	if (!slots || next == lt->skel->bss->table_oldest || slots > UINT32_MAX)
		return -ENOSPC;
	first = find_segments(lt, segments_of(slots));
	if (first < 0)
		return -ENOSPC;
	err = add_segments(lt, first, segments_of(slots));
	if (err)
		return err;
	mw_generation_init(&gens[next], first, slots);
	lt->gens[next] = (struct generation_state){ 0 };
	__atomic_store_n(&gens[next].slots, (__u32)slots, __ATOMIC_RELEASE);
	__atomic_store_n(&lt->skel->bss->table_newest, next, __ATOMIC_RELEASE);
	lt->slots += slots;
	count_memory(lt);
	vlog("live table: generation of %llu slots for %lld blocks, %llu slots in all, kernel "
	     "memory: %llu MiB", (unsigned long long)slots, (long long)blocks,
	     (unsigned long long)lt->slots, (unsigned long long)(lt->kernel_bytes >> 20));
	/* inserts that read the old newest are done: it only loses blocks from here */
	err = wait_for_programs(lt);
	if (!err)
		lt->gens[newest].settled = true;
	return 0;
}

/* Blocks in generation @g, read in place a segment at a time. */
static long count_blocks(struct live_table *lt, const struct mw_generation *g)
{
	size_t len = MW_SEGMENT_SLOTS * sizeof(struct mw_alloc);
	__u32 i, s, id, slots = g->slots;
	long blocks = 0;

	for (s = 0; s < segments_of(slots); s++) {
		__u32 key = g->first_segment + s;
		struct mw_alloc *slot;
		int fd;

		if (bpf_map_lookup_elem(lt->segments_fd, &key, &id))
			return -errno;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return -errno;
		slot = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (slot == MAP_FAILED)
			return -errno;
		for (i = 0; i < MW_SEGMENT_SLOTS; i++)
			blocks += slot[i].key != MW_SLOT_EMPTY && !(slot[i].key & MW_SLOT_FREED);
		munmap(slot, len);
	}
	return blocks;
}

/* Old generations without a block are no longer searched, and their segments go. */
static void drop_empty(struct live_table *lt)
{
	struct mw_generation *gens = lt->gens_map;
	__u32 newest = lt->skel->bss->table_newest, oldest = lt->skel->bss->table_oldest, i;
	/* an exec or a retirement took blocks out of old generations without a free */
	bool walked = lt->skel->bss->table_walks != lt->walks_seen;

	lt->walks_seen = lt->skel->bss->table_walks;
	for (i = oldest; i != newest; i = (i + 1) & GEN_MASK) {
		struct generation_state *st = &lt->gens[i];
		struct mw_generation *g = &gens[i];
		__u64 freed = g->freed_old;
		__u32 slots;
		long blocks;

		if (!g->slots || !st->settled)
			continue;
		/* could it be empty by now? */
		if (st->scanned && !walked && freed - st->freed_at_scan < st->blocks_at_scan)
			continue;
		blocks = count_blocks(lt, g);
		if (blocks < 0)
			continue;
		st->scanned = true;
		st->blocks_at_scan = blocks;
		st->freed_at_scan = freed;
		if (blocks)
			continue;
		/* a search under way finds nothing in it, then no segment */
		slots = g->slots;
		__atomic_store_n(&g->slots, 0, __ATOMIC_RELEASE);
		lt->slots -= slots;
		remove_segments(lt, g->first_segment, segments_of(slots));
	}
	while (oldest != newest && !gens[oldest].slots)
		oldest = (oldest + 1) & GEN_MASK;
	__atomic_store_n(&lt->skel->bss->table_oldest, oldest, __ATOMIC_RELEASE);
	count_memory(lt);
}

/* The record says only: look. */
static int on_wakeup(void *ctx __attribute__((unused)), void *data __attribute__((unused)),
		     size_t size __attribute__((unused)))
{
	return 0;
}

/* Grows when the newest generation is half used (or an insert found no slot). */
static void maybe_grow(struct live_table *lt)
{
	int err;

	if (!__atomic_load_n(&lt->skel->bss->table_wake_pending, __ATOMIC_ACQUIRE))
		return;
	/* half used, or an insert found no slot before that */
	err = add_generation(lt);
	if (err) {
		if (!lt->full)
			vlog("live table: cannot grow (%s): blocks beyond it are untracked",
			     strerror(-err));
		lt->full = true;
		return;
	}
	lt->full = false;
	__atomic_store_n(&lt->skel->bss->table_wake_pending, 0, __ATOMIC_RELEASE);
}

static void *table_thread(void *arg)
{
	struct live_table *lt = arg;
	__u64 last_drop = now_ns();

	while (!__atomic_load_n(&lt->stop, __ATOMIC_ACQUIRE)) {
		ring_buffer__poll(lt->wakeups, POLL_MS);
		/* a full table is retried at the slower pace, after drops */
		if (!lt->full)
			maybe_grow(lt);
		if (now_ns() - last_drop >= DROP_CHECK_NS) {
			last_drop = now_ns();
			drop_empty(lt);
			if (lt->full) {
				lt->full = false;
				maybe_grow(lt);
			}
		}
	}
	return NULL;
}

static __u64 other_maps_memory(struct memwatch_bpf *skel)
{
	struct bpf_map *map;
	__u64 bytes = 0;

	bpf_object__for_each_map(map, skel->obj)
		if (bpf_map__fd(map) >= 0)
			bytes += map_memlock(bpf_map__fd(map));
	return bytes;
}

int live_table_open(struct live_table *lt, struct memwatch_bpf *skel, unsigned long max_allocs)
{
	struct mw_generation *g;
	sigset_t all, old;
	__u64 slots;
	int err;

	memset(lt, 0, sizeof(*lt));
	lt->skel = skel;
	lt->segments_fd = bpf_map__fd(skel->maps.alloc_segments);
	lt->nr_segments = bpf_map__max_entries(skel->maps.alloc_segments);
	lt->max_slots = max_slots(max_allocs);
	lt->other_bytes = other_maps_memory(skel);
	lt->walks_seen = skel->bss->table_walks;
	lt->segment_used = calloc(lt->nr_segments, sizeof(*lt->segment_used));
	if (!lt->segment_used)
		return -ENOMEM;
	lt->gens_map = mmap(NULL, GENS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
			    bpf_map__fd(skel->maps.table_generations), 0);
	if (lt->gens_map == MAP_FAILED) {
		lt->gens_map = NULL;
		return -errno;
	}
	g = &lt->gens_map[0];
	/* the first generation: a segment, or the part of one that --max-allocs allows */
	slots = lt->max_slots < MW_SEGMENT_SLOTS ? lt->max_slots : MW_SEGMENT_SLOTS;
	err = add_segments(lt, 0, 1);
	if (err)
		return err;
	mw_generation_init(g, 0, slots);
	g->slots = slots;
	lt->slots = slots;
	count_memory(lt);
	lt->wakeups = ring_buffer__new(bpf_map__fd(skel->maps.table_wakeups), on_wakeup, NULL,
				       NULL);
	if (!lt->wakeups)
		return -errno;
	/* signals are the report loop's: the thread takes none */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&lt->thread, NULL, table_thread, lt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	lt->running = !err;
	return err;
}

void live_table_close(struct live_table *lt)
{
	if (lt->running) {
		__atomic_store_n(&lt->stop, true, __ATOMIC_RELEASE);
		pthread_join(lt->thread, NULL);
		lt->running = false;
	}
	ring_buffer__free(lt->wakeups);
	lt->wakeups = NULL;
	free(lt->segment_used);
	lt->segment_used = NULL;
	if (lt->gens_map)
		munmap(lt->gens_map, GENS_BYTES);
	lt->gens_map = NULL;
}
