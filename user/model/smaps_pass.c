// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "model/smaps_pass.h"

/* ~1 ms of the kernel's time writing smaps here: the budget is checked this often */
#define READ_SIZE (256 * 1024)

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int smaps_pass_begin(struct smaps_pass *s, pid_t pid, double now_s,
		     void (*fn)(const struct smaps_vma *vma, void *arg), void *arg)
{
	char path[64];

	if (s->fd >= 0)
		close(s->fd);
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	/*
	 * One open file for the whole pass: the kernel resumes each read after
	 * the last mapping it wrote, by address, so mappings that come and go
	 * between reads cost nothing more than a mapping missed or seen late.
	 */
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	s->kept = 0;
	s->began_s = now_s;
	smaps_parser_init(&s->parser, fn, arg);
	return 0;
}

/* Room for READ_SIZE more bytes and a NUL after what is kept. */
static int make_room(struct smaps_pass *s)
{
	size_t need = s->kept + READ_SIZE + 1;
	char *bigger;

	if (s->cap >= need)
		return 0;
	bigger = realloc(s->buf, need);
	if (!bigger)
		return -ENOMEM;
	s->buf = bigger;
	s->cap = need;
	return 0;
}

int smaps_pass_step(struct smaps_pass *s, double budget_s)
{
	double start = monotonic_s();
	size_t len;
	ssize_t n;
	long used;
	int err;

	if (!smaps_pass_under_way(s))
		return -EINVAL;
	do {
		err = make_room(s);
		if (err)
			goto abandon;
		n = read(s->fd, s->buf + s->kept, READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto abandon;
		}
		len = s->kept + n;
		s->buf[len] = '\0';
		used = smaps_parser_feed(&s->parser, s->buf, len, !n);
		if (used < 0) {
			err = used;
			goto abandon;
		}
		if (!n) {
			close(s->fd);
			s->fd = -1;
			return 1;
		}
		/* a line cut short by the read waits for the rest */
		s->kept = len - used;
		memmove(s->buf, s->buf + used, s->kept);
	} while (monotonic_s() - start < budget_s);
	return 0;
abandon:
	smaps_pass_abandon(s);
	return err;
}

void smaps_pass_abandon(struct smaps_pass *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
	s->cap = s->kept = 0;
}
