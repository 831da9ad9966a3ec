/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The counter registry (bpf/counters.h) as user space reads it: a descriptor
 * per counter, the names of the arrays' elements, the counters' summing and
 * the sums derived from their groups.
 */
#ifndef MW_MODEL_COUNTERS_H
#define MW_MODEL_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "memwatch.h"

#define MW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One counter of struct mw_thread, or one array of them. */
struct mw_counter {
	const char *name;		/* the field, and its JSON name */
	size_t offset;			/* in struct mw_thread */
	int nr;				/* 1 for a counter, else the array's length */
	const char *json;		/* an array: its JSON object, "" for none */
	const char *const *keys;	/* an array: its elements' JSON names, NULL: not shown */
	enum mw_unit unit;
	enum mw_group group;		/* arrays: MW_OTHER */
	const char *doc;
};

extern const struct mw_counter mw_counters[];
extern const size_t mw_nr_counters;

/* JSON keys: syscalls (NULL for MW_SYS_NONE), advices, the syscalls that return memory */
extern const char *const mw_syscall_keys[MW_SYS_NR];
extern const char *const mw_advice_keys[MW_ADV_NR];
extern const char *const mw_returning_keys[MW_SYS_NR];
extern const enum mw_group mw_advice_groups[MW_ADV_NR];

static inline const __u64 *mw_counter_at(const struct mw_thread *t, const struct mw_counter *c)
{
	return (const __u64 *)((const char *)t + c->offset);
}

/*
 * The counters with a column in the thread tables (the live view's and the
 * text report's), or in the text summary's table of bytes by call: each
 * expands MW_COLUMN(name, unit, group, TAG, header), which the user of the
 * list defines around it.
 */
#define MW_THREAD_TABLE_COLUMNS MW_THREAD_COUNTERS(MW_IN_THREADS_TABLE, MW_NO_ARRAY)
#define MW_CALL_TABLE_COLUMNS MW_THREAD_COUNTERS(MW_IN_CALLS_TABLE, MW_NO_ARRAY)

#define MW_IN_THREADS_TABLE(name, unit, group, table, TAG, header, doc)			\
	MW_IF_THREADS_##table(MW_COLUMN(name, unit, group, TAG, header))
#define MW_IN_CALLS_TABLE(name, unit, group, table, TAG, header, doc)			\
	MW_IF_CALLS_##table(MW_COLUMN(name, unit, group, TAG, header))
#define MW_IF_THREADS_THREADS(...) __VA_ARGS__
#define MW_IF_THREADS_CALLS(...)
#define MW_IF_THREADS_NO_COLUMN(...)
#define MW_IF_CALLS_THREADS(...)
#define MW_IF_CALLS_CALLS(...) __VA_ARGS__
#define MW_IF_CALLS_NO_COLUMN(...)
#define MW_NO_ARRAY(...)

/*
 * MW_DERIVED(X): X(name, fn, doc), the sums of counters every view shows,
 * each a pure function of one thread's (or the process's summed) counters.
 */
#define MW_DERIVED(X)									\
	X(live_bytes, mw_live_bytes,							\
	  "the thread's blocks still allocated: alloc_bytes - untracked_bytes - "	\
	  "released_bytes")								\
	X(grown_bytes, mw_grown_bytes, "taken from the OS: the sum of the GROWN counters")	\
	X(returned_bytes, mw_returned_bytes,						\
	  "returned to the OS as asked: the sum of the RETURNED counters")		\
	X(returned_actual_bytes, mw_returned_actual,					\
	  "resident bytes that left RSS during the calls that return memory: the sum "	\
	  "of returned_actual")

__u64 mw_live_bytes(const struct mw_thread *t);
__u64 mw_grown_bytes(const struct mw_thread *t);
__u64 mw_returned_bytes(const struct mw_thread *t);
__u64 mw_returned_actual(const struct mw_thread *t);

/* Adds every counter of @src into @dst (not the identity or the in-flight state). */
void mw_thread_add(struct mw_thread *dst, const struct mw_thread *src);

#endif /* MW_MODEL_COUNTERS_H */
