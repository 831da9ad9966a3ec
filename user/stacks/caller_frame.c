// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdbool.h>
#include <string.h>
#include "stacks/caller_frame.h"

/*
 * The C++ runtimes' files, where operator new calls malloc (and, not
 * inlined, the containers' growth: std::string's among them): by the start
 * of the module's file name, whatever its version suffix.
 */
static const char *const cxx_runtimes[] = { "libstdc++.so", "libc++.so", "libc++abi.so" };

static bool cxx_runtime(Dwfl_Module *mod)
{
	const char *path, *name;
	size_t i;

	path = mod ? dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL) : NULL;
	if (!path)
		return false;
	name = strrchr(path, '/');
	name = name ? name + 1 : path;
	for (i = 0; i < sizeof(cxx_runtimes) / sizeof(*cxx_runtimes); i++) {
		if (!strncmp(name, cxx_runtimes[i], strlen(cxx_runtimes[i])))
			return true;
	}
	return false;
}

/*
 * By module, not by symbol: a module is an address lookup, cheap on the path
 * of a new site, where a name would be a symbol table's search; and glibc's
 * allocator and syscall wrappers have many names (malloc, __libc_malloc,
 * _int_malloc, sysmalloc, __sbrk, brk, __mmap), which would need a list.
 */
int stack_caller(Dwfl *dwfl, const __u64 *pcs, int n)
{
	Dwfl_Module *allocator = dwfl_addrmodule(dwfl, pcs[0]), *mod;
	int i;

	for (i = 1; i < n; i++) {
		mod = dwfl_addrmodule(dwfl, pcs[i]);
		if (mod != allocator && !cxx_runtime(mod))
			return i;
	}
	return n > 1;
}
