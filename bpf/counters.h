/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The counter registry: every per-thread counter, traced syscall and madvise
 * advice bucket, each named once. The BPF programs and user space expand
 * these lists (X-macros) into struct mw_thread's fields and the enums that
 * index its arrays; user space also into the counters' summing, the derived
 * sums (grown, returned, returned actual), the JSON field names, the text and
 * live-view columns, --trace's call names and docs/json-fields.md.
 *
 * Adding a counter is one line in MW_THREAD_COUNTERS; adding a syscall is its
 * BPF programs plus one line in MW_SYSCALLS (docs/DESIGN.md, "Adding a
 * counter, adding a syscall").
 */
#ifndef MW_COUNTERS_H
#define MW_COUNTERS_H

/* What a counter counts. */
enum mw_unit {
	MW_CALLS,
	MW_BYTES,
};

/* What a counter says about the process's memory; the derived sums add up groups. */
enum mw_group {
	MW_HEAP,	/* the allocator's calls: needs the malloc probes */
	MW_GROWN,	/* taken from the OS: adds up to grown_bytes */
	MW_RETURNED,	/* returned to the OS as asked: adds up to returned_bytes */
	MW_MAPPED,	/* mapped or protected, neither grown nor returned */
	MW_RESIDENT,	/* resident bytes from kmem:rss_stat */
	MW_OTHER,	/* none of the above */
};

/* whether memory a syscall removes from RSS counts as returned (rss_returned[]) */
#define MW_RETURNS	1
#define MW_KEEPS	0

/*
 * MW_SYSCALLS(X): X(TAG, name, returns), in enum mw_syscall's order (after
 * MW_SYS_NONE). @name is the syscall's, its JSON key in "syscalls" (and in
 * "returned_actual" when it returns memory) and --trace's call name.
 */
#define MW_SYSCALLS(X)						\
	X(BRK,			brk,		MW_RETURNS)	\
	X(MMAP,			mmap,		MW_KEEPS)	\
	X(MUNMAP,		munmap,		MW_RETURNS)	\
	X(MREMAP,		mremap,		MW_RETURNS)	\
	X(MPROTECT,		mprotect,	MW_KEEPS)	\
	X(MADVISE,		madvise,	MW_RETURNS)	\
	X(PROCESS_MADVISE,	process_madvise, MW_RETURNS)

/*
 * MW_ADVICES(X): X(TAG, name, group, column), the madvise advice buckets in
 * enum mw_advice's order: @name is the JSON key in "madvise", @column the
 * text summary's column (NULL: added up in MADV_ETC).
 */
#define MW_ADVICES(X)							\
	/* MADV_DONTNEED and MADV_DONTNEED_LOCKED */			\
	X(DONTNEED,	dontneed,	MW_RETURNED,	"DONTNEED")	\
	X(FREE,		free,		MW_RETURNED,	"MADVFREE")	\
	X(REMOVE,	remove,		MW_RETURNED,	NULL)		\
	X(PAGEOUT,	pageout,	MW_MAPPED,	NULL)		\
	X(COLD,		cold,		MW_MAPPED,	NULL)		\
	/* WILLNEED, HUGEPAGE, ...: no memory returned */		\
	X(OTHER,	other,		MW_MAPPED,	NULL)

/*
 * MW_RSS_MEMBERS(X): X(TAG), the kernel's mm counters (kmem:rss_stat's
 * member) in the kernel's order, the index into the rss arrays.
 */
#define MW_RSS_MEMBERS(X)	\
	X(FILE)			\
	X(ANON)			\
	X(SWAP)	/* swap entries: not resident */ \
	X(SHMEM)

#define MW_ENUM_SYSCALL(TAG, ...) MW_SYS_##TAG,
#define MW_ENUM_ADVICE(TAG, ...) MW_ADV_##TAG,
#define MW_ENUM_RSS(TAG) MW_RSS_##TAG,

/* traced syscalls, the index into mw_thread.syscalls and rss_returned */
enum mw_syscall {
	MW_SYS_NONE,
	MW_SYSCALLS(MW_ENUM_SYSCALL)
	MW_SYS_NR,
};

/* madvise advice buckets, the index into mw_thread.madvise_bytes */
enum mw_advice {
	MW_ADVICES(MW_ENUM_ADVICE)
	MW_ADV_NR,
};

/* the kernel's mm counters, the index into the rss arrays */
enum mw_rss {
	MW_RSS_MEMBERS(MW_ENUM_RSS)
	MW_RSS_NR,
};

/* The syscalls whose RSS losses count as returned, a bit per enum mw_syscall. */
#define MW_RETURNING_BIT(TAG, name, returns) | ((returns) ? 1U << MW_SYS_##TAG : 0)
#define MW_RETURNING_SYSCALLS (0 MW_SYSCALLS(MW_RETURNING_BIT))

/* The madvise advice buckets that count as returned, a bit per enum mw_advice. */
#define MW_RETURNED_ADVICE_BIT(TAG, name, group, column) \
	| ((group) == MW_RETURNED ? 1U << MW_ADV_##TAG : 0)
#define MW_RETURNED_ADVICES (0 MW_ADVICES(MW_RETURNED_ADVICE_BIT))

/*
 * MW_THREAD_COUNTERS(X, A): struct mw_thread's counters in their layout's
 * order, the hot allocator ones first. Each is a __u64 the kernel only adds
 * to; user space sums the threads' and computes deltas.
 *   X(name, unit, group, table, TAG, header, doc): one counter, its JSON
 *     field @name; a column VIEW_COL_TAG headed @header in @table: THREADS,
 *     the thread tables (the live view's and the text report's), CALLS, the
 *     text summary's bytes by call, or NO_COLUMN (@TAG _, @header NULL).
 *   A(name, nr, json, keys, unit, doc): an array indexed by an enum of @nr;
 *     in JSON the object @json ("" for none), a field for each non-NULL
 *     name in the user-space table @keys.
 */
#define MW_THREAD_COUNTERS(X, A)								\
	X(alloc_calls, MW_CALLS, MW_HEAP, THREADS, ALLOCS, "ALLOCS",				\
	  "allocator calls that returned a block (malloc, calloc, realloc, ...)")		\
	X(alloc_bytes, MW_BYTES, MW_HEAP, THREADS, ALLOC_BYTES, "ALLOC'D",			\
	  "the bytes those calls asked for")							\
	X(free_calls, MW_CALLS, MW_HEAP, THREADS, FREES, "FREES",				\
	  "non-NULL frees, realloc's included")							\
	X(free_bytes, MW_BYTES, MW_HEAP, THREADS, FREE_BYTES, "FREED",				\
	  "the sizes of the freed blocks that were tracked")					\
	X(free_other_calls, MW_CALLS, MW_HEAP, NO_COLUMN, _, NULL,				\
	  "of the frees, those of blocks another thread allocated")				\
	X(free_other_bytes, MW_BYTES, MW_HEAP, THREADS, OTHERS, "OTHERS'", "their bytes")	\
	X(free_unknown_calls, MW_CALLS, MW_HEAP, NO_COLUMN, _, NULL,				\
	  "frees of blocks not in the live table: freed already (a thread's tcache flush "	\
	  "at its exit, a double free) or never seen allocated")				\
	X(free_preexisting_calls, MW_CALLS, MW_HEAP, NO_COLUMN, _, NULL,			\
	  "-p: frees of blocks allocated before counting began")				\
	X(free_preexisting_bytes, MW_BYTES, MW_HEAP, NO_COLUMN, _, NULL,			\
	  "their bytes, from glibc's chunk header (0 with another allocator)")			\
	X(untracked_allocs, MW_CALLS, MW_HEAP, NO_COLUMN, _, NULL,				\
	  "allocations the live table had no room for: counted, not tracked")			\
	X(untracked_bytes, MW_BYTES, MW_HEAP, NO_COLUMN, _, NULL, "their bytes")		\
	/* updated atomically: by whichever thread frees the block */				\
	X(released_calls, MW_CALLS, MW_HEAP, NO_COLUMN, _, NULL,				\
	  "the thread's own blocks freed by any thread")					\
	X(released_bytes, MW_BYTES, MW_HEAP, NO_COLUMN, _, NULL, "their bytes")			\
	A(syscalls, MW_SYS_NR, "syscalls", mw_syscall_keys, MW_CALLS,				\
	  "successful calls of each traced syscall (process_madvise: on its own process)")	\
	X(brk_grow_bytes, MW_BYTES, MW_GROWN, CALLS, BRK_GROW, "BRK+",					\
	  "the program break raised (syscall bytes are rounded to whole pages, as the "	\
	  "kernel maps)")									\
	X(brk_shrink_bytes, MW_BYTES, MW_RETURNED, CALLS, BRK_SHRINK, "BRK-", "the program break lowered") \
	X(mmap_anon_bytes, MW_BYTES, MW_GROWN, CALLS, MMAP_ANON, "MMAP", "anonymous mappings, accessible") \
	X(mmap_file_bytes, MW_BYTES, MW_MAPPED, CALLS, MMAP_FILE, "MMAPFILE",				\
	  "file-backed mappings, accessible")							\
	X(mmap_none_bytes, MW_BYTES, MW_MAPPED, CALLS, MMAP_NONE, "MMAPNONE", "PROT_NONE reservations")	\
	X(munmap_bytes, MW_BYTES, MW_RETURNED, CALLS, MUNMAP, "MUNMAP", "unmapped")			\
	X(mremap_grow_bytes, MW_BYTES, MW_GROWN, CALLS, MREMAP_GROW, "MREMAP+", "mappings grown by mremap") \
	X(mremap_shrink_bytes, MW_BYTES, MW_RETURNED, CALLS, MREMAP_SHRINK, "MREMAP-",			\
	  "mappings shrunk by mremap")								\
	X(mprotect_rw_bytes, MW_BYTES, MW_GROWN, CALLS, MPROTECT_RW, "MPROT_RW",				\
	  "made writable: how glibc's arenas grow")						\
	X(mprotect_none_bytes, MW_BYTES, MW_MAPPED, CALLS, MPROTECT_NONE, "MPROT_NO",			\
	  "made PROT_NONE: how glibc's arenas shrink")						\
	A(madvise_bytes, MW_ADV_NR, "madvise", mw_advice_keys, MW_BYTES,			\
	  "bytes advised, per advice (madvise, and process_madvise on the caller's own "	\
	  "process)")										\
	A(rss_gained, MW_RSS_NR, "", NULL, MW_BYTES,						\
	  "resident bytes the thread's own faults added, per mm counter")			\
	A(rss_lost, MW_RSS_NR, "", NULL, MW_BYTES,						\
	  "resident bytes the thread's own calls removed, per mm counter")			\
	A(rss_returned, MW_SYS_NR, "returned_actual", mw_returning_keys, MW_BYTES,		\
	  "resident bytes that left RSS during each call that returns memory")			\
	MW_TEST_COUNTERS(X)

/*
 * A counter only a test build has (make DEFINES=-DMW_TEST_COUNTER): the
 * registry's proof that one line is all a counter needs.
 */
#ifdef MW_TEST_COUNTER
#define MW_TEST_COUNTERS(X) \
	X(test_counter, MW_CALLS, MW_OTHER, THREADS, TEST, "TESTCNT", "a test build's counter")
#else
#define MW_TEST_COUNTERS(X)
#endif

#define MW_COUNTER_FIELD(name, ...) __u64 name;
#define MW_COUNTER_ARRAY_FIELD(name, nr, ...) __u64 name[nr];

#endif /* MW_COUNTERS_H */
