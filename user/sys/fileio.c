// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "sys/fileio.h"

char *read_fd(int fd, size_t *len)
{
	size_t used = 0, cap = 4096;
	char *buf = malloc(cap), *bigger;
	ssize_t n;

	while (buf) {
		if (used + 1 >= cap) {
			cap *= 2;
			bigger = realloc(buf, cap);
			if (!bigger)
				break;
			buf = bigger;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			buf[used] = '\0';
			if (len)
				*len = used;
			return buf;
		}
		used += n;
	}
	free(buf);
	return NULL;
}

char *read_path(const char *path, size_t *len)
{
	int fd, saved;
	char *text;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	text = read_fd(fd, len);
	saved = errno;
	close(fd);
	errno = saved;
	return text;
}
