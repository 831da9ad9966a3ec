// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdlib.h>
#include "stacks/u64map.h"

/* Fibonacci hashing: consecutive chunks' addresses land far apart */
static size_t slot_of(__u64 key, size_t cap)
{
	return (key * 0x9e3779b97f4a7c15ULL) >> 32 & (cap - 1);
}

struct u64map_entry *u64map_find(const struct u64map *m, __u64 key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key)
			return &m->slots[i];
		if (!m->slots[i].key)
			return NULL;
	}
}

/* Doubles the table: at most half full, a search ends soon. */
static int grow(struct u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024, i, j;
	struct u64map_entry *old = m->slots, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -1;
	m->slots = slots;
	for (i = 0; i < m->cap; i++) {
		if (!old[i].key)
			continue;
		for (j = slot_of(old[i].key, cap); slots[j].key; j = (j + 1) & (cap - 1))
			;
		slots[j] = old[i];
	}
	m->cap = cap;
	free(old);
	return 0;
}

struct u64map_entry *u64map_get(struct u64map *m, __u64 key)
{
	struct u64map_entry *e = u64map_find(m, key);
	size_t i;

	if (e)
		return e;
	if ((m->nr + 1) * 2 > m->cap && grow(m))
		return NULL;
	for (i = slot_of(key, m->cap); m->slots[i].key; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i] = (struct u64map_entry){ .key = key };
	m->nr++;
	return &m->slots[i];
}

bool u64map_take(struct u64map *m, __u64 key, struct u64map_entry *out)
{
	struct u64map_entry *e = u64map_find(m, key);
	size_t i, j, h;

	if (!e)
		return false;
	if (out)
		*out = *e;
	/* backward shift: the entries after it move up, so no search stops short */
	i = e - m->slots;
	for (j = (i + 1) & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
		h = slot_of(m->slots[j].key, m->cap);
		/* stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	m->slots[i].key = 0;
	m->nr--;
	return true;
}

void u64map_free(struct u64map *m)
{
	free(m->slots);
	*m = (struct u64map){ 0 };
}
