/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Where each allocator function's entry uprobe goes. The kernel emulates a
 * few instructions at a uprobe site (push, jmp, call, jcc, nop) and must
 * single-step the others out of line, about nine times slower. An entry
 * probe moves from the function's first instruction to the first one the
 * kernel emulates when that is provably the same: no instruction before it
 * branches or writes an argument register the probe reads, and nothing jumps
 * back into the skipped prologue. free's NULL early exit may be skipped:
 * free(NULL) does nothing.
 */
#ifndef MW_PROBE_SITE_H
#define MW_PROBE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include "attach/allocator.h"

/* the longest function whose code is checked for jumps back into its prologue */
#define MW_SITE_CODE_MAX (256 * 1024)

enum probe_site_flags {
	MW_SITE_SKIP_NULL_EXIT = 1,	/* "test %rdi,%rdi; je" may be skipped: free(NULL) */
};

struct probe_site {
	unsigned long offset;		/* from the function's start */
	bool emulated;			/* the kernel emulates the instruction there */
	char insn[64];			/* that instruction, "" when unknown */
	char why[160];			/* how it was chosen */
};

/*
 * Chooses the entry probe site in the code of one function (@code, @len
 * bytes: the whole function, for the check that nothing jumps back into its
 * prologue). The probe reads the first @nargs argument registers. Falls back
 * to offset 0, saying why.
 */
void probe_site_choose(const unsigned char *code, size_t len, int nargs, unsigned int flags,
		       struct probe_site *site);

/* How the probes of one allocator function are placed. */
struct probe_plan_fn {
	bool probe;			/* defined and not an alias of an earlier one */
	bool retprobe;			/* a uretprobe too, always at offset 0 */
	struct probe_site entry;	/* the entry uprobe */
};

struct probe_plan {
	struct probe_plan_fn fn[MW_FUNC_NR];
};

enum probe_placement {
	MW_SITES_CHOSEN,		/* memwatch's: probe_site_choose() per function */
	MW_SITES_NAIVE,			/* every probe at offset 0 */
};

/* Where the probes on @a's functions go; the code is read from a->path. */
void probe_plan_make(const struct allocator *a, enum probe_placement placement,
		     struct probe_plan *plan);

#endif /* MW_PROBE_SITE_H */
