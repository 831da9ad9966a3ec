// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "allocator.h"
#include "elf_file.h"
#include "escape.h"
#include "fileio.h"
#include "log.h"
#include "mapped_file.h"
#include "procmaps.h"
#include "target.h"

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

int file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	id->major = major(st.st_dev);
	id->minor = minor(st.st_dev);
	id->inode = st.st_ino;
	return 0;
}

#define ID_FMT "dev %02x:%02x inode %llu"
#define ID_ARGS(id) (id).major, (id).minor, (id).inode

int allocator_check_mapped(pid_t pid, struct allocator *a)
{
	unsigned long long start, end, addrs[MW_FUNC_NR];
	struct file_id mapped, opened = { 0 };
	char path[PATH_MAX], *maps;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = read_path(path, NULL);
	if (!maps)
		return 0;
	err = maps_find_file(maps, a->target_path, &mapped, &start, &end);
	free(maps);
	/* the executable of a static allocator is always mapped; nothing to compare otherwise */
	if (err)
		return 0;
	err = file_id_of(a->path, &opened);
	if (!err && file_id_equal(&mapped, &opened)) {
		vlog("allocator: %s " ID_FMT ", the file pid %d mapped as %s (" ID_FMT ")",
		     ESC(a->path, sizeof(a->path)), ID_ARGS(opened), pid,
		     ESC(a->target_path, sizeof(a->target_path)), ID_ARGS(mapped));
		return 0;
	}
	vlog("allocator: %s is %s" ID_FMT ", but pid %d mapped %s as " ID_FMT,
	     ESC(a->path, sizeof(a->path)), err ? "missing, not " : "", ID_ARGS(opened), pid,
	     ESC(a->target_path, sizeof(a->target_path)), ID_ARGS(mapped));
	/* the mapping itself, whatever its path has become */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, start, end);
	if (!file_id_of(path, &opened) && file_id_equal(&mapped, &opened) &&
	    !elf_defined_functions(path, allocator_functions, MW_FUNC_NR, addrs) &&
	    addrs[MW_FUNC_MALLOC] && addrs[MW_FUNC_FREE]) {
		memcpy(a->addrs, addrs, sizeof(a->addrs));
		snprintf(a->path, sizeof(a->path), "%s", path);
		vlog("allocator: probing %s, " ID_FMT, a->path, ID_ARGS(opened));
		return 0;
	}
	/* the target exited meanwhile: nothing of it is left to compare */
	if (process_gone(pid))
		return -ESRCH;
	elog("%s is not the file pid %d mapped (" ID_FMT "), and its mapping cannot be opened: "
	     "malloc counts will stay 0", ESC(a->path, sizeof(a->path)), pid, ID_ARGS(mapped));
	return -ESTALE;
}
