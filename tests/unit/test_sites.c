// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --stacks' user side without BPF: the block map, the sites' counts, demangling, escaping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/report_sites.h"
#include "stacks/sites.h"
#include "stacks/symbols.h"
#include "stacks/u64map.h"
#include "tap.h"

static void test_u64map(void)
{
	struct u64map m = { 0 };
	struct u64map_entry *e, out;
	bool ok = true;
	__u64 k;

	/* consecutive chunks, as an allocator hands them out, and a wrap of the table */
	for (k = 1; k <= 20000; k++) {
		e = u64map_get(&m, 0x10000 + 32 * k);
		ok &= e && !e->a;
		if (e)
			e->a = k;
	}
	ASSERT_TRUE(ok && m.nr == 20000, "u64map: 20,000 keys in");
	for (k = 1; k <= 20000; k += 2)
		ok &= u64map_take(&m, 0x10000 + 32 * k, &out) && out.a == k;
	ASSERT_TRUE(ok && m.nr == 10000, "u64map: every other one taken, with its words");
	for (k = 1; k <= 20000; k++) {
		e = u64map_find(&m, 0x10000 + 32 * k);
		ok &= k % 2 ? !e : e && e->a == k;
	}
	ASSERT_TRUE(ok, "u64map: the others still found after the backward shifts");
	ASSERT_TRUE(!u64map_take(&m, 12345, NULL), "u64map: a key not there is not taken");
	u64map_free(&m);
}

static const Dwfl_Callbacks no_modules = { 0 };

static void test_sites(void)
{
	__u64 a[] = { 0x1000, 0x2000, 0x3000 }, b[] = { 0x1000, 0x2000, 0x4000 };
	struct stack_sites s = { 0 };
	Dwfl *dwfl = dwfl_begin(&no_modules);
	long x, y;

	x = sites_find(&s, 1, a, 3);
	y = sites_find(&s, 1, b, 3);
	ASSERT_TRUE(x == 0 && y == 1, "sites: two stacks, two sites");
	ASSERT_EQ(sites_find(&s, 1, a, 3), x, "sites: a stack seen again is its site");
	ASSERT_TRUE(sites_find(&s, 2, a, 3) == 2, "sites: another process's is another site");
	ASSERT_TRUE(!s.v[x].frames, "sites: not symbolized as they come");
	ASSERT_OK(site_symbolize(&s.v[x], dwfl), "sites: symbolized");
	ASSERT_TRUE(!s.v[x].frames[0].module && s.v[x].frames[0].offset == 0x1000,
		    "sites: an address in no module is kept as it is");
	sites_alloc(&s, x, 1, 0x7000, 100);
	sites_alloc(&s, x, 1, 0x7100, 50);
	sites_alloc(&s, y, 1, 0x7200, 10);
	sites_free(&s, 1, 0x7000);
	sites_free(&s, 1, 0x9999);
	sites_free(&s, 2, 0x7100);
	ASSERT_TRUE(s.v[x].alloc_calls == 2 && s.v[x].alloc_bytes == 150 && s.v[x].free_calls == 1 &&
		    s.v[x].live_calls == 1 && s.v[x].live_bytes == 50,
		    "sites: calls, bytes, frees and live blocks; another process's free is not its");
	/* the free of 0x7200 was lost: its address made again */
	sites_alloc(&s, x, 1, 0x7200, 20);
	ASSERT_TRUE(s.unpaired == 1 && s.v[y].live_calls == 0 && s.v[x].live_bytes == 70,
		    "sites: a block made again where one lived releases that one, counted");
	ASSERT_OK(sites_forget(&s, 1), "sites: an exec forgets");
	ASSERT_TRUE(s.v[x].live_calls == 0 && s.v[x].live_bytes == 0 && s.blocks.nr == 0,
		    "sites: an exec releases the process's blocks");
	ASSERT_TRUE(sites_find(&s, 1, a, 3) == 3 && sites_find(&s, 2, a, 3) == 2,
		    "sites: the same addresses in the next image are a new site; other processes' "
		    "stay open");
	sites_free_all(&s);
	dwfl_end(dwfl);
}

static void test_demangle(void)
{
	char *d;

	d = symbol_demangle("_ZN3foo3barIiEEvRKSt6vectorIT_SaIS2_EE");
	ASSERT_STREQ(d, "void foo::bar<int>(std::vector<int, std::allocator<int> > const&)",
		     "demangle: a C++ template");
	free(d);
	d = symbol_demangle("_ZN12rust_channel4main17h1c2d3e4f5a6b7c8dE");
	ASSERT_STREQ(d, "rust_channel::main", "demangle: Rust's legacy scheme");
	free(d);
	d = symbol_demangle("_RNvCs1234_12rust_channel4main");
	ASSERT_STREQ(d, "rust_channel::main", "demangle: Rust's v0 scheme");
	free(d);
	d = symbol_demangle("malloc");
	ASSERT_STREQ(d, "malloc", "demangle: a C name stays");
	free(d);
	d = symbol_demangle("__libc_start_main@@GLIBC_2.34");
	ASSERT_STREQ(d, "__libc_start_main", "demangle: a debug file's versioned name, bare");
	free(d);
	d = symbol_demangle("_ZN3foo3bazEv@GLIBCXX_3.4");
	ASSERT_STREQ(d, "foo::baz()", "demangle: a versioned C++ name");
	free(d);
}

/* Whatever bytes a target's symbols, modules and files hold, no control byte is printed. */
static void test_escaped(void)
{
	struct site_frame frame = {
		.function = "evil\033]0;owned\007", .module = "/lib/\033[2Jmod.so", .file = "a\nb.c",
		.line = 3,
	};
	struct site site = { .nr_frames = 1, .frames = &frame, .alloc_calls = 1, .alloc_bytes = 8,
			     .live_calls = 1, .live_bytes = 8 };
	struct stack_sites s = { .v = &site, .nr = 1 };
	struct mw_model m = { .sites = &s, .sites_top = 20 };
	char text[4096] = "";
	FILE *f = fmemopen(text, sizeof(text), "w");
	bool clean = true;
	size_t i;

	report_sites_text(f, &m);
	fclose(f);
	for (i = 0; text[i]; i++)
		clean &= text[i] == '\n' || (unsigned char)text[i] >= 0x20;
	ASSERT_TRUE(clean, "escaped: no control byte in the text");
	ASSERT_TRUE(strstr(text, "evil\\x1b]0;owned\\x07 (\\x1b[2Jmod.so) a\\x0ab.c:3"),
		    "escaped: the function, the module and the file, each escaped");
}

int main(void)
{
	test_u64map();
	test_sites();
	test_demangle();
	test_escaped();
	return tap_done();
}
