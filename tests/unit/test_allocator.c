// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Finding the allocator: /proc/PID/maps lines, candidate lists from maps
 * (tests/unit/fixtures/maps_*, real maps of /usr/bin/sed) and from the
 * loader's listing (fixtures/ldd_sed), and the choice among real files of
 * this Debian machine.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "attach/allocator.h"
#include "sys/log.h"
#include "sys/safe_open.h"
#include "tap.h"

/* main.o is not linked: the library objects' log flag, unless one of them defines it */


#define LIBDIR "/usr/lib/x86_64-linux-gnu/"
#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define JEMALLOC LIBDIR "libjemalloc.so.2"
#define TCMALLOC LIBDIR "libtcmalloc_minimal.so.4"
#define MEMUSAGE LIBDIR "libmemusage.so"
#define LSAN LIBDIR "liblsan.so.0"

static struct candidates cands;


/*
 * ASSERT_STREQ on a PATH_MAX array trips -Wformat-truncation in its 512-byte
 * message buffer; an opaque pointer keeps the compiler from sizing the string.
 */
static __attribute__((noinline)) const char *str(const char *s)
{
	return s;
}

#define PATH_STREQ(got, want, name) ASSERT_STREQ(str(got), want, name)

static bool path_is(const struct maps_entry *e, const char *want)
{
	return e->path_len == (int)strlen(want) && !strncmp(e->path, want, e->path_len);
}

/* The index of @path in @c, -1 if absent. */
static int index_of(const struct candidates *c, const char *path)
{
	int i;

	for (i = 0; i < c->count; i++) {
		if (!strcmp(c->items[i].path, path))
			return i;
	}
	return -1;
}

static bool no_duplicates(const struct candidates *c)
{
	int i, j;

	for (i = 0; i < c->count; i++) {
		for (j = i + 1; j < c->count; j++) {
			if (!strcmp(c->items[i].path, c->items[j].path))
				return false;
		}
	}
	return true;
}

static int count_origin(const struct candidates *c, enum mw_origin origin)
{
	int i, n = 0;

	for (i = 0; i < c->count; i++)
		n += c->items[i].origin == origin;
	return n;
}

static bool any_contains(const struct candidates *c, const char *s)
{
	int i;

	for (i = 0; i < c->count; i++) {
		if (strstr(c->items[i].path, s))
			return true;
	}
	return false;
}

