// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "output/escape.h"
#include "output/pprof.h"
#include "proto/profile.pb-c.h"
#include "stacks/u64map.h"

/*
 * The sample types: Go's heap profile's four (allocated and live, calls and
 * bytes), then what the syscalls made at a site grew and returned.
 */
#define NR_TYPES 6

/*
 * A location: a frame's code, one per module, offset, function and line. Its
 * one Line is in the same allocation, so that the arrays of pointers the
 * profile holds can grow without moving what they point to.
 */
struct location {
	Perftools__Profiles__Location loc;
	Perftools__Profiles__Line line;
	Perftools__Profiles__Line *lines[1];
};

struct sample {
	Perftools__Profiles__Sample sample;
	int64_t values[NR_TYPES];	/* as the sample types */
};

/* The profile as it is built: each table's index finds an entry made before. */
struct builder {
	Perftools__Profiles__Profile p;
	Perftools__Profiles__ValueType types[NR_TYPES], period_type;
	Perftools__Profiles__ValueType *type_list[NR_TYPES];
	int64_t comment;
	struct u64map strings;		/* a string's hash: its index */
	struct u64map functions;	/* its name's index << 32 | its file's, bit 63 set */
	struct u64map mappings;		/* its path's index, bit 63 set */
	struct u64map locations;	/* its fields' hash */
};

/* @v of @n elements of @size with room for one more: doubled when @n is a power of 2. */
static void *grow(void *v, size_t n, size_t size)
{
	if (n & (n - 1))
		return v;
	return realloc(v, (n ? 2 * n : 1) * size);
}

/* FNV-1a of @len bytes at @data, on from @h; never 0, the empty key */
static __u64 hash(__u64 h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ?: 1;
}

#define HASH_START 0xcbf29ce484222325ULL

/* The index of @s in the string table, added if new; -1 when out of memory. */
static int64_t string_id(struct builder *b, const char *s)
{
	__u64 key = hash(HASH_START, s, strlen(s));
	struct u64map_entry *e;
	char **table;

	/* another string with the same hash: the next key */
	for (;; key = key + 1 ?: 1) {
		e = u64map_find(&b->strings, key);
		if (!e)
			break;
		if (!strcmp(b->p.string_table[e->a], s))
			return e->a;
	}
	table = grow(b->p.string_table, b->p.n_string_table, sizeof(*table));
	if (!table)
		return -1;
	b->p.string_table = table;
	table[b->p.n_string_table] = strdup(s);
	e = table[b->p.n_string_table] ? u64map_get(&b->strings, key) : NULL;
	if (!e) {
		free(table[b->p.n_string_table]);
		return -1;
	}
	e->a = b->p.n_string_table++;
	return e->a;
}

/*
 * The index of the target's text @s, escaped as in the text reports: it is
 * printed to terminals, and a proto3 string must be valid UTF-8.
 */
static int64_t target_string_id(struct builder *b, const char *s)
{
	size_t size = ESCAPED_SIZE(strlen(s));
	char *text = malloc(size);
	int64_t id;

	if (!text)
		return -1;
	id = string_id(b, escape_str(text, size, s));
	free(text);
	return id;
}

/* A frame's function name: its symbol's, else module+0xOFFSET ([anon]+0xADDRESS). */
static int64_t function_name_id(struct builder *b, const struct site_frame *f)
{
	const char *module = frame_module_name(f);
	size_t size;
	int64_t id;
	char *name;

	if (f->function && *f->function)
		return target_string_id(b, f->function);
	size = ESCAPED_SIZE(strlen(module)) + sizeof("+0x") + 16;
	name = malloc(size);
	if (!name)
		return -1;
	escape_str(name, size, module);
	snprintf(name + strlen(name), size - strlen(name), "+0x%llx", f->offset);
	id = string_id(b, name);
	free(name);
	return id;
}

/* The id of @f's function, made if new; 0 when out of memory. */
static __u64 function_id(struct builder *b, const struct site_frame *f)
{
	int64_t name = function_name_id(b, f);
	int64_t file = f->file ? target_string_id(b, f->file) : 0;
	Perftools__Profiles__Function *fn, **list;
	struct u64map_entry *e;

	if (name < 0 || file < 0)
		return 0;
	e = u64map_get(&b->functions, 1ULL << 63 | (__u64)name << 32 | file);
	if (!e)
		return 0;
	if (e->a)
		return e->a;
	list = grow(b->p.function, b->p.n_function, sizeof(*list));
	if (!list)
		return 0;
	b->p.function = list;
	fn = malloc(sizeof(*fn));
	if (!fn)
		return 0;
	perftools__profiles__function__init(fn);
	fn->id = b->p.n_function + 1;
	/* the name is the demangled one: the mangled one is not kept */
	fn->name = fn->system_name = name;
	fn->filename = file;
	list[b->p.n_function++] = fn;
	e->a = fn->id;
	return fn->id;
}

