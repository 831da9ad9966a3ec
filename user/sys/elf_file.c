// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sys/elf_file.h"
#include "sys/safe_open.h"

/* Whether @len bytes at @off stay inside the @size bytes of the file. */
static bool in_file(unsigned long long off, unsigned long long len, size_t size)
{
	return off <= size && len <= size - off;
}

static bool section_in_file(const GElf_Shdr *shdr, size_t size)
{
	return shdr->sh_type == SHT_NOBITS || in_file(shdr->sh_offset, shdr->sh_size, size);
}

#if defined(__x86_64__)
#define MW_ELF_HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define MW_ELF_HOST_MACHINE EM_AARCH64
#endif

/*
 * 0 when the file is 64-bit code of this machine whose header tables,
 * segments and sections all lie inside it: what is read later is then only
 * checked against the section or segment that holds it.
 */
static int elf_check_layout(Elf *elf)
{
	size_t size, i, count;
	Elf_Scn *scn = NULL;
	GElf_Ehdr ehdr;

	if (!elf_rawfile(elf, &size) || !gelf_getehdr(elf, &ehdr))
		return -ENOEXEC;
	if (gelf_getclass(elf) != ELFCLASS64)
		return -MW_ELF_NOT64;
	if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB || ehdr.e_machine != MW_ELF_HOST_MACHINE)
		return -MW_ELF_MACHINE;
	if (elf_getphdrnum(elf, &count) ||
	    !in_file(ehdr.e_phoff, (unsigned long long)count * ehdr.e_phentsize, size))
		return -MW_ELF_TRUNCATED;
	for (i = 0; i < count; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, i, &phdr) || !in_file(phdr.p_offset, phdr.p_filesz, size))
			return -MW_ELF_TRUNCATED;
	}
	if (elf_getshdrnum(elf, &count) ||
	    !in_file(ehdr.e_shoff, (unsigned long long)count * ehdr.e_shentsize, size))
		return -MW_ELF_TRUNCATED;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr) || !section_in_file(&shdr, size))
			return -MW_ELF_TRUNCATED;
	}
	return 0;
}

Elf *elf_file_open(const char *path, int *fd, int *err)
{
	struct stat st;
	Elf *elf = NULL;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = -EINVAL;
		return NULL;
	}
	*fd = safe_open(AT_FDCWD, path, 0, &st);
	if (*fd < 0) {
		*err = *fd;
		return NULL;
	}
	if (st.st_size > (off_t)MW_ELF_SIZE_MAX) {
		*err = -EFBIG;
		goto fail;
	}
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		*err = -ENOEXEC;
		goto fail;
	}
	*err = elf_check_layout(elf);
	if (!*err)
		return elf;
fail:
	if (elf)
		elf_end(elf);
	close(*fd);
	*fd = -1;
	return NULL;
}

void elf_file_close(Elf *elf, int fd)
{
	elf_end(elf);
	close(fd);
}

const char *elf_strerror(int err)
{
	struct stat st = { 0 };

	switch (-err) {
	case ENOEXEC:
		return "not an ELF file";
	case EFBIG:
		return "larger than the 1 GiB memwatch maps";
	case MW_ELF_NOT64:
		return "a 32-bit ELF file, memwatch probes 64-bit code";
	case MW_ELF_MACHINE:
		return "an ELF file for another machine";
	case MW_ELF_TRUNCATED:
		return "truncated: its headers point past its end";
	case MW_ENOTREG:
		/* the kind is unknown here: say what matters */
		return safe_open_strerror(err, &st);
	}
	return strerror(-err);
}

size_t elf_symbol_count(Elf *elf, const GElf_Shdr *shdr)
{
	GElf_Shdr strtab;
	Elf_Scn *link;
	size_t size;

	if ((shdr->sh_type != SHT_SYMTAB && shdr->sh_type != SHT_DYNSYM) ||
	    shdr->sh_entsize != gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT) ||
	    !elf_rawfile(elf, &size) || !section_in_file(shdr, size))
		return 0;
	link = elf_getscn(elf, shdr->sh_link);
	if (!link || !gelf_getshdr(link, &strtab) || strtab.sh_type != SHT_STRTAB ||
	    !section_in_file(&strtab, size))
		return 0;
	return shdr->sh_size / shdr->sh_entsize;
}

int elf_interpreter(const char *path, char *interp, size_t len)
{
	size_t i, nphdr;
	int fd, err = 0;
	Elf *elf;

	interp[0] = '\0';
	elf = elf_file_open(path, &fd, &err);
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
		if (!raw || !in_file(phdr.p_offset, phdr.p_filesz, size) || !phdr.p_filesz) {
			err = -ENOEXEC;
			goto cleanup;
		}
		snprintf(interp, len, "%.*s", (int)phdr.p_filesz, raw + phdr.p_offset);
		break;
	}
cleanup:
	elf_file_close(elf, fd);
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
	size_t i, j, nsyms = elf_symbol_count(elf, shdr);
	Elf_Data *data = nsyms ? elf_getdata(scn, NULL) : NULL;

	if (!data)
		return;
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
	elf = elf_file_open(path, &fd, &err);
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
	elf_file_close(elf, fd);
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

		if (!gelf_getshdr(scn, &shdr))
			continue;
		nsyms = elf_symbol_count(elf, &shdr);
		data = nsyms ? elf_getdata(scn, NULL) : NULL;
		if (!data)
			continue;
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
	size_t i, nphdr, file_size;

	if (!elf_rawfile(elf, &file_size) || elf_getphdrnum(elf, &nphdr))
		return -ENOENT;
	for (i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_LOAD ||
		    !(phdr.p_flags & PF_X) || !in_file(phdr.p_offset, phdr.p_filesz, file_size) ||
		    addr < phdr.p_vaddr || !in_file(addr - phdr.p_vaddr, size, phdr.p_filesz))
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
	elf = elf_file_open(path, &fd, &err);
	if (!elf)
		return err;
	size = function_size(elf, addr);
	raw = elf_rawfile(elf, &raw_size);
	if (!size || !raw || code_file_offset(elf, addr, size, &off) ||
	    !in_file(off, size, raw_size)) {
		err = -ENOENT;
		goto cleanup;
	}
	err = size > cap ? -EFBIG : 0;
	*len = size < cap ? size : cap;
	memcpy(buf, raw + off, *len);
cleanup:
	elf_file_close(elf, fd);
	return err;
}

int elf_code_offset(const char *path, unsigned long long addr, unsigned long long *off)
{
	int fd, err = 0;
	Elf *elf;

	elf = elf_file_open(path, &fd, &err);
	if (!elf)
		return err;
	err = code_file_offset(elf, addr, 1, off);
	elf_file_close(elf, fd);
	return err;
}
