// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "allocator.h"
#include "caps.h"
#include "elf_file.h"
#include "fileio.h"
#include "go_binary.h"
#include "signals.h"

const char *const allocator_functions[MW_FUNC_NR] = {
	[MW_FUNC_MALLOC] = "malloc",
	[MW_FUNC_CALLOC] = "calloc",
	[MW_FUNC_REALLOC] = "realloc",
	[MW_FUNC_REALLOCARRAY] = "reallocarray",
	[MW_FUNC_FREE] = "free",
	[MW_FUNC_POSIX_MEMALIGN] = "posix_memalign",
	[MW_FUNC_ALIGNED_ALLOC] = "aligned_alloc",
	[MW_FUNC_MEMALIGN] = "memalign",
	[MW_FUNC_VALLOC] = "valloc",
	[MW_FUNC_PVALLOC] = "pvalloc",
};

const char *origin_name(enum mw_origin origin)
{
	switch (origin) {
	case MW_ORIGIN_EXE:
		return "executable";
	case MW_ORIGIN_PRELOAD:
		return "preload";
	case MW_ORIGIN_LIBRARY:
		return "library";
	case MW_ORIGIN_LIBC:
		return "libc";
	}
	return "?";
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* glibc's libc.so.6, older libc-2.x.so, and musl's loader which is its libc */
#define PRELOAD_SEPARATORS " \t:\n"

static bool is_libc(const char *path)
{
	const char *base = basename_of(path);

	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-musl", 7);
}

/*
 * The position of @path in a preload list (separated by spaces, tabs, colons
 * or newlines, as glibc's loader splits them), or -1. Entries match by file
 * name: a preload given as a bare name, or through /lib where the maps show
 * /usr/lib, is still the same library.
 */
static int preload_rank(const char *path, const char *preload)
{
	const char *p = preload, *base = basename_of(path), *entry, *slash;
	size_t len, base_len = strlen(base);
	int rank = 0;

	for (p += strspn(p, PRELOAD_SEPARATORS); *p; p += strspn(p, PRELOAD_SEPARATORS), rank++) {
		len = strcspn(p, PRELOAD_SEPARATORS);
		slash = memrchr(p, '/', len);
		entry = slash ? slash + 1 : p;
		if ((size_t)(p + len - entry) == base_len && !strncmp(entry, base, base_len))
			return rank;
		p += len;
	}
	return -1;
}

static void candidates_add(struct candidates *c, const char *path, size_t len,
			   enum mw_origin origin, int rank)
{
	int i;

	if (c->count >= MW_MAX_CANDIDATES || len >= sizeof(c->items[0].path))
		return;
	for (i = 0; i < c->count; i++) {
		if (strlen(c->items[i].path) == len && !strncmp(c->items[i].path, path, len))
			return;
	}
	memcpy(c->items[c->count].path, path, len);
	c->items[c->count].path[len] = '\0';
	c->items[c->count].origin = origin;
	c->items[c->count].rank = rank;
	c->count++;
}

/*
 * Stable sort by origin, preloads by their place in the list: the order in
 * which the dynamic linker binds malloc.
 */
static void candidates_sort(struct candidates *c)
{
	int i, j;

	for (i = 1; i < c->count; i++) {
		for (j = i; j > 0 && (c->items[j - 1].origin > c->items[j].origin ||
				      (c->items[j - 1].origin == c->items[j].origin &&
				       c->items[j - 1].rank > c->items[j].rank)); j--) {
			typeof(c->items[0]) tmp = c->items[j];

			c->items[j] = c->items[j - 1];
			c->items[j - 1] = tmp;
		}
	}
}

static void candidates_add_library(struct candidates *c, const char *path, size_t len,
				   const char *preload)
{
	char name[PATH_MAX];
	int rank;

	if (len >= sizeof(name))
		return;
	memcpy(name, path, len);
	name[len] = '\0';
	rank = preload ? preload_rank(name, preload) : -1;
	if (rank >= 0)
		candidates_add(c, name, len, MW_ORIGIN_PRELOAD, rank);
	else
		candidates_add(c, name, len, is_libc(name) ? MW_ORIGIN_LIBC : MW_ORIGIN_LIBRARY, 0);
}

void candidates_from_maps(const char *maps, const char *exe, const char *preload,
			  struct candidates *c)
{
	static const char deleted[] = " (deleted)";
	const char *line;

	c->count = 0;
	candidates_add(c, exe, strlen(exe), MW_ORIGIN_EXE, 0);
	for (line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		struct maps_entry e;
		char path[PATH_MAX];
		size_t len;

		if (maps_parse_line(line, &e) || e.path[0] != '/')
			continue;
		len = e.path_len;
		if (len > sizeof(deleted) - 1 &&
		    !strncmp(e.path + len - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1))
			len -= sizeof(deleted) - 1;
		if (len >= sizeof(path))
			continue;
		memcpy(path, e.path, len);
		path[len] = '\0';
		candidates_add_library(c, path, len, preload);
	}
	candidates_sort(c);
}

void candidates_from_ldd(const char *ldd, const char *exe, const char *preload,
			 struct candidates *c)
{
	const char *line;

	c->count = 0;
	candidates_add(c, exe, strlen(exe), MW_ORIGIN_EXE, 0);
	/* "\tname => /path (0xaddr)" or "\t/path (0xaddr)"; paths may hold spaces */
	for (line = ldd; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		size_t line_len = strcspn(line, "\n");
		const char *path = line + strspn(line, " \t"), *arrow, *addr;

		arrow = memmem(path, line + line_len - path, "=> ", 3);
		if (arrow)
			path = arrow + 3;
		if (*path != '/')
			continue;
		addr = memmem(path, line + line_len - path, " (0x", 4);
		candidates_add_library(c, path, addr ? (size_t)(addr - path) : strcspn(path, "\n"),
				       preload);
	}
	candidates_sort(c);
}

int allocator_choose(const struct candidates *c, const char *root, struct allocator *a)
{
	int i;

	for (i = 0; i < c->count; i++) {
		if ((size_t)snprintf(a->path, sizeof(a->path), "%s%s", root, c->items[i].path) >=
		    sizeof(a->path))
			continue;
		if (elf_defined_functions(a->path, allocator_functions, MW_FUNC_NR, a->addrs))
			continue;
		if (!a->addrs[MW_FUNC_MALLOC] || !a->addrs[MW_FUNC_FREE])
			continue;
		snprintf(a->target_path, sizeof(a->target_path), "%s", c->items[i].path);
		a->origin = c->items[i].origin;
		return 0;
	}
	return -ENOENT;
}

static int allocator_of_file(const char *libc, struct allocator *a)
{
	struct candidates c = { 0 };

	candidates_add(&c, libc, strlen(libc), MW_ORIGIN_LIBRARY, 0);
	return allocator_choose(&c, "", a);
}

/* A Go program's heap is the runtime's: no malloc of it is probed, even a cgo libc's. */
static bool is_go_program(const char *exe, struct allocator *a)
{
	if (go_binary_version(exe, a->go_runtime, sizeof(a->go_runtime)) != 1)
		return false;
	if (!a->go_runtime[0])
		snprintf(a->go_runtime, sizeof(a->go_runtime), "go");
	return true;
}

/*
 * Allocators a program can link under their own names, beside malloc: Rust's
 * jemallocator and mimalloc crates, prefixed jemalloc and tcmalloc builds.
 * What they serve never passes through the malloc that is probed.
 */
static const char *const own_mallocs[] = {
	"_rjem_malloc", "je_malloc", "mi_malloc", "tc_malloc", "rpmalloc",
};

#define NR_OWN_MALLOCS (sizeof(own_mallocs) / sizeof(own_mallocs[0]))

static void find_own_malloc(const char *exe, struct allocator *a)
{
	unsigned long long addrs[NR_OWN_MALLOCS];
	size_t i;

	a->own_malloc[0] = '\0';
	if (elf_defined_functions(exe, own_mallocs, NR_OWN_MALLOCS, addrs))
		return;
	for (i = 0; i < NR_OWN_MALLOCS; i++) {
		if (addrs[i]) {
			snprintf(a->own_malloc, sizeof(a->own_malloc), "%s", own_mallocs[i]);
			return;
		}
	}
}

/* The value of LD_PRELOAD in a NUL-separated environment block. */
static const char *environ_preload(const char *env, size_t len)
{
	const char *p;

	for (p = env; p < env + len; p += strlen(p) + 1) {
		if (!strncmp(p, "LD_PRELOAD=", 11))
			return p + 11;
	}
	return NULL;
}

int allocator_of_process(pid_t pid, const char *libc, struct allocator *a)
{
	char link[64], exe[PATH_MAX], root[64], preload[4096] = "";
	char *maps = NULL, *env = NULL, *preload_file;
	struct candidates *c = NULL;
	const char *env_preload;
	size_t env_len = 0;
	ssize_t n;
	int fd, err = -ENOENT;

	a->go_runtime[0] = a->unprobed[0] = '\0';
	if (libc)
		return allocator_of_file(libc, a);
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	if (is_go_program(link, a))
		return -ENOENT;
	find_own_malloc(link, a);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';

	snprintf(link, sizeof(link), "/proc/%d/maps", pid);
	maps = read_path(link, NULL);
	c = calloc(1, sizeof(*c));
	if (!maps || !c) {
		err = maps ? -ENOMEM : -ESRCH;
		goto cleanup;
	}
	/* the loader reads LD_PRELOAD, then /etc/ld.so.preload of its own root */
	snprintf(link, sizeof(link), "/proc/%d/environ", pid);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		env = read_fd(fd, &env_len);
		close(fd);
		env_preload = env ? environ_preload(env, env_len) : NULL;
		if (env_preload)
			snprintf(preload, sizeof(preload), "%s", env_preload);
	}
	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	snprintf(link, sizeof(link), "/proc/%d/root/etc/ld.so.preload", pid);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		preload_file = read_fd(fd, NULL);
		close(fd);
		if (preload_file) {
			size_t used = strlen(preload);

			snprintf(preload + used, sizeof(preload) - used, " %s", preload_file);
			free(preload_file);
		}
	}
	candidates_from_maps(maps, exe, preload, c);
	err = allocator_choose(c, root, a);
