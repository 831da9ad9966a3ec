// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include "sys/lazy_lib.h"

int lazy_lib_open(struct lazy_lib *lib)
{
	const char *err;
	size_t i;

	if (lib->handle || lib->err)
		return lib->err;
	/* RTLD_LOCAL: its symbols are reached through the table only */
	lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		err = dlerror();
		snprintf(lib->why, sizeof(lib->why), "%s", err ? err : lib->soname);
		goto fail;
	}
	for (i = 0; i < lib->nsyms; i++) {
		*lib->syms[i].addr = dlsym(lib->handle, lib->syms[i].name);
		if (!*lib->syms[i].addr) {
			snprintf(lib->why, sizeof(lib->why), "%s: no %s", lib->soname,
				 lib->syms[i].name);
			dlclose(lib->handle);
			lib->handle = NULL;
			goto fail;
		}
	}
	return 0;
fail:
	lib->err = -ENOENT;
	return lib->err;
}
