// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "attach/mapped_file.h"
#include "output/escape.h"
#include "sys/log.h"
#include "sys/procmaps.h"
#include "sys/safe_open.h"

int maps_find_file(const char *maps, const char *path, struct file_id *id,
		   unsigned long long *start, unsigned long long *end)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(path);
	const char *line;

	for (line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		struct maps_entry e;

		if (maps_parse_line(line, &e) || (size_t)e.path_len < len ||
		    strncmp(e.path, path, len))
			continue;
		if ((size_t)e.path_len != len &&
		    ((size_t)e.path_len != len + sizeof(deleted) - 1 ||
		     strncmp(e.path + len, deleted, sizeof(deleted) - 1)))
			continue;
		id->major = e.dev_major;
		id->minor = e.dev_minor;
		id->inode = e.inode;
		*start = e.start;
		*end = e.end;
		return 0;
	}
	return -ENOENT;
}

static void file_id_from_stat(const struct stat *st, struct file_id *id)
{
	id->major = major(st->st_dev);
	id->minor = minor(st->st_dev);
	id->inode = st->st_ino;
}

int file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	file_id_from_stat(&st, id);
	return 0;
}

int file_id_of_fd(int fd, struct file_id *id)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	file_id_from_stat(&st, id);
	return 0;
}

bool maps_has_file(const char *maps, const struct file_id *id)
{
	const char *line;

	for (line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		struct maps_entry e;

		if (!maps_parse_line(line, &e) && e.inode == id->inode &&
		    e.dev_major == id->major && e.dev_minor == id->minor)
			return true;
	}
	return false;
}


int mapped_file_open(pid_t pid, int root_fd, const char *path, const struct file_mapping *m,
		     char *why, size_t len)
{
	struct file_id opened;
	char map_path[96];
	struct stat st;
	int fd;

	why[0] = '\0';
	fd = safe_open_in_root(root_fd, path, &st);
	if (fd >= 0) {
		file_id_from_stat(&st, &opened);
		if (file_id_equal(&opened, &m->id))
			return fd;
		close(fd);
		snprintf(why, len, "in its root names another file (" ID_FMT ") than the one it "
			 "mapped (" ID_FMT ")", ID_ARGS(opened), ID_ARGS(m->id));
	} else if (fd == -ENOENT && symlink_in_root(root_fd, path)) {
		snprintf(why, len, "in its root is a symlink to a file that is not there");
	} else if (fd == -ENOENT) {
		/* deleted, as a library upgraded since the target mapped it is: nothing to say */
		vlog("allocator: %s is no longer in pid %d's root", ESC(path, PATH_MAX), pid);
	} else {
		snprintf(why, len, "in its root is %s", safe_open_strerror(fd, &st));
	}
	if (why[0])
		vlog("allocator: %s of pid %d %s", ESC(path, PATH_MAX), pid, why);
	/* the mapping itself, whatever its path has become */
	snprintf(map_path, sizeof(map_path), "/proc/%d/map_files/%llx-%llx", pid, m->start, m->end);
	fd = safe_open(AT_FDCWD, map_path, 0, &st);
	if (fd >= 0) {
		file_id_from_stat(&st, &opened);
		if (file_id_equal(&opened, &m->id)) {
			vlog("allocator: probing %s, " ID_FMT, map_path, ID_ARGS(opened));
			return fd;
		}
		close(fd);
		fd = -ESTALE;
	}
	if (!why[0])
		snprintf(why, len, "is no longer in its root");
	snprintf(why + strlen(why), len - strlen(why), ", and its mapping cannot be opened (%s)",
		 fd == -ESTALE ? "it is another file now" : safe_open_strerror(fd, &st));
	return -ESTALE;
}
