// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "attach/allocator_check.h"
#include "attach/follow.h"
#include "attach/target.h"
#include "kernel/kernel.h"
#include "model/model.h"
#include "output/escape.h"
#include "sys/elf_file.h"
#include "sys/fileio.h"
#include "sys/log.h"
#include "sys/procmaps.h"

/*
 * --libc with -p: a file the target does not map would have uprobes that
 * count nothing. Said once: each later look (the attach's last, an exec's)
 * would only repeat it.
 */
static void libc_check_mapped(pid_t pid, const struct allocator *a)
{
	static bool said;
	struct file_id id;
	char path[64], *maps;

	if (said)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = read_path(path, NULL);
	if (maps && !file_id_of_fd(a->fd, &id) && !maps_has_file(maps, &id)) {
		elog("--libc %s: pid %d does not map this file, so its uprobes will count nothing",
		     a->target_path, pid);
		said = true;
	}
	free(maps);
}

int allocator_of_target(pid_t pid, const char *libc, struct allocator *a)
{
	int err = allocator_of_process(pid, libc, a);

	/* what an exited process leaves unreadable is no missing allocator */
	if (err && (err == -ESRCH || process_gone(pid)))
		return -ESRCH;
	if (err)
		return -ENOENT;
	if (libc)
		libc_check_mapped(pid, a);
	if (allocator_drop_ifuncs(a)) {
		allocator_close(a);
		return -ENOENT;
	}
	return 0;
}

void allocator_describe(struct mw_target_info *info, const struct allocator *a, bool no_malloc)
{
	size_t len = sizeof(info->allocator);

	info->allocator_origin = "";
	if (info->malloc_probed) {
		snprintf(info->allocator, len, "%s", a->target_path);
		info->allocator_origin = origin_name(a->origin);
	} else if (no_malloc) {
		snprintf(info->allocator, len, "--no-malloc");
	} else if (a->unprobed[0]) {
		snprintf(info->allocator, len, "%.4000s", a->unprobed);
	} else if (a->go_runtime[0]) {
		snprintf(info->allocator, len, "Go runtime %s: no libc malloc, heap via mmap/madvise",
			 a->go_runtime);
		info->allocator_origin = "go";
	} else {
		snprintf(info->allocator, len, "no malloc found: static or Go binary");
	}
}

void allocator_note(const struct mw_target_info *info, const struct allocator *a,
		    bool no_malloc)
{
	if (no_malloc)
		return;
	if (info->malloc_probed) {
		if (a->own_malloc[0] && a->origin != MW_ORIGIN_EXE)
			elog("%s (%d) also links its own allocator (%s): blocks it serves bypass "
			     "malloc and are not counted; its syscalls are",
			     ESC(info->comm, sizeof(info->comm)), info->pid, a->own_malloc);
		return;
	}
	if (a->unprobed[0])
		elog("%s; tracing syscalls only", ESC(a->unprobed, sizeof(a->unprobed)));
	else if (a->go_runtime[0])
		elog("%s (%d) is a Go program (%s): its heap grows with mmap and returns with "
		     "madvise, which memwatch traces; no malloc uprobe",
		     ESC(info->comm, sizeof(info->comm)), info->pid,
		     ESC(a->go_runtime, sizeof(a->go_runtime)));
	else
		elog("no malloc to probe in %s (%d): static or Go binary? Tracing syscalls only",
		     ESC(info->comm, sizeof(info->comm)), info->pid);
}

static void task_watch_open(struct task_watch *w, pid_t pid)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.disabled = 1,
	};

	w->page = MAP_FAILED;
	w->fd = syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (w->fd < 0)
		return;
	/* without a buffer, poll() says hang-up whatever the task does */
	w->page = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ, MAP_SHARED, w->fd, 0);
	if (w->page == MAP_FAILED) {
		close(w->fd);
		w->fd = -1;
	}
}

/* Unknown counts as gone: placing the probes anew is right either way. */
static bool task_watch_gone(const struct task_watch *w)
{
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

	if (w->fd < 0)
		return true;
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLHUP);
}

static void task_watch_close(struct task_watch *w)
{
	if (w->page != MAP_FAILED)
		munmap(w->page, sysconf(_SC_PAGESIZE));
	if (w->fd >= 0)
		close(w->fd);
	w->page = MAP_FAILED;
	w->fd = -1;
}

/* Whether @pid runs a dynamic executable, which its loader maps libraries for. */
static bool image_dynamic(pid_t pid)
{
	char path[64], interp[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return !elf_interpreter(path, interp, sizeof(interp)) && interp[0];
}

#define MAX_FILES 128

/* FNV-1a of @len bytes at @data, continuing @hash. */
static __u64 hash_bytes(__u64 hash, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--)
		hash = (hash ^ *p++) * 0x100000001b3ULL;
	return hash;
}

