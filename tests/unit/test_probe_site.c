// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Entry probe sites: prologues as glibc 2.36, jemalloc, tcmalloc and CET
 * builds begin, cases that must stay at offset 0, and the plans for the real
 * allocators installed on this machine.
 */
#include <unistd.h>
#include "attach/allocator.h"
#include "attach/probe_site.h"
#include "sys/elf_file.h"
#include "tap.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define JEMALLOC "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
#define TCMALLOC "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"

#define CHOOSE(code, nargs, flags, site) probe_site_choose(code, sizeof(code), nargs, flags, site)

static void test_emulated_first(void)
{
	/* glibc 2.36 malloc: push %r12; push %rbp; push %rbx; mov %rdi,%rbx */
	static const unsigned char malloc_236[] = { 0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb };
	/* musl: jmp to the real body */
	static const unsigned char musl_free[] = { 0xe9, 0xbb, 0x0a, 0x00, 0x00 };
	static const unsigned char nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55 };
	static const unsigned char nop66[] = { 0x66, 0x90, 0x55 };
	struct probe_site s;

	CHOOSE(malloc_236, 1, 0, &s);
	ASSERT_EQ(s.offset, 0, "push first: stays at 0");
	ASSERT_TRUE(s.emulated, "push first: emulated");
	ASSERT_STREQ(s.insn, "pushq %r12", "push first: the instruction in AT&T syntax");
	CHOOSE(musl_free, 1, MW_SITE_SKIP_NULL_EXIT, &s);
	ASSERT_TRUE(s.offset == 0 && s.emulated, "jmp first: stays at 0, emulated");
	CHOOSE(nop5, 1, 0, &s);
	ASSERT_TRUE(s.offset == 0 && s.emulated, "5-byte nop first: emulated");
	CHOOSE(nop66, 1, 0, &s);
	ASSERT_TRUE(s.offset == 0 && s.emulated, "66 90 first: emulated");
}

static void test_free_null_exit(void)
{
	/* glibc 2.36 free: test %rdi,%rdi; je <ret>; push %rbp; lea -0x10(%rdi),%rsi; push %rbx */
	static const unsigned char free_236[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00,
						  0x55, 0x48, 0x8d, 0x77, 0xf0, 0x53 };
	/* the same built with CET: endbr64 first */
	static const unsigned char free_cet[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0x74, 0x10,
						  0x55, 0x48, 0x89, 0xfd, 0x53 };
	/* test; je with nothing emulated after it before a write of %rdi */
	static const unsigned char free_je_only[] = { 0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0x8b, 0x3f,
						      0x55 };
	struct probe_site s;

	CHOOSE(free_236, 1, MW_SITE_SKIP_NULL_EXIT, &s);
	ASSERT_EQ(s.offset, 9, "glibc 2.36 free: push %rbp at +9, after the NULL exit");
	ASSERT_TRUE(s.emulated, "glibc 2.36 free: emulated");
	ASSERT_STREQ(s.insn, "pushq %rbp", "glibc 2.36 free: the instruction");
	ASSERT_TRUE(strstr(s.why, "free(NULL)") != NULL, "glibc 2.36 free: why names the NULL exit");

	CHOOSE(free_236, 1, 0, &s);
	ASSERT_EQ(s.offset, 3, "free without skipping the NULL exit: its je at +3");
	ASSERT_TRUE(s.emulated, "free without skipping: the je is emulated");

	CHOOSE(free_cet, 1, MW_SITE_SKIP_NULL_EXIT, &s);
	ASSERT_EQ(s.offset, 9, "CET free: past endbr64 and the NULL exit");
	CHOOSE(free_je_only, 1, MW_SITE_SKIP_NULL_EXIT, &s);
	ASSERT_EQ(s.offset, 3, "NULL exit then a write of %rdi: the je itself");
}

