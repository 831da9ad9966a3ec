// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "elf_file.h"

/* Opens @path as an ELF file; NULL with *err set on failure. */
static Elf *elf_open(const char *path, int *fd, int *err)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = -EINVAL;
		return NULL;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		*err = -errno;
		return NULL;
	}
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(*fd);
		*err = -ENOEXEC;
		return NULL;
	}
	return elf;
}

int elf_interpreter(const char *path, char *interp, size_t len)
{
	size_t i, nphdr;
	int fd, err = 0;
	Elf *elf;

	interp[0] = '\0';
	elf = elf_open(path, &fd, &err);
	if (!elf)
		return err;
	if (elf_getphdrnum(elf, &nphdr)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	for (i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;
		size_t size;
		char *raw;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_INTERP)
			continue;
		raw = elf_rawfile(elf, &size);
		if (!raw || phdr.p_offset + phdr.p_filesz > size || !phdr.p_filesz) {
			err = -ENOEXEC;
			goto cleanup;
		}
		snprintf(interp, len, "%.*s", (int)phdr.p_filesz, raw + phdr.p_offset);
		break;
	}
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

static bool is_defined_function(const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info), bind = GELF_ST_BIND(sym->st_info);

	return sym->st_shndx != SHN_UNDEF && sym->st_value &&
	       (type == STT_FUNC || type == STT_GNU_IFUNC) &&
	       (bind == STB_GLOBAL || bind == STB_WEAK);
}

static void scan_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
			 const char *const *names, size_t count, unsigned long long *addrs)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, j, nsyms;

	if (!data || !shdr->sh_entsize)
		return;
	nsyms = shdr->sh_size / shdr->sh_entsize;
	for (i = 0; i < nsyms; i++) {
		const char *name;
		GElf_Sym sym;

		if (!gelf_getsym(data, i, &sym) || !is_defined_function(&sym))
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name)
			continue;
		for (j = 0; j < count; j++) {
			if (!addrs[j] && !strcmp(name, names[j]))
				addrs[j] = sym.st_value;
		}
	}
}

int elf_defined_functions(const char *path, const char *const *names, size_t count,
			  unsigned long long *addrs)
{
	Elf_Scn *scn = NULL;
	int fd, err = 0;
	Elf *elf;

	memset(addrs, 0, count * sizeof(*addrs));
	elf = elf_open(path, &fd, &err);
	if (!elf)
		return err;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		/* shared objects export through .dynsym, static executables only have .symtab */
		if (shdr.sh_type == SHT_SYMTAB || shdr.sh_type == SHT_DYNSYM)
			scan_symbols(elf, scn, &shdr, names, count, addrs);
	}
	elf_end(elf);
	close(fd);
	return 0;
}

/* The size of the largest STT_FUNC symbol at @addr, 0 if there is none. */
static size_t function_size(Elf *elf, unsigned long long addr)
{
	Elf_Scn *scn = NULL;
	size_t best = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr shdr;
		size_t i, nsyms;

		if (!gelf_getshdr(scn, &shdr) ||
		    (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM) || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		nsyms = data ? shdr.sh_size / shdr.sh_entsize : 0;
		for (i = 0; i < nsyms; i++) {
			GElf_Sym sym;

			/* an IFUNC's address is its resolver's, not the function's */
			if (gelf_getsym(data, i, &sym) && sym.st_value == addr &&
			    GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_size > best)
				best = sym.st_size;
		}
	}
	return best;
}

/*
 * Where the @size bytes at address @addr lie in the file: an executable
 * PT_LOAD segment must hold them. 0 or -ENOENT.
 */
static int code_file_offset(Elf *elf, unsigned long long addr, size_t size,
			    unsigned long long *off)
{
	size_t i, nphdr;

	if (elf_getphdrnum(elf, &nphdr))
		return -ENOENT;
	for (i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_LOAD ||
		    !(phdr.p_flags & PF_X) || addr < phdr.p_vaddr ||
		    addr + size > phdr.p_vaddr + phdr.p_filesz)
			continue;
		*off = addr - phdr.p_vaddr + phdr.p_offset;
		return 0;
	}
	return -ENOENT;
}

int elf_function_code(const char *path, unsigned long long addr, unsigned char *buf, size_t cap,
		      size_t *len)
{
	unsigned long long off;
	size_t size, raw_size;
	int fd, err = -ENOENT;
	char *raw;
	Elf *elf;

	*len = 0;
	elf = elf_open(path, &fd, &err);
	if (!elf)
		return err;
	size = function_size(elf, addr);
	raw = elf_rawfile(elf, &raw_size);
	if (!size || !raw || code_file_offset(elf, addr, size, &off) || off + size > raw_size) {
		err = -ENOENT;
		goto cleanup;
	}
	err = size > cap ? -EFBIG : 0;
	*len = size < cap ? size : cap;
	memcpy(buf, raw + off, *len);
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

int elf_code_offset(const char *path, unsigned long long addr, unsigned long long *off)
{
	int fd, err = 0;
	Elf *elf;

	elf = elf_open(path, &fd, &err);
	if (!elf)
		return err;
	err = code_file_offset(elf, addr, 1, off);
	elf_end(elf);
	close(fd);
	return err;
}