static void test_maps_parse_line(void)
{
	struct maps_entry e;
	const char *line, *two_lines =
		"7fd194cc7000-7fd194cc9000 rw-p 00000000 00:00 0 \n"
		"7fd194d63000-7fd194d89000 r--p 00000000 fe:00 332835                     "
		"/usr/lib/x86_64-linux-gnu/libc.so.6\n";

	line = "55a411ae1000-55a411ae4000 r--p 00000000 fe:00 248030                     "
	       "/usr/bin/sed\n";
	ASSERT_OK(maps_parse_line(line, &e), "maps line: exe parses");
	ASSERT_EQ(e.start, 0x55a411ae1000ULL, "maps line: start");
	ASSERT_EQ(e.end, 0x55a411ae4000ULL, "maps line: end");
	ASSERT_STREQ(e.perms, "r--p", "maps line: perms");
	ASSERT_EQ(e.offset, 0, "maps line: offset 0");
	ASSERT_EQ(e.inode, 248030, "maps line: inode");
	ASSERT_TRUE(path_is(&e, "/usr/bin/sed"), "maps line: path without the newline");

	ASSERT_OK(maps_parse_line("7fd194d89000-7fd194edf000 r-xp 00026000 fe:00 332835"
				  "                     /usr/lib/x86_64-linux-gnu/libc.so.6", &e),
		  "maps line: no final newline parses");
	ASSERT_EQ(e.offset, 0x26000, "maps line: hex offset");
	ASSERT_STREQ(e.perms, "r-xp", "maps line: r-xp");
	ASSERT_TRUE(path_is(&e, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
		    "maps line: path up to the end of the text");

	/* the kernel ends an anonymous mapping's line with "0 " */
	ASSERT_OK(maps_parse_line("7fd194cc7000-7fd194cc9000 rw-p 00000000 00:00 0 \n", &e),
		  "maps line: anonymous parses");
	ASSERT_EQ(e.inode, 0, "maps line: anonymous inode 0");
	ASSERT_EQ(e.path_len, 0, "maps line: anonymous path_len 0");
	ASSERT_TRUE(e.path[0] == '\n', "maps line: anonymous path ends at the newline");
	ASSERT_OK(maps_parse_line("7fd194cc7000-7fd194cc9000 rw-p 00000000 00:00 0", &e),
		  "maps line: anonymous without trailing space");
	ASSERT_EQ(e.path_len, 0, "maps line: anonymous without trailing space, no path");

	/* inside a whole maps text, as candidates_from_maps calls it */
	ASSERT_OK(maps_parse_line(two_lines, &e), "maps line: anonymous line of a text parses");
	ASSERT_EQ(e.end, 0x7fd194cc9000ULL, "maps line: anonymous line of a text, end");
	ASSERT_EQ(e.path_len, 0, "maps line: anonymous line of a text has no path");

	ASSERT_OK(maps_parse_line("7f97bc16c000-7f97bc16e000 r--p 00000000 fe:00 333322"
				  "                     /usr/lib/x86_64-linux-gnu/libpcre2-8.so."
				  "0.11.2 (deleted)\n", &e), "maps line: deleted parses");
	ASSERT_TRUE(path_is(&e, "/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2 (deleted)"),
		    "maps line: \" (deleted)\" is left in the path");

	line = "55a43a44e000-55a43a46f000 rw-p 00000000 00:00 0                          [heap]\n";
	ASSERT_OK(maps_parse_line(line, &e), "maps line: heap parses");
	ASSERT_TRUE(path_is(&e, "[heap]"), "maps line: [heap]");
	ASSERT_EQ(e.inode, 0, "maps line: [heap] inode 0");
	line = "7fff73112000-7fff73133000 rw-p 00000000 00:00 0                          [stack]\n";
	ASSERT_OK(maps_parse_line(line, &e), "maps line: stack parses");
	ASSERT_TRUE(path_is(&e, "[stack]"), "maps line: [stack]");
	ASSERT_EQ(e.start, 0x7fff73112000ULL, "maps line: [stack] start");
	line = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  "
	       "[vsyscall]\n";
	ASSERT_OK(maps_parse_line(line, &e), "maps line: vsyscall parses");
	ASSERT_EQ(e.start, 0xffffffffff600000ULL, "maps line: 64-bit start");
	ASSERT_STREQ(e.perms, "--xp", "maps line: --xp");
	ASSERT_TRUE(path_is(&e, "[vsyscall]"), "maps line: [vsyscall]");

	ASSERT_OK(maps_parse_line("7f97bc424000-7f97bc42b000 r--s 00000000 fe:00 332280"
				  "                     /tmp/my dir/lib x.so\n", &e),
		  "maps line: path with spaces parses");
	ASSERT_STREQ(e.perms, "r--s", "maps line: shared mapping perms");
	ASSERT_TRUE(path_is(&e, "/tmp/my dir/lib x.so"), "maps line: path keeps its spaces");

	ASSERT_EQ(maps_parse_line("", &e), -EINVAL, "maps line: empty is -EINVAL");
	ASSERT_EQ(maps_parse_line("garbage\n", &e), -EINVAL, "maps line: garbage is -EINVAL");
	ASSERT_EQ(maps_parse_line("7fd194cc7000-7fd194cc9000 rw-p\n", &e), -EINVAL,
		  "maps line: truncated is -EINVAL");
	ASSERT_EQ(maps_parse_line("7fd194cc7000 rw-p 00000000 00:00 0\n", &e), -EINVAL,
		  "maps line: no end address is -EINVAL");
	ASSERT_EQ(maps_parse_line("7fd194cc7000-7fd194cc9000 rw-p 00000000 00-00 0\n", &e),
		  -EINVAL, "maps line: bad device is -EINVAL");
}

/* exe first, then @preload entries, other libraries in map order, libc last */
static void check_library_order(const struct candidates *c, const char *what)
{
	static const char *const libs[] = {
		LIBDIR "libpcre2-8.so.0.11.2",
		LIBDIR "libselinux.so.1",
		LIBDIR "libacl.so.1.1.2301",
		LIBDIR "ld-linux-x86-64.so.2",
	};
	char name[160];
	int i, at, last = 0;

	snprintf(name, sizeof(name), "%s: no duplicates", what);
	ASSERT_TRUE(no_duplicates(c), name);
	snprintf(name, sizeof(name), "%s: one libc, last", what);
	ASSERT_TRUE(c->count > 2 && !strcmp(c->items[c->count - 1].path, LIBDIR "libc.so.6") &&
		    c->items[c->count - 1].origin == MW_ORIGIN_LIBC &&
		    count_origin(c, MW_ORIGIN_LIBC) == 1, name);
	snprintf(name, sizeof(name), "%s: one exe", what);
	ASSERT_EQ(count_origin(c, MW_ORIGIN_EXE), 1, name);
	for (i = 0; i < (int)(sizeof(libs) / sizeof(libs[0])); i++) {
		at = index_of(c, libs[i]);
		snprintf(name, sizeof(name), "%s: %s a library, in map order", what,
			 strrchr(libs[i], '/') + 1);
		ASSERT_TRUE(at > last && c->items[at].origin == MW_ORIGIN_LIBRARY, name);
		if (at > last)
			last = at;
	}
	snprintf(name, sizeof(name), "%s: no [heap], [stack] or anonymous entries", what);
	ASSERT_TRUE(!any_contains(c, "[") && index_of(c, "") < 0, name);
	for (i = 0; i < c->count && c->items[i].path[0] == '/'; i++)
		;
	snprintf(name, sizeof(name), "%s: every path absolute", what);
	ASSERT_EQ(i, c->count, name);
}

static void test_maps_plain(void)
{
	const char *maps = fixture("maps_plain");

	if (!ASSERT_TRUE(maps, "maps plain: fixture readable"))
		return;
	candidates_from_maps(maps, "/usr/bin/sed", NULL, &cands);
	PATH_STREQ(cands.items[0].path, "/usr/bin/sed", "maps plain: exe first");
	ASSERT_EQ(cands.items[0].origin, MW_ORIGIN_EXE, "maps plain: exe origin");
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 0, "maps plain: no preload");
	check_library_order(&cands, "maps plain");

	candidates_from_maps(maps, "/usr/bin/sed", "", &cands);
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 0, "maps plain: empty preload");
	/* an LD_PRELOAD naming files that are not mapped adds nothing */
	candidates_from_maps(maps, "/usr/bin/sed", JEMALLOC " libtcmalloc_minimal.so.4",
			     &cands);
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 0, "maps plain: unmapped preload");
	ASSERT_TRUE(!any_contains(&cands, "malloc"), "maps plain: unmapped preload not listed");
}

