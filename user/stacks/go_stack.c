// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>
#include <gelf.h>
#include "stacks/go_stack.h"

/* Whether @elf has the section Go's linker always writes: its pc-line table. */
static bool has_gopclntab(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t names;
	const char *name;

	if (elf_getshdrstrndx(elf, &names))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, names, sh.sh_name) : NULL;
		if (name && !strcmp(name, ".gopclntab"))
			return true;
	}
	return false;
}

bool go_stack_switch(Dwfl_Module *mod, __u64 *start, __u64 *end)
{
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	const char *name;
	GElf_Addr addr;
	GElf_Sym sym;
	int i, n;

	/* a symbol table walk for Go programs only: a libc's has thousands */
	if (!elf || !has_gopclntab(elf))
		return false;
	n = dwfl_module_getsymtab(mod);
	for (i = 1; i < n; i++) {
		name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
		/* ABIInternal's name, or the assembly function's since Go 1.17 */
		if (!name || (strcmp(name, "runtime.systemstack") &&
			      strcmp(name, "runtime.systemstack.abi0")) || !sym.st_size)
			continue;
		*start = addr;
		*end = addr + sym.st_size;
		return true;
	}
	return false;
}
