// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * --stacks' user side without BPF: the block map, the sites' counts, their
 * callers, demangling, escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/report_sites.h"
#include "stacks/caller_frame.h"
#include "stacks/callers.h"
#include "stacks/sites.h"
#include "stacks/symbol_cache.h"
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
	ASSERT_OK(site_symbolize(&s.v[x], dwfl, NULL), "sites: symbolized");
	ASSERT_TRUE(!s.v[x].frames[0].module && s.v[x].frames[0].offset == 0x1000,
		    "sites: an address in no module is kept as it is");
	sites_alloc(&s, x, 1, 11, 0x7000, 100);
	sites_alloc(&s, x, 1, 12, 0x7100, 50);
	sites_alloc(&s, y, 1, 11, 0x7200, 10);
	sites_free(&s, 1, 0x7000);
	sites_free(&s, 1, 0x9999);
	sites_free(&s, 2, 0x7100);
	ASSERT_TRUE(s.v[x].alloc_calls == 2 && s.v[x].alloc_bytes == 150 && s.v[x].free_calls == 1 &&
		    s.v[x].live_calls == 1 && s.v[x].live_bytes == 50,
		    "sites: calls, bytes, frees and live blocks; another process's free is not its");
	ASSERT_TRUE(s.v[x].nr_threads == 2 && s.v[x].threads[0].tid == 11 &&
		    s.v[x].threads[0].alloc_bytes == 100 && s.v[x].threads[0].free_calls == 1 &&
		    s.v[x].threads[0].live_bytes == 0 && s.v[x].threads[1].tid == 12 &&
		    s.v[x].threads[1].live_bytes == 50 && s.v[y].nr_threads == 1,
		    "sites: by thread, a block's free its allocating thread's");
	ASSERT_OK(sites_syscall(&s, y, 13, 4096, 0, 0), "sites: a syscall counted");
	ASSERT_TRUE(s.v[y].nr_threads == 2 && s.v[y].threads[1].grown_bytes == 4096 &&
		    s.v[y].threads[1].syscall_calls == 1 && s.v[y].grown_bytes == 4096,
		    "sites: a syscall's bytes, by thread too");
	for (__u32 tid = 100; tid < 120; tid++)
		sites_syscall(&s, y, tid, 1, 0, 0);
	ASSERT_TRUE(s.v[y].nr_threads == SITE_THREADS &&
		    s.v[y].threads[SITE_THREADS - 1].tid == 0 &&
		    s.v[y].threads[SITE_THREADS - 1].syscall_calls == 20 - (SITE_THREADS - 3) &&
		    s.v[y].syscall_calls == 21,
		    "sites: past SITE_THREADS - 1 threads, the others share one part, TID 0");
	/* the free of 0x7200 was lost: its address made again */
	sites_alloc(&s, x, 1, 12, 0x7200, 20);
	ASSERT_TRUE(s.unpaired == 1 && s.v[y].live_calls == 0 && s.v[x].live_bytes == 70 &&
		    s.v[y].threads[0].live_bytes == 0 && s.v[y].free_calls == 0,
		    "sites: a block made again where one lived releases that one, counted, no free");
	ASSERT_OK(sites_forget(&s, 1), "sites: an exec forgets");
	ASSERT_TRUE(s.v[x].live_calls == 0 && s.v[x].live_bytes == 0 && s.blocks.nr == 0,
		    "sites: an exec releases the process's blocks");
	ASSERT_TRUE(sites_find(&s, 1, a, 3) == 3 && sites_find(&s, 2, a, 3) == 2,
		    "sites: the same addresses in the next image are a new site; other processes' "
		    "stay open");
	sites_free_all(&s);
	dwfl_end(dwfl);
}

