// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
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
	kernel_stacks_configure(skel, c->stacks);
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
	c->entered_ns = p->entered_ns;
	c->exiting = __atomic_load_n(&p->exiting, __ATOMIC_ACQUIRE);
	memcpy(c->rss_at_entry, p->rss_at_entry, sizeof(c->rss_at_entry));
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