static void test_maps_jemalloc(void)
{
	const char *maps = fixture("maps_jemalloc");

	if (!ASSERT_TRUE(maps, "maps jemalloc: fixture readable"))
		return;
	candidates_from_maps(maps, "/usr/bin/sed", JEMALLOC, &cands);
	PATH_STREQ(cands.items[0].path, "/usr/bin/sed", "maps jemalloc: exe first");
	ASSERT_EQ(cands.items[0].origin, MW_ORIGIN_EXE, "maps jemalloc: exe origin");
	PATH_STREQ(cands.items[1].path, JEMALLOC, "maps jemalloc: preload right after exe");
	ASSERT_EQ(cands.items[1].origin, MW_ORIGIN_PRELOAD, "maps jemalloc: preload origin");
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 1, "maps jemalloc: one preload");
	ASSERT_TRUE(!any_contains(&cands, "(deleted)"), "maps jemalloc: (deleted) stripped");
	check_library_order(&cands, "maps jemalloc");

	/* LD_PRELOAD is split at spaces and colons */
	candidates_from_maps(maps, "/usr/bin/sed", "libfoo.so:" JEMALLOC " libbar.so", &cands);
	PATH_STREQ(cands.items[1].path, JEMALLOC, "maps jemalloc: colon/space list");
	ASSERT_EQ(cands.items[1].origin, MW_ORIGIN_PRELOAD, "maps jemalloc: colon/space origin");
	/* /etc/ld.so.preload may separate its entries with tabs too (glibc: ": \t\n") */
	candidates_from_maps(maps, "/usr/bin/sed", "libfoo.so\t" JEMALLOC "\tlibbar.so\n",
			     &cands);
	ASSERT_EQ(cands.items[1].origin, MW_ORIGIN_PRELOAD, "maps jemalloc: tab-separated preload");
	PATH_STREQ(cands.items[1].path, JEMALLOC, "maps jemalloc: tab-separated preload path");
	/* entries match by file name: /lib/... preloaded shows as /usr/lib/... in the maps */
	candidates_from_maps(maps, "/usr/bin/sed", "/lib/x86_64-linux-gnu/libjemalloc.so.2", &cands);
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 1,
		  "maps jemalloc: preload through another directory still matches");
}