/* Modules by address range alone: stack_caller() needs their names, not their files. */
static Dwfl *callers_modules(void)
{
	Dwfl *dwfl = dwfl_begin(&no_modules);

	dwfl_report_begin(dwfl);
	dwfl_report_module(dwfl, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x10000, 0x20000);
	dwfl_report_module(dwfl, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.33", 0x30000,
			   0x40000);
	dwfl_report_module(dwfl, "/usr/bin/app", 0x50000, 0x60000);
	dwfl_report_end(dwfl, NULL, NULL);
	return dwfl;
}

static void test_stack_caller(void)
{
	/* malloc, operator new, the program's call, main, libc's start */
	__u64 cxx[] = { 0x10100, 0x30100, 0x30200, 0x50100, 0x50200, 0x10200 };
	/* brk, __sbrk, sysmalloc, malloc, then the program */
	__u64 brk[] = { 0x10300, 0x10400, 0x10500, 0x10100, 0x50300 };
	/* a static binary: its own malloc */
	__u64 own[] = { 0x50400, 0x50500, 0x50600 };
	/* a JIT's code, in no module, calls malloc */
	__u64 jit[] = { 0x10100, 0x90000, 0x50100 };
	__u64 alone[] = { 0x10100 };
	Dwfl *dwfl = callers_modules();

	ASSERT_EQ(stack_caller(dwfl, cxx, 6), 3, "caller: past malloc and operator new");
	ASSERT_EQ(stack_caller(dwfl, brk, 5), 4, "caller: a syscall's, past the allocator in libc");
	ASSERT_EQ(stack_caller(dwfl, own, 3), 1, "caller: a stack in one module: frame 1");
	ASSERT_EQ(stack_caller(dwfl, brk, 4), 1, "caller: a stack cut inside libc: frame 1");
	ASSERT_EQ(stack_caller(dwfl, jit, 3), 1, "caller: code in no module is a caller");
	ASSERT_EQ(stack_caller(dwfl, alone, 1), 0, "caller: a lone frame is its own");
	dwfl_end(dwfl);
}

/* A site of process @process at @pcs with @caller, @live bytes in one block made at @ptr. */
static long caller_site(struct stack_sites *s, __u32 process, const __u64 *pcs, int caller,
			__u64 ptr, __u64 live)
{
	long site = sites_find(s, process, pcs, 3);

	s->v[site].caller = caller;
	sites_alloc(s, site, process, 1, ptr, live);
	return site;
}

