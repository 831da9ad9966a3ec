// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* /proc/PID/maps lines and smaps texts: edge cases, and smaps parsed in pieces as it is read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sys/procmaps.h"
#include "tap.h"

#define MAX_VMAS 16

struct seen {
	struct smaps_vma vmas[MAX_VMAS];
	char paths[MAX_VMAS][64];
	int count;
};

static void collect(const struct smaps_vma *vma, void *arg)
{
	struct seen *s = arg;

	if (s->count == MAX_VMAS)
		return;
	s->vmas[s->count] = *vma;
	snprintf(s->paths[s->count], sizeof(s->paths[0]), "%.*s", vma->map.path_len,
		 vma->map.path);
	s->vmas[s->count].map.path = s->paths[s->count];
	s->count++;
}

static const char smaps_text[] =
	"55a43a44e000-55a43a46f000 rw-p 00000000 00:00 0                          [heap]\n"
	"Size:                132 kB\n"
	"Rss:                  12 kB\n"
	"Anonymous:            12 kB\n"
	"AnonHugePages:         0 kB\n"
	"LazyFree:              4 kB\n"
	"VmFlags: rd wr mr mw me ac sd\n"
	"7f97bc424000-7f97bc42b000 r--s 00000000 fe:00 332280                     "
	"/tmp/my dir/lib x.so (deleted)\n"
	"Rss:                  28 kB\n"
	"Anonymous:             0 kB\n"
	"7fd194cc7000-7fd194cc9000 rw-p 00000000 00:00 0 \n"
	"Anonymous:             8 kB\n"
	"Rss:                   8 kB";

static void check_text(const struct seen *s, const char *how)
{
	char name[128];

#define POINT(what) (snprintf(name, sizeof(name), "%s: %s", how, what), name)
	if (!ASSERT_EQ(s->count, 3, POINT("three mappings")))
		return;
	ASSERT_STREQ(s->vmas[0].map.path, "[heap]", POINT("[heap]"));
	ASSERT_EQ(s->vmas[0].rss, 12 * 1024, POINT("heap Rss"));
	ASSERT_EQ(s->vmas[0].anonymous, 12 * 1024, POINT("heap Anonymous, not AnonHugePages"));
	ASSERT_EQ(s->vmas[0].lazyfree, 4 * 1024, POINT("heap LazyFree"));
	ASSERT_STREQ(s->vmas[1].map.path, "/tmp/my dir/lib x.so (deleted)",
		     POINT("a path with spaces and \" (deleted)\""));
	ASSERT_STREQ(s->vmas[1].map.perms, "r--s", POINT("shared perms"));
	ASSERT_EQ(s->vmas[1].map.inode, 332280, POINT("inode"));
	ASSERT_EQ(s->vmas[1].rss, 28 * 1024, POINT("file Rss"));
	ASSERT_EQ(s->vmas[1].lazyfree, 0, POINT("no LazyFree field: 0"));
	ASSERT_EQ(s->vmas[2].map.start, 0x7fd194cc7000ULL, POINT("anonymous start"));
	ASSERT_EQ(s->vmas[2].map.path_len, 0, POINT("anonymous: no path"));
	ASSERT_EQ(s->vmas[2].anonymous, 8 * 1024, POINT("fields in any order"));
	ASSERT_EQ(s->vmas[2].rss, 8 * 1024, POINT("the last line without a newline"));
#undef POINT
}

static void test_smaps_whole(void)
{
	struct seen s = { 0 };

	ASSERT_OK(smaps_parse(smaps_text, collect, &s), "smaps: parses");
	check_text(&s, "smaps whole");
}

/* Fed as reads deliver it: @piece bytes at a time, a cut-short line kept for the next feed. */
static int feed_in_pieces(const char *text, size_t piece, struct seen *s)
{
	size_t total = strlen(text), given = 0, kept = 0, n;
	char *buf = malloc(total + 1);
	struct smaps_parser p;
	long used;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	smaps_parser_init(&p, collect, s);
	do {
		n = total - given < piece ? total - given : piece;
		memcpy(buf + kept, text + given, n);
		given += n;
		buf[kept + n] = '\0';
		used = smaps_parser_feed(&p, buf, kept + n, !n);
		if (used < 0) {
			err = used;
			break;
		}
		kept = kept + n - used;
		memmove(buf, buf + used, kept);
	} while (n);
	free(buf);
	return err;
}

