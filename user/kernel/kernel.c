// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/compat.h"
#include "kernel/kernel.h"
#include "kernel/live_table.h"
#include "kernel/stack_events.h"
#include "kernel/thread_table.h"
#include "memwatch.skel.h"
#include "sys/heap_reserve.h"

/* the kernel's types, which libbpf reads to relocate the programs */
#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* --trace: room for ~80,000 records, a burst of syscalls while the printing catches up */
#define TRACE_RING_BYTES (8U << 20)

int kernel_load(struct memwatch_bpf **skelp, const struct kernel_config *c)
{
	struct memwatch_bpf *skel;
	struct bpf_program *prog;
	struct stat st;
	int err;

	*skelp = skel = memwatch_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->page_size = sysconf(_SC_PAGESIZE);
	skel->rodata->trace_syscalls = c->trace;
	skel->rodata->follow_forks = c->follow_forks;
	skel->rodata->watched_cgroup_id = c->cgroup_id;
	skel->rodata->possible_cpus = libbpf_num_possible_cpus();
	live_table_size(skel, c->max_allocs);
	thread_table_size(skel);
	/* the smallest ring buffer there is when nothing is traced */
	bpf_map__set_max_entries(skel->maps.trace_events,
				 c->trace ? TRACE_RING_BYTES : sysconf(_SC_PAGESIZE));
	kernel_stacks_configure(skel, c->stacks, c->sample_bytes);
	/* the uprobe programs: none at all with --no-malloc */
	bpf_object__for_each_program(prog, skel->obj) {
		if (bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE && c->no_malloc)
			bpf_program__set_autoload(prog, false);
	}
	if (!c->no_malloc && c->uprobe_multi)
		compat_use_uprobe_multi(skel->obj);
	/* libbpf reads the kernel's types into one buffer and copies them into another */
	heap_reserve_begin(stat(VMLINUX_BTF, &st) ? 0 : st.st_size);
	err = memwatch_bpf__load(skel);
	heap_reserve_end();
	if (!err && c->stacks && c->sample_bytes)
		err = kernel_stacks_intervals(skel, c->sample_bytes);
	return err;
}

void kernel_destroy(struct memwatch_bpf *skel)
{
	memwatch_bpf__destroy(skel);
}

int kernel_watch(struct memwatch_bpf *skel, pid_t pid, bool launched, __u32 *process)
{
	__u32 slot = __atomic_add_fetch(&skel->bss->process_slots_claimed, 1, __ATOMIC_RELAXED);
	__u32 key = pid;
	struct mw_process *p;

	if (slot >= MW_MAX_PROCESSES)
		return -ENOSPC;
	p = &skel->bss->process_records[slot];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->exec_pending = launched;
	p->preexisting = !launched;
	__atomic_add_fetch(&skel->bss->mms_unknown, 1, __ATOMIC_RELAXED);
	/* the record is complete before the programs can find it */
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.processes), &key, &slot, BPF_ANY))
		return -errno;
	*process = slot;
	return 0;
}

__u32 kernel_processes_claimed(const struct memwatch_bpf *skel)
{
	__u32 n = __atomic_load_n(&skel->bss->process_slots_claimed, __ATOMIC_ACQUIRE);

	return n < MW_MAX_PROCESSES ? n : MW_MAX_PROCESSES - 1;
}

void kernel_read_child(const struct memwatch_bpf *skel, __u32 process, struct kernel_child *c)
{
	const struct mw_process *p = &skel->bss->process_records[process];

	/* the program writes the PID last */
	c->pid = __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);
	c->parent = p->parent;
	c->parent_pid = p->parent_pid;
	c->entered_ns = p->entered_ns;
	c->exiting = __atomic_load_n(&p->exiting, __ATOMIC_ACQUIRE);
	memcpy(c->rss_at_entry, p->rss_at_entry, sizeof(c->rss_at_entry));
}

bool kernel_reaped(const struct memwatch_bpf *skel, __u32 process)
{
	return __atomic_load_n(&skel->bss->process_records[process].reaped, __ATOMIC_ACQUIRE);
}

void kernel_gone(struct memwatch_bpf *skel, __u32 process)
{
	struct mw_process *p = &skel->bss->process_records[process];

	/* what the programs ask before they count: nothing of it counts from here */
	__atomic_store_n(&p->exiting, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->reaped, 1, __ATOMIC_RELEASE);
}

static bool pid_in(pid_t pid, const pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (pids[i] == pid)
			return true;
	}
	return false;
}

/* The mappings the processes of TGIDs @pids made: gone with them. 0 or -errno. */
static int forget_regions(struct memwatch_bpf *skel, const pid_t *pids, int n)
{
	int fd = bpf_map__fd(skel->maps.regions), err = 0;
	__u32 max = bpf_map__max_entries(skel->maps.regions), nr = 0, i;
	struct mw_region_key *keys = calloc(max, sizeof(*keys));
	struct mw_region_key *prev = NULL, key;

	if (!keys)
		return -ENOMEM;
	/* the keys first: a walk of a hash map restarts where its current key was deleted */
	while (nr < max && !bpf_map_get_next_key(fd, prev, &key)) {
		if (pid_in(key.pid, pids, n))
			keys[nr++] = key;
		prev = &key;
	}
	for (i = 0; i < nr; i++) {
		if (bpf_map_delete_elem(fd, &keys[i]) && errno != ENOENT)
			err = -errno;
	}
	free(keys);
	return err;
}

