/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The one owner of memwatch's BPF object, the bpftool skeleton: loaded for a
 * target, then asked through these functions. Only user/kernel/ includes the
 * skeleton; elsewhere struct memwatch_bpf is a handle.
 */
#ifndef MW_KERNEL_H
#define MW_KERNEL_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "memwatch.h"

struct bpf_map;
struct bpf_object;
struct memwatch_bpf;

/* What the programs are loaded for. */
struct kernel_config {
	bool follow_forks;		/* -f: a fork adds the child to the set */
	__u64 cgroup_id;		/* --cgroup: its id (its directory's inode), else 0 */
	bool trace;			/* --trace: the syscall records' ring buffer */
	bool no_malloc;			/* no uprobe program is loaded */
	bool uprobe_multi;		/* uprobes attach through uprobe_multi links */
	unsigned long max_allocs;	/* the live table's cap */
	bool stacks;			/* --stacks: allocations' stacks */
	__u64 sample_bytes;		/* --stacks=sampled: mean bytes between two; 0: all */
};

/* What the programs counted beside the thread records, read each interval. */
struct kernel_counts {
	__u64 lost_events;
	__u64 trace_lost;
	__u64 stacks_lost;		/* --stacks: records that found their ring buffer full */
	__u64 stacks_capped;		/* --stacks: memory syscalls over the rate cap of stacks */
};

/* What the programs counted of one watched process beside its threads' records. */
struct kernel_process_counts {
	__u64 forks, execs;
	__u64 orphan_released_calls, orphan_released_bytes;
	__s64 rss_now[MW_RSS_NR], rss_at_exit[MW_RSS_NR];
	__s64 rss_other_gained[MW_RSS_NR], rss_other_lost[MW_RSS_NR], rss_exit_lost[MW_RSS_NR];
	bool exiting;			/* its last thread began to exit */
	bool left;			/* --cgroup: it was moved out of it */
};

/*
 * Opens and loads the programs for @c into *@skel (NULL when the object
 * cannot even be opened). 0 or -errno: -EPERM is a refused privilege, other
 * errors the verifier's or the kernel's (libbpf logged why).
 */
int kernel_load(struct memwatch_bpf **skel, const struct kernel_config *c);
void kernel_destroy(struct memwatch_bpf *skel);

/*
 * Adds process @pid to the watched set, its record's slot in *@process;
 * @launched: a held command, whose counting waits for its exec, and whose
 * every block is seen made (else some are older than the counting). 0, or
 * -ENOSPC when every slot is taken.
 */
int kernel_watch(struct memwatch_bpf *skel, pid_t pid, bool launched, __u32 *process);
/* A process the kernel entered (-f's child, or one that joined --cgroup): who and when. */
struct kernel_child {
	pid_t pid;		/* 0 while its record is being written */
	__u32 parent;		/* its parent's slot, 0 when it joined the cgroup */
	pid_t parent_pid;	/* its parent's TGID, 0 when it joined the cgroup */
	__u64 entered_ns;	/* CLOCK_MONOTONIC */
	bool exiting;		/* its last thread began to exit: its PID may be another's */
	__s64 rss_at_entry[MW_RSS_NR];
};

/* How many slots were handed out, by kernel_watch() and the fork tracepoint: the last slot. */
__u32 kernel_processes_claimed(const struct memwatch_bpf *skel);
/* What the kernel wrote of slot @process as it entered it. */
void kernel_read_child(const struct memwatch_bpf *skel, __u32 process, struct kernel_child *c);
/* Whether the process in slot @process was reaped: its record changes no more. */
bool kernel_reaped(const struct memwatch_bpf *skel, __u32 process);
/*
 * The process in slot @process exited, seen by user space (its pidfd, or gone
 * before the tracepoints were in): it is retired as a reaped one is, its
 * events being over (a zombie makes none).
 */
void kernel_gone(struct memwatch_bpf *skel, __u32 process);
/*
 * Takes the @n processes in @slots, of TGIDs @pids, reaped and read one last
 * time, out of the kernel's maps: the watched set, the regions and the live
 * table (their blocks and tombstones, so that the slots' next owners never
 * find them). 0 or -errno.
 */
int kernel_unwatch(struct memwatch_bpf *skel, const __u32 *slots, const pid_t *pids, int n);
/*
 * Then, once no program can be writing to them any more, zeroes their
 * records and queues the slots for the next processes the kernel enters.
 */
void kernel_free_slots(struct memwatch_bpf *skel, const __u32 *slots, int n);
/* -f, --cgroup: processes that found no slot left */
__u64 kernel_forks_unwatched(const struct memwatch_bpf *skel);
/* The ring buffer whose records wake user space when a fork added a process. */
int kernel_process_wakeups_fd(const struct memwatch_bpf *skel);
/* Where the resident counters of @process start: its RSS now (-p). */
void kernel_resident_base(struct memwatch_bpf *skel, __u32 process, const __s64 base[MW_RSS_NR]);
/* Whether frees may read glibc's chunk headers for a pre-attach block's size. */
void kernel_glibc_chunks(struct memwatch_bpf *skel, __u32 process, bool glibc);
/* Turns @process's allocator probes' counting on, once every entry probe is live, or off. */
void kernel_counting(struct memwatch_bpf *skel, __u32 process, bool on);

/* The execs of @process the programs saw since it was added. */
__u64 kernel_execs(const struct memwatch_bpf *skel, __u32 process);
void kernel_read_counts(const struct memwatch_bpf *skel, struct kernel_counts *c);
void kernel_read_process(const struct memwatch_bpf *skel, __u32 process,
			 struct kernel_process_counts *c);

/* The programs (probes.c finds its own by name) and the maps the snapshot and --trace read. */
struct bpf_object *kernel_object(const struct memwatch_bpf *skel);
struct bpf_map *kernel_regions_map(const struct memwatch_bpf *skel);
int kernel_trace_fd(const struct memwatch_bpf *skel);

#endif /* MW_KERNEL_H */
