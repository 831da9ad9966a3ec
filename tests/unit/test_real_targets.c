// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Unit tests of what real targets need: Go binaries recognised by their build
 * info (synthetic sections, /bin/true, and the Go workload when it is built),
 * a Go program reported with no malloc to probe, finding the file a process
 * mapped by path, device and inode, and IFUNCs in the malloc family.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "attach/allocator.h"
#include "attach/allocator_check.h"
#include "attach/mapped_file.h"
#include "sys/fileio.h"
#include "sys/go_binary.h"
#include "tap.h"

#define GO_WORKLOAD ".output/workloads/go_heap"

/* A .go.buildinfo section of Go 1.18 on: magic, pointer size, flags, inline version. */
static size_t buildinfo(unsigned char *buf, unsigned char flags, const char *version)
{
	size_t len = strlen(version);

	memset(buf, 0, 64);
	memcpy(buf, "\xff Go buildinf:", 14);
	buf[14] = 8;
	buf[15] = flags;
	buf[32] = len;
	memcpy(buf + 33, version, len);
	return 33 + len;
}

static void test_buildinfo(void)
{
	unsigned char buf[64];
	char version[32];
	size_t size;

	size = buildinfo(buf, 0x2, "go1.19.8");
	ASSERT_OK(go_buildinfo_version(buf, size, version, sizeof(version)), "buildinfo: inline, 0");
	ASSERT_STREQ(version, "go1.19.8", "buildinfo: the version");
	ASSERT_EQ(go_buildinfo_version(buf, size - 1, version, sizeof(version)), -ENOENT,
		  "buildinfo: a truncated string is refused");
	ASSERT_EQ(go_buildinfo_version(buf, size, version, 8), -ENOENT,
		  "buildinfo: a version longer than the buffer is refused");
	size = buildinfo(buf, 0x0, "go1.17");
	ASSERT_EQ(go_buildinfo_version(buf, size, version, sizeof(version)), -ENOENT,
		  "buildinfo: the pointer format (before 1.18) has no inline version");
	ASSERT_STREQ(version, "", "buildinfo: and leaves it empty");
	size = buildinfo(buf, 0x2, "hello");
	ASSERT_EQ(go_buildinfo_version(buf, size, version, sizeof(version)), -ENOENT,
		  "buildinfo: a string that is no Go version is refused");
	size = buildinfo(buf, 0x2, "go1.21.0");
	buf[1] = 'X';
	ASSERT_EQ(go_buildinfo_version(buf, size, version, sizeof(version)), -ENOENT,
		  "buildinfo: a wrong magic is refused");
	ASSERT_EQ(go_buildinfo_version(buf, 16, version, sizeof(version)), -ENOENT,
		  "buildinfo: a short section is refused");
}

static void test_go_binary(void)
{
	struct allocator a;
	char version[32];

	ASSERT_EQ(go_binary_version("/bin/true", version, sizeof(version)), 0,
		  "go binary: /bin/true is not Go");
	ASSERT_EQ(go_binary_version("tests/unit/fixtures/status_normal", version, sizeof(version)),
		  0, "go binary: a text file is not Go");
	ASSERT_EQ(go_binary_version("/nonexistent", version, sizeof(version)), -ENOENT,
		  "go binary: a missing file is an error");
	if (access(GO_WORKLOAD, X_OK)) {
		tap_skip("go binary: the Go workload", GO_WORKLOAD " not built (no go here)");
		return;
	}
	ASSERT_EQ(go_binary_version(GO_WORKLOAD, version, sizeof(version)), 1,
		  "go binary: the Go workload is Go");
	ASSERT_TRUE(!strncmp(version, "go1.", 4), "go binary: its toolchain version");
	ASSERT_EQ(allocator_of_command(GO_WORKLOAD, NULL, &a), -ENOENT,
		  "go binary: no malloc to probe");
	ASSERT_TRUE(!strcmp(a.go_runtime, version), "go binary: and the allocator says Go");
	ASSERT_OK(allocator_of_command("/bin/true", NULL, &a), "go binary: /bin/true has libc");
	ASSERT_STREQ(a.go_runtime, "", "go binary: and no Go runtime");
}

