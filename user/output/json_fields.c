// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* A Markdown table of every counter's JSON field, from the registry that also names them. */
#include "model/counters.h"
#include "output/json_fields.h"

static const char *const unit_names[] = {
	[MW_CALLS] = "calls",
	[MW_BYTES] = "bytes",
};
_Static_assert(MW_ARRAY_SIZE(unit_names) == MW_BYTES + 1, "a name for every unit");

static const char *const group_names[] = {
	[MW_HEAP] = "heap",
	[MW_GROWN] = "grown",
	[MW_RETURNED] = "returned",
	[MW_MAPPED] = "mapped",
	[MW_RESIDENT] = "resident",
	[MW_OTHER] = "",
};
_Static_assert(MW_ARRAY_SIZE(group_names) == MW_OTHER + 1, "a name for every group");

/* An array's field: its object and the keys it has. */
static void write_array_field(FILE *out, const struct mw_counter *c)
{
	bool first = true;
	int i;

	fprintf(out, "| `%s` {", c->json);
	for (i = 0; i < c->nr; i++) {
		if (!c->keys[i])
			continue;
		fprintf(out, "%s`%s`", first ? "" : ", ", c->keys[i]);
		first = false;
	}
	fprintf(out, "} | %s | %s |\n", unit_names[c->unit], c->doc);
}

/* The counters and advices of @group, as the sum derived from them adds them. */
static void write_group(FILE *out, enum mw_group group)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < mw_nr_counters; i++) {
		if (mw_counters[i].nr == 1 && mw_counters[i].group == group) {
			fprintf(out, "%s`%s`", sep, mw_counters[i].name);
			sep = " + ";
		}
	}
	for (i = 0; i < MW_ADV_NR; i++) {
		if (mw_advice_groups[i] == group) {
			fprintf(out, "%s`madvise.%s`", sep, mw_advice_keys[i]);
			sep = " + ";
		}
	}
}

void json_fields_write(FILE *out)
{
	size_t i;

	fprintf(out,
		"<!-- Generated from bpf/counters.h by `make json-fields`: do not edit. -->\n"
		"# JSON: the counter fields\n"
		"\n"
		"Every thread in `threads[]` and, summed, the `process` of each `--json` record\n"
		"carry these fields, from memwatch's counter registry (`bpf/counters.h`), in this\n"
		"order. Sizes are bytes, counts are integers; syscall bytes are rounded to whole\n"
		"pages, as the kernel maps. A group names what a counter says about memory: the\n"
		"sums below add up groups.\n"
		"\n"
		"| field | unit | group | meaning |\n"
		"|---|---|---|---|\n");
	for (i = 0; i < mw_nr_counters; i++) {
		const struct mw_counter *c = &mw_counters[i];

		if (c->nr == 1)
			fprintf(out, "| `%s` | %s | %s | %s |\n", c->name, unit_names[c->unit],
				group_names[c->group], c->doc);
	}
	fprintf(out,
		"\n"
		"Objects of counters, one field per key:\n"
		"\n"
		"| object {keys} | unit | meaning |\n"
		"|---|---|---|\n");
	for (i = 0; i < mw_nr_counters; i++) {
		if (mw_counters[i].nr > 1 && mw_counters[i].json[0])
			write_array_field(out, &mw_counters[i]);
	}
	fprintf(out,
		"\n"
		"Sums of those counters:\n"
		"\n"
		"| field | unit | meaning |\n"
		"|---|---|---|\n");
#define DERIVED_ROW(name, fn, doc) fprintf(out, "| `%s` | bytes | %s |\n", #name, doc);
	MW_DERIVED(DERIVED_ROW)
#undef DERIVED_ROW
	fprintf(out, "\n`grown_bytes` = ");
	write_group(out, MW_GROWN);
	fprintf(out, "\n\n`returned_bytes` = ");
	write_group(out, MW_RETURNED);
	fprintf(out, "\n");
}
