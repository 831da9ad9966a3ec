// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The live view's key table: what each key does, the footer and help it
 * makes, and docs/keys.md and memwatch(8)'s key list, which must be what the
 * table generates.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "output/keys.h"
#include "sys/fileio.h"
#include "tap.h"

static void test_actions(void)
{
	enum view_col cols[VIEW_COL_NR];
	struct view v;
	int n;

	ASSERT_EQ(keys_action('q'), VIEW_QUIT, "q quits");
	ASSERT_EQ(keys_action(KEYS_F(10)), VIEW_QUIT, "F10 quits");
	ASSERT_EQ(keys_action(','), VIEW_SORT_PREV, ", sorts by the previous column");
	ASSERT_EQ(keys_action(KEYS_F(8)), VIEW_SORT_NEXT, "F8 sorts by the next column");
	ASSERT_EQ(keys_action('x'), VIEW_NONE, "x does nothing");
	ASSERT_EQ(keys_action(KEYS_F(2)), VIEW_NONE, "F2 does nothing");

	view_init(&v);
	n = view_fit(VIEW_LIVE, 80, true, cols);
	ASSERT_EQ(keys_press(&v, '>', cols, n), VIEW_SORT_NEXT, "> pressed");
	ASSERT_EQ(v.sort, VIEW_COL_COMM, "> sorts by COMM");
	keys_press(&v, 'r', cols, n);
	ASSERT_TRUE(v.reverse, "r reverses");
	keys_press(&v, 'd', cols, n);
	keys_press(&v, 'e', cols, n);
	keys_press(&v, 'p', cols, n);
	ASSERT_TRUE(v.rate && v.hide_exited && v.paused, "d, e, p: rates, exited hidden, paused");
	keys_press(&v, '?', cols, n);
	ASSERT_TRUE(v.help, "? opens the help");
	ASSERT_EQ(keys_press(&v, 'r', cols, n), VIEW_NONE, "with the help up r only closes it");
	ASSERT_TRUE(!v.help && v.reverse, "the help closed, the order as it was");
	keys_press(&v, KEYS_F(1), cols, n);
	ASSERT_EQ(keys_press(&v, 'q', cols, n), VIEW_QUIT, "q quits with the help up");
}

static void test_sites(void)
{
	enum view_col cols[VIEW_COL_NR];
	struct view v;
	int n;

	view_init(&v);
	n = view_fit(VIEW_LIVE, 80, true, cols);
	keys_press(&v, 's', cols, n);
	ASSERT_TRUE(!v.sites && v.notice && strstr(v.notice, "--stacks is off"),
		    "s without --stacks: the threads stay, a notice says why");
	keys_press(&v, 'x', cols, n);
	ASSERT_TRUE(!v.notice, "the next key takes the notice away");

	v.stacks = true;
	keys_press(&v, 's', cols, n);
	ASSERT_TRUE(v.sites && v.sites_order == SITES_BY_LIVE, "s: the sites, by live bytes");
	keys_press(&v, '>', cols, n);
	ASSERT_TRUE(v.sites_order == SITES_BY_ALLOC && v.sort == VIEW_COL_TID,
		    "> on the sites: the next order, the threads' sort as it was");
	keys_press(&v, '<', cols, n);
	keys_press(&v, '<', cols, n);
	ASSERT_EQ(v.sites_order, SITES_BY_RETURNED, "< twice: the last order");
	keys_press(&v, KEYS_UP, cols, n);
	ASSERT_EQ(v.selected, 0, "Up on the first row stays there");
	keys_press(&v, KEYS_DOWN, cols, n);
	keys_press(&v, KEYS_DOWN, cols, n);
	ASSERT_EQ(v.selected, 2, "Down twice: the third row");
	ASSERT_EQ(keys_press(&v, KEYS_ENTER, cols, n), VIEW_STACK, "Enter: its stack");
	ASSERT_TRUE(v.stack, "the stack is shown");
	ASSERT_EQ(keys_press(&v, KEYS_DOWN, cols, n), VIEW_NONE, "with the stack up a key closes it");
	ASSERT_TRUE(!v.stack && v.sites && v.selected == 2, "back to the sites, the same row");
	keys_press(&v, 's', cols, n);
	ASSERT_TRUE(!v.sites, "s again: the threads");
	keys_press(&v, KEYS_ENTER, cols, n);
	ASSERT_TRUE(!v.stack, "Enter on the threads: nothing");
}

