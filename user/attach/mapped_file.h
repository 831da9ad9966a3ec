/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Is the file memwatch probes the one the target mapped? A uprobe belongs to
 * an inode: a path that names another file (another mount namespace, a
 * library replaced on disk since the target mapped it) would count nothing.
 */
#ifndef MW_MAPPED_FILE_H
#define MW_MAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct file_id {
	unsigned int major, minor;	/* the filesystem's device */
	unsigned long long inode;
};

/*
 * The first mapping of @path (as the target names it; " (deleted)" allowed)
 * in a /proc/PID/maps text: its file's identity and address range. 0 or -ENOENT.
 */
int maps_find_file(const char *maps, const char *path, struct file_id *id,
		   unsigned long long *start, unsigned long long *end);

/* The identity of the file at @path (stat follows links); 0 or -errno. */
int file_id_of(const char *path, struct file_id *id);

static inline bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return a->major == b->major && a->minor == b->minor && a->inode == b->inode;
}

#define ID_FMT "dev %02x:%02x inode %llu"
#define ID_ARGS(id) (id).major, (id).minor, (id).inode

/* Where a file is mapped in a process: its identity and its first mapping's range. */
struct file_mapping {
	struct file_id id;
	unsigned long long start, end;
};

/* The identity of the file open as @fd; 0 or -errno. */
int file_id_of_fd(int fd, struct file_id *id);

/* Whether a /proc/PID/maps text maps the file @id anywhere. */
bool maps_has_file(const char *maps, const struct file_id *id);

/*
 * Opens @path, which process @pid mapped as @m, as that very file: inside its
 * root @root_fd (safe_open_in_root()) when the path there still names it,
 * else through /proc/PID/map_files (root only), which -v says. The descriptor,
 * or -errno; @why, for a message naming @path, says what stood in the way of
 * the path ("" when nothing did).
 */
int mapped_file_open(pid_t pid, int root_fd, const char *path, const struct file_mapping *m,
		     char *why, size_t len);

#endif /* MW_MAPPED_FILE_H */
