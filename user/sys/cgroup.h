/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --cgroup: a cgroup v2 directory, its id as the kernel names it, and the
 * processes in it and in its descendants.
 */
#ifndef MW_CGROUP_H
#define MW_CGROUP_H

#include <linux/types.h>
#include <sys/types.h>

/*
 * The id of the cgroup v2 directory @path (its inode number, which is the
 * kernel's cgroup id) into *@id. 0, -ENOENT, -ENOTDIR, or -EMEDIUMTYPE when
 * it is no cgroup v2 directory.
 */
int cgroup_id(const char *path, __u64 *id);
/*
 * The processes of cgroup @path and of its descendants, up to @max into
 * @pids (each once), how many there are in all, or -errno.
 */
int cgroup_processes(const char *path, pid_t *pids, int max);

#endif /* MW_CGROUP_H */
