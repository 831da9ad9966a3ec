// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include "app/priority.h"
#include "sys/log.h"

/* the highest priority a nice value gives: no real-time class that could starve the machine */
#define NICE_HIGHEST -20

void priority_raise(struct priority *p)
{
	if (p->raised)
		return;
	errno = 0;
	p->saved = getpriority(PRIO_PROCESS, 0);
	if (errno || p->saved <= NICE_HIGHEST)
		return;
	if (setpriority(PRIO_PROCESS, 0, NICE_HIGHEST)) {
		vlog("attaching at nice %d: %s", p->saved, strerror(errno));
		return;
	}
	p->raised = 1;
}

void priority_restore(struct priority *p)
{
	if (p->raised && setpriority(PRIO_PROCESS, 0, p->saved))
		vlog("cannot go back to nice %d: %s", p->saved, strerror(errno));
	p->raised = 0;
}