/*
 * The mapping of @f's module, one per path, made if new; NULL when out of
 * memory. Its addresses are offsets in the module: one module mapped at
 * different addresses by several processes is one mapping.
 */
static Perftools__Profiles__Mapping *mapping_of(struct builder *b, const struct site_frame *f)
{
	int64_t path = target_string_id(b, f->module);
	Perftools__Profiles__Mapping *m, **list;
	struct u64map_entry *e;

	e = path < 0 ? NULL : u64map_get(&b->mappings, 1ULL << 63 | path);
	if (!e)
		return NULL;
	if (e->a)
		return b->p.mapping[e->a - 1];
	list = grow(b->p.mapping, b->p.n_mapping, sizeof(*list));
	if (!list)
		return NULL;
	b->p.mapping = list;
	m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	perftools__profiles__mapping__init(m);
	m->id = b->p.n_mapping + 1;
	m->filename = path;
	/* what pprof and its servers match a module's symbols by; hex digits: no escaping */
	if (f->build_id) {
		m->build_id = string_id(b, f->build_id);
		if (m->build_id < 0) {
			free(m);
			return NULL;
		}
	}
	/* symbolized already: pprof must not look for the target's files on this host */
	m->has_functions = true;
	list[b->p.n_mapping++] = m;
	e->a = m->id;
	return m;
}

/*
 * pprof takes the first mapping for the main binary, which it names: the
 * module of the outermost frame of the first site that allocated (the first
 * syscall sites are the loader's own), the executable's _start where the
 * stack is whole; of the first site, without one. 0 or -ENOMEM.
 */
static int main_mapping(struct builder *b, const struct stack_sites *s)
{
	const struct site *first = s->nr ? &s->v[0] : NULL;
	const struct site_frame *f;
	struct site_frame bare;
	size_t i;

	for (i = 0; i < s->nr; i++) {
		if (s->v[i].alloc_calls) {
			first = &s->v[i];
			break;
		}
	}
	if (!first || !first->nr_frames)
		return 0;
	f = site_frame_at(first, first->nr_frames - 1, &bare);
	return f->module && !mapping_of(b, f) ? -ENOMEM : 0;
}

/* The id of the location of @f, made if new; 0 when out of memory. */
static __u64 location_id(struct builder *b, const struct site_frame *f)
{
	Perftools__Profiles__Mapping *m = f->module ? mapping_of(b, f) : NULL;
	__u64 fields[4] = { m ? m->id : 0, f->offset, function_id(b, f), f->line };
	Perftools__Profiles__Location **list;
	struct u64map_entry *e;
	struct location *l;
	__u64 key;

	if ((f->module && !m) || !fields[2])
		return 0;
	/* another location with the same hash: the next key */
	for (key = hash(HASH_START, fields, sizeof(fields));; key = key + 1 ?: 1) {
		e = u64map_find(&b->locations, key);
		if (!e)
			break;
		l = (struct location *)b->p.location[e->a - 1];
		if (l->loc.mapping_id == fields[0] && l->loc.address == fields[1] &&
		    l->line.function_id == fields[2] && (__u64)l->line.line == fields[3])
			return e->a;
	}
	list = grow(b->p.location, b->p.n_location, sizeof(*list));
	if (!list)
		return 0;
	b->p.location = list;
	l = malloc(sizeof(*l));
	e = l ? u64map_get(&b->locations, key) : NULL;
	if (!e) {
		free(l);
		return 0;
	}
	perftools__profiles__location__init(&l->loc);
	perftools__profiles__line__init(&l->line);
	l->loc.id = b->p.n_location + 1;
	l->loc.mapping_id = fields[0];
	l->loc.address = f->offset;
	l->line.function_id = fields[2];
	l->line.line = f->line;
	l->lines[0] = &l->line;
	l->loc.n_line = 1;
	l->loc.line = l->lines;
	list[b->p.n_location++] = &l->loc;
	e->a = l->loc.id;
	/* a mapping spans its locations' offsets */
	if (m) {
		if (m->memory_limit <= f->offset)
			m->memory_limit = f->offset + 1;
		m->has_filenames |= f->file != NULL;
		m->has_line_numbers |= f->line > 0;
	}
	return e->a;
}

/* @site as a sample, its locations innermost first as pprof's are. 0 or -ENOMEM. */
static int add_sample(struct builder *b, const struct site *site)
{
	Perftools__Profiles__Sample **list;
	struct sample *s;
	int i;

	list = grow(b->p.sample, b->p.n_sample, sizeof(*list));
	if (!list)
		return -ENOMEM;
	b->p.sample = list;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	perftools__profiles__sample__init(&s->sample);
	s->sample.location_id = calloc(site->nr_frames ?: 1, sizeof(*s->sample.location_id));
	if (!s->sample.location_id) {
		free(s);
		return -ENOMEM;
	}
	/* in the list before its locations: freed with it whatever happens */
	list[b->p.n_sample++] = &s->sample;
	for (i = 0; i < site->nr_frames; i++) {
		s->sample.location_id[i] =
			location_id(b, site_frame_at(site, i, &(struct site_frame){ 0 }));
		if (!s->sample.location_id[i])
			return -ENOMEM;
		s->sample.n_location_id++;
	}
	s->values[0] = site->alloc_calls;
	s->values[1] = site->alloc_bytes;
	s->values[2] = site->live_calls;
	s->values[3] = site->live_bytes;
	s->values[4] = site->grown_bytes;
	s->values[5] = site->returned_bytes;
	s->sample.n_value = NR_TYPES;
	s->sample.value = s->values;
	return 0;
}

