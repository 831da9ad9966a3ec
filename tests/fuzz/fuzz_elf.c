// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer target: the ELF interpreter and symbol lookups, on a file in memory. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "attach/allocator.h"
#include "sys/elf_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long addrs[MW_FUNC_NR];
	char path[64], interp[PATH_MAX];
	int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		elf_interpreter(path, interp, sizeof(interp));
		elf_defined_functions(path, allocator_functions, MW_FUNC_NR, addrs);
	}
	close(fd);
	return 0;
}
