// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "app/signals.h"
#include "attach/allocator.h"
#include "output/escape.h"
#include "sys/caps.h"
#include "sys/elf_file.h"
#include "sys/fileio.h"
#include "sys/go_binary.h"
#include "sys/log.h"
#include "sys/safe_open.h"

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

#define SAID_LINES 8

/*
 * One line on stderr about the target's files, unless it was said already:
 * the allocator is looked for again once the attach is done and after each
 * exec, and a hostile file there is worth one word, not one per look.
 */
static void __attribute__((format(printf, 1, 2))) say_once(const char *fmt, ...)
{
	static char said[SAID_LINES][512];
	static int next;
	char line[sizeof(said[0])];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (i = 0; i < SAID_LINES; i++) {
		if (!strcmp(said[i], line))
			return;
	}
	memcpy(said[next], line, sizeof(line));
	next = (next + 1) % SAID_LINES;
	/* the line names the target's files */
	fputs("memwatch: ", stderr);
	escape_write(stderr, line, strlen(line));
	fputc('\n', stderr);
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

/* Adds @path once; its place in the list (the earlier one if there), or -1 when full. */
static int candidates_add(struct candidates *c, const char *path, size_t len,
			  enum mw_origin origin, int rank)
{
	int i;

	if (c->count >= MW_MAX_CANDIDATES || len >= sizeof(c->items[0].path))
		return -1;
	for (i = 0; i < c->count; i++) {
		if (strlen(c->items[i].path) == len && !strncmp(c->items[i].path, path, len))
			return i;
	}
	memset(&c->items[i], 0, sizeof(c->items[i]));
	memcpy(c->items[i].path, path, len);
	c->items[i].path[len] = '\0';
	c->items[i].origin = origin;
	c->items[i].rank = rank;
	c->count++;
	return i;
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

static int candidates_add_library(struct candidates *c, const char *path, size_t len,
				  const char *preload)
{
	char name[PATH_MAX];
	int rank;

	if (len >= sizeof(name))
		return -1;
	memcpy(name, path, len);
	name[len] = '\0';
	rank = preload ? preload_rank(name, preload) : -1;
	if (rank >= 0)
		return candidates_add(c, name, len, MW_ORIGIN_PRELOAD, rank);
	return candidates_add(c, name, len, is_libc(name) ? MW_ORIGIN_LIBC : MW_ORIGIN_LIBRARY, 0);
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
		int i;

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
		i = candidates_add_library(c, path, len, preload);
		/* the first mapping of a file says which file the process mapped there */
		if (i >= 0 && !c->items[i].mapped) {
			c->items[i].mapped = true;
			c->items[i].map = (struct file_mapping){
				.id = { e.dev_major, e.dev_minor, e.inode },
				.start = e.start,
				.end = e.end,
			};
		}
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

void allocator_close(struct allocator *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	a->path[0] = '\0';
}

/*
 * Opens candidate @i of @c: in the root @root_fd of process @pid, as the file
 * it mapped when it is mapped, or in memwatch's root for a command (@pid 0).
 * The descriptor or -errno; @why says what stood in the way of the path the
 * process sees (then, at best, its mapping itself was opened).
 */
static int candidate_open(const struct candidates *c, int i, pid_t pid, int root_fd, char *why,
			  size_t len)
{
	const char *path = c->items[i].path;
	struct stat st;

	why[0] = '\0';
	if (!pid)
		return safe_open(root_fd, path, 0, &st);
	if (!c->items[i].mapped)
		return safe_open_in_root(root_fd, path, &st);
	return mapped_file_open(pid, root_fd, path, &c->items[i].map, why, len);
}

int allocator_choose(const struct candidates *c, pid_t pid, int root_fd, struct allocator *a)
{
	char why[PATH_MAX], skipped[sizeof(a->unprobed)] = "";
	int i, fd;

	a->fd = -1;
	a->path[0] = '\0';
	for (i = 0; i < c->count; i++) {
		fd = candidate_open(c, i, pid, root_fd, why, sizeof(why));
		if (fd < 0) {
			if (why[0] && !skipped[0])
				snprintf(skipped, sizeof(skipped), "%.2048s of pid %d %s",
					 c->items[i].path, pid, why);
			continue;
		}
		a->fd = fd;
		snprintf(a->path, sizeof(a->path), "/proc/self/fd/%d", a->fd);
		if (elf_defined_functions(a->path, allocator_functions, MW_FUNC_NR, a->addrs) ||
		    !a->addrs[MW_FUNC_MALLOC] || !a->addrs[MW_FUNC_FREE]) {
			allocator_close(a);
			continue;
		}
		snprintf(a->target_path, sizeof(a->target_path), "%s", c->items[i].path);
		a->origin = c->items[i].origin;
		if (why[0])
			say_once("%.200s of pid %d %.240s: its mapping itself is probed",
				 a->target_path, pid, why);
		else if (pid && c->items[i].mapped)
			vlog("allocator: %s in pid %d's root, " ID_FMT ", is the file it mapped",
			     ESC(a->target_path, sizeof(a->target_path)), pid,
			     ID_ARGS(c->items[i].map.id));
		return 0;
	}
	/* a file that could not be checked may have been the allocator: say which */
	if (skipped[0])
		snprintf(a->unprobed, sizeof(a->unprobed), "no malloc found that could be checked: "
			 "%s", skipped);
	return -ENOENT;
}

static int allocator_of_file(const char *libc, struct allocator *a)
{
	struct candidates c = { 0 };

	candidates_add(&c, libc, strlen(libc), MW_ORIGIN_LIBRARY, 0);
	return allocator_choose(&c, 0, AT_FDCWD, a);
}

int allocator_libc_check(const char *path, char *why, size_t len)
{
	unsigned long long addrs[MW_FUNC_NR];
	char self[64];
	struct stat st;
	int fd, err;

	fd = safe_open(AT_FDCWD, path, 0, &st);
	if (fd < 0) {
		snprintf(why, len, "%s", safe_open_strerror(fd, &st));
		return fd;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	err = elf_defined_functions(self, allocator_functions, MW_FUNC_NR, addrs);
	close(fd);
	if (err) {
		snprintf(why, len, "%s", elf_strerror(err));
		return err;
	}
	if (!addrs[MW_FUNC_MALLOC] || !addrs[MW_FUNC_FREE]) {
		snprintf(why, len, "defines no %s", addrs[MW_FUNC_MALLOC] ? "free" : "malloc");
		return -ENOENT;
	}
	return 0;
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

/*
 * Appends to @preload the list in /etc/ld.so.preload of the root @root_fd of
 * process @pid, the loader's second source. A file that is not a regular one,
 * or larger than any real list, is the target's doing: ignored, with a line.
 */
static void root_preload_list(pid_t pid, int root_fd, char *preload, size_t len)
{
	static const char name[] = "/etc/ld.so.preload";
	size_t used = strlen(preload);
	struct stat st;
	char *list;
	int fd;

	fd = safe_open_in_root(root_fd, name, &st);
	if (fd == -ENOENT)
		return;
	if (fd >= 0 && st.st_size > MW_PRELOAD_MAX) {
		say_once("%s in the root of pid %d holds %lld bytes, over the %d KiB a preload list "
			 "may have: ignored", name, pid, (long long)st.st_size, MW_PRELOAD_MAX / 1024);
		close(fd);
		return;
	}
	list = fd >= 0 ? read_fd_max(fd, MW_PRELOAD_MAX, NULL) : NULL;
	if (!list)
		say_once("%s in the root of pid %d %s %s: ignored", name, pid,
			 fd == -MW_ENOTREG ? "is" : "cannot be read:",
			 fd < 0 ? safe_open_strerror(fd, &st) : strerror(errno));
	else
		snprintf(preload + used, len - used, " %s", list);
	free(list);
	if (fd >= 0)
		close(fd);
}

int allocator_of_process(pid_t pid, const char *libc, struct allocator *a)
{
	char link[64], exe[PATH_MAX], preload[4096] = "";
	char *maps = NULL, *env = NULL;
	struct candidates *c = NULL;
	const char *env_preload;
	int fd, root_fd = -1, err = -ENOENT;
	size_t env_len = 0;
	ssize_t n;

	a->fd = -1;
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
	root_fd = safe_open_root(pid);
	if (!maps || !c || root_fd < 0) {
		err = !c ? -ENOMEM : !maps ? -ESRCH : root_fd;
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
	root_preload_list(pid, root_fd, preload, sizeof(preload));
	candidates_from_maps(maps, exe, preload, c);
	err = allocator_choose(c, pid, root_fd, a);
cleanup:
	if (root_fd >= 0)
		close(root_fd);
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
	struct stat st;
	int depth, fd;
	ssize_t n;

	snprintf(real, len, "%s", path);
	for (depth = 0; depth < 4; depth++) {
		fd = safe_open(AT_FDCWD, real, 0, &st);
		if (fd < 0)
			return fd;
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

	a->fd = -1;
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
	err = allocator_choose(c, 0, AT_FDCWD, a);
	free(c);
	return err;
}
