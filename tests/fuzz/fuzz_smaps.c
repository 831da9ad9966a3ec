// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer target: /proc/PID/smaps parsing and crediting mappings to threads. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_text.h"
#include "model/model.h"
#include "sys/procmaps.h"

static void credit(const struct smaps_vma *vma, void *model)
{
	model_credit_vma(model, vma);
}

/* The text again as two reads deliver it, cut in the middle: the first line cut short kept. */
static void feed_in_two(const char *text, struct mw_model *m)
{
	size_t len = strlen(text), half = len / 2;
	struct smaps_parser p;
	char *first = strndup(text, half), *rest;
	long used;

	if (!first)
		return;
	smaps_parser_init(&p, credit, m);
	model_clear_resident(m);
	used = smaps_parser_feed(&p, first, half, false);
	if (used >= 0 && asprintf(&rest, "%s%s", first + used, text + half) >= 0) {
		smaps_parser_feed(&p, rest, strlen(rest), true);
		free(rest);
	}
	free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_thread counters = { .mmap_anon_bytes = 4096 };
	struct mw_region_rec *regions = calloc(2, sizeof(*regions));
	char *text = fuzz_text(data, size);
	struct mw_model m;

	if (!text || !regions) {
		free(text);
		free(regions);
		return 0;
	}
	model_init(&m);
	m.info.pid = -1;
	model_begin_update(&m, 1.0);
	model_set_thread(&m, 100, &counters);
	model_end_update(&m, false);
	regions[0] = (struct mw_region_rec){ .start = 0x1000, .len = 0x10000, .tid = 100 };
	regions[1] = (struct mw_region_rec){ .start = 0x7f0000000000, .len = 0x1000, .tid = 200 };
	model_set_regions(&m, regions, 2);
	model_clear_resident(&m);
	smaps_parse(text, credit, &m);
	model_commit_resident(&m, 0.5);
	feed_in_two(text, &m);
	model_commit_resident(&m, 1.0);
	model_free(&m);
	free(text);
	return 0;
}
