/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The little ELF reading memwatch needs: the interpreter and symbol addresses. */
#ifndef MW_ELF_FILE_H
#define MW_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <gelf.h>

/*
 * The largest ELF file memwatch opens. A file is mapped, never read whole;
 * the cap bounds what a scan of a hostile file's symbol tables may touch.
 */
#define MW_ELF_SIZE_MAX (1ULL << 30)

/* why elf_file_open() refused a file, beyond errno values (elf_strerror() says it) */
enum mw_elf_error {
	MW_ELF_NOT64 = 4200,		/* a 32-bit ELF file: memwatch probes 64-bit code */
	MW_ELF_MACHINE,			/* built for another machine or byte order */
	MW_ELF_TRUNCATED,		/* a header or section lies past the end of the file */
};

/*
 * Opens @path as a 64-bit ELF file of this machine, mapped, every header and
 * section inside the file (and the file within MW_ELF_SIZE_MAX): only a
 * regular file is opened (user/sys/safe_open.h). NULL with *@err set (-errno,
 * -MW_ENOTREG, -ENOEXEC when it is no ELF file, -EFBIG, -MW_ELF_*).
 */
Elf *elf_file_open(const char *path, int *fd, int *err);
void elf_file_close(Elf *elf, int fd);

/* @err from elf_file_open() in words ("not an ELF file", "a FIFO, not a regular file"). */
const char *elf_strerror(int err);

/*
 * How many symbols a symbol table section holds: 0 unless it is one, with
 * standard-size entries and a string table, both inside the file.
 */
size_t elf_symbol_count(Elf *elf, const GElf_Shdr *shdr);

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
