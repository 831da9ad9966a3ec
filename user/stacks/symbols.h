/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A code address of a process as a frame of a call site: its function (from
 * .symtab, .dynsym or MiniDebugInfo, C++ and Rust names demangled), its
 * module, and its file and line where the module has DWARF. The strings are
 * the target's: escaped when printed.
 */
#ifndef MW_SYMBOLS_H
#define MW_SYMBOLS_H

#include <elfutils/libdwfl.h>

struct site_frame {
	char *function;		/* NULL: no symbol covers it */
	char *module;		/* the mapped file's path; NULL: in no module (FRAME_ANON) */
	char *build_id;		/* its GNU build ID in hex; NULL without one */
	char *file;		/* source file, NULL without DWARF */
	int line;
	unsigned long long offset;	/* from the module's start (or the address, without one) */
};

/*
 * What the writers name the module of a frame in none: code in no file, as a
 * JIT's (its offset then is its address).
 */
#define FRAME_ANON "[anon]"

/* The name the writers give @f's module: its path's last part, FRAME_ANON in none (sites.c). */
const char *frame_module_name(const struct site_frame *f);

struct symbol_cache;

/*
 * @pc (a call's address, not its return address) in @dwfl's modules (none if
 * NULL), its function, file and line from @cache when the code was symbolized
 * in any process before (and kept there if not; no cache: NULL). 0 or -ENOMEM.
 */
int frame_symbolize(Dwfl *dwfl, Dwarf_Addr pc, struct site_frame *f, struct symbol_cache *cache);
/* Frees @f's strings (sites.c: the sites own their frames, symbolized or not). */
void frame_free(struct site_frame *f);

struct site;
/* @site's frames from @dwfl, its process's modules, unless it has them (@cache as above). */
int site_symbolize(struct site *site, Dwfl *dwfl, struct symbol_cache *cache);

/*
 * @name without its symbol version ("f@@GLIBC_2.34": a .symtab's name of a
 * versioned definition) and demangled (C++, Rust legacy and v0), or a copy
 * of it; NULL when out of memory.
 */
char *symbol_demangle(const char *name);

#endif /* MW_SYMBOLS_H */
