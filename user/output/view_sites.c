// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdio.h>
#include <string.h>
#include "output/escape.h"
#include "output/format.h"
#include "output/view_sites.h"

static const struct {
	const char *header;
	bool bytes;
	bool estimate;		/* from the allocator's calls: sampled, they are weighed */
	int rank;		/* a narrow terminal keeps the lowest */
} columns[VIEW_SITE_NR] = {
	[VIEW_SITE_LIVE] = { "LIVE", true, true, 0 },
	[VIEW_SITE_BLOCKS] = { "BLOCKS", false, true, 4 },
	[VIEW_SITE_ALLOC] = { "ALLOC'D", true, true, 1 },
	[VIEW_SITE_CALLS] = { "CALLS", false, true, 5 },
	[VIEW_SITE_FREES] = { "FREES", false, true, 6 },
	[VIEW_SITE_GROWN] = { "GROWN", true, false, 2 },
	[VIEW_SITE_RET_ASK] = { "RET_ASK", true, false, 3 },
	[VIEW_SITE_RET_ACT] = { "RET_ACT", true, false, 7 },
};

/* each order of sites_top(), a line here */
static const struct {
	const char *name;
	enum view_site_col col;
} orders[] = {
	[SITES_BY_LIVE] = { "live bytes", VIEW_SITE_LIVE },
	[SITES_BY_ALLOC] = { "allocated bytes", VIEW_SITE_ALLOC },
	[SITES_BY_GROWN] = { "grown bytes", VIEW_SITE_GROWN },
	[SITES_BY_RETURNED] = { "returned bytes", VIEW_SITE_RET_ASK },
};

#define ORDERS_NR ((int)(sizeof(orders) / sizeof(orders[0])))

const char *view_site_header(enum view_site_col c)
{
	return columns[c].header;
}

enum sites_order view_sites_order_step(enum sites_order order, int step)
{
	return ((int)order + step % ORDERS_NR + ORDERS_NR) % ORDERS_NR;
}

const char *view_sites_order_name(enum sites_order order)
{
	return orders[order].name;
}

enum view_site_col view_sites_order_col(enum sites_order order)
{
	return orders[order].col;
}

int view_sites_fit(int width, enum sites_order order, enum view_site_col *cols)
{
	bool keep[VIEW_SITE_NR] = { false };
	int room = width - VIEW_SITE_FRAMES_MIN, rank, i, n = 0;

	/* the order's column first, whatever the width: the header names it */
	keep[orders[order].col] = true;
	room -= VIEW_SITE_COL_WIDTH + 1;
	for (rank = 0; rank < VIEW_SITE_NR && room >= VIEW_SITE_COL_WIDTH + 1; rank++) {
		for (i = 0; i < VIEW_SITE_NR; i++) {
			if (columns[i].rank == rank && !keep[i]) {
				keep[i] = true;
				room -= VIEW_SITE_COL_WIDTH + 1;
			}
		}
	}
	for (i = 0; i < VIEW_SITE_NR; i++) {
		if (keep[i])
			cols[n++] = i;
	}
	return n;
}

static __u64 site_value(const struct site *site, enum view_site_col c)
{
	switch (c) {
	case VIEW_SITE_LIVE:
		return site->live_bytes;
	case VIEW_SITE_BLOCKS:
		return site->live_calls;
	case VIEW_SITE_ALLOC:
		return site->alloc_bytes;
	case VIEW_SITE_CALLS:
		return site->alloc_calls;
	case VIEW_SITE_FREES:
		return site->free_calls;
	case VIEW_SITE_GROWN:
		return site->grown_bytes;
	case VIEW_SITE_RET_ASK:
		return site->returned_bytes;
	case VIEW_SITE_RET_ACT:
		return site->returned_actual_bytes;
	default:
		return 0;
	}
}

char *view_site_cell(const struct site *site, enum view_site_col c, bool sampled, char *buf,
		     size_t len)
{
	char number[16], text[20];

	if (columns[c].bytes)
		format_bytes(number, sizeof(number), site_value(site, c));
	else
		format_count(number, sizeof(number), site_value(site, c));
	snprintf(text, sizeof(text), "%s%s", sampled && columns[c].estimate ? "~" : "", number);
	snprintf(buf, len, "%*s", VIEW_SITE_COL_WIDTH, text);
	return buf;
}

/* A frame's name in a row, as a folded stack names it, escaped. */
static char *frame_name(const struct site_frame *f, char *buf, size_t len)
{
	/* no module: not symbolized yet, or code in no file: its address alone */
	const char *module = f->module ? frame_module_name(f) : NULL;
	char esc[256];

	if (f->function && *f->function)
		escape_str(buf, len, f->function);
	else if (module)
		snprintf(buf, len, "%s+0x%llx", escape_str(esc, sizeof(esc), module), f->offset);
	else
		snprintf(buf, len, "0x%llx", f->offset);
	return buf;
}

char *view_site_frames(const struct site *site, char *buf, size_t len)
{
	size_t used = 0, n;
	char name[512];
	int i;

	buf[0] = '\0';
	/* from the innermost frame outside the allocator, as the callers are grouped */
	for (i = site->caller; i < site->nr_frames; i++) {
		frame_name(site_frame_at(site, i, &(struct site_frame){ 0 }), name, sizeof(name));
		n = strlen(name) + (used ? 3 : 0);
		/* a name cut would read as another function */
		if (used + n >= len)
			break;
		used += snprintf(buf + used, len - used, "%s%s", used ? " < " : "", name);
	}
	return buf;
}

char *view_site_frame_line(const struct site *site, int i, char *buf, size_t len)
{
	const struct site_frame *f = site_frame_at(site, i, &(struct site_frame){ 0 });
	char function[512], module[512], file[512];
	int used;

	/* symbolized: code in no file; not yet: its address alone */
	if (!f->module) {
		snprintf(buf, len, site->frames ? "#%-2d " FRAME_ANON "+0x%llx" : "#%-2d 0x%llx", i,
			 f->offset);
		return buf;
	}
	escape_str(module, sizeof(module), f->module);
	if (f->function && *f->function)
		used = snprintf(buf, len, "#%-2d %s (%s)", i,
				escape_str(function, sizeof(function), f->function), module);
	else
		used = snprintf(buf, len, "#%-2d %s+0x%llx", i, module, f->offset);
	if (f->file && used >= 0 && (size_t)used < len)
		snprintf(buf + used, len - used, " %s:%d", escape_str(file, sizeof(file), f->file),
			 f->line);
	return buf;
}

size_t view_sites_follow(const struct site *rows, size_t n, const __u64 *pcs, size_t at)
{
	size_t i;

	for (i = 0; pcs && i < n; i++) {
		if (rows[i].pcs == pcs)
			return i;
	}
	return at < n ? at : n ? n - 1 : 0;
}

size_t view_sites_scroll(size_t selected, int rows)
{
	if (rows <= 0)
		return selected;
	return selected < (size_t)rows ? 0 : selected - rows + 1;
}
