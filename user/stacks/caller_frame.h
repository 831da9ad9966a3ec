/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A site's caller: the innermost frame of its stack outside the allocator,
 * the line of the program's code that called it (callers.h groups the sites
 * by it).
 */
#ifndef MW_CALLER_FRAME_H
#define MW_CALLER_FRAME_H

#include <elfutils/libdwfl.h>
#include <linux/types.h>

/*
 * The index of the innermost frame of @pcs (@n frames, @dwfl's modules) in
 * neither frame 0's module (the allocator's, or libc's syscall wrapper) nor
 * the C++ runtime's (operator new); a stack wholly in them (a static
 * binary's own malloc, Go) has its frame 1 as caller, 0 without one.
 */
int stack_caller(Dwfl *dwfl, const __u64 *pcs, int n);

#endif /* MW_CALLER_FRAME_H */
