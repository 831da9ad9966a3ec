/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Attaching and detaching memwatch's tracepoints and allocator uprobes. */
#ifndef MW_PROBES_H
#define MW_PROBES_H

#include <stdbool.h>
#include <sys/types.h>

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

/* @obj's tracepoint programs; 0 or -errno, what was attached stays in @p for probes_detach(). */
int probes_attach_tracepoints(struct bpf_object *obj, struct probes *p);
/* @obj's malloc-family programs on @a's file for @pid, at the sites probe_site.h plans. */
int probes_attach_allocator(struct bpf_object *obj, pid_t pid, const struct allocator *a,
			    struct probes *p);
/*
 * Attaches @entry[func] at each probed function's planned entry site and
 * @ret as its uretprobe (memwatch's programs, or the benchmark's empty ones).
 */
int probes_attach_plan(struct bpf_program *const entry[], struct bpf_program *ret, pid_t pid,
		       const struct allocator *a, const struct probe_plan *plan, struct probes *p);
/*
 * Moves @src's links to @dst, to go in one probes_detach(): each uprobe
 * unregistering waits ~30 ms, and the waits of one detach overlap. 0, or
 * -ENOMEM with both as they were.
 */
int probes_move(struct probes *dst, struct probes *src);
void probes_detach(struct probes *p);

#endif /* MW_PROBES_H */
