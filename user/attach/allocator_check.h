/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* What a found allocator file cannot have probed, said before anything is attached. */
#ifndef MW_ALLOCATOR_CHECK_H
#define MW_ALLOCATOR_CHECK_H

struct allocator;

/*
 * GNU IFUNCs among @a's functions: the symbol is a resolver, the code that
 * runs is chosen when the loader binds it, and a uprobe by file offset cannot
 * follow. Those functions are dropped (their address set to 0), with a
 * warning. 0, or -ENOTSUP when malloc or free is one: then nothing of the file
 * can be probed, and a->unprobed says why (for the caller to say).
 */
int allocator_drop_ifuncs(struct allocator *a);

#endif /* MW_ALLOCATOR_CHECK_H */
