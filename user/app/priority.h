/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * memwatch's CPU priority while it attaches. Loading and attaching is a
 * short burst of CPU work (kernel BTF, the verifier, zeroed maps, uprobe
 * links); next to a target whose threads keep every CPU busy, memwatch at
 * the same nice value gets a thread's share and the attach takes seconds.
 */
#ifndef MW_PRIORITY_H
#define MW_PRIORITY_H

/* The nice value to go back to; nothing to restore when @raised is 0. */
struct priority {
	int saved;
	int raised;
};

/* Runs memwatch at the highest nice priority if it may (CAP_SYS_NICE); once is enough. */
void priority_raise(struct priority *p);
/* Back to the nice value from before priority_raise(): the report loop is no burst. */
void priority_restore(struct priority *p);

#endif /* MW_PRIORITY_H */
