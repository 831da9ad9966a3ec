// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <libelf.h>
#include "output/escape.h"
#include "stacks/debuginfo.h"
#include "sys/log.h"
#include "sys/safe_open.h"

#define BUILD_ID_DIR "/usr/lib/debug/.build-id/"
/* GNU ld's build IDs are 20 bytes (sha1), lld's up to 32: a longer one names no path here */
#define BUILD_ID_MAX 64

/*
 * libdw reads the debug sections it needs into memwatch's memory (inflated
 * when compressed, as dh_strip compresses them), and the file is the
 * target's: one beyond this is not read, its module symbolized from its own
 * tables (.symtab, .dynsym, .gnu_debugdata).
 */
#define DEBUGINFO_MAX_BYTES (1ULL << 30)

/*
 * The bytes @elf's sections take in memory once read, compressed ones
 * inflated: their headers say what they inflate to, which the target wrote.
 */
static unsigned long long sections_bytes(Elf *elf)
{
	unsigned long long bytes = 0;
	Elf_Scn *scn = NULL;
	GElf_Chdr chdr;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		if ((sh.sh_flags & SHF_COMPRESSED) && gelf_getchdr(scn, &chdr))
			bytes += chdr.ch_size;
		else
			bytes += sh.sh_size;
	}
	return bytes;
}

/*
 * 0 when the ELF file @fd has the build ID @id (libdwfl takes the file a
 * find_debuginfo callback returns as it is, and symbols of another build of
 * the module would name the wrong functions without a word) and its
 * sections, inflated, fit DEBUGINFO_MAX_BYTES; else -ESTALE or -EFBIG.
 */
static int debug_file_check(int fd, const unsigned char *id, int len)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *got;
	int err = 0;

	if (!elf)
		return -ESTALE;
	if (dwelf_elf_gnu_build_id(elf, &got) != len || memcmp(got, id, len))
		err = -ESTALE;
	else if (sections_bytes(elf) > DEBUGINFO_MAX_BYTES)
		err = -EFBIG;
	elf_end(elf);
	return err;
}

int debuginfo_open(Dwfl_Module *mod, int root_fd, char **name)
{
	char path[sizeof(BUILD_ID_DIR) + 2 * BUILD_ID_MAX + sizeof("/.debug")], *p = path;
	const unsigned char *id;
	const char *modname;
	GElf_Addr vaddr;
	struct stat st;
	int len, i, fd, err;

	len = dwfl_module_build_id(mod, &id, &vaddr);
	if (len < 2 || len > BUILD_ID_MAX)
		return -ENOENT;
	p += sprintf(p, BUILD_ID_DIR "%02x/", id[0]);
	for (i = 1; i < len; i++)
		p += sprintf(p, "%02x", id[i]);
	strcpy(p, ".debug");

	modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL) ?: "";
	fd = safe_open_in_root(root_fd, path, &st);
	if (fd < 0)
		return fd;
	if ((unsigned long long)st.st_size > DEBUGINFO_MAX_BYTES) {
		vlog("stacks: %s: debug file %s has %lld bytes, more than %llu: not read",
		     ESC(modname, PATH_MAX), path, (long long)st.st_size, DEBUGINFO_MAX_BYTES);
		err = -EFBIG;
		goto fail;
	}
	err = debug_file_check(fd, id, len);
	if (err) {
		vlog("stacks: %s: debug file %s %s: not read", ESC(modname, PATH_MAX), path,
		     err == -EFBIG ? "inflates past 1 GiB" : "has another build ID");
		goto fail;
	}
	*name = strdup(path);
	if (!*name) {
		err = -ENOMEM;
		goto fail;
	}
	vlog("stacks: %s: debug file %s", ESC(modname, PATH_MAX), path);
	return fd;

fail:
	close(fd);
	return err;
}
