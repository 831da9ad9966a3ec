// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The sites screen's decisions: orders, the columns that fit, cells with
 * their estimates marked, the frames a row names (past the allocator,
 * escaped, cut whole), the stack screen's lines, the selection.
 */
#include <string.h>
#include "output/view_sites.h"
#include "tap.h"

static void test_orders(void)
{
	ASSERT_EQ(view_sites_order_step(SITES_BY_LIVE, 1), SITES_BY_ALLOC, "> after live: allocated");
	ASSERT_EQ(view_sites_order_step(SITES_BY_RETURNED, 1), SITES_BY_LIVE,
		  "> after returned: live again");
	ASSERT_EQ(view_sites_order_step(SITES_BY_LIVE, -1), SITES_BY_RETURNED,
		  "< before live: returned");
	ASSERT_STREQ(view_sites_order_name(SITES_BY_GROWN), "grown bytes", "an order's name");
	ASSERT_EQ(view_sites_order_col(SITES_BY_RETURNED), VIEW_SITE_RET_ASK,
		  "returned sorts by RET_ASK");
}

static void test_fit(void)
{
	enum view_site_col cols[VIEW_SITE_NR];
	int n;

	ASSERT_EQ(view_sites_fit(120, SITES_BY_LIVE, cols), VIEW_SITE_NR,
		  "120 cells: every number and the frames");
	n = view_sites_fit(80, SITES_BY_LIVE, cols);
	ASSERT_TRUE(n == 5 && cols[0] == VIEW_SITE_LIVE && cols[1] == VIEW_SITE_BLOCKS &&
			    cols[2] == VIEW_SITE_ALLOC && cols[3] == VIEW_SITE_GROWN &&
			    cols[4] == VIEW_SITE_RET_ASK,
		    "80 cells: live, blocks, allocated, grown, returned, in display order");
	n = view_sites_fit(80, SITES_BY_RETURNED, cols);
	ASSERT_TRUE(n == 5 && cols[4] == VIEW_SITE_RET_ASK, "80 cells by returned: RET_ASK kept");
	n = view_sites_fit(30, SITES_BY_GROWN, cols);
	ASSERT_TRUE(n == 1 && cols[0] == VIEW_SITE_GROWN, "too narrow: the order's column alone");
}

static void test_cells(void)
{
	struct site site = { .live_bytes = 200000, .live_calls = 1000, .grown_bytes = 4096 };
	char buf[32];

	ASSERT_STREQ(view_site_cell(&site, VIEW_SITE_LIVE, false, buf, sizeof(buf)), "   195.3K",
		     "live bytes, right-aligned");
	ASSERT_STREQ(view_site_cell(&site, VIEW_SITE_LIVE, true, buf, sizeof(buf)), "  ~195.3K",
		     "sampled: ~ before an estimate");
	ASSERT_STREQ(view_site_cell(&site, VIEW_SITE_BLOCKS, true, buf, sizeof(buf)), "    ~1000",
		     "sampled: blocks estimated too");
	ASSERT_STREQ(view_site_cell(&site, VIEW_SITE_GROWN, true, buf, sizeof(buf)), "     4.0K",
		     "sampled: the syscalls' bytes are exact");
}

static const char *const libc = "/usr/lib/libc.so.6";

static void test_frames(void)
{
	__u64 pcs[4] = { 0x1000, 0x2000, 0x3000, 0x4000 };
	struct site_frame frames[4] = {
		{ .function = "malloc", .module = (char *)libc },
		{ .function = "strdup", .module = (char *)libc },
		{ .function = "evil\x1b]0;x\a", .module = "/bin/app" },
		{ .module = "/bin/app", .offset = 0x1234 },
	};
	/* its caller, as stack_caller() finds it: past malloc and the libc function calling it */
	struct site site = { .nr_frames = 4, .pcs = pcs, .frames = frames, .caller = 2 };
	char buf[256];

	ASSERT_STREQ(view_site_frames(&site, buf, sizeof(buf)), "evil\\x1b]0;x\\x07 < app+0x1234",
		     "escaped names, module+0xOFFSET without a symbol");
	ASSERT_STREQ(view_site_frames(&site, buf, 24), "evil\\x1b]0;x\\x07",
		     "a frame that does not fit whole is left out");
	ASSERT_STREQ(view_site_frame_line(&site, 1, buf, sizeof(buf)), "#1  strdup (/usr/lib/libc.so.6)",
		     "the stack: function and module");
	frames[2].file = "app.c";
	frames[2].line = 42;
	ASSERT_STREQ(view_site_frame_line(&site, 2, buf, sizeof(buf)),
		     "#2  evil\\x1b]0;x\\x07 (/bin/app) app.c:42", "the stack: file and line");
	ASSERT_STREQ(view_site_frame_line(&site, 3, buf, sizeof(buf)), "#3  /bin/app+0x1234",
		     "the stack: module+0xOFFSET");
	frames[3].module = NULL;
	frames[3].offset = 0x7f00;
	ASSERT_STREQ(view_site_frame_line(&site, 3, buf, sizeof(buf)), "#3  [anon]+0x7f00",
		     "the stack: code in no file");
	site.frames = NULL;
	site.caller = 1;
	ASSERT_STREQ(view_site_frames(&site, buf, sizeof(buf)), "0x2000 < 0x3000 < 0x4000",
		     "unsymbolized: the addresses from the caller");
	ASSERT_STREQ(view_site_frame_line(&site, 0, buf, sizeof(buf)), "#0  0x1000",
		     "the stack, unsymbolized: a bare address");
}

static void test_selection(void)
{
	__u64 a[1] = { 0 }, b[1] = { 0 }, c[1] = { 0 };
	struct site rows[3] = { { .pcs = a }, { .pcs = b }, { .pcs = c } };

	ASSERT_EQ(view_sites_follow(rows, 3, c, 0), 2, "the site selected, where it went");
	ASSERT_EQ(view_sites_follow(rows, 2, c, 1), 1, "gone: the row selected before");
	ASSERT_EQ(view_sites_follow(rows, 2, NULL, 5), 1, "past the last row: the last");
	ASSERT_EQ(view_sites_follow(rows, 0, NULL, 3), 0, "no row: 0");
	ASSERT_EQ(view_sites_scroll(3, 10), 0, "in the first screen: from the top");
	ASSERT_EQ(view_sites_scroll(12, 10), 3, "below it: scrolled to show it last");
}

int main(void)
{
	test_orders();
	test_fit();
	test_cells();
	test_frames();
	test_selection();
	return tap_done();
}
