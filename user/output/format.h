/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Human-readable numbers for the text views. */
#ifndef MW_FORMAT_H
#define MW_FORMAT_H

#include <stddef.h>

/* Bytes in binary units: "0B", "512B", "1.5K", "46.0M", "1.2G" (K = KiB). */
char *format_bytes(char *buf, size_t len, unsigned long long bytes);
/* Counts in full up to 7 digits, then "12.3M", "4.5G". */
char *format_count(char *buf, size_t len, unsigned long long count);

#endif /* MW_FORMAT_H */
