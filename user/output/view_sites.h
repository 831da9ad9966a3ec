/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What the live view's sites screen shows (--stacks, the s key), decided
 * without curses as view.c decides the threads': the number columns that
 * fit beside the frames, the orders, each cell's text (~ for an estimate),
 * the frames a row names, the selected row and the stack screen's lines.
 * The rows are copies stacks_peek() took; the names in them are the
 * target's, escaped here.
 */
#ifndef MW_VIEW_SITES_H
#define MW_VIEW_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include "stacks/sites.h"

enum view_site_col {
	VIEW_SITE_LIVE,
	VIEW_SITE_BLOCKS,
	VIEW_SITE_ALLOC,
	VIEW_SITE_CALLS,
	VIEW_SITE_FREES,
	VIEW_SITE_GROWN,
	VIEW_SITE_RET_ASK,
	VIEW_SITE_RET_ACT,
	VIEW_SITE_NR,
};

/* every number column is this wide, a space before the next */
#define VIEW_SITE_COL_WIDTH 9
/* what the frames keep at least: the numbers that do not fit give way */
#define VIEW_SITE_FRAMES_MIN 30

const char *view_site_header(enum view_site_col c);
/* The next (@step 1) or previous (-1) order. */
enum sites_order view_sites_order_step(enum sites_order order, int step);
/* "live bytes", "allocated bytes", ...: what @order sorts by, for the header. */
const char *view_sites_order_name(enum sites_order order);
/* The column @order sorts by: highlighted, and never left out. */
enum view_site_col view_sites_order_col(enum sites_order order);

/*
 * The number columns that fit @width cells beside VIEW_SITE_FRAMES_MIN of
 * frames, in display order, into @cols (room for VIEW_SITE_NR): @order's
 * first, then live and allocated bytes, grown, returned, the counts. How many.
 */
int view_sites_fit(int width, enum sites_order order, enum view_site_col *cols);
/*
 * Column @c's text for @site, right-aligned in its width; "~" before an
 * estimate (@sampled: --stacks=sampled weighs its calls; syscalls are all seen).
 */
char *view_site_cell(const struct site *site, enum view_site_col c, bool sampled, char *buf,
		     size_t len);

/*
 * @site's frames from the first outside the allocator on, innermost first,
 * each its function or module+0xOFFSET (escaped), joined by " < ", cut
 * whole at @len.
 */
char *view_site_frames(const struct site *site, char *buf, size_t len);
/* Frame @i of the stack screen: "#i function (module) file:line", escaped. */
char *view_site_frame_line(const struct site *site, int i, char *buf, size_t len);

/*
 * The row selected among the @n rows of the latest look: the one of the
 * site selected before (@pcs, a site's identity) wherever it went, else
 * the row at @at, the last if fewer.
 */
size_t view_sites_follow(const struct site *rows, size_t n, const __u64 *pcs, size_t at);
/* The first row shown of @rows lines with row @selected in view. */
size_t view_sites_scroll(size_t selected, int rows);

#endif /* MW_VIEW_SITES_H */
