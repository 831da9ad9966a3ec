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
#include "elf_file.h"

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

int maps_parse_line(const char *line, struct maps_entry *e)
{
	unsigned int dev_major, dev_minor;
	int path_at = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &e->start, &e->end, e->perms,
		   &e->offset, &dev_major, &dev_minor, &e->inode, &path_at) < 7)
		return -EINVAL;
	if (!path_at)
		path_at = strlen(line);
	e->path = line + path_at;
	e->path_len = strcspn(e->path, "\n");
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* glibc's libc.so.6, older libc-2.x.so, and musl's loader which is its libc */
static bool is_libc(const char *path)
{
	const char *base = basename_of(path);

	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-musl", 7);
}

/* Preload entries are separated by spaces, colons or newlines and may be bare names. */
static bool in_preload(const char *path, const char *preload)
{
	const char *p = preload, *base = basename_of(path);

	while (p && *p) {
		size_t len = strcspn(p, " :\n");

		if (len && ((strlen(path) == len && !strncmp(p, path, len)) ||
			    (!memchr(p, '/', len) && strlen(base) == len && !strncmp(p, base, len))))
			return true;
		p += len;
		p += strspn(p, " :\n");
	}
	return false;
}

static void candidates_add(struct candidates *c, const char *path, size_t len,
			   enum mw_origin origin)
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
	c->count++;
}

/* Stable sort by origin: the order in which the dynamic linker binds malloc. */
static void candidates_sort(struct candidates *c)
{
	int i, j;

	for (i = 1; i < c->count; i++) {
		for (j = i; j > 0 && c->items[j - 1].origin > c->items[j].origin; j--) {
			typeof(c->items[0]) tmp = c->items[j];

			c->items[j] = c->items[j - 1];
			c->items[j - 1] = tmp;
		}
	}
}

static enum mw_origin library_origin(const char *path, const char *preload)
{
	if (preload && in_preload(path, preload))
		return MW_ORIGIN_PRELOAD;
	return is_libc(path) ? MW_ORIGIN_LIBC : MW_ORIGIN_LIBRARY;
}

void candidates_from_maps(const char *maps, const char *exe, const char *preload,
			  struct candidates *c)
{
	static const char deleted[] = " (deleted)";
	const char *line;

	c->count = 0;
	candidates_add(c, exe, strlen(exe), MW_ORIGIN_EXE);
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
		candidates_add(c, path, len, library_origin(path, preload));
	}
	candidates_sort(c);
}

void candidates_from_ldd(const char *ldd, const char *exe, struct candidates *c)
{
	const char *line;

	c->count = 0;
	candidates_add(c, exe, strlen(exe), MW_ORIGIN_EXE);
	/* "\tname => /path (0xaddr)" or "\t/path (0xaddr)" */
	for (line = ldd; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *path = line + strspn(line, " \t"), *arrow;
		char buf[PATH_MAX];
		size_t len;

		arrow = strstr(path, "=> ");
		if (arrow && arrow < path + strcspn(path, "\n"))
			path = arrow + 3;
		if (*path != '/')
			continue;
		len = strcspn(path, " \n");
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, path, len);
		buf[len] = '\0';
		candidates_add(c, buf, len, library_origin(buf, NULL));
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

	candidates_add(&c, libc, strlen(libc), MW_ORIGIN_LIBRARY);
	return allocator_choose(&c, "", a);
}

/* Reads a whole file (or a command's output) into a NUL-terminated buffer. */
static char *read_all(int fd, size_t *length)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap), *bigger;
	ssize_t n;

	while (buf) {
		if (len + 1 >= cap) {
			cap *= 2;
			bigger = realloc(buf, cap);
			if (!bigger)
				break;
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf[len] = '\0';
			if (length)
				*length = len;
			return buf;
		}
		len += n;
	}
	free(buf);
	return NULL;
}

static char *read_proc_file(pid_t pid, const char *name)
{
	char path[64], *text;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	text = read_all(fd, NULL);
	close(fd);
	return text;
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

	if (libc)
		return allocator_of_file(libc, a);
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';

	maps = read_proc_file(pid, "maps");
	c = calloc(1, sizeof(*c));
	if (!maps || !c) {
		err = maps ? -ENOMEM : -ESRCH;
		goto cleanup;
	}
	/* the loader reads LD_PRELOAD, then /etc/ld.so.preload of its own root */
	snprintf(link, sizeof(link), "/proc/%d/environ", pid);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		env = read_all(fd, &env_len);
		close(fd);
		env_preload = env ? environ_preload(env, env_len) : NULL;
		if (env_preload)
			snprintf(preload, sizeof(preload), "%s", env_preload);
	}
	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	snprintf(link, sizeof(link), "/proc/%d/root/etc/ld.so.preload", pid);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		preload_file = read_all(fd, NULL);
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
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
		execv(path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	out = read_all(pipefd[0], NULL);
	waitpid(pid, NULL, 0);
cleanup:
	close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return out;
}

int allocator_of_command(const char *path, const char *libc, struct allocator *a)
{
	char interp[PATH_MAX], *listing;
	struct candidates *c;
	int err;

	if (libc)
		return allocator_of_file(libc, a);
	err = elf_interpreter(path, interp, sizeof(interp));
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (!strncmp(basename_of(interp), "ld-linux", 8)) {
		/* only glibc's loader lists instead of running the program */
		listing = loader_listing(path);
		candidates_from_ldd(listing ?: "", path, c);
		free(listing);
	} else {
		/* static (no loader), or a loader that is its own libc like musl's */
		candidates_add(c, path, strlen(path), MW_ORIGIN_EXE);
		if (interp[0])
			candidates_add(c, interp, strlen(interp), library_origin(interp, NULL));
	}
	err = allocator_choose(c, "", a);
	free(c);
	return err;
}
