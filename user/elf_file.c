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