static void test_maps_tcmalloc(void)
{
	const char *maps = fixture("maps_tcmalloc");

	if (!ASSERT_TRUE(maps, "maps tcmalloc: fixture readable"))
		return;
	candidates_from_maps(maps, "/usr/bin/sed", "libtcmalloc_minimal.so.4", &cands);
	PATH_STREQ(cands.items[0].path, "/usr/bin/sed", "maps tcmalloc: exe first");
	PATH_STREQ(cands.items[1].path, TCMALLOC, "maps tcmalloc: bare-name preload second");
	ASSERT_EQ(cands.items[1].origin, MW_ORIGIN_PRELOAD, "maps tcmalloc: preload origin");
	check_library_order(&cands, "maps tcmalloc");
	candidates_from_maps(maps, "/usr/bin/sed", "libtcmalloc_minimal.so", &cands);
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 0,
		  "maps tcmalloc: a name prefix does not match");
}

/*
 * LD_PRELOAD="JEMALLOC TCMALLOC": the loader maps jemalloc first, so at a higher
 * address (mmap grows down) and binds malloc to it. Candidates must keep the
 * LD_PRELOAD order, not the address order of the maps.
 */
static void test_maps_two_preloads(void)
{
	const char *maps = fixture("maps_two_preloads");

	if (!ASSERT_TRUE(maps, "maps two preloads: fixture readable"))
		return;
	candidates_from_maps(maps, "/usr/bin/sed", JEMALLOC " " TCMALLOC, &cands);
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_PRELOAD), 2, "maps two preloads: both preloads");
	PATH_STREQ(cands.items[1].path, JEMALLOC, "maps two preloads: first LD_PRELOAD first");
	PATH_STREQ(cands.items[2].path, TCMALLOC, "maps two preloads: second LD_PRELOAD next");
	check_library_order(&cands, "maps two preloads");
}

static void test_maps_inline(void)
{
	static const char maps[] =
		"55b0cf7d9000-55b0cf7dc000 r--p 00000000 fe:00 248030     /usr/bin/sed (deleted)\n"
		"55b0eb9a4000-55b0eb9c5000 rw-p 00000000 00:00 0          [heap]\n"
		"7f97bc10a000-7f97bc161000 rw-p 00000000 00:00 0 \n"
		"7f97bc206000-7f97bc22c000 r--p 00000000 fe:00 332835     /usr/lib/libc.so.6\n"
		"7f97bc22c000-7f97bc382000 r-xp 00026000 fe:00 332835     /usr/lib/libc.so.6\n"
		"not a maps line\n"
		"7f97bc42c000-7f97bc42d000 r--p 00000000 fe:00 332906     /opt/a b/libx.so\n";

	candidates_from_maps(maps, "/usr/bin/sed", NULL, &cands);
	ASSERT_EQ(cands.count, 3, "maps inline: exe, libc and libx");
	PATH_STREQ(cands.items[0].path, "/usr/bin/sed", "maps inline: deleted exe merged");
	PATH_STREQ(cands.items[1].path, "/opt/a b/libx.so", "maps inline: path with a space");
	PATH_STREQ(cands.items[2].path, "/usr/lib/libc.so.6", "maps inline: libc last");
	candidates_from_maps("", "/bin/prog", NULL, &cands);
	ASSERT_EQ(cands.count, 1, "maps inline: empty maps, only the exe");
	ASSERT_EQ(cands.items[0].origin, MW_ORIGIN_EXE, "maps inline: empty maps, exe origin");
}

