/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Opening files whose path someone else may control: the target's root, a
 * --libc PATH, a command. Only a regular file is ever opened for reading (a
 * FIFO would block the open, a device would never end a read), and a path in
 * a process's root resolves inside that root, where an absolute symlink means
 * the target's file, not memwatch's.
 */
#ifndef MW_SAFE_OPEN_H
#define MW_SAFE_OPEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* what safe_open() returns for a path that names no regular file (st_mode says what) */
#define MW_ENOTREG 4096

/* An O_PATH descriptor of process @pid's root directory, or -errno. */
int safe_open_root(pid_t pid);

/*
 * Opens @path for reading when it names a regular file: looked up as with
 * openat2() from @dirfd with @resolve (RESOLVE_* flags; 0 for an ordinary
 * lookup), as O_PATH first, then reopened through /proc/self/fd only once
 * fstat() said it is a regular file. The descriptor, or -errno, -MW_ENOTREG
 * when it is something else; *@st is the file's status either way when the
 * lookup itself succeeded.
 */
int safe_open(int dirfd, const char *path, unsigned long long resolve, struct stat *st);

/* @path inside the root @root_fd: its symlinks followed, within it, and no magic link. */
int safe_open_in_root(int root_fd, const char *path, struct stat *st);

/* Whether @path in the root @root_fd is itself a symlink (say, one that leads nowhere). */
bool symlink_in_root(int root_fd, const char *path);

/* Why safe_open() failed with @err, in words: "a FIFO", "No such file or directory". */
const char *safe_open_strerror(int err, const struct stat *st);

/*
 * The whole of regular file @fd, NUL-terminated, if it holds at most @max
 * bytes; NULL with errno set otherwise (EFBIG: more than @max).
 */
char *read_fd_max(int fd, size_t max, size_t *len);

#endif /* MW_SAFE_OPEN_H */
