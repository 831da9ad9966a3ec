// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdio.h>
#include <string.h>
#include "output/report.h"

const struct reporter *const reporters[REPORT_FORMAT_NR] = {
	[REPORT_TUI] = &report_tui,
	[REPORT_TEXT] = &report_text,
	[REPORT_JSON] = &report_json,
	[REPORT_NONE] = &report_none,
};

enum report_format report_format_find(const char *name)
{
	int i;

	for (i = 0; i < REPORT_FORMAT_NR; i++) {
		if (!strcmp(reporters[i]->name, name))
			return i;
	}
	return REPORT_FORMAT_NR;
}

char *report_format_names(char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < REPORT_FORMAT_NR && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s",
				 !i ? "" : i == REPORT_FORMAT_NR - 1 ? " or " : ", ", reporters[i]->name);
	return buf;
}
