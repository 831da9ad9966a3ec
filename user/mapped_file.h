/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Is the file memwatch probes the one the target mapped? A uprobe belongs to
 * an inode: a path that names another file (another mount namespace, a
 * library replaced on disk since the target mapped it) would count nothing.
 */
#ifndef MW_MAPPED_FILE_H
#define MW_MAPPED_FILE_H

#include <stdbool.h>
#include <sys/types.h>

struct allocator;

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

/*
 * Checks that @a's file (opened through /proc/PID/root) is the one process
 * @pid mapped, and says both with -v. When it is not, and the mapping is
 * still there, probes /proc/PID/map_files/START-END instead (the very file
 * mapped; root only) and refreshes the function addresses from it. 0,
 * -ESTALE when no path to the mapped file could be found (a warning says so),
 * or -ESRCH when the process exited meanwhile (nothing said).
 */
int allocator_check_mapped(pid_t pid, struct allocator *a);

#endif /* MW_MAPPED_FILE_H */