static void test_footer_and_help(void)
{
	char buf[256], line[128];
	const char *text;
	size_t i, width = 0;

	ASSERT_STREQ(keys_footer(&key_bindings[1], buf, sizeof(buf)), "<>",
		     "footer: the first key of each way to sort");
	ASSERT_STREQ(keys_footer(&key_bindings[0], buf, sizeof(buf)), "q",
		     "footer: one key for quit");
	ASSERT_STREQ(keys_names(&key_bindings[0], buf, sizeof(buf)), "q Q F10",
		     "help: every key of quit");
	for (i = 0; i < key_bindings_nr && key_bindings[i].keys[0].key != KEYS_UP; i++)
		;
	ASSERT_STREQ(i < key_bindings_nr ? keys_footer(&key_bindings[i], buf, sizeof(buf)) : "",
		     "Up/Down", "footer: named keys apart");
	ASSERT_STREQ(keys_help_line(0, line, sizeof(line)), "memwatch live view keys",
		     "help: its title first");
	for (i = 0; (text = keys_help_line(i, line, sizeof(line))); i++) {
		if (strlen(text) > width)
			width = strlen(text);
	}
	ASSERT_EQ(i, 3 + key_bindings_nr + 6, "help: title, a line per binding, the notes");
	/* the help box adds two cells each side */
	ASSERT_TRUE(width + 4 <= 80, "help: fits an 80-column terminal");
	ASSERT_TRUE(strstr(keys_help_line(3, line, sizeof(line)), "< > , . F7 F8") != NULL,
		    "help: the sort keys on their line");
}

static void test_docs(void)
{
	char *want = NULL, *got;
	size_t want_len = 0, got_len;
	FILE *f = open_memstream(&want, &want_len);

	keys_markdown(f);
	fclose(f);
	got = read_path("docs/keys.md", &got_len);
	if (!ASSERT_TRUE(got && got_len == want_len && !memcmp(got, want, want_len),
			 "docs/keys.md is what the key table makes (else: make docs)"))
		printf("# make docs writes:\n%s", want);
	free(got);
	free(want);
}

static void test_man_page(void)
{
	char *want = NULL, *page, *begin = NULL, *end = NULL;
	size_t want_len = 0;
	FILE *f = open_memstream(&want, &want_len);

	keys_man(f);
	fclose(f);
	page = read_path("docs/memwatch.8", NULL);
	if (page)
		begin = strstr(page, KEYS_MAN_BEGIN "\n");
	if (begin)
		end = strstr(begin, "\n" KEYS_MAN_END "\n");
	if (ASSERT_TRUE(end, "docs/memwatch.8 marks its key list")) {
		begin += strlen(KEYS_MAN_BEGIN "\n");
		end++;
		if (!ASSERT_TRUE(
			    (size_t)(end - begin) == want_len && !memcmp(begin, want, want_len),
			    "memwatch(8)'s key list is what the key table makes (else: make docs)"))
			printf("# make docs writes:\n%s", want);
	}
	ASSERT_TRUE(want_len && strstr(want, ".BR q \" \" Q \" \" F10\nQuit: ") &&
			    strstr(want, ".B r\nReverse the sort order.\n"),
		    "man: the keys in bold, the help a sentence");
	free(page);
	free(want);
}

int main(void)
{
	test_actions();
	test_sites();
	test_footer_and_help();
	test_docs();
	test_man_page();
	return tap_done();
}