/* What pprof shows of the profile: its sample types as Go's heap profile's, its mode. */
static int describe(struct builder *b, const struct stack_sites *s)
{
	static const char *const types[NR_TYPES][2] = {
		{ "alloc_objects", "count" },
		{ "alloc_space", "bytes" },
		{ "inuse_objects", "count" },
		{ "inuse_space", "bytes" },
		{ "grown_space", "bytes" },
		{ "returned_space", "bytes" },
	};
	char comment[128];
	int i;

	/* string_table[0] is "" */
	if (string_id(b, "") < 0)
		return -ENOMEM;
	for (i = 0; i < NR_TYPES; i++) {
		perftools__profiles__value_type__init(&b->types[i]);
		b->types[i].type = string_id(b, types[i][0]);
		b->types[i].unit = string_id(b, types[i][1]);
		if (b->types[i].type < 0 || b->types[i].unit < 0)
			return -ENOMEM;
		b->type_list[i] = &b->types[i];
	}
	b->p.n_sample_type = NR_TYPES;
	b->p.sample_type = b->type_list;
	b->p.default_sample_type = b->types[3].type;
	/* Go's heap profile: the mean bytes between two samples (1: every call) */
	perftools__profiles__value_type__init(&b->period_type);
	b->period_type.type = string_id(b, "space");
	b->period_type.unit = string_id(b, "bytes");
	b->p.period_type = &b->period_type;
	b->p.period = s->sample_bytes ?: 1;
	if (s->sample_bytes)
		snprintf(comment, sizeof(comment), "memwatch --stacks=sampled: estimates from one "
			 "allocation per about %llu bytes asked",
			 (unsigned long long)s->sample_bytes);
	else
		snprintf(comment, sizeof(comment), "memwatch --stacks=all: every allocation");
	b->comment = string_id(b, comment);
	if (b->period_type.type < 0 || b->period_type.unit < 0 || b->comment < 0)
		return -ENOMEM;
	b->p.n_comment = 1;
	b->p.comment = &b->comment;
	return 0;
}

static void builder_free(struct builder *b)
{
	size_t i;

	for (i = 0; i < b->p.n_string_table; i++)
		free(b->p.string_table[i]);
	for (i = 0; i < b->p.n_function; i++)
		free(b->p.function[i]);
	for (i = 0; i < b->p.n_mapping; i++)
		free(b->p.mapping[i]);
	/* the Location is its struct location's first member */
	for (i = 0; i < b->p.n_location; i++)
		free(b->p.location[i]);
	for (i = 0; i < b->p.n_sample; i++) {
		free(b->p.sample[i]->location_id);
		free(b->p.sample[i]);
	}
	free(b->p.string_table);
	free(b->p.function);
	free(b->p.mapping);
	free(b->p.location);
	free(b->p.sample);
	u64map_free(&b->strings);
	u64map_free(&b->functions);
	u64map_free(&b->mappings);
	u64map_free(&b->locations);
}

/* @len bytes at @data gzipped to @out. 0 or -ENOMEM. */
static int gzip_write(FILE *out, const __u8 *data, size_t len)
{
	z_stream z = { .next_in = (__u8 *)data, .avail_in = len };
	__u8 chunk[16384];
	int ret;

	/* 16 more bits of window: a gzip header and trailer, as pprof reads */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -ENOMEM;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		ret = deflate(&z, Z_FINISH);
		fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out);
	} while (ret == Z_OK);
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -ENOMEM;
}

int pprof_write(FILE *out, const struct stack_sites *s, __u64 start_ns, __u64 duration_ns)
{
	struct builder b = { 0 };
	__u8 *packed = NULL;
	size_t i, len;
	int err;

	perftools__profiles__profile__init(&b.p);
	b.p.time_nanos = start_ns;
	b.p.duration_nanos = duration_ns;
	err = describe(&b, s);
	if (!err)
		err = main_mapping(&b, s);
	for (i = 0; i < s->nr && !err; i++)
		err = add_sample(&b, &s->v[i]);
	if (err)
		goto cleanup;
	len = perftools__profiles__profile__get_packed_size(&b.p);
	packed = malloc(len ?: 1);
	if (!packed) {
		err = -ENOMEM;
		goto cleanup;
	}
	perftools__profiles__profile__pack(&b.p, packed);
	err = gzip_write(out, packed, len);

cleanup:
	free(packed);
	builder_free(&b);
	return err;
}
