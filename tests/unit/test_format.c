// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The human-readable numbers of the text views. */
#include <string.h>
#include "output/format.h"
#include "sys/log.h"
#include "tap.h"

/* main.o is not linked: the library objects' log flag, unless one of them defines it */


#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

static void bytes_is(unsigned long long bytes, const char *want)
{
	char buf[32], name[96];

	snprintf(name, sizeof(name), "format_bytes(%llu) is \"%s\"", bytes, want);
	ASSERT_STREQ(format_bytes(buf, sizeof(buf), bytes), want, name);
}

static void count_is(unsigned long long count, const char *want)
{
	char buf[32], name[96];

	snprintf(name, sizeof(name), "format_count(%llu) is \"%s\"", count, want);
	ASSERT_STREQ(format_count(buf, sizeof(buf), count), want, name);
}

static void test_bytes(void)
{
	char buf[8];

	bytes_is(0, "0B");
	bytes_is(1, "1B");
	bytes_is(512, "512B");
	bytes_is(1023, "1023B");
	bytes_is(1024, "1.0K");
	bytes_is(1536, "1.5K");
	bytes_is(1048524, "1023.9K");		/* 1023.949K still rounds down */
	bytes_is(1048525, "1.0M");		/* 1023.950K would print "1024.0K" */
	bytes_is(1048575, "1.0M");		/* not "1024.0K" */
	bytes_is(MIB, "1.0M");
	bytes_is(47 * MIB + 512 * KIB, "47.5M");
	bytes_is(46 * MIB, "46.0M");
	bytes_is(GIB - 1, "1.0G");		/* not "1024.0M" */
	bytes_is(GIB, "1.0G");
	bytes_is(GIB + GIB / 5, "1.2G");
	bytes_is(1024 * GIB, "1.0T");
	bytes_is(1ULL << 50, "1.0P");
	bytes_is(1ULL << 60, "1.0E");
	bytes_is(~0ULL, "16.0E");		/* no unit after E */

	/* the buffer is returned, and a short one is cut, not overrun */
	ASSERT_TRUE(format_bytes(buf, sizeof(buf), 0) == buf, "format_bytes returns buf");
	format_bytes(buf, 4, 47 * MIB + 512 * KIB);
	ASSERT_STREQ(buf, "47.", "format_bytes: short buffer truncates");
}

static void test_count(void)
{
	char buf[8];

	count_is(0, "0");
	count_is(42, "42");
	count_is(9999999, "9999999");
	count_is(10000000, "10.0M");
	count_is(12345678, "12.3M");
	count_is(123456789, "123.5M");
	count_is(4500000000ULL, "4500.0M");
	count_is(10000000000ULL, "10.0G");
	count_is(12300000000ULL, "12.3G");
	/* 9999.99M rounds to "10000.0M": like 1024.0K, it belongs to the next unit */
	count_is(9999999999ULL, "10.0G");

	ASSERT_TRUE(format_count(buf, sizeof(buf), 1) == buf, "format_count returns buf");
	format_count(buf, 3, 123456);
	ASSERT_STREQ(buf, "12", "format_count: short buffer truncates");
}

/* @text through format_wrap() at @width. */
static const char *wrapped(const char *text, int width)
{
	static char out[512];
	FILE *f = fmemopen(out, sizeof(out), "w");

	format_wrap(f, text, strlen(text), width);
	fclose(f);
	return out;
}

static void test_wrap(void)
{
	ASSERT_STREQ(wrapped("short line\n", 20), "short line\n", "a line that fits stays");
	ASSERT_STREQ(wrapped("one two three four five\n", 10), "one two\n    three\n    four\n    five\n",
		     "broken at the last space that fits, the rest indented");
	ASSERT_STREQ(wrapped("abcdefghijkl mn\n", 10), "abcdefghij\n    kl mn\n",
		     "a word longer than the line: cut at the width, its rest on the next");
	ASSERT_STREQ(wrapped("   ab cd\n", 6), "   ab\n    cd\n",
		     "leading blanks are not a place to break");
	ASSERT_STREQ(wrapped("\xc3\xa9\xc3\xa9\xc3\xa9 ab\n", 5), "\xc3\xa9\xc3\xa9\xc3\xa9\n    ab\n",
		     "UTF-8: a cell per character");
	ASSERT_STREQ(wrapped("one two three four five\n\nsix\n", 0),
		     "one two three four five\n\nsix\n", "width 0: every line as it is");
}

int main(void)
{
	test_bytes();
	test_count();
	test_wrap();
	return tap_done();
}
