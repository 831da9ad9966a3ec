/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* memwatch's capabilities: which it has, and none handed on to what it runs. */
#ifndef MW_CAPS_H
#define MW_CAPS_H

#include <stdbool.h>

/* Whether capability @cap is in the effective set. */
bool caps_have(int cap);
/*
 * Empties the ambient and inheritable sets, so that a program this process
 * execs gets no capability of memwatch's (only its own file capabilities,
 * or root's when it runs as root). 0 or -errno.
 */
int caps_drop_for_exec(void);

#endif /* MW_CAPS_H */
