// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --folded and --pprof without BPF: the lines whatever the names, the profile's tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "output/folded.h"
#include "output/pprof.h"
#include "proto/profile.pb-c.h"
#include "stacks/sites.h"
#include "tap.h"

/* A symbol the target chose: frame separators, a line's end, a space, escapes, C1, not UTF-8. */
#define HOSTILE "x;y\nz w\033]0;t\007\xc2\x9b\xff\\"
#define HOSTILE_ESCAPED "x\\x3by\\x0az w\\x1b]0\\x3bt\\x07\\xc2\\x9b\\xff\\\\"
/* as the text reports show it: ';' parts nothing there */
#define HOSTILE_TEXT "x;y\\x0az w\\x1b]0;t\\x07\\xc2\\x9b\\xff\\\\"

/*
 * One site: the hostile function innermost, then a module without a symbol
 * (a hostile path), then an address in no module ([anon]), outermost.
 */
static struct site_frame frames[] = {
	{ .function = HOSTILE, .module = "/lib/libx.so", .build_id = "0123abcd", .offset = 0x10 },
	{ .module = "/tmp/a;b\n/m\033.so", .offset = 0x2a },
	{ .offset = 0x7f00 },
};

static void test_folded(void)
{
	struct site site[] = {
		{ .nr_frames = 3, .frames = frames, .alloc_calls = 3, .alloc_bytes = 4096,
		  .live_calls = 1, .live_bytes = 100 },
		/* a syscall site: no line, folded stacks weigh allocated bytes */
		{ .nr_frames = 1, .frames = frames, .syscall_calls = 1, .grown_bytes = 4096 },
	};
	struct stack_sites s = { .v = site, .nr = 2 };
	char *text = NULL, *count;
	size_t len = 0, i, semicolons = 0;
	FILE *f = open_memstream(&text, &len);
	bool clean = true;

	folded_write(f, &s);
	fclose(f);
	ASSERT_STREQ(text, "[anon]+0x7f00;m\\x1b.so+0x2a;" HOSTILE_ESCAPED " 4096\n",
		     "folded: outermost first, each name escaped, the allocated bytes; no "
		     "syscall site");
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

/* @len gzipped bytes at @gz unpacked into a profile, NULL if they are not one. */
static Perftools__Profiles__Profile *gunzip_profile(const char *gz, size_t len)
{
	Perftools__Profiles__Profile *p = NULL;
	z_stream z = { .next_in = (Bytef *)gz, .avail_in = len };
	size_t size = 1 << 20;
	__u8 *raw = malloc(size);

	/* 32 more bits of window: a gzip header is expected */
	if (!raw || inflateInit2(&z, 15 + 32))
		goto cleanup;
	z.next_out = raw;
	z.avail_out = size;
	if (inflate(&z, Z_FINISH) == Z_STREAM_END)
		p = perftools__profiles__profile__unpack(NULL, size - z.avail_out, raw);
	inflateEnd(&z);
cleanup:
	free(raw);
	return p;
}

static const char *string_at(const Perftools__Profiles__Profile *p, int64_t i)
{
	return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "(out of the table)";
}

static void test_pprof(void)
{
	struct site sites[] = {
		{ .nr_frames = 3, .frames = frames, .alloc_calls = 3, .alloc_bytes = 4096,
		  .live_calls = 1, .live_bytes = 100, .free_calls = 2, .syscall_calls = 2,
		  .grown_bytes = 8192, .returned_bytes = 4096 },
		/* the same outer frames from another caller: their locations are shared */
		{ .nr_frames = 2, .frames = frames + 1, .alloc_calls = 5, .alloc_bytes = 50 },
	};
	struct stack_sites s = { .v = sites, .nr = 2, .sample_bytes = 4096 };
	static const char *const types[] = { "alloc_objects", "count", "alloc_space", "bytes",
					     "inuse_objects", "count", "inuse_space", "bytes",
					     "grown_space", "bytes", "returned_space", "bytes" };
	Perftools__Profiles__Profile *p;
	Perftools__Profiles__Sample *sample;
	const Perftools__Profiles__Location *loc;
	char *gz = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&gz, &len);
	bool ok = true;

	ASSERT_OK(pprof_write(f, &s, 1000, 2000), "pprof: written");
	fclose(f);
	p = gunzip_profile(gz, len);
	free(gz);
	if (!ASSERT_TRUE(p, "pprof: gzip of a profile.proto message"))
		return;
	ASSERT_TRUE(p->n_string_table && !strcmp(p->string_table[0], ""),
		    "pprof: the string table starts with \"\"");
	ok = p->n_sample_type == 6;
	for (i = 0; ok && i < 6; i++)
		ok = !strcmp(string_at(p, p->sample_type[i]->type), types[2 * i]) &&
		     !strcmp(string_at(p, p->sample_type[i]->unit), types[2 * i + 1]);
	ASSERT_TRUE(ok, "pprof: the sample types of Go's heap profile, then grown and returned");
	ASSERT_STREQ(string_at(p, p->default_sample_type), "inuse_space",
		     "pprof: inuse_space by default");
	ASSERT_TRUE(p->period == 4096 && p->period_type &&
		    !strcmp(string_at(p, p->period_type->type), "space"),
		    "pprof: sampled: the period is the mean bytes between samples");
	ASSERT_TRUE(p->time_nanos == 1000 && p->duration_nanos == 2000, "pprof: its time");
	if (!ASSERT_EQ(p->n_sample, 2, "pprof: a sample per site"))
		goto cleanup;
	sample = p->sample[0];
	ASSERT_TRUE(sample->n_value == 6 && sample->value[0] == 3 && sample->value[1] == 4096 &&
		    sample->value[2] == 1 && sample->value[3] == 100 && sample->value[4] == 8192 &&
		    sample->value[5] == 4096,
		    "pprof: allocated and live objects and bytes, grown and returned bytes");
	ASSERT_TRUE(sample->n_location_id == 3 && p->n_location == 3 && p->n_function == 3 &&
		    p->sample[1]->n_location_id == 2 &&
		    p->sample[1]->location_id[0] == sample->location_id[1] &&
		    p->sample[1]->location_id[1] == sample->location_id[2],
		    "pprof: one location per frame's code, shared by the sites");
	/* location ids are their index + 1 */
	loc = p->location[sample->location_id[0] - 1];
	ASSERT_TRUE(loc->n_line == 1 && loc->address == 0x10 && loc->mapping_id,
		    "pprof: a location: its offset in its module");
	ASSERT_STREQ(string_at(p, p->function[loc->line[0]->function_id - 1]->name), HOSTILE_TEXT,
		     "pprof: the function's name escaped as in the text reports");
	loc = p->location[sample->location_id[1] - 1];
	ASSERT_STREQ(string_at(p, p->function[loc->line[0]->function_id - 1]->name),
		     "m\\x1b.so+0x2a", "pprof: no symbol: module+0xOFFSET");
	loc = p->location[sample->location_id[2] - 1];
	ASSERT_TRUE(!loc->mapping_id && loc->address == 0x7f00, "pprof: an address in no module");
	ASSERT_STREQ(string_at(p, p->function[loc->line[0]->function_id - 1]->name),
		     "[anon]+0x7f00", "pprof: in no module: [anon]+0xADDRESS");
	ASSERT_TRUE(p->n_mapping == 2 && !strcmp(string_at(p, p->mapping[0]->filename),
						 "/lib/libx.so") && p->mapping[0]->has_functions,
		    "pprof: a mapping per module, symbolized");
	ASSERT_TRUE(p->n_mapping == 2 &&
		    !strcmp(string_at(p, p->mapping[0]->build_id), "0123abcd") &&
		    !p->mapping[1]->build_id, "pprof: a mapping's build ID, where its module has one");
cleanup:
	perftools__profiles__profile__free_unpacked(p, NULL);
}

int main(void)
{
	test_folded();
	test_pprof();
	return tap_done();
}