static void test_ldd(void)
{
	const char *ldd = fixture("ldd_sed");
	char many[8192];
	size_t used = 0;
	int i;

	if (!ASSERT_TRUE(ldd, "ldd: fixture readable"))
		return;
	candidates_from_ldd(ldd, "/bin/sed", NULL, &cands);
	if (!ASSERT_EQ(cands.count, 6, "ldd: exe + 4 libraries + loader, no vdso/not found"))
		return;
	PATH_STREQ(cands.items[0].path, "/bin/sed", "ldd: exe first");
	ASSERT_EQ(cands.items[0].origin, MW_ORIGIN_EXE, "ldd: exe origin");
	PATH_STREQ(cands.items[1].path, "/lib/x86_64-linux-gnu/libacl.so.1", "ldd: libacl");
	PATH_STREQ(cands.items[2].path, "/lib/x86_64-linux-gnu/libselinux.so.1",
		     "ldd: libselinux");
	PATH_STREQ(cands.items[3].path, "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
		     "ldd: libpcre2 (after libc in load order, before it here)");
	PATH_STREQ(cands.items[4].path, "/lib64/ld-linux-x86-64.so.2", "ldd: loader line");
	PATH_STREQ(cands.items[5].path, LIBC, "ldd: libc last");
	ASSERT_EQ(cands.items[5].origin, MW_ORIGIN_LIBC, "ldd: libc origin");
	ASSERT_EQ(count_origin(&cands, MW_ORIGIN_LIBRARY), 4, "ldd: four libraries");
	ASSERT_TRUE(!any_contains(&cands, "not found") && !any_contains(&cands, "vdso") &&
		    !any_contains(&cands, "(0x"), "ldd: no vdso, not found or address");

	candidates_from_ldd("\tstatically linked\n", "/bin/static", NULL, &cands);
	ASSERT_EQ(cands.count, 1, "ldd: static, only the exe");
	candidates_from_ldd("", "/bin/none", NULL, &cands);
	ASSERT_EQ(cands.count, 1, "ldd: empty listing, only the exe");
	candidates_from_ldd("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f00)\n"
			    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f00)\n"
			    "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f00)",
			    "/bin/x", NULL, &cands);
	ASSERT_EQ(cands.count, 3, "ldd: duplicate line listed once, last line without newline");
	PATH_STREQ(cands.items[1].path, "/lib/x86_64-linux-gnu/libz.so.1",
		     "ldd: last line without newline");
	/* RPATH directories may contain spaces: the path ends at " (0x" */
	candidates_from_ldd("\tlibmw.so.1 => /opt/my libs/libmw.so.1 (0x00007f636ac80000)\n",
			    "/bin/x", NULL, &cands);
	PATH_STREQ(cands.count > 1 ? cands.items[1].path : "", "/opt/my libs/libmw.so.1",
		     "ldd: path with a space");

	for (i = 0; i < 80; i++)
		used += snprintf(many + used, sizeof(many) - used,
				 "\tlib%d.so => /lib/lib%d.so (0x1000)\n", i, i);
	candidates_from_ldd(many, "/bin/x", NULL, &cands);
	ASSERT_EQ(cands.count, MW_MAX_CANDIDATES, "ldd: at most MW_MAX_CANDIDATES");
	PATH_STREQ(cands.items[MW_MAX_CANDIDATES - 1].path, "/lib/lib62.so",
		     "ldd: the first ones kept");
}

static void set_candidates(struct candidates *c, int n, const char *const *paths,
			   const enum mw_origin *origins)
{
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < n; i++) {
		snprintf(c->items[i].path, sizeof(c->items[i].path), "%s", paths[i]);
		c->items[i].origin = origins[i];
	}
	c->count = n;
}