/*
 * How many files @pid maps with code (up to MAX_FILES), or -1; in @sig a hash
 * of all its file mappings, which changes with each step of its loader: a
 * file's count alone would not, as the loader maps its cache, then unmaps it
 * once it mapped libc.
 */
static int code_files(pid_t pid, __u64 *sig)
{
	struct file_id seen[MAX_FILES];
	char path[64], *maps;
	struct maps_entry e;
	const char *line;
	int n = 0, i;

	*sig = 0xcbf29ce484222325ULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = read_path(path, NULL);
	if (!maps)
		return -1;
	for (line = maps; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (maps_parse_line(line, &e) || !e.inode)
			continue;
		*sig = hash_bytes(*sig, &e.start, sizeof(e.start));
		*sig = hash_bytes(*sig, &e.end, sizeof(e.end));
		*sig = hash_bytes(*sig, &e.inode, sizeof(e.inode));
		*sig = hash_bytes(*sig, e.perms, sizeof(e.perms));
		if (e.perms[2] != 'x' || n == MAX_FILES)
			continue;
		seen[n] = (struct file_id){ e.dev_major, e.dev_minor, e.inode };
		for (i = 0; !file_id_equal(&seen[i], &seen[n]); i++)
			;
		n += i == n;
	}
	free(maps);
	return n;
}

/* Whether @a is the file the uprobes are on. */
static bool same_file(const struct follow *f, const struct allocator *a)
{
	struct file_id id;

	return !file_id_of_fd(a->fd, &id) && file_id_equal(&id, &f->id);
}

static void unprobe(struct follow *f)
{
	probes_detach(&f->links);
	task_watch_close(&f->task);
}

/* Whether @a is glibc's malloc, whose blocks have their size in a chunk header. */
static bool is_glibc(const struct allocator *a)
{
	static const char *const name[] = { "gnu_get_libc_version" };
	unsigned long long addr;

	return !elf_defined_functions(a->path, name, 1, &addr) && addr;
}

/*
 * Moves the uprobes to @a's file for @pid. The new ones go in before the old
 * ones go: a call both see enters twice and returns twice, and counts once
 * as a nested call does. Nothing counts until the new set is complete, and
 * what was allocated meanwhile is unknown when freed (with -p, pre-existing).
 * On failure nothing changes.
 */
static int place(struct follow *f, pid_t pid, const struct allocator *a)
{
	struct probes links = { 0 };
	struct task_watch task;
	int err;

	/* before the uprobes: an exec by another thread after them hangs it up */
	task_watch_open(&task, pid);
	kernel_counting(f->skel, f->process, false);
	err = probes_attach_allocator(kernel_object(f->skel), pid, a, &links);
	if (err) {
		probes_detach(&links);
		task_watch_close(&task);
		kernel_counting(f->skel, f->process, f->links.count);
		return err;
	}
	unprobe(f);
	kernel_counting(f->skel, f->process, true);
	f->links = links;
	f->task = task;
	if (file_id_of_fd(a->fd, &f->id))
		memset(&f->id, 0, sizeof(f->id));
	kernel_glibc_chunks(f->skel, f->process, is_glibc(a));
	return 0;
}

/* What @info says of the probes, after @f->alloc was looked at. */
static void describe(const struct follow *f, struct mw_target_info *info, bool probed)
{
	info->malloc_probed = probed;
	allocator_describe(info, &f->alloc, false);
	info->uprobes = f->links.uprobes;
	info->uretprobes = f->links.uretprobes;
}

int follow_start(struct follow *f, struct memwatch_bpf *skel, __u32 process,
		 struct mw_target_info *info, struct allocator *a, const char *libc)
{
	int err;

	f->skel = skel;
	f->process = process;
	f->libc = libc;
	f->task = (struct task_watch){ .fd = -1, .page = MAP_FAILED };
	f->alloc = *a;
	a->fd = -1;
	if (!info->malloc_probed)
		return 0;
	err = place(f, info->pid, &f->alloc);
	info->uprobes = f->links.uprobes;
	info->uretprobes = f->links.uretprobes;
	return err;
}

void follow_init(struct follow *f, struct memwatch_bpf *skel, __u32 process, const char *libc,
		 bool quiet)
{
	*f = (struct follow){ .skel = skel, .process = process, .libc = libc, .quiet = quiet };
	/* nothing open: follow_stop() closes only what a placement opened */
	f->task = (struct task_watch){ .fd = -1, .page = MAP_FAILED };
	f->alloc.fd = -1;
}

int follow_child(struct follow *f, struct mw_target_info *info)
{
	/* every image it ran since the fork, its first one included, is an exec's */
	follow_exec(f, info, true);
	return process_gone(info->pid) ? -ESRCH : 0;
}

