/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Whole-file reads for /proc files, whose size stat() does not tell. */
#ifndef MW_FILEIO_H
#define MW_FILEIO_H

#include <stddef.h>

/* The rest of @fd, NUL-terminated, its length in *@len if given; NULL on error. */
char *read_fd(int fd, size_t *len);
/* The whole of @path the same way; NULL with errno set on error. */
char *read_path(const char *path, size_t *len);

#endif /* MW_FILEIO_H */
