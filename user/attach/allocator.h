/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Which file's malloc the target really calls, and where its functions are. */
#ifndef MW_ALLOCATOR_H
#define MW_ALLOCATOR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include "attach/mapped_file.h"
#include "sys/procmaps.h"

/* the malloc family, in the order of allocator_functions[] */
enum mw_func {
	MW_FUNC_MALLOC,
	MW_FUNC_CALLOC,
	MW_FUNC_REALLOC,
	MW_FUNC_REALLOCARRAY,
	MW_FUNC_FREE,
	MW_FUNC_POSIX_MEMALIGN,
	MW_FUNC_ALIGNED_ALLOC,
	MW_FUNC_MEMALIGN,
	MW_FUNC_VALLOC,
	MW_FUNC_PVALLOC,
	MW_FUNC_NR,
};

extern const char *const allocator_functions[MW_FUNC_NR];

/* Where a candidate comes from, in the order symbol lookup prefers them. */
enum mw_origin {
	MW_ORIGIN_EXE,
	MW_ORIGIN_PRELOAD,
	MW_ORIGIN_LIBRARY,
	MW_ORIGIN_LIBC,
};

struct allocator {
	/*
	 * The file, open and checked from its discovery on (-1: none), and the
	 * path that names it to memwatch, the kernel and libbpf: /proc/self/fd/N,
	 * never looked up again in a root someone else controls.
	 */
	int fd;
	char path[PATH_MAX];
	char target_path[PATH_MAX];	/* the same file as the target sees it */
	enum mw_origin origin;
	unsigned long long addrs[MW_FUNC_NR];	/* 0: not defined there */
	/* a Go program, none probed: its toolchain ("go1.19.8", or "go" if unknown) */
	char go_runtime[32];
	/* an allocator the executable links under its own names ("mi_malloc"), or "" */
	char own_malloc[32];
	/* why the file found is not probed after all (an IFUNC malloc), or "" */
	char unprobed[PATH_MAX + 96];
};

#define MW_MAX_CANDIDATES 64
/* the longest /etc/ld.so.preload read: a real one names a few libraries */
#define MW_PRELOAD_MAX (64 * 1024)

struct candidates {
	int count;
	struct {
		char path[PATH_MAX];
		enum mw_origin origin;
		int rank;		/* preloads: the place in the preload list */
		bool mapped;		/* from the maps: then where, and the file's identity */
		struct file_mapping map;
	} items[MW_MAX_CANDIDATES];
};

const char *origin_name(enum mw_origin origin);

/*
 * Candidates from a /proc/PID/maps text: @exe first, mapped files named in
 * @preload (LD_PRELOAD syntax) next, then the other mapped ELF files.
 */
void candidates_from_maps(const char *maps, const char *exe, const char *preload,
			  struct candidates *c);
/* Candidates from the loader's LD_TRACE_LOADED_OBJECTS listing, in load order. */
void candidates_from_ldd(const char *ldd, const char *exe, const char *preload,
			 struct candidates *c);

/*
 * The first candidate, in lookup preference, that defines malloc, opened as
 * a->fd. For a running process @pid (0 for a command), each path is looked
 * up inside its root @root_fd, and a mapped one must be the file the process
 * mapped (user/attach/mapped_file.h); for a command, in memwatch's root (@root_fd
 * AT_FDCWD). 0 or -ENOENT (a->unprobed may say why).
 */
int allocator_choose(const struct candidates *c, pid_t pid, int root_fd, struct allocator *a);

/* Closes a->fd, if open; the allocator no longer names a file. */
void allocator_close(struct allocator *a);

/*
 * Whether --libc @path can be probed: a regular 64-bit ELF file of this
 * machine that defines malloc and free. 0, or -errno with @why in words.
 */
int allocator_libc_check(const char *path, char *why, size_t len);

/*
 * The allocator of running process @pid, or of @libc when given, open as
 * a->fd (allocator_close() when done). -ENOENT with a->go_runtime set for a
 * Go program, whose heap has no malloc.
 */
int allocator_of_process(pid_t pid, const char *libc, struct allocator *a);
/*
 * The allocator executable @path (or the interpreter of a "#!" script) will
 * use once started with our environment, open as a->fd. Later execs are followed from
 * /proc/PID/maps (user/attach/follow.h).
 * -ENOENT with a->go_runtime set for a Go program.
 */
int allocator_of_command(const char *path, const char *libc, struct allocator *a);

#endif /* MW_ALLOCATOR_H */
