// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The registry's expansions in user space: descriptors, names, sums. */
#include "model/counters.h"

#define SYSCALL_KEY(TAG, name, returns) [MW_SYS_##TAG] = #name,
#define RETURNING_KEY(TAG, name, returns) [MW_SYS_##TAG] = (returns) ? #name : NULL,
#define ADVICE_KEY(TAG, name, group, column) [MW_ADV_##TAG] = #name,
#define ADVICE_GROUP(TAG, name, group, column) [MW_ADV_##TAG] = group,

const char *const mw_syscall_keys[MW_SYS_NR] = { MW_SYSCALLS(SYSCALL_KEY) };
const char *const mw_returning_keys[MW_SYS_NR] = { MW_SYSCALLS(RETURNING_KEY) };
const char *const mw_advice_keys[MW_ADV_NR] = { MW_ADVICES(ADVICE_KEY) };
const enum mw_group mw_advice_groups[MW_ADV_NR] = { MW_ADVICES(ADVICE_GROUP) };

#define COUNTER(name_, unit_, group_, table, TAG, header, doc_)				\
	{ .name = #name_, .offset = offsetof(struct mw_thread, name_), .nr = 1, .json = "",	\
	  .unit = unit_, .group = group_, .doc = doc_ },
#define COUNTER_ARRAY(name_, nr_, json_, keys_, unit_, doc_)					\
	{ .name = #name_, .offset = offsetof(struct mw_thread, name_), .nr = nr_,		\
	  .json = json_, .keys = keys_, .unit = unit_, .group = MW_OTHER, .doc = doc_ },

const struct mw_counter mw_counters[] = { MW_THREAD_COUNTERS(COUNTER, COUNTER_ARRAY) };
const size_t mw_nr_counters = MW_ARRAY_SIZE(mw_counters);

/* the counters are the __u64s from the first to the in-flight state, none left out */
#define COUNTER_SIZE(name, ...) + sizeof(((struct mw_thread *)0)->name)
_Static_assert(0 MW_THREAD_COUNTERS(COUNTER_SIZE, COUNTER_SIZE) ==
		       offsetof(struct mw_thread, call) - offsetof(struct mw_thread, alloc_calls),
	       "struct mw_thread's counters are the registry's");

__u64 mw_live_bytes(const struct mw_thread *t)
{
	__u64 tracked;

	/* a read racing with the counters' updates can see them out of step */
	if (t->alloc_bytes <= t->untracked_bytes)
		return 0;
	tracked = t->alloc_bytes - t->untracked_bytes;
	return tracked > t->released_bytes ? tracked - t->released_bytes : 0;
}

/* a counter's term in its group's sum: the compiler keeps only the group's own */
#define IN_GROUP(want, name, unit, group, ...) +((group) == (want) ? t->name : 0)
#define GROWN_TERM(name, unit, group, ...) IN_GROUP(MW_GROWN, name, unit, group)
#define RETURNED_TERM(name, unit, group, ...) IN_GROUP(MW_RETURNED, name, unit, group)
#define ADVICE_RETURNED_TERM(TAG, name, group, column)					\
	+((group) == MW_RETURNED ? t->madvise_bytes[MW_ADV_##TAG] : 0)
#define NO_TERM(...)

__u64 mw_grown_bytes(const struct mw_thread *t)
{
	return 0 MW_THREAD_COUNTERS(GROWN_TERM, NO_TERM);
}

__u64 mw_returned_bytes(const struct mw_thread *t)
{
	return 0 MW_THREAD_COUNTERS(RETURNED_TERM, NO_TERM) MW_ADVICES(ADVICE_RETURNED_TERM);
}

#define RETURNED_ACTUAL_TERM(TAG, name, returns) +((returns) ? t->rss_returned[MW_SYS_##TAG] : 0)

__u64 mw_returned_actual(const struct mw_thread *t)
{
	return 0 MW_SYSCALLS(RETURNED_ACTUAL_TERM);
}

#define ADD_COUNTER(name, ...) dst->name += src->name;
#define ADD_ARRAY(name, nr, ...)			\
	for (i = 0; i < (nr); i++)			\
		dst->name[i] += src->name[i];

void mw_thread_add(struct mw_thread *dst, const struct mw_thread *src)
{
	int i;

	MW_THREAD_COUNTERS(ADD_COUNTER, ADD_ARRAY)
}
