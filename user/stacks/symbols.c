// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libiberty/demangle.h>
#include "stacks/sites.h"
#include "stacks/symbol_cache.h"
#include "stacks/symbols.h"

char *symbol_demangle(const char *name)
{
	/* no mangling scheme uses '@': since binutils 2.35 it only starts a version */
	size_t len = strcspn(name, "@") ?: strlen(name);
	char *bare = strndup(name, len), *d;

	if (!bare)
		return NULL;
	/* the automatic style tries Rust's schemes, then the C++ ABI's */
	d = cplus_demangle(bare, DMGL_PARAMS | DMGL_ANSI);
	if (!d)
		return bare;
	free(bare);
	return d;
}

/* @mod's GNU build ID in hex into *@hex, NULL without one. 0 or -ENOMEM. */
static int build_id_hex(Dwfl_Module *mod, char **hex)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr), i;

	*hex = NULL;
	if (len <= 0)
		return 0;
	*hex = malloc(2 * len + 1);
	if (!*hex)
		return -ENOMEM;
	for (i = 0; i < len; i++)
		sprintf(*hex + 2 * i, "%02x", bits[i]);
	return 0;
}

/* @f's function, file and line as @hit has them. 0 or -ENOMEM. */
static int frame_copy(struct site_frame *f, const struct cached_symbol *hit)
{
	f->function = hit->function ? strdup(hit->function) : NULL;
	f->file = hit->file ? strdup(hit->file) : NULL;
	f->line = hit->line;
	return (hit->function && !f->function) || (hit->file && !f->file) ? -ENOMEM : 0;
}

int frame_symbolize(Dwfl *dwfl, Dwarf_Addr pc, struct site_frame *f, struct symbol_cache *cache)
{
	Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, pc) : NULL;
	const struct cached_symbol *hit = NULL;
	const char *name, *file;
	Dwarf_Addr start;
	Dwfl_Line *line;
	GElf_Off off;
	GElf_Sym sym;

	*f = (struct site_frame){ .offset = pc };
	if (!mod)
		return 0;
	name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	f->offset = pc - start;
	f->module = strdup(name ?: "");
	if (!f->module || build_id_hex(mod, &f->build_id))
		goto nomem;
	if (cache && f->build_id)
		hit = symbol_cache_find(cache, f->build_id, f->offset);
	if (hit) {
		if (frame_copy(f, hit))
			goto nomem;
		return 0;
	}
	name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
	if (name) {
		f->function = symbol_demangle(name);
		if (!f->function)
			goto nomem;
	}
	line = dwfl_module_getsrc(mod, pc);
	file = line ? dwfl_lineinfo(line, NULL, &f->line, NULL, NULL, NULL) : NULL;
	if (file) {
		f->file = strdup(file);
		if (!f->file)
			goto nomem;
	}
	if (cache && f->build_id &&
	    symbol_cache_add(cache, f->build_id, f->offset, f->function, f->file, f->line))
		goto nomem;
	return 0;

nomem:
	frame_free(f);
	return -ENOMEM;
}

int site_symbolize(struct site *site, Dwfl *dwfl, struct symbol_cache *cache)
{
	struct site_frame *frames;
	int i;

	if (site->frames)
		return 0;
	frames = calloc(site->nr_frames, sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	for (i = 0; i < site->nr_frames; i++) {
		if (frame_symbolize(dwfl, site->pcs[i], &frames[i], cache))
			goto nomem;
	}
	site->frames = frames;
	return 0;

nomem:
	while (i--)
		frame_free(&frames[i]);
	free(frames);
	return -ENOMEM;
}
