/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Attaching and detaching memwatch's tracepoints and allocator uprobes. */
#ifndef MW_PROBES_H
#define MW_PROBES_H

#include <stdbool.h>
#include <sys/types.h>

struct memwatch_bpf;
struct allocator;
struct bpf_link;
struct bpf_object;
struct bpf_program;
struct probe_plan;

/* libbpf's link, or the fd of a link libbpf 1.1 cannot make */
struct probe_link {
	struct bpf_link *link;
	int fd;
	bool ret;		/* a uretprobe's: detached after the entry probes */
};

struct probes {
	struct probe_link *links;
	int count, cap;
	int tracepoints;
	int uprobes;
	int uretprobes;
};

/* Whether the kernel has uprobe_multi links, which need no CAP_SYS_ADMIN. */
bool probes_uprobe_multi_supported(void);
/* Before load: @obj's uprobe programs will attach through uprobe_multi links. */
void probes_use_uprobe_multi(struct bpf_object *obj);
/* Keeps the uprobe programs from loading at all (--no-malloc). */
void probes_skip_malloc(struct memwatch_bpf *skel);
/* 0 or -errno; what was attached stays in @p for probes_detach(). */
int probes_attach_tracepoints(struct memwatch_bpf *skel, struct probes *p);
int probes_attach_allocator(struct memwatch_bpf *skel, pid_t pid, const struct allocator *a,
			    struct probes *p);
/*
 * Attaches @entry[func] at each probed function's planned entry site and
 * @ret as its uretprobe (memwatch's programs, or the benchmark's empty ones).
 */
int probes_attach_plan(struct bpf_program *const entry[], struct bpf_program *ret, pid_t pid,
		       const struct allocator *a, const struct probe_plan *plan, struct probes *p);
/*
 * Whether the entry uprobes count: off until every one of them is attached,
 * so that no block is seen allocated whose free could be missed.
 */
void probes_counting(struct memwatch_bpf *skel, bool on);
void probes_detach(struct probes *p);

#endif /* MW_PROBES_H */
