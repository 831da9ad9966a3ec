/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Callers: a site's stack starts inside the allocator (malloc, or brk under
 * sysmalloc under malloc for a syscall malloc made), where a user wants the
 * line of their code that called it. A site's caller is its innermost frame
 * outside the allocator (caller_frame.h), found when the site is made; the
 * sites of one image with the same caller address are one caller, their
 * counts summed when a report asks.
 */
#ifndef MW_CALLERS_H
#define MW_CALLERS_H

#include <stddef.h>
#include <linux/types.h>
#include "stacks/sites.h"

struct site_caller {
	/* its sites' counts summed, with the stack and caller of its first site */
	struct site sum;
	size_t first;		/* that site's index: the one symbolized */
	size_t sites;		/* how many sites it groups */
};

struct site_callers {
	struct site_caller *v;	/* in the order of their first sites */
	size_t nr;
};

/* @s's sites grouped by caller into @c. 0 or -ENOMEM. */
int callers_group(const struct stack_sites *s, struct site_callers *c);
/* The @n first callers in @order into @top (at most @n, those with the order's bytes): how many. */
size_t callers_top(const struct site_callers *c, enum sites_order order,
		   const struct site_caller **top, size_t n);
void callers_free(struct site_callers *c);

#endif /* MW_CALLERS_H */
