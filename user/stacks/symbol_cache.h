/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The function, file and line of code symbolized already, by its module's
 * build ID and its offset in it: a library that every process of a service
 * maps (libc, the server's own binary in each worker) has its symbol tables
 * and line programs read once, not once per process's Dwfl. What names the
 * module (its path) stays each process's.
 */
#ifndef MW_SYMBOL_CACHE_H
#define MW_SYMBOL_CACHE_H

#include <stddef.h>
#include <linux/types.h>
#include "stacks/u64map.h"

struct cached_symbol {
	char *build_id;		/* hex */
	__u64 offset;
	char *function, *file;	/* NULL: none */
	int line;
};

struct symbol_cache {
	struct u64map index;	/* a hash of build ID and offset: a = its entry's index */
	struct cached_symbol *v;
	size_t nr, cap;
	__u64 hits, misses;
};

/* What code at @offset of the module with build ID @build_id was symbolized as; NULL if new. */
const struct cached_symbol *symbol_cache_find(struct symbol_cache *c, const char *build_id,
					      __u64 offset);
/* Keeps a copy of what code at @offset of module @build_id is. 0 or -ENOMEM. */
int symbol_cache_add(struct symbol_cache *c, const char *build_id, __u64 offset,
		     const char *function, const char *file, int line);
void symbol_cache_free(struct symbol_cache *c);

#endif /* MW_SYMBOL_CACHE_H */
