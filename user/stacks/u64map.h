/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A map of 64-bit keys to two 64-bit words, open addressing with linear
 * probing: --stacks keeps one entry per live block it saw made, so a free
 * finds its site, and one per thread between an allocator call's entry and
 * its return. Key 0 is never stored.
 */
#ifndef MW_U64MAP_H
#define MW_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct u64map_entry {
	__u64 key;		/* 0: empty */
	__u64 a, b;
};

struct u64map {
	struct u64map_entry *slots;
	size_t cap;		/* a power of 2, or 0 */
	size_t nr;
};

/* The entry of @key, NULL if there is none. */
struct u64map_entry *u64map_find(const struct u64map *m, __u64 key);
/* The entry of @key, made (its words 0) if there was none; NULL when out of memory. */
struct u64map_entry *u64map_get(struct u64map *m, __u64 key);
/* Takes @key out, if it is there; its words in *@out when given. Whether it was. */
bool u64map_take(struct u64map *m, __u64 key, struct u64map_entry *out);
void u64map_free(struct u64map *m);

#endif /* MW_U64MAP_H */
