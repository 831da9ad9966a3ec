/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Unwinding a process's stack samples with elfutils' libdwfl, from the
 * modules' DWARF call-frame information (.eh_frame, .debug_frame): code
 * without frame pointers unwinds as well as code with them. One Dwfl per
 * process, its modules reported from /proc/PID/maps and opened inside the
 * process's root as the allocator's file is; its thread state is read from
 * the sample being unwound, not from the live process.
 */
#ifndef MW_UNWIND_H
#define MW_UNWIND_H

#include <stdbool.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>
#include <linux/types.h>

struct mw_stack_sample;

/* frames kept of a stack: deeper ones are cut, the innermost kept */
#define MW_MAX_FRAMES 64

struct unwinder {
	Dwfl *dwfl;
	pid_t pid;
	int root_fd;			/* the process's root, -1 until opened */
	const struct mw_stack_sample *sample;	/* the one being unwound */
	double maps_read_s;		/* when the modules were last reported, 0: never */
	__u64 execs;			/* the image it unwinds: the process's execs before it */
	struct unwinder *next;		/* its process's next image's, announced already */
	bool attached;			/* dwfl_attach_state() took */
	unsigned int modules;		/* reported so far */
	unsigned int mapped;		/* code mappings announced (unwinder_mapped()) */
	bool stale;			/* one of them not read yet */
	/* a Go program's runtime.systemstack, where its stacks end (go_stack.h) */
	__u64 go_switch_start, go_switch_end;
};

/*
 * An unwinder for process @pid's image after its @execs execs, its modules
 * read by unwinder_load() or when its first sample comes. 0 or -errno.
 */
int unwinder_init(struct unwinder *u, pid_t pid, __u64 execs);
/* Reports the modules the process maps now, those reported before kept. */
void unwinder_load(struct unwinder *u);
/*
 * The process mapped a file's code: its modules are read now (a loader's
 * libraries, before the process may be gone), or past the first few, at most
 * every MAPS_REREAD_S and at the next frame in no module (a JIT remapping
 * a memfd's code again and again).
 */
void unwinder_mapped(struct unwinder *u);
void unwinder_free(struct unwinder *u);

/*
 * The code addresses of @s's stack, innermost first: the probed function's
 * entry, then each caller's call (its return address less one). How many,
 * at most MW_MAX_FRAMES; at least 1.
 */
int unwind_sample(struct unwinder *u, const struct mw_stack_sample *s, __u64 pcs[MW_MAX_FRAMES]);

#endif /* MW_UNWIND_H */
