// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>
#include "output/escape.h"
#include "output/folded.h"

static void folded_frame(FILE *out, const struct site_frame *f)
{
	const char *module = frame_module_name(f);

	/* an empty name would be an empty frame, which flamegraph.pl drops at a line's end */
	if (f->function && *f->function) {
		escape_write_folded(out, f->function, strlen(f->function));
	} else {
		escape_write_folded(out, module, strlen(module));
		fprintf(out, "+0x%llx", f->offset);
	}
}

void folded_write(FILE *out, const struct stack_sites *s)
{
	const struct site *site;
	size_t i;
	int j;

	for (i = 0; i < s->nr; i++) {
		site = &s->v[i];
		/* a syscall site allocates nothing: folded stacks weigh allocated bytes */
		if (!site->alloc_calls)
			continue;
		/* a site's frames are innermost first, a folded stack's outermost first */
		for (j = site->nr_frames - 1; j >= 0; j--) {
			folded_frame(out, site_frame_at(site, j, &(struct site_frame){ 0 }));
			if (j)
				fputc(';', out);
		}
		fprintf(out, " %llu\n", (unsigned long long)site->alloc_bytes);
	}
}
