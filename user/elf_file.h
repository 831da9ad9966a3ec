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

#endif /* MW_ELF_FILE_H */