static void test_endbr64(void)
{
	/* endbr64; push %r12: a CET-built malloc */
	static const unsigned char malloc_cet[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x41, 0x54, 0x55 };
	struct probe_site s;

	CHOOSE(malloc_cet, 1, 0, &s);
	ASSERT_EQ(s.offset, 4, "endbr64 then push: at the push");
	ASSERT_TRUE(s.emulated, "endbr64 then push: emulated");
}

static void test_moves(void)
{
	/* glibc 2.36 posix_memalign: cmpb $0,x(%rip); push %r12; mov %rdx,%r12 */
	static const unsigned char posix_memalign_236[] = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00,
							    0x41, 0x54, 0x49, 0x89, 0xd4 };
	/* jemalloc 5.3 free: copies and masks of %rdi into other registers, then jne */
	static const unsigned char jemalloc_free[] = {
		0x48, 0x89, 0xf8,				/* mov %rdi,%rax */
		0x48, 0x8b, 0x15, 0x0e, 0x53, 0x0a, 0x00,	/* mov x(%rip),%rdx */
		0x48, 0x89, 0xf9,				/* mov %rdi,%rcx */
		0x48, 0xc1, 0xe8, 0x1a,				/* shr $0x1a,%rax */
		0x48, 0x39, 0xc1,				/* cmp %rax,%rcx */
		0x0f, 0x85, 0x8a, 0x00, 0x00, 0x00,		/* jne */
	};
	struct probe_site s;

	CHOOSE(posix_memalign_236, 3, 0, &s);
	ASSERT_EQ(s.offset, 7, "cmpb then push: at the push");
	CHOOSE(jemalloc_free, 1, MW_SITE_SKIP_NULL_EXIT, &s);
	ASSERT_EQ(s.offset, 20, "jemalloc free: at the jne, %rdi untouched");
	/* the same writes block a function that reads %rdx (its third argument) */
	CHOOSE(jemalloc_free, 3, 0, &s);
	ASSERT_EQ(s.offset, 0, "a write of the third argument before the jne: offset 0");
	ASSERT_TRUE(!s.emulated, "a write of the third argument: single-stepped");
	ASSERT_TRUE(strstr(s.why, "argument") != NULL, "a write of an argument: why says so");
}

static void test_stays_at_zero(void)
{
	/* glibc 2.36 reallocarray: mov %rsi,%rax; mul %rdx (writes %rdx); mov %rax,%rsi; jo */
	static const unsigned char reallocarray_236[] = { 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48,
							  0x89, 0xc6, 0x70, 0x05 };
	/* mov $1,%edi; push %rbp */
	static const unsigned char writes_edi[] = { 0xbf, 0x01, 0x00, 0x00, 0x00, 0x55 };
	/* jmp *%rax */
	static const unsigned char indirect[] = { 0xff, 0xe0, 0x55 };
	/* test; je 0xa; push %rbp (+5); pop %rbp; jmp 5 (a loop back to the site); ret; ret */
	static const unsigned char loop_back[] = { 0x48, 0x85, 0xff, 0x74, 0x05, 0x55, 0x5d,
						   0xeb, 0xfc, 0xc3, 0xc3 };
	/* 0x06 (push %es) is invalid in 64-bit mode */
	static const unsigned char invalid[] = { 0x06, 0x55 };
	/* cmpb; then the function ends */
	static const unsigned char no_site[] = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00 };
	struct probe_site s;

	CHOOSE(reallocarray_236, 3, 0, &s);
	ASSERT_EQ(s.offset, 0, "mul writes %rdx before jo: offset 0");
	ASSERT_TRUE(!s.emulated, "reallocarray's mov: single-stepped");
	CHOOSE(writes_edi, 1, 0, &s);
	ASSERT_EQ(s.offset, 0, "a write of %edi before the push: offset 0");
	CHOOSE(indirect, 1, 0, &s);
	ASSERT_EQ(s.offset, 0, "an indirect jump first: offset 0");
	ASSERT_TRUE(strstr(s.why, "control flow") != NULL, "an indirect jump: why says so");
	CHOOSE(loop_back, 1, MW_SITE_SKIP_NULL_EXIT, &s);
	ASSERT_EQ(s.offset, 0, "a jump back to the site: offset 0");
	ASSERT_TRUE(strstr(s.why, "+7") != NULL, "a jump back: why names where from");
	CHOOSE(invalid, 1, 0, &s);
	ASSERT_EQ(s.offset, 0, "undecodable first instruction: offset 0");
	CHOOSE(no_site, 1, 0, &s);
	ASSERT_EQ(s.offset, 0, "no emulated instruction at all: offset 0");
	probe_site_choose(invalid, 0, 1, 0, &s);
	ASSERT_TRUE(s.offset == 0 && !s.emulated, "no code: offset 0, not emulated");
}

