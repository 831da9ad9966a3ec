/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Human-readable numbers for the text views. */
#ifndef MW_FORMAT_H
#define MW_FORMAT_H

#include <stddef.h>
#include <stdio.h>

/* Bytes in binary units: "0B", "512B", "1.5K", "46.0M", "1.2G" (K = KiB). */
char *format_bytes(char *buf, size_t len, unsigned long long bytes);
/* Counts in full up to 7 digits, then "12.3M", "4.5G". */
char *format_count(char *buf, size_t len, unsigned long long count);

/* The columns of the terminal @f writes to; 0 when it is none (a file, a pipe): no limit. */
int format_terminal_width(FILE *f);
/*
 * Writes the lines of @text (@len bytes) to @out, each longer than @width
 * cells (0: no limit) broken at its last space that fits, or at @width when
 * it has none; the rest follows on lines indented by FORMAT_WRAP_INDENT.
 * UTF-8 counts a cell per character.
 */
void format_wrap(FILE *out, const char *text, size_t len, int width);

#define FORMAT_WRAP_INDENT 4

#endif /* MW_FORMAT_H */
