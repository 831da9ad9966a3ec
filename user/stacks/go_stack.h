/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Go's runtime.systemstack runs a function on the thread's system stack
 * (g0's). Unwinding from there finds, past systemstack, not the goroutine
 * that switched but what g0's stack last held: a stack ends at systemstack.
 */
#ifndef MW_GO_STACK_H
#define MW_GO_STACK_H

#include <stdbool.h>
#include <elfutils/libdwfl.h>
#include <linux/types.h>

/*
 * Whether @mod is a Go program with runtime.systemstack; its code's
 * addresses [*@start, *@end) when it is.
 */
bool go_stack_switch(Dwfl_Module *mod, __u64 *start, __u64 *end);

#endif /* MW_GO_STACK_H */
