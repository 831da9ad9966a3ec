// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "sys/elf_file.h"
#include "sys/go_binary.h"

/* The header of .go.buildinfo: magic, pointer size, flags; inline strings from offset 32. */
static const char buildinfo_magic[] = "\xff Go buildinf:";
#define BUILDINFO_MAGIC_LEN 14
#define BUILDINFO_FLAGS 15
#define BUILDINFO_INLINE 0x2
#define BUILDINFO_STRINGS 32

int go_buildinfo_version(const unsigned char *data, size_t size, char *version, size_t len)
{
	unsigned long long n = 0;
	size_t off = BUILDINFO_STRINGS;
	int shift;

	version[0] = '\0';
	if (size < BUILDINFO_STRINGS || memcmp(data, buildinfo_magic, BUILDINFO_MAGIC_LEN) ||
	    !(data[BUILDINFO_FLAGS] & BUILDINFO_INLINE))
		return -ENOENT;
	/* a uvarint length, then the bytes */
	for (shift = 0; off < size && shift < 64; shift += 7) {
		unsigned char b = data[off++];

		n |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	if (!n || n > size - off || n >= len)
		return -ENOENT;
	memcpy(version, data + off, n);
	version[n] = '\0';
	/* the toolchain writes "go1.x", a go.mod toolchain line "devel ..." or "go1.x-..." */
	return strncmp(version, "go", 2) && strncmp(version, "devel", 5) ? -ENOENT : 0;
}

static bool has_runtime_main(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr)
{
	size_t i, nsyms = elf_symbol_count(elf, shdr);
	Elf_Data *data = nsyms ? elf_getdata(scn, NULL) : NULL;

	if (!data)
		return false;

	for (i = 0; i < nsyms; i++) {
		const char *name;
		GElf_Sym sym;

		if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (name && !strcmp(name, "runtime.main"))
			return true;
	}
	return false;
}

int go_binary_version(const char *path, char *version, size_t len)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int fd, found = 0;
	Elf *elf;

	version[0] = '\0';
	elf = elf_file_open(path, &fd, &found);
	/* a file that opens but is no ELF file memwatch reads is no Go program either */
	if (!elf)
		return found == -ENOEXEC || -found >= MW_ELF_NOT64 ? 0 : found;
	if (elf_getshdrstrndx(elf, &shstrndx))
		goto cleanup;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		Elf_Data *data;
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".go.buildinfo")) {
			found = 1;
			data = shdr.sh_type == SHT_NOBITS ? NULL : elf_getdata(scn, NULL);
			if (data && data->d_buf)
				go_buildinfo_version(data->d_buf, data->d_size, version, len);
		} else if (!strcmp(name, ".gopclntab") || !strcmp(name, ".note.go.buildid") ||
			   (shdr.sh_type == SHT_SYMTAB && has_runtime_main(elf, scn, &shdr))) {
			found = 1;
		}
	}
cleanup:
	elf_file_close(elf, fd);
	return found;
}