cleanup:
	free(c);
	free(env);
	free(maps);
	return err;
}

/* What glibc's loader would map for @path: LD_TRACE_LOADED_OBJECTS output. */
static char *loader_listing(const char *path)
{
	char *argv[] = { (char *)path, NULL }, *out = NULL;
	int pipefd[2], devnull;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return NULL;
	pid = fork();
	if (pid < 0)
		goto cleanup;
	if (pid == 0) {
		signals_restore_for_exec();
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
		/* the loader runs the target's file: none of memwatch's capabilities */
		if (!caps_drop_for_exec())
			execv(path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	out = read_fd(pipefd[0], NULL);
	waitpid(pid, NULL, 0);
cleanup:
	close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return out;
}

/*
 * The program the kernel really runs for @path: a "#!" script's interpreter,
 * followed as far as the kernel does. 0 or -errno.
 */
static int script_interpreter(const char *path, char *real, size_t len)
{
	char line[PATH_MAX + 2];
	int depth, fd;
	ssize_t n;

	snprintf(real, len, "%s", path);
	for (depth = 0; depth < 4; depth++) {
		fd = open(real, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		n = read(fd, line, sizeof(line) - 1);
		close(fd);
		if (n < 2 || line[0] != '#' || line[1] != '!')
			return 0;
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		/* "#! /bin/sh -e": the path is the first word */
		n = strspn(line + 2, " \t");
		line[2 + n + strcspn(line + 2 + n, " \t")] = '\0';
		snprintf(real, len, "%s", line + 2 + n);
	}
	return -ELOOP;
}

int allocator_of_command(const char *script, const char *libc, struct allocator *a)
{
	char interp[PATH_MAX], path[PATH_MAX], *listing;
	struct candidates *c;
	int err;

	a->go_runtime[0] = a->unprobed[0] = '\0';
	if (libc)
		return allocator_of_file(libc, a);
	err = script_interpreter(script, path, sizeof(path));
	if (err)
		return err;
	if (is_go_program(path, a))
		return -ENOENT;
	find_own_malloc(path, a);
	err = elf_interpreter(path, interp, sizeof(interp));
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (!strncmp(basename_of(interp), "ld-linux", 8)) {
		/* only glibc's loader lists instead of running the program */
		listing = loader_listing(path);
		candidates_from_ldd(listing ?: "", path, getenv("LD_PRELOAD"), c);
		free(listing);
	} else {
		/* static (no loader), or a loader that is its own libc like musl's */
		candidates_add(c, path, strlen(path), MW_ORIGIN_EXE, 0);
		if (interp[0])
			candidates_add_library(c, interp, strlen(interp), NULL);
	}
	err = allocator_choose(c, "", a);
	free(c);
	return err;
}
