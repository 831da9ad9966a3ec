/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Shared libraries opened when first needed rather than at startup.
 *
 * Every library linked into memwatch is mapped and relocated before main()
 * runs, at the caller's priority: next to a busy target that delay counted
 * for more than half of an attach (capstone and libmicrohttpd with
 * GnuTLS cost 10 ms of CPU, 180 ms of wall time beside 16 busy threads).
 * Opened later, they load after memwatch has raised its priority, and only
 * when used.
 */
#ifndef MW_LAZY_LIB_H
#define MW_LAZY_LIB_H

#include <stddef.h>

/* One function of a lazy library: its name, and where its address goes. */
struct lazy_sym {
	const char *name;
	void **addr;
};

#define LAZY_SYM(fn) { #fn, (void **)&sym_##fn }

struct lazy_lib {
	const char *soname;
	const struct lazy_sym *syms;
	size_t nsyms;
	void *handle;		/* NULL until opened */
	int err;		/* the first attempt's result, kept: it is not retried */
	char why[256];		/* what failed, for the caller's message */
};

/*
 * Opens @lib and resolves all its functions, once: later calls return the
 * first result. 0, or -ENOENT with @lib->why saying what is missing.
 * Called from one thread (memwatch's main thread) only.
 */
int lazy_lib_open(struct lazy_lib *lib);

#endif /* MW_LAZY_LIB_H */