/* The address of @fn in its file, as the ELF symbol table gives it. */
static unsigned long long file_address(void *fn)
{
	Dl_info info;

	if (!dladdr(fn, &info) || !info.dli_fname || !strstr(info.dli_fname, "libc.so.6"))
		return 0;
	return (uintptr_t)fn - (uintptr_t)info.dli_fbase;
}

static struct allocator alloc = { .fd = -1 };

/* allocator_choose() for a command, the previous choice's file closed first */
static int choose(const struct candidates *c)
{
	allocator_close(&alloc);
	return allocator_choose(c, 0, AT_FDCWD, &alloc);
}

/* the same inside the root @root_fd of this process, as for -p */
static int choose_in_root(const struct candidates *c, int root_fd)
{
	allocator_close(&alloc);
	return allocator_choose(c, getpid(), root_fd, &alloc);
}

/* Whether the chosen file is open and named by its descriptor, whatever its path was. */
static bool chosen_open(void)
{
	char want[64];

	snprintf(want, sizeof(want), "/proc/self/fd/%d", alloc.fd);
	return alloc.fd >= 0 && !strcmp(alloc.path, want);
}

static void test_choose_libc(void)
{
	static const char *const paths[] = { "/bin/true", LIBC };
	static const enum mw_origin origins[] = { MW_ORIGIN_EXE, MW_ORIGIN_LIBC };
	unsigned long long *a = alloc.addrs;
	int i;

	set_candidates(&cands, 2, paths, origins);
	if (!ASSERT_OK(choose(&cands), "choose libc: 0"))
		return;
	ASSERT_TRUE(chosen_open(), "choose libc: the file open, its path /proc/self/fd/N");
	PATH_STREQ(alloc.target_path, LIBC, "choose libc: target_path");
	ASSERT_EQ(alloc.origin, MW_ORIGIN_LIBC, "choose libc: origin libc");
	ASSERT_TRUE(a[MW_FUNC_MALLOC] != 0, "choose libc: malloc");
	ASSERT_TRUE(a[MW_FUNC_FREE] != 0, "choose libc: free");
	ASSERT_TRUE(a[MW_FUNC_CALLOC] != 0, "choose libc: calloc");
	ASSERT_TRUE(a[MW_FUNC_REALLOC] != 0, "choose libc: realloc");
	for (i = 0; i < MW_FUNC_NR; i++) {
		char name[64];

		snprintf(name, sizeof(name), "choose libc: %s defined", allocator_functions[i]);
		ASSERT_TRUE(a[i] != 0, name);
	}
	/* glibc 2.36: aligned_alloc is an alias of memalign */
	ASSERT_EQ(a[MW_FUNC_ALIGNED_ALLOC], a[MW_FUNC_MEMALIGN],
		  "choose libc: aligned_alloc == memalign");
	ASSERT_TRUE(a[MW_FUNC_MALLOC] != a[MW_FUNC_FREE], "choose libc: malloc != free");
	if (getenv("LD_PRELOAD") || !file_address((void *)malloc)) {
		tap_skip("choose libc: addresses match the loaded libc", "malloc not from libc");
		return;
	}
	ASSERT_EQ(a[MW_FUNC_MALLOC], file_address((void *)malloc), "choose libc: malloc address");
	ASSERT_EQ(a[MW_FUNC_FREE], file_address((void *)free), "choose libc: free address");
	ASSERT_EQ(a[MW_FUNC_CALLOC], file_address((void *)calloc), "choose libc: calloc address");
	ASSERT_EQ(a[MW_FUNC_REALLOC], file_address((void *)realloc),
		  "choose libc: realloc address");
}