static void test_smaps_pieces(void)
{
	size_t piece, len = strlen(smaps_text);
	bool all_ok = true;

	for (piece = 1; piece <= len; piece++) {
		struct seen s = { 0 };

		if (feed_in_pieces(smaps_text, piece, &s) || s.count != 3 ||
		    s.vmas[0].lazyfree != 4096 || s.vmas[1].rss != 28 * 1024 ||
		    s.vmas[2].rss != 8192 || strcmp(s.paths[1], "/tmp/my dir/lib x.so (deleted)")) {
			all_ok = false;
			check_text(&s, "smaps in pieces");
			break;
		}
	}
	ASSERT_TRUE(all_ok, "smaps in pieces: the same mappings for every piece size, 1 byte up");
}

static void test_smaps_edges(void)
{
	struct seen s = { 0 };
	size_t path_len = 5000, i;
	char *big;

	/* a path longer than the parser keeps: still one mapping, its path cut short */
	big = malloc(path_len + 200);
	if (!ASSERT_TRUE(big, "smaps: memory for a huge line"))
		return;
	i = sprintf(big, "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 /");
	memset(big + i, 'x', path_len);
	strcpy(big + i + path_len, "\nAnonymous:  4 kB\n");
	ASSERT_OK(smaps_parse(big, collect, &s), "smaps: a huge line parses");
	ASSERT_EQ(s.count, 1, "smaps: a huge line is one mapping");
	ASSERT_EQ(s.vmas[0].anonymous, 4096, "smaps: the fields after a huge line");
	ASSERT_TRUE(s.paths[0][0] == '/', "smaps: a huge line's path still starts with /");
	s.count = 0;
	ASSERT_OK(feed_in_pieces(big, 7, &s), "smaps: a huge line fed in pieces parses");
	ASSERT_EQ(s.vmas[0].anonymous, 4096, "smaps: a huge line fed in pieces, its fields");
	free(big);

	s.count = 0;
	ASSERT_OK(smaps_parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n", collect, &s),
		  "smaps: a mapping without fields parses");
	ASSERT_EQ(s.count, 1, "smaps: a mapping without fields is one");
	ASSERT_EQ(s.vmas[0].rss + s.vmas[0].anonymous + s.vmas[0].lazyfree, 0,
		  "smaps: missing fields are 0");
	s.count = 0;
	ASSERT_OK(smaps_parse("Rss: 4 kB\n\n7f0000000000-7f0000001000 rw-p 0 0:0 0\nRss: x kB\n"
			      "Anonymous: 99999999999999999999 kB\nLazyFree:\n", collect, &s),
		  "smaps: fields before any mapping, an empty line, bad numbers parse");
	ASSERT_EQ(s.count, 1, "smaps: bad numbers, one mapping");
	ASSERT_EQ(s.vmas[0].rss + s.vmas[0].anonymous + s.vmas[0].lazyfree, 0,
		  "smaps: bad or overflowing numbers are left 0");
	ASSERT_EQ(smaps_parse("7f0000000000-7f0000001000 rw-p\nRss: 4 kB\n", collect, &s),
		  -EINVAL, "smaps: a header missing fields is -EINVAL");
	ASSERT_OK(smaps_parse("", collect, &s), "smaps: empty text parses");
}

static void test_maps_line_edges(void)
{
	struct maps_entry e;

	/* sscanf skipped the newline as white space and read the next line's fields */
	ASSERT_EQ(maps_parse_line("7fd194cc7000-7fd194cc9000 rw-p\n00000000 00:00 0\n", &e),
		  -EINVAL, "maps line: fields on the next line are not this line's");
	ASSERT_EQ(maps_parse_line("7fd194cc7000-7fd194cc9000 rw-p 00000000 00:00\n0\n", &e),
		  -EINVAL, "maps line: an inode on the next line is not this line's");
	ASSERT_EQ(maps_parse_line("10000000000000000-7fd194cc9000 rw-p 00000000 00:00 0\n", &e),
		  -EINVAL, "maps line: a start beyond 64 bits is -EINVAL");
	ASSERT_EQ(maps_parse_line("1000-2000 rw-p 0 00:00 99999999999999999999\n", &e),
		  -EINVAL, "maps line: an inode beyond 64 bits is -EINVAL");
	ASSERT_EQ(maps_parse_line("1000-2000 rw 0 00:00 0\n", &e), -EINVAL,
		  "maps line: short perms are -EINVAL");
	ASSERT_OK(maps_parse_line("1000-2000 rw-p 0 103:1f 18446744073709551615 /a\n", &e),
		  "maps line: the largest inode parses");
	ASSERT_EQ(e.inode, 18446744073709551615ULL, "maps line: the largest inode");
	ASSERT_EQ(e.dev_major, 0x103, "maps line: a 3-digit major");
	ASSERT_EQ(e.dev_minor, 0x1f, "maps line: minor");
}

int main(void)
{
	test_smaps_whole();
	test_smaps_pieces();
	test_smaps_edges();
	test_maps_line_edges();
	return tap_done();
}
