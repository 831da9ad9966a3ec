// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --folded without BPF: the lines whatever the names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/folded.h"
#include "stacks/sites.h"
#include "tap.h"

/* A symbol the target chose: frame separators, a line's end, a space, escapes, C1, not UTF-8. */
#define HOSTILE "x;y\nz w\033]0;t\007\xc2\x9b\xff\\"
#define HOSTILE_ESCAPED "x\\x3by\\x0az w\\x1b]0\\x3bt\\x07\\xc2\\x9b\\xff\\\\"

/*
 * One site: the hostile function innermost, then a module without a symbol
 * (a hostile path), then an address in no module, outermost.
 */
static struct site_frame frames[] = {
	{ .function = HOSTILE, .module = "/lib/libx.so", .offset = 0x10 },
	{ .module = "/tmp/a;b\n/m\033.so", .offset = 0x2a },
	{ .offset = 0x7f00 },
};

static void test_folded(void)
{
	struct site site = { .nr_frames = 3, .frames = frames, .alloc_calls = 3,
			     .alloc_bytes = 4096, .live_calls = 1, .live_bytes = 100 };
	struct stack_sites s = { .v = &site, .nr = 1 };
	char *text = NULL, *count;
	size_t len = 0, i, semicolons = 0;
	FILE *f = open_memstream(&text, &len);
	bool clean = true;

	folded_write(f, &s);
	fclose(f);
	ASSERT_STREQ(text, "0x7f00;m\\x1b.so+0x2a;" HOSTILE_ESCAPED " 4096\n",
		     "folded: outermost first, each name escaped, the allocated bytes");
	for (i = 0; i < len; i++) {
		clean &= text[i] == '\n' ? i == len - 1 : (unsigned char)text[i] >= 0x20 &&
							  (unsigned char)text[i] != 0x7f;
		semicolons += text[i] == ';';
	}
	ASSERT_TRUE(clean, "folded: one line, no control byte");
	ASSERT_EQ(semicolons, 2, "folded: ';' only between the frames");
	count = strrchr(text, ' ');
	ASSERT_TRUE(count && !strcmp(count, " 4096\n"), "folded: the count after the last space");
	free(text);
}

int main(void)
{
	test_folded();
	return tap_done();
}
