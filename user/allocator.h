/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Which file's malloc the target really calls, and where its functions are. */
#ifndef MW_ALLOCATOR_H
#define MW_ALLOCATOR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include "procmaps.h"

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
	char path[PATH_MAX];		/* the file to open, as memwatch sees it */
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

struct candidates {
	int count;
	struct {
		char path[PATH_MAX];
		enum mw_origin origin;
		int rank;		/* preloads: the place in the preload list */
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
 * The first candidate, in lookup preference, that defines malloc. @root is
 * prefixed to each path to open it ("/proc/PID/root" or ""). 0 or -ENOENT.
 */
int allocator_choose(const struct candidates *c, const char *root, struct allocator *a);

/*
 * The allocator of running process @pid, or of @libc when given. -ENOENT with
 * a->go_runtime set for a Go program, whose heap has no malloc.
 */
int allocator_of_process(pid_t pid, const char *libc, struct allocator *a);
/*
 * The allocator executable @path (or the interpreter of a "#!" script) will
 * use once started with our environment. Later execs are followed from
 * /proc/PID/maps (user/follow.h).
 * -ENOENT with a->go_runtime set for a Go program.
 */
int allocator_of_command(const char *path, const char *libc, struct allocator *a);

#endif /* MW_ALLOCATOR_H */
