// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "stacks/symbol_cache.h"

/* FNV-1a over the build ID and the offset; never 0, the empty key */
static __u64 cache_hash(const char *build_id, __u64 offset)
{
	__u64 h = 0xcbf29ce484222325ULL ^ offset;

	while (*build_id)
		h = (h ^ (unsigned char)*build_id++) * 0x100000001b3ULL;
	return h ?: 1;
}

/* The index entry of @build_id and @offset, or the empty one after its hash's others. */
static struct u64map_entry *slot_of(struct symbol_cache *c, const char *build_id,
				    __u64 offset, __u64 *key)
{
	struct u64map_entry *e;

	/* another code with the same hash: the next key */
	for (*key = cache_hash(build_id, offset);; *key = *key + 1 ?: 1) {
		e = u64map_find(&c->index, *key);
		if (!e)
			return NULL;
		if (c->v[e->a].offset == offset && !strcmp(c->v[e->a].build_id, build_id))
			return e;
	}
}

const struct cached_symbol *symbol_cache_find(struct symbol_cache *c, const char *build_id,
					      __u64 offset)
{
	struct u64map_entry *e;
	__u64 key;

	e = slot_of(c, build_id, offset, &key);
	if (!e) {
		c->misses++;
		return NULL;
	}
	c->hits++;
	return &c->v[e->a];
}

static void cached_free(struct cached_symbol *s)
{
	free(s->build_id);
	free(s->function);
	free(s->file);
}

int symbol_cache_add(struct symbol_cache *c, const char *build_id, __u64 offset,
		     const char *function, const char *file, int line)
{
	struct cached_symbol *v, s = { .offset = offset, .line = line };
	struct u64map_entry *e;
	__u64 key;

	if (slot_of(c, build_id, offset, &key))
		return 0;
	if (c->nr == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;

		v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	s.build_id = strdup(build_id);
	s.function = function ? strdup(function) : NULL;
	s.file = file ? strdup(file) : NULL;
	e = s.build_id && (s.function || !function) && (s.file || !file) ?
		    u64map_get(&c->index, key) : NULL;
	if (!e) {
		cached_free(&s);
		return -ENOMEM;
	}
	e->a = c->nr;
	c->v[c->nr++] = s;
	return 0;
}

void symbol_cache_free(struct symbol_cache *c)
{
	size_t i;

	for (i = 0; i < c->nr; i++)
		cached_free(&c->v[i]);
	free(c->v);
	u64map_free(&c->index);
	*c = (struct symbol_cache){ 0 };
}
