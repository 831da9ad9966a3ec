/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The little ELF reading memwatch needs: the interpreter and symbol addresses. */
#ifndef MW_ELF_FILE_H
#define MW_ELF_FILE_H

#include <stddef.h>

/* The PT_INTERP path of @path, "" for a static executable; 0 or -errno. */
int elf_interpreter(const char *path, char *interp, size_t len);

/*
 * For each of @names, the address of the function @path defines under that
 * name (from .symtab or .dynsym), 0 when it does not define it. 0 or -errno.
 */
int elf_defined_functions(const char *path, const char *const *names, size_t count,
			  unsigned long long *addrs);

/*
 * The code of the function that @path defines at address @addr, read from the
 * file into @buf; *@len is how many bytes. 0 or -errno: -ENOENT when no sized
 * STT_FUNC symbol is there or no executable segment holds it, -EFBIG when it is
 * longer than @cap (its first @cap bytes are in @buf).
 */
int elf_function_code(const char *path, unsigned long long addr, unsigned char *buf, size_t cap,
		      size_t *len);

/*
 * The file offset of the code at address @addr, as a uprobe names it: an
 * executable segment must hold it. 0 or -errno (-ENOENT: none does).
 */
int elf_code_offset(const char *path, unsigned long long addr, unsigned long long *off);

#endif /* MW_ELF_FILE_H */
