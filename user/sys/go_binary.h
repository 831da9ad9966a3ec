/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Go programs: their heap is the Go runtime's own (mmap to grow, madvise to
 * return), with no malloc to probe, and uretprobes on Go code are unsafe (Go
 * moves goroutine stacks, which hold the return addresses a uretprobe rewrites).
 */
#ifndef MW_GO_BINARY_H
#define MW_GO_BINARY_H

#include <stddef.h>

/*
 * Whether the ELF file @path was built by the Go toolchain: it has a
 * .go.buildinfo, .gopclntab or .note.go.buildid section, or a runtime.main
 * symbol. @version gets the toolchain version ("go1.19.8") when the build
 * info holds it inline (Go 1.18 on), else "". 1 for Go, 0 if not, -errno.
 */
int go_binary_version(const char *path, char *version, size_t len);

/*
 * The version string of a .go.buildinfo section's @size bytes at @data, into
 * @version; 0, or -ENOENT when it is not in the inline (Go 1.18 on) format.
 */
int go_buildinfo_version(const unsigned char *data, size_t size, char *version, size_t len);

#endif /* MW_GO_BINARY_H */