/* The live table's blocks and tombstones of the slots: one walk of it for all. 0 or -errno. */
static int forget_blocks(struct memwatch_bpf *skel, const __u32 *slots, int n)
{
	__u64 *retiring = skel->bss->retiring_slots, args[1] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
	int i, err = 0;

	for (i = 0; i < n; i++)
		retiring[slots[i] / 64] |= 1ULL << slots[i] % 64;
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.process_forget), &opts))
		err = -errno;
	memset(retiring, 0, sizeof(skel->bss->retiring_slots));
	return err;
}

int kernel_unwatch(struct memwatch_bpf *skel, const __u32 *slots, const pid_t *pids, int n)
{
	int fd = bpf_map__fd(skel->maps.processes), i, nr = 0, err = -ENOMEM;
	pid_t *gone = calloc(n, sizeof(*gone));
	__u32 key, slot;

	if (!gone)
		return err;
	for (i = 0; i < n; i++) {
		const struct mw_process *p = &skel->bss->process_records[slots[i]];

		/* its mm's hash, unless the kernel dropped it as its task was freed */
		key = p->mm_id;
		if (p->mm_known && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.process_mms), &key,
							&slot) && slot == slots[i])
			bpf_map_delete_elem(bpf_map__fd(skel->maps.process_mms), &key);
		key = pids[i];
		/* a new process that has the TGID already keeps it, and its mappings */
		if (!bpf_map_lookup_elem(fd, &key, &slot) && slot != slots[i])
			continue;
		bpf_map_delete_elem(fd, &key);
		gone[nr++] = pids[i];
	}
	err = forget_regions(skel, gone, nr);
	free(gone);
	return forget_blocks(skel, slots, n) ?: err;
}

void kernel_free_slots(struct memwatch_bpf *skel, const __u32 *slots, int n)
{
	int fd = bpf_map__fd(skel->maps.free_process_slots), i;

	for (i = 0; i < n; i++) {
		struct mw_process *p = &skel->bss->process_records[slots[i]];

		/* it died before its first event taught the kernel its mm */
		if (!p->mm_known)
			__atomic_sub_fetch(&skel->bss->mms_unknown, 1, __ATOMIC_RELAXED);
		memset(p, 0, sizeof(*p));
		/* cannot fail: the queue has room for every slot */
		bpf_map_update_elem(fd, NULL, &slots[i], BPF_ANY);
	}
}

__u64 kernel_forks_unwatched(const struct memwatch_bpf *skel)
{
	return skel->bss->forks_unwatched;
}

int kernel_process_wakeups_fd(const struct memwatch_bpf *skel)
{
	return bpf_map__fd(skel->maps.process_wakeups);
}

void kernel_resident_base(struct memwatch_bpf *skel, __u32 process, const __s64 base[MW_RSS_NR])
{
	memcpy(skel->bss->process_records[process].rss_now, base,
	       sizeof(skel->bss->process_records[process].rss_now));
}

void kernel_glibc_chunks(struct memwatch_bpf *skel, __u32 process, bool glibc)
{
	skel->bss->process_records[process].glibc_chunks = glibc;
}

void kernel_counting(struct memwatch_bpf *skel, __u32 process, bool on)
{
	/* after the syscalls that made the links: every entry probe of the set is live */
	__atomic_store_n(&skel->bss->process_records[process].counting, on, __ATOMIC_RELEASE);
}

__u64 kernel_execs(const struct memwatch_bpf *skel, __u32 process)
{
	return skel->bss->process_records[process].execs;
}

void kernel_read_counts(const struct memwatch_bpf *skel, struct kernel_counts *c)
{
	const typeof(*skel->bss) *bss = skel->bss;

	c->lost_events = bss->lost_events;
	c->trace_lost = bss->trace_lost;
	c->stacks_lost = bss->stacks_lost;
	c->stacks_capped = bss->stacks_capped;
}

void kernel_read_process(const struct memwatch_bpf *skel, __u32 process,
			 struct kernel_process_counts *c)
{
	const struct mw_process *p = &skel->bss->process_records[process];

	c->forks = p->forks;
	c->execs = p->execs;
	c->orphan_released_calls = p->orphan_released_calls;
	c->orphan_released_bytes = p->orphan_released_bytes;
	memcpy(c->rss_now, p->rss_now, sizeof(c->rss_now));
	memcpy(c->rss_at_exit, p->rss_at_exit, sizeof(c->rss_at_exit));
	memcpy(c->rss_other_gained, p->rss_other_gained, sizeof(c->rss_other_gained));
	memcpy(c->rss_other_lost, p->rss_other_lost, sizeof(c->rss_other_lost));
	memcpy(c->rss_exit_lost, p->rss_exit_lost, sizeof(c->rss_exit_lost));
	c->exiting = p->exiting;
	c->left = p->left;
}

struct bpf_object *kernel_object(const struct memwatch_bpf *skel)
{
	return skel->obj;
}

struct bpf_map *kernel_regions_map(const struct memwatch_bpf *skel)
{
	return skel->maps.regions;
}

int kernel_trace_fd(const struct memwatch_bpf *skel)
{
	return bpf_map__fd(skel->maps.trace_events);
}