static bool load_allocator(const char *path, struct allocator *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s", path);
	return !access(path, R_OK) &&
	       !elf_defined_functions(path, allocator_functions, MW_FUNC_NR, a->addrs) &&
	       a->addrs[MW_FUNC_MALLOC] && a->addrs[MW_FUNC_FREE];
}

/* Every planned site is an instruction boundary and free's is emulated. */
static void check_plan(const char *name, const char *path)
{
	struct probe_plan plan, naive;
	struct allocator a;
	char what[512];
	int i;

	if (!load_allocator(path, &a)) {
		snprintf(what, sizeof(what), "%s: plan", name);
		tap_skip(what, "not installed");
		return;
	}
	probe_plan_make(&a, MW_SITES_CHOSEN, &plan);
	probe_plan_make(&a, MW_SITES_NAIVE, &naive);
	for (i = 0; i < MW_FUNC_NR; i++) {
		const struct probe_plan_fn *fn = &plan.fn[i];

		if (!fn->probe)
			continue;
		snprintf(what, sizeof(what), "%s %s: entry at +%lu (%s)", name, allocator_functions[i],
			 fn->entry.offset, fn->entry.insn);
		/* a uretprobe traps at +0 anyway: moving the entry would add a trap */
		ASSERT_TRUE(!fn->retprobe || fn->entry.offset == 0, what);
		ASSERT_EQ(naive.fn[i].entry.offset, 0, "naive placement: offset 0");
	}
	snprintf(what, sizeof(what), "%s free: emulated site (+%lu %s: %s)", name,
		 plan.fn[MW_FUNC_FREE].entry.offset, plan.fn[MW_FUNC_FREE].entry.insn,
		 plan.fn[MW_FUNC_FREE].entry.why);
	ASSERT_TRUE(plan.fn[MW_FUNC_FREE].entry.emulated, what);
	ASSERT_TRUE(!plan.fn[MW_FUNC_FREE].retprobe, "free has no uretprobe");
}

static void test_real_allocators(void)
{
	struct probe_plan plan;
	struct allocator a;

	check_plan("glibc", LIBC);
	check_plan("jemalloc", JEMALLOC);
	check_plan("tcmalloc", TCMALLOC);
	if (!load_allocator(LIBC, &a)) {
		tap_skip("glibc: aligned_alloc is memalign", "no glibc");
		return;
	}
	probe_plan_make(&a, MW_SITES_CHOSEN, &plan);
	ASSERT_TRUE(plan.fn[MW_FUNC_MALLOC].probe && plan.fn[MW_FUNC_FREE].probe,
		    "glibc: malloc and free probed");
	if (a.addrs[MW_FUNC_ALIGNED_ALLOC] == a.addrs[MW_FUNC_MEMALIGN])
		ASSERT_TRUE(plan.fn[MW_FUNC_ALIGNED_ALLOC].probe != plan.fn[MW_FUNC_MEMALIGN].probe,
			    "glibc: an alias is probed once");
}

int main(void)
{
	test_emulated_first();
	test_free_null_exit();
	test_endbr64();
	test_moves();
	test_stays_at_zero();
	test_real_allocators();
	return tap_done();
}
