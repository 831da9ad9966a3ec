// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer target: /proc/PID/maps lines, maps texts and loader listings as allocator candidates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attach/allocator.h"
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct candidates c;
	char *text = fuzz_text(data, size);
	struct maps_entry e;

	if (!text)
		return 0;
	maps_parse_line(text, &e);
	candidates_from_maps(text, "/usr/bin/exe", "libjemalloc.so.2 /lib/libtcmalloc.so:x", &c);
	candidates_from_ldd(text, "/usr/bin/exe", "libjemalloc.so.2", &c);
	free(text);
	return 0;
}