static const char maps[] =
	"55b0cf7d9000-55b0cf7dc000 r--p 00000000 fe:00 248030                     /usr/bin/sed\n"
	"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
	"7f1000000000-7f1000026000 r--p 00000000 00:27 3                          "
	"/tmp/ns/lib/libc.so.6 (deleted)\n"
	"7f1000026000-7f100017b000 r-xp 00026000 00:27 3                          "
	"/tmp/ns/lib/libc.so.6 (deleted)\n"
	"7f2000000000-7f2000026000 r--p 00000000 fe:01 332835                     "
	"/usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f3000000000-7f3000001000 r--p 00000000 fe:01 99                         "
	"/usr/lib/x86_64-linux-gnu/libc.so.6.bak\n";

static void test_maps_find_file(void)
{
	unsigned long long start, end;
	struct file_id id;

	ASSERT_OK(maps_find_file(maps, "/usr/lib/x86_64-linux-gnu/libc.so.6", &id, &start, &end),
		  "maps_find_file: found");
	ASSERT_EQ(id.major, 0xfe, "maps_find_file: device major");
	ASSERT_EQ(id.minor, 0x01, "maps_find_file: device minor");
	ASSERT_EQ(id.inode, 332835, "maps_find_file: inode");
	ASSERT_EQ(start, 0x7f2000000000ULL, "maps_find_file: the first mapping's start");
	ASSERT_EQ(end, 0x7f2000026000ULL, "maps_find_file: and end");
	ASSERT_OK(maps_find_file(maps, "/tmp/ns/lib/libc.so.6", &id, &start, &end),
		  "maps_find_file: a deleted file by its path");
	ASSERT_EQ(id.minor << 16 | id.inode, 0x27 << 16 | 3, "maps_find_file: its device and inode");
	ASSERT_EQ(maps_find_file(maps, "/usr/lib/x86_64-linux-gnu/libc.so", &id, &start, &end),
		  -ENOENT, "maps_find_file: a prefix of a path is not the path");
	ASSERT_EQ(maps_find_file(maps, "/tmp/ns/lib/libc.so.6 (del", &id, &start, &end),
		  -ENOENT, "maps_find_file: nor a prefix of the deleted mark");
	ASSERT_EQ(maps_find_file("", "/usr/bin/sed", &id, &start, &end), -ENOENT,
		  "maps_find_file: empty maps");
}

/* This very process: what its maps say of its executable is what stat says. */
static void test_self(void)
{
	struct file_id from_maps, from_stat;
	unsigned long long start, end;
	char exe[PATH_MAX], *text;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (!ASSERT_TRUE(n > 0, "self: readlink /proc/self/exe"))
		return;
	exe[n] = '\0';
	text = read_path("/proc/self/maps", NULL);
	if (!ASSERT_TRUE(text, "self: read /proc/self/maps"))
		return;
	ASSERT_OK(maps_find_file(text, exe, &from_maps, &start, &end), "self: the exe is mapped");
	free(text);
	ASSERT_OK(file_id_of(exe, &from_stat), "self: stat the exe");
	ASSERT_TRUE(file_id_equal(&from_maps, &from_stat), "self: same device and inode");
	ASSERT_EQ(file_id_of("/nonexistent", &from_stat), -ENOENT, "self: a missing file");
}

/* glibc has IFUNCs (memcpy, strlen) but none in the malloc family: nothing is dropped. */
static void test_no_ifuncs(void)
{
	unsigned long long before[MW_FUNC_NR];
	struct allocator a;

	if (!ASSERT_OK(allocator_of_command("/bin/true", NULL, &a), "ifuncs: /bin/true's libc"))
		return;
	memcpy(before, a.addrs, sizeof(before));
	ASSERT_OK(allocator_drop_ifuncs(&a), "ifuncs: libc's malloc and free are plain functions");
	ASSERT_TRUE(!memcmp(before, a.addrs, sizeof(before)), "ifuncs: no function dropped");
	ASSERT_STREQ(a.unprobed, "", "ifuncs: nothing to say");
}

int main(void)
{
	test_buildinfo();
	test_go_binary();
	test_maps_find_file();
	test_self();
	test_no_ifuncs();
	return tap_done();
}
