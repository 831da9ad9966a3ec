// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "attach/tracer.h"

/* they read registers and memory, and never insert breakpoints */
static const char *const trusted_tracers[] = { "strace" };

bool tracer_name_trusted(const char *exe)
{
	size_t i;

	for (i = 0; i < sizeof(trusted_tracers) / sizeof(trusted_tracers[0]); i++) {
		if (!strcmp(exe, trusted_tracers[i]))
			return true;
	}
	return false;
}

void tracer_describe(pid_t pid, struct tracer *t)
{
	char link[64], exe[PATH_MAX];
	const char *name = "?";
	ssize_t n;

	t->pid = pid;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	}
	snprintf(t->exe, sizeof(t->exe), "%.*s", (int)sizeof(t->exe) - 1, name);
	t->writes_code = !tracer_name_trusted(t->exe);
}