static void test_callers(void)
{
	/* three stacks through one caller's call (0x5000), and another caller's */
	__u64 a[] = { 0x1000, 0x5000, 0x6000 }, b[] = { 0x1100, 0x5000, 0x6100 };
	__u64 c[] = { 0x1000, 0x1200, 0x5000 }, d[] = { 0x1000, 0x7000, 0x6000 };
	const struct site_caller *top[8];
	struct site_callers callers;
	struct stack_sites s = { 0 };
	size_t n;

	caller_site(&s, 1, a, 1, 0x100, 10);
	caller_site(&s, 1, b, 1, 0x200, 20);
	caller_site(&s, 1, c, 2, 0x300, 40);
	caller_site(&s, 1, d, 1, 0x400, 50);
	caller_site(&s, 2, a, 1, 0x100, 5);
	sites_syscall(&s, 1, 1, 4096, 0, 0);
	ASSERT_OK(callers_group(&s, &callers), "callers: grouped");
	ASSERT_EQ(callers.nr, 3, "callers: one per process and caller address");
	ASSERT_TRUE(callers.v[0].sites == 3 && callers.v[0].first == 0 &&
		    callers.v[0].sum.pcs == s.v[0].pcs && callers.v[0].sum.caller == 1,
		    "callers: three sites, the first one's stack");
	ASSERT_TRUE(callers.v[0].sum.alloc_calls == 3 && callers.v[0].sum.live_bytes == 70 &&
		    callers.v[0].sum.grown_bytes == 4096 && callers.v[0].sum.syscall_calls == 1 &&
		    callers.v[0].sum.samples == 3, "callers: their counts summed");
	ASSERT_TRUE(callers.v[2].sites == 1 && callers.v[2].sum.process == 2 &&
		    callers.v[2].sum.live_bytes == 5,
		    "callers: another process's same address is another caller");
	n = callers_top(&callers, SITES_BY_LIVE, top, 8);
	ASSERT_TRUE(n == 3 && top[0] == &callers.v[0] && top[1] == &callers.v[1] &&
		    top[2] == &callers.v[2], "callers: by live bytes, summed (70, 50, 5)");
	ASSERT_EQ(callers_top(&callers, SITES_BY_LIVE, top, 1), 1, "callers: the top @n only");
	n = callers_top(&callers, SITES_BY_GROWN, top, 8);
	ASSERT_TRUE(n == 1 && top[0] == &callers.v[0], "callers: only those with the order's bytes");
	callers_free(&callers);

	/* process 1's image ends: its next image's same stack is another caller */
	ASSERT_OK(sites_forget(&s, 1), "callers: an exec");
	caller_site(&s, 1, a, 1, 0x100, 1);
	ASSERT_OK(sites_forget(&s, 1), "callers: another exec");
	caller_site(&s, 1, a, 1, 0x100, 1);
	caller_site(&s, 1, b, 1, 0x200, 1);
	ASSERT_OK(callers_group(&s, &callers), "callers: grouped again");
	ASSERT_TRUE(callers.nr == 5 && callers.v[3].sites == 1 && callers.v[4].sites == 2,
		    "callers: each closed image apart, the open one apart");
	callers_free(&callers);
	sites_free_all(&s);
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
	struct site site = { .nr_frames = 1, .pcs = (__u64[]){ 0x1000 }, .frames = &frame,
			     .alloc_calls = 1, .alloc_bytes = 8, .live_calls = 1, .live_bytes = 8 };
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
	ASSERT_TRUE(strstr(text, "1 site\n      evil\\x1b]0;owned\\x07 (\\x1b[2Jmod.so) a\\x0ab.c:3"),
		    "escaped: the caller's frame too");
}

static void test_symbol_cache(void)
{
	struct symbol_cache c = { 0 };
	const struct cached_symbol *hit;
	int i, ok = 1;

	ASSERT_TRUE(!symbol_cache_find(&c, "abcd", 0x10), "symbol cache: empty, a miss");
	ASSERT_OK(symbol_cache_add(&c, "abcd", 0x10, "f", "f.c", 7), "symbol cache: kept");
	ASSERT_OK(symbol_cache_add(&c, "abcd", 0x20, NULL, NULL, 0), "symbol cache: no symbol kept");
	ASSERT_OK(symbol_cache_add(&c, "abcd", 0x10, "g", NULL, 0), "symbol cache: kept once");
	hit = symbol_cache_find(&c, "abcd", 0x10);
	ASSERT_TRUE(hit && !strcmp(hit->function, "f") && !strcmp(hit->file, "f.c") &&
		    hit->line == 7 && c.nr == 2, "symbol cache: found as first kept");
	hit = symbol_cache_find(&c, "abcd", 0x20);
	ASSERT_TRUE(hit && !hit->function && !hit->file, "symbol cache: code without a symbol");
	ASSERT_TRUE(!symbol_cache_find(&c, "abce", 0x10), "symbol cache: another build is another");
	for (i = 0; i < 1000; i++)
		ok &= !symbol_cache_add(&c, "ffff", i, "h", NULL, i);
	for (i = 0; i < 1000 && ok; i++)
		ok = (hit = symbol_cache_find(&c, "ffff", i)) && hit->line == i;
	ASSERT_TRUE(ok && c.hits == 1002 && c.misses == 2, "symbol cache: grown, each found");
	symbol_cache_free(&c);
}

int main(void)
{
	test_symbol_cache();
	test_u64map();
	test_sites();
	test_stack_caller();
	test_callers();
	test_demangle();
	test_escaped();
	return tap_done();
}
