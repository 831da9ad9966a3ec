/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The uprobes on the target's allocator, kept on the allocator of the image
 * it runs. An exec may bring another allocator (a preload, a static binary)
 * or none. And a uprobe opened for a PID belongs to that PID's task: when a
 * thread other than the main one execs, it takes the PID over, the main
 * thread's task is gone, and so is every probe opened on it. So after each
 * exec the allocator is found again; the probes stay when it is the same file
 * and their task lives, and are placed anew otherwise.
 */
#ifndef MW_FOLLOW_H
#define MW_FOLLOW_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "attach/allocator.h"
#include "attach/mapped_file.h"
#include "attach/probes.h"

struct memwatch_bpf;
struct mw_target_info;

/* A perf event on one task, whose poll() hangs up when that task is gone. */
struct task_watch {
	int fd;
	void *page;
};

struct follow {
	struct memwatch_bpf *skel;	/* NULL until started */
	__u32 process;			/* the process's record in the kernel's watched set */
	const char *libc;		/* --libc: this file whatever the image */
	bool quiet;			/* the live view owns the terminal: say nothing */
	struct allocator alloc;		/* the file probed, open, when info->malloc_probed */
	struct file_id id;		/* its device and inode */
	struct probes links;		/* the uprobes on it */
	struct task_watch task;		/* the task they were opened on */
	__u64 execs;			/* the kernel's exec count at the last look */
	bool loading;			/* dynamic, and no malloc mapped yet */
	bool pending;			/* an exec's image not yet counted in mw_target_info */
	__u64 maps_sig;			/* then a hash of its file mappings */
};

/*
 * The allocator running process @pid calls, checked the way it will be
 * probed: 0, -ENOENT when there is none to probe (why in @a), or -ESRCH when
 * the process exited.
 */
int allocator_of_target(pid_t pid, const char *libc, struct allocator *a);
/* Fills @info's allocator and origin from @a and info->malloc_probed. */
void allocator_describe(struct mw_target_info *info, const struct allocator *a, bool no_malloc);
/* One line on stderr when nothing is probed for a reason the user may not expect. */
void allocator_note(const struct mw_target_info *info, const struct allocator *a,
		    bool no_malloc);

/*
 * Starts following @info->pid, watched by the kernel as @process, with @a,
 * found for it (or @libc, --libc), and attaches @a's uprobes when
 * info->malloc_probed, through the descriptor @a holds, which @f takes over
 * (a->fd becomes -1). 0 or -errno; what was attached stays for
 * follow_stop(). @f starts zeroed.
 */
int follow_start(struct follow *f, struct memwatch_bpf *skel, __u32 process,
		 struct mw_target_info *info, struct allocator *a, const char *libc);
/*
 * -f, --cgroup: @f for a process the kernel entered in slot @process, with
 * nothing placed yet; follow_stop() may end it as it is.
 */
void follow_init(struct follow *f, struct memwatch_bpf *skel, __u32 process, const char *libc,
		 bool quiet);
/*
 * Starts following @info->pid, @f from follow_init(): finds its allocator
 * as after an exec and places the uprobes. 0, or -ESRCH when it exited.
 */
int follow_child(struct follow *f, struct mw_target_info *info);
/*
 * Looks at the target's image again when it exec'd since the last look
 * (always with @force), and moves the uprobes if its allocator changed; one
 * line on stderr says so. When nothing happened it reads only the exec count.
 */
void follow_exec(struct follow *f, struct mw_target_info *info, bool force);
/*
 * -p, once attached: the target may have exited or exec'd meanwhile. An exec
 * before the tracepoints were in was not counted, so its image is looked at
 * once more (unless @probe_malloc is false: --no-malloc), now that any later
 * exec will be. 0, or -ESRCH when it exited.
 */
int follow_settle(struct follow *f, struct mw_target_info *info, bool probe_malloc);
void follow_stop(struct follow *f);

#endif /* MW_FOLLOW_H */
