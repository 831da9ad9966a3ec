// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdio.h>
#include "output/format.h"

char *format_bytes(char *buf, size_t len, unsigned long long bytes)
{
	static const char units[] = "KMGTPE";
	double value = bytes;
	int unit = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%lluB", bytes);
		return buf;
	}
	while (value >= 1024 && units[unit + 1]) {
		value /= 1024;
		unit++;
	}
	/* 1023.96K would print as "1024.0K": move to the next unit instead */
	if (value >= 1023.95 && units[unit + 1]) {
		value /= 1024;
		unit++;
	}
	snprintf(buf, len, "%.1f%c", value, units[unit]);
	return buf;
}

char *format_count(char *buf, size_t len, unsigned long long count)
{
	if (count < 10000000ULL)
		snprintf(buf, len, "%llu", count);
	/* below 9999.95M, so that rounding never prints "10000.0M" */
	else if (count < 9999950000ULL)
		snprintf(buf, len, "%.1fM", count / 1e6);
	else
		snprintf(buf, len, "%.1fG", count / 1e9);
	return buf;
}