/* The name the new image gave the process, for the header and what is said. */
static void comm_refresh(struct mw_target_info *info)
{
	struct proc_status st;

	if (!proc_status_read(info->pid, &st))
		snprintf(info->comm, sizeof(info->comm), "%s", st.name);
}

/* One line on stderr on the probes of a new image. */
static void announce(const struct mw_target_info *info)
{
	if (info->malloc_probed)
		elog("pid %d exec'd %s: malloc probed in %s (%s) from here on; its calls since "
		     "the exec were not seen", info->pid, ESC(info->comm, sizeof(info->comm)),
		     ESC(info->allocator, sizeof(info->allocator)), info->allocator_origin);
	else
		elog("pid %d exec'd %s: malloc not probed (%s); its syscalls still are", info->pid,
		     ESC(info->comm, sizeof(info->comm)),
		     ESC(info->allocator, sizeof(info->allocator)));
}

/*
 * Finds the allocator of the target's image in @next and moves the uprobes
 * there if needed; @say what changed (not for the look that ends the attach).
 */
static void look(struct follow *f, struct mw_target_info *info, struct allocator *next, bool say)
{
	bool was_probed = info->malloc_probed;
	char was[sizeof(info->allocator)];
	int err, code;

	/* before the look: a step of the loader during it makes the next one */
	code = code_files(info->pid, &f->maps_sig);
	err = allocator_of_target(info->pid, f->libc, next);
	if (err == -ESRCH)
		return;		/* the report loop sees the exit */
	comm_refresh(info);
	/* a dynamic image whose malloc is not mapped yet: looked at again as mappings come */
	f->loading = err && !next->unprobed[0] && !next->go_runtime[0] &&
		     image_dynamic(info->pid);
	/*
	 * Probes already on a file stay until the loader is done: if it maps the
	 * same file they fire at once, where removing them would miss every call
	 * until the next look.
	 */
	if (f->loading && was_probed) {
		vlog("pid %d exec'd %s: its loader is still mapping libraries; the uprobes on %s "
		     "stay", info->pid, ESC(info->comm, sizeof(info->comm)),
		     ESC(info->allocator, sizeof(info->allocator)));
		return;
	}
	/* code of only the executable and its interpreter: the kernel's part of the exec */
	if (f->loading && code <= 2)
		snprintf(next->unprobed, sizeof(next->unprobed),
			 "its loader has not mapped the libraries yet: malloc is probed once it has");
	if (!err && was_probed && same_file(f, next) && !task_watch_gone(&f->task)) {
		vlog("pid %d exec'd %s: malloc still probed in %s, the same file", info->pid,
		     ESC(info->comm, sizeof(info->comm)),
		     ESC(info->allocator, sizeof(info->allocator)));
		info->kept += f->pending;
		f->pending = false;
		return;
	}
	if (!err) {
		err = place(f, info->pid, next);
		if (err && process_gone(info->pid))
			return;
		if (err)
			snprintf(next->unprobed, sizeof(next->unprobed),
				 "its uprobes on %.4000s could not be attached", next->target_path);
	}
	if (err)
		unprobe(f);
	/* @f keeps the descriptor of the file its probes are on */
	allocator_close(&f->alloc);
	f->alloc = *next;
	next->fd = -1;
	memcpy(was, info->allocator, sizeof(was));
	describe(f, info, !err);
	/* a loader still mapping libraries: the image is counted once it is done */
	if (f->pending && (!err || !f->loading)) {
		info->reattached += !err;
		info->unprobed_images += !!err;
		f->pending = false;
	}
	if (!say)
		return;
	if (!f->quiet && (!err || was_probed || strcmp(was, info->allocator)))
		announce(info);
}

void follow_exec(struct follow *f, struct mw_target_info *info, bool force)
{
	__u64 execs = kernel_execs(f->skel, f->process);
	struct allocator *next;
	__u64 sig;

	if (!force && execs == f->execs &&
	    !(f->loading && (code_files(info->pid, &sig), sig != f->maps_sig)))
		return;
	/* images that came and went between two looks: never seen */
	if (execs > f->execs) {
		info->unseen_images += execs - f->execs - 1 + f->pending;
		f->pending = true;
	}
	/* counted before looking: an exec during the look is looked at next time */
	f->execs = execs;
	next = malloc(sizeof(*next));
	if (!next)
		return;
	look(f, info, next, !force);
	allocator_close(next);
	free(next);
}

int follow_settle(struct follow *f, struct mw_target_info *info, bool probe_malloc)
{
	if (process_gone(info->pid))
		return -ESRCH;
	if (probe_malloc)
		follow_exec(f, info, true);
	return 0;
}

void follow_stop(struct follow *f)
{
	/* never started: nothing attached, no task watch and no file opened */
	if (!f->skel)
		return;
	unprobe(f);
	allocator_close(&f->alloc);
}
