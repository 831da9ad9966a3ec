// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "kernel/compat.h"
#include "kernel/kernel.h"
#include "kernel/live_table.h"
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
	skel->rodata->target_tgid = c->pid;
	skel->rodata->page_size = sysconf(_SC_PAGESIZE);
	skel->rodata->trace_syscalls = c->trace;
	skel->rodata->preexisting_blocks = c->preexisting_blocks;
	live_table_size(skel, c->max_allocs);
	thread_table_size(skel);
	/* the smallest ring buffer there is when nothing is traced */
	bpf_map__set_max_entries(skel->maps.trace_events,
				 c->trace ? TRACE_RING_BYTES : sysconf(_SC_PAGESIZE));
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

void kernel_resident_base(struct memwatch_bpf *skel, const __s64 base[MW_RSS_NR])
{
	memcpy(skel->bss->rss_now, base, sizeof(skel->bss->rss_now));
}

void kernel_exec_pending(struct memwatch_bpf *skel)
{
	skel->bss->exec_pending = 1;
}

void kernel_glibc_chunks(struct memwatch_bpf *skel, bool glibc)
{
	skel->bss->glibc_chunks = glibc;
}

void kernel_counting(struct memwatch_bpf *skel, bool on)
{
	/* after the syscalls that made the links: every entry probe of the set is live */
	__atomic_store_n(&skel->bss->counting, on, __ATOMIC_RELEASE);
}

__u64 kernel_execs(const struct memwatch_bpf *skel)
{
	return skel->bss->execs;
}

void kernel_read_counts(const struct memwatch_bpf *skel, struct kernel_counts *c)
{
	const typeof(*skel->bss) *bss = skel->bss;

	c->lost_events = bss->lost_events;
	c->orphan_released_calls = bss->orphan_released_calls;
	c->orphan_released_bytes = bss->orphan_released_bytes;
	c->forks = bss->forks;
	c->execs = bss->execs;
	c->trace_lost = bss->trace_lost;
	memcpy(c->rss_now, bss->rss_now, sizeof(c->rss_now));
	memcpy(c->rss_at_exit, bss->rss_at_exit, sizeof(c->rss_at_exit));
	memcpy(c->rss_other_gained, bss->rss_other_gained, sizeof(c->rss_other_gained));
	memcpy(c->rss_other_lost, bss->rss_other_lost, sizeof(c->rss_other_lost));
	memcpy(c->rss_exit_lost, bss->rss_exit_lost, sizeof(c->rss_exit_lost));
	c->target_exiting = bss->target_exiting;
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
