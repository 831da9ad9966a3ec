// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "sys/cgroup.h"
#include "sys/fileio.h"

/* Nesting followed below the cgroup named: deeper ones are not looked into. */
#define MAX_DEPTH 32

int cgroup_id(const char *path, __u64 *id)
{
	struct statfs fs;
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statfs(path, &fs))
		return -errno;
	if (fs.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	*id = st.st_ino;
	return 0;
}

struct members {
	pid_t *pids;
	int max, n, total;
};

static void add_pid(struct members *m, pid_t pid)
{
	int i;

	/* a process is in one cgroup: the same PID twice is one that moved meanwhile */
	for (i = 0; i < m->n; i++) {
		if (m->pids[i] == pid)
			return;
	}
	m->total++;
	if (m->n < m->max)
		m->pids[m->n++] = pid;
}

/* The PIDs in cgroup.procs of directory @dir. */
static void read_procs(int dir, struct members *m)
{
	int fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *text, *line, *end;
	long pid;

	if (fd < 0)
		return;
	text = read_fd(fd, NULL);
	close(fd);
	for (line = text; line && *line; line = end) {
		pid = strtol(line, &end, 10);
		if (end == line)
			break;
		if (pid > 0)
			add_pid(m, pid);
		end += *end == '\n';
	}
	free(text);
}

/* Directory @dir's processes, then each child cgroup's; closes @dir. */
static void walk(int dir, int depth, struct members *m)
{
	struct dirent *e;
	DIR *d;
	int sub;

	read_procs(dir, m);
	d = depth < MAX_DEPTH ? fdopendir(dir) : NULL;
	if (!d) {
		close(dir);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = openat(dirfd(d), e->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			walk(sub, depth + 1, m);
	}
	closedir(d);
}

int cgroup_processes(const char *path, pid_t *pids, int max)
{
	struct members m = { .pids = pids, .max = max };
	int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0)
		return -errno;
	walk(dir, 0, &m);
	return m.total;
}
