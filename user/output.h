/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The stream the reports go to (-o FILE or stdout), whose every write is
 * checked: a failure is said once, naming the file and errno, and memwatch
 * then exits 1 instead of reporting into the void.
 */
#ifndef MW_OUTPUT_H
#define MW_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

/* The reports' stream: @path (-o), or stdout when NULL; NULL with errno set. */
FILE *output_open(const char *path);

/*
 * Whether a write to @out failed. The first time, one line says so with the
 * errno of the failed write: stdio keeps only a flag, so the caller clears
 * errno before it writes, and errno is what the failure left (EIO if nothing).
 */
bool output_failed(FILE *out);

/* Flushes @out and closes it unless it is stdout; true when that or any write failed. */
bool output_close(FILE *out);

#endif /* MW_OUTPUT_H */