static void test_choose_other(void)
{
	static const char *const only_true[] = { "/bin/true" };
	static const char *const skipped[] = {
		"/nonexistent/libmissing.so.1", "tests/unit/fixtures/status_normal", "/bin/true",
		LIBC,
	};
	static const char *const rooted[] = { "/bin/true", LIBC };
	static const enum mw_origin origins[] = {
		MW_ORIGIN_EXE, MW_ORIGIN_PRELOAD, MW_ORIGIN_LIBRARY, MW_ORIGIN_LIBC,
	};
	static const enum mw_origin exe_libc[] = { MW_ORIGIN_EXE, MW_ORIGIN_LIBC };
	char empty_root[] = "/tmp/mw-root-XXXXXX";
	int root_fd;

	if (!ASSERT_TRUE(mkdtemp(empty_root), "choose: an empty directory for a root"))
		return;
	set_candidates(&cands, 1, only_true, origins);
	ASSERT_EQ(choose(&cands), -ENOENT, "choose: /bin/true only, -ENOENT");
	set_candidates(&cands, 0, only_true, origins);
	ASSERT_EQ(choose(&cands), -ENOENT, "choose: empty list, -ENOENT");

	set_candidates(&cands, 4, skipped, origins);
	ASSERT_OK(choose(&cands),
		  "choose: missing and non-ELF files skipped");
	PATH_STREQ(alloc.target_path, LIBC, "choose: skipped to libc");
	ASSERT_EQ(alloc.origin, MW_ORIGIN_LIBC, "choose: skipped to libc, origin");

	set_candidates(&cands, 2, rooted, exe_libc);
	root_fd = safe_open_root(getpid());
	ASSERT_OK(choose_in_root(&cands, root_fd), "choose: with a root");
	ASSERT_TRUE(chosen_open(), "choose: with a root, the file open");
	PATH_STREQ(alloc.target_path, LIBC, "choose: target_path without the root");
	close(root_fd);
	root_fd = open(empty_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(choose_in_root(&cands, root_fd), -ENOENT,
		  "choose: a root without the files, -ENOENT");
	ASSERT_EQ(alloc.fd, -1, "choose: -ENOENT leaves no file open");
	close(root_fd);
	rmdir(empty_root);
}

/* A preloaded allocator comes before libc; glibc's own libmemusage.so is one. */
static void test_choose_preload(void)
{
	static const char *const paths[] = { "/bin/true", MEMUSAGE, LIBC };
	static const enum mw_origin origins[] = {
		MW_ORIGIN_EXE, MW_ORIGIN_PRELOAD, MW_ORIGIN_LIBC,
	};

	if (access(MEMUSAGE, R_OK)) {
		tap_skip("choose preload: " MEMUSAGE, "not installed");
		return;
	}
	set_candidates(&cands, 3, paths, origins);
	if (!ASSERT_OK(choose(&cands), "choose preload: 0"))
		return;
	PATH_STREQ(alloc.target_path, MEMUSAGE, "choose preload: the preload wins over libc");
	ASSERT_EQ(alloc.origin, MW_ORIGIN_PRELOAD, "choose preload: origin preload");
	ASSERT_TRUE(alloc.addrs[MW_FUNC_MALLOC] && alloc.addrs[MW_FUNC_FREE] &&
		    alloc.addrs[MW_FUNC_CALLOC] && alloc.addrs[MW_FUNC_REALLOC],
		    "choose preload: malloc, free, calloc, realloc");
	ASSERT_EQ(alloc.addrs[MW_FUNC_MEMALIGN], 0, "choose preload: no memalign there");
}

/*
 * An executable that defines malloc wins because it is the first candidate.
 * No such executable is installed here, so a library that defines malloc
 * (liblsan) stands in as the first, MW_ORIGIN_EXE, candidate.
 */
static void test_choose_first_wins(void)
{
	static const char *const paths[] = { LSAN, LIBC };
	static const enum mw_origin origins[] = { MW_ORIGIN_EXE, MW_ORIGIN_LIBC };

	if (access(LSAN, R_OK)) {
		tap_skip("choose first: " LSAN, "not installed");
		return;
	}
	set_candidates(&cands, 2, paths, origins);
	ASSERT_OK(choose(&cands), "choose first: 0");
	PATH_STREQ(alloc.target_path, LSAN, "choose first: the first definer wins");
	ASSERT_EQ(alloc.origin, MW_ORIGIN_EXE, "choose first: its origin kept");
}

/* The lists built from the fixtures, chosen among this machine's files. */
static void test_choose_from_fixtures(void)
{
	const char *t = fixture("ldd_sed");

	if (access("/bin/sed", R_OK) || access(LIBDIR "libselinux.so.1", R_OK)) {
		tap_skip("choose from fixtures", "/bin/sed or its libraries missing");
		return;
	}
	if (!ASSERT_TRUE(t, "choose from ldd: fixture readable"))
		return;
	candidates_from_ldd(t, "/bin/sed", NULL, &cands);
	ASSERT_OK(choose(&cands), "choose from ldd: 0");
	PATH_STREQ(alloc.target_path, LIBC, "choose from ldd: libc, not the loader");
	ASSERT_EQ(alloc.origin, MW_ORIGIN_LIBC, "choose from ldd: origin libc");

	t = fixture("maps_plain");
	if (!ASSERT_TRUE(t, "choose from maps: fixture readable"))
		return;
	candidates_from_maps(t, "/usr/bin/sed", NULL, &cands);
	ASSERT_OK(choose(&cands), "choose from maps: 0");
	PATH_STREQ(alloc.target_path, LIBDIR "libc.so.6",
		     "choose from maps: libc, locale files skipped");
}

static void test_of_process_and_command(void)
{
	if (getenv("LD_PRELOAD")) {
		tap_skip("allocator_of_process/command", "LD_PRELOAD set");
		return;
	}
	ASSERT_OK(allocator_of_process(getpid(), NULL, &alloc), "of process: self, 0");
#ifdef __SANITIZE_ADDRESS__
	/* under AddressSanitizer its runtime's malloc is the one that serves this process */
	ASSERT_EQ(alloc.origin, MW_ORIGIN_LIBRARY, "of process: self uses ASan's runtime");
	ASSERT_TRUE(strstr(alloc.target_path, "/libasan.so") != NULL, "of process: libasan.so");
#else
	ASSERT_EQ(alloc.origin, MW_ORIGIN_LIBC, "of process: self uses libc");
	ASSERT_TRUE(strstr(alloc.target_path, "/libc.so.6") != NULL, "of process: libc.so.6");
#endif
	ASSERT_TRUE(chosen_open(), "of process: the file open, its path /proc/self/fd/N");
	allocator_close(&alloc);
	ASSERT_OK(allocator_of_command("/bin/true", NULL, &alloc), "of command: /bin/true, 0");
	ASSERT_EQ(alloc.origin, MW_ORIGIN_LIBC, "of command: /bin/true uses libc");
	PATH_STREQ(alloc.target_path, LIBC, "of command: libc from the loader's listing");
}

static void test_names(void)
{
	static const char *const want[MW_FUNC_NR] = {
		"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
		"aligned_alloc", "memalign", "valloc", "pvalloc",
	};
	int i, same = 0;

	for (i = 0; i < MW_FUNC_NR; i++)
		same += allocator_functions[i] && !strcmp(allocator_functions[i], want[i]);
	ASSERT_EQ(same, MW_FUNC_NR, "allocator_functions: names in enum order");
	ASSERT_STREQ(origin_name(MW_ORIGIN_EXE), "executable", "origin_name: exe");
	ASSERT_STREQ(origin_name(MW_ORIGIN_PRELOAD), "preload", "origin_name: preload");
	ASSERT_STREQ(origin_name(MW_ORIGIN_LIBRARY), "library", "origin_name: library");
	ASSERT_STREQ(origin_name(MW_ORIGIN_LIBC), "libc", "origin_name: libc");
	ASSERT_STREQ(origin_name((enum mw_origin)42), "?", "origin_name: unknown");
}

int main(void)
{
	test_maps_parse_line();
	test_maps_plain();
	test_maps_jemalloc();
	test_maps_tcmalloc();
	test_maps_two_preloads();
	test_maps_inline();
	test_ldd();
	test_choose_libc();
	test_choose_other();
	test_choose_preload();
	test_choose_first_wins();
	test_choose_from_fixtures();
	test_of_process_and_command();
	test_names();
	return tap_done();
}
