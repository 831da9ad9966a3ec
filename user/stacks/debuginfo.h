/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A module's separate debug file, where Debian's -dbgsym packages put it:
 * /usr/lib/debug/.build-id/xx/rest.debug, named by the module's build ID,
 * in the target's root. Never by the module's .gnu_debuglink: that is a
 * path the target's file names, where the build ID names only a file that
 * must prove to be the module's.
 */
#ifndef MW_DEBUGINFO_H
#define MW_DEBUGINFO_H

#include <elfutils/libdwfl.h>

/*
 * The debug file of @mod in the root @root_fd, opened with
 * safe_open_in_root(), if it is at most DEBUGINFO_MAX_BYTES and has @mod's
 * build ID; its path in *@name (malloc'd). The descriptor, or -errno
 * (-ENOENT: none there, -ESTALE: another build's, -EFBIG: too big).
 */
int debuginfo_open(Dwfl_Module *mod, int root_fd, char **name);

#endif /* MW_DEBUGINFO_H */
