// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "sys/safe_open.h"

int safe_open_root(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int safe_open(int dirfd, const char *path, unsigned long long resolve, struct stat *st)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = resolve };
	char self[64];
	int pathfd, fd;

	memset(st, 0, sizeof(*st));
	pathfd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (pathfd < 0)
		return -errno;
	if (fstat(pathfd, st)) {
		fd = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st->st_mode)) {
		fd = -MW_ENOTREG;
		goto cleanup;
	}
	/* the very file looked at: no second lookup of @path that could find another */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pathfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		fd = -errno;
cleanup:
	close(pathfd);
	return fd;
}

int safe_open_in_root(int root_fd, const char *path, struct stat *st)
{
	return safe_open(root_fd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, st);
}

bool symlink_in_root(int root_fd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd;

	fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	if (fd < 0)
		return false;
	if (fstat(fd, &st))
		st.st_mode = 0;
	close(fd);
	return S_ISLNK(st.st_mode);
}

const char *safe_open_strerror(int err, const struct stat *st)
{
	if (err != -MW_ENOTREG)
		return strerror(-err);
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		return "a directory, not a regular file";
	case S_IFIFO:
		return "a FIFO, not a regular file";
	case S_IFCHR:
		return "a character device, not a regular file";
	case S_IFBLK:
		return "a block device, not a regular file";
	case S_IFSOCK:
		return "a socket, not a regular file";
	}
	return "not a regular file";
}

char *read_fd_max(int fd, size_t max, size_t *len)
{
	size_t used = 0;
	char *buf;
	ssize_t n;

	/* one byte more than allowed tells a file that grew past @max */
	buf = malloc(max + 2);
	if (!buf)
		return NULL;
	while (used <= max) {
		n = read(fd, buf + used, max + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		used += n;
	}
	if (used > max) {
		errno = EFBIG;
		goto fail;
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
fail:
	free(buf);
	return NULL;
}
