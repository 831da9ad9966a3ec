// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "attach/allocator.h"
#include "attach/allocator_check.h"
#include "output/escape.h"
#include "sys/elf_file.h"
#include "sys/log.h"

/* Marks in @ifunc the family functions defined in a symbol table as STT_GNU_IFUNC. */
static void scan_ifuncs(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, bool *ifunc)
{
	size_t i, nsyms = elf_symbol_count(elf, shdr);
	Elf_Data *data = nsyms ? elf_getdata(scn, NULL) : NULL;
	int j;

	if (!data)
		return;
	for (i = 0; i < nsyms; i++) {
		const char *name;
		GElf_Sym sym;

		if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		for (j = 0; name && j < MW_FUNC_NR; j++)
			ifunc[j] |= !strcmp(name, allocator_functions[j]);
	}
}

int allocator_drop_ifuncs(struct allocator *a)
{
	bool ifunc[MW_FUNC_NR] = { 0 };
	Elf_Scn *scn = NULL;
	int fd, i, err;
	Elf *elf;

	a->unprobed[0] = '\0';
	elf = elf_file_open(a->path, &fd, &err);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) &&
		    (shdr.sh_type == SHT_SYMTAB || shdr.sh_type == SHT_DYNSYM))
			scan_ifuncs(elf, scn, &shdr, ifunc);
	}
	if (elf)
		elf_file_close(elf, fd);
	if (ifunc[MW_FUNC_MALLOC] || ifunc[MW_FUNC_FREE]) {
		snprintf(a->unprobed, sizeof(a->unprobed),
			 "%s of %s is a GNU IFUNC, its code chosen at load time: not probed",
			 ifunc[MW_FUNC_MALLOC] ? "malloc" : "free", a->target_path);
		return -ENOTSUP;
	}
	for (i = 0; i < MW_FUNC_NR; i++) {
		if (ifunc[i] && a->addrs[i]) {
			elog("%s of %s is a GNU IFUNC, its code chosen at load time: not probed, "
			     "its calls are not counted", allocator_functions[i],
			     ESC(a->target_path, sizeof(a->target_path)));
			a->addrs[i] = 0;
		}
	}
	return 0;
}
