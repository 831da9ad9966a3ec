// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Opening files someone else controls: inside a root of the test's making
 * (a directory whose absolute symlinks must stay in it), never a FIFO or a
 * device for reading, reads bounded; ELF files refused by their headers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sys/elf_file.h"
#include "sys/safe_open.h"
#include "tap.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static char top[] = "/tmp/mw-safe-open-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void link_to(const char *target, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", top, name);
	if (symlink(target, path))
		perror(path);
}

static void test_in_root(void)
{
	char path[256], buf[64];
	struct stat st;
	int root, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/etc", top);
	mkdir(path, 0755);
	put("etc/passwd", "the root's own\n");
	/* absolute, and climbing above the root: both stay inside it */
	link_to("/etc/passwd", "absolute");
	link_to("../../../../etc/passwd", "climbing");
	link_to("/proc/self/root/etc/passwd", "magic");
	snprintf(path, sizeof(path), "%s/fifo", top);
	mkfifo(path, 0600);
	link_to("/fifo", "to-fifo");
	link_to("/dev/zero", "to-zero");

	root = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!ASSERT_TRUE(root >= 0, "in root: the root opens"))
		return;
	fd = safe_open_in_root(root, "/absolute", &st);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	ASSERT_STREQ(buf, "the root's own\n", "in root: an absolute symlink names the root's file");
	if (fd >= 0)
		close(fd);
	fd = safe_open_in_root(root, "climbing", &st);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	ASSERT_STREQ(buf, "the root's own\n", "in root: .. stops at the root");
	if (fd >= 0)
		close(fd);
	ASSERT_TRUE(safe_open_in_root(root, "magic", &st) < 0, "in root: no /proc magic link");
	ASSERT_EQ(safe_open_in_root(root, "fifo", &st), -MW_ENOTREG, "in root: a FIFO, not opened");
	ASSERT_STREQ(safe_open_strerror(-MW_ENOTREG, &st), "a FIFO, not a regular file",
		     "in root: and said so");
	ASSERT_EQ(safe_open_in_root(root, "to-fifo", &st), -MW_ENOTREG,
		  "in root: a symlink to a FIFO, not opened");
	ASSERT_EQ(safe_open_in_root(root, "to-zero", &st), -ENOENT,
		  "in root: /dev/zero is the root's, which has none");
	ASSERT_TRUE(symlink_in_root(root, "to-zero"), "in root: that path is a symlink");
	ASSERT_TRUE(!symlink_in_root(root, "etc/passwd"), "in root: a file is no symlink");
	ASSERT_EQ(safe_open(AT_FDCWD, "/dev/zero", 0, &st), -MW_ENOTREG,
		  "own root: a device, not opened");
	ASSERT_STREQ(safe_open_strerror(-MW_ENOTREG, &st), "a character device, not a regular file",
		     "own root: and said so");
	ASSERT_EQ(safe_open(AT_FDCWD, top, 0, &st), -MW_ENOTREG, "own root: a directory");
	close(root);
}

static void test_read_max(void)
{
	char path[256], *text;
	struct stat st;
	size_t len;
	int fd;

	put("list", "12345678");
	snprintf(path, sizeof(path), "%s/list", top);
	fd = safe_open(AT_FDCWD, path, 0, &st);
	text = fd >= 0 ? read_fd_max(fd, 8, &len) : NULL;
	ASSERT_TRUE(text && len == 8 && !strcmp(text, "12345678"), "read max: 8 bytes of 8 read");
	free(text);
	if (fd >= 0)
		close(fd);
	fd = safe_open(AT_FDCWD, path, 0, &st);
	errno = 0;
	text = fd >= 0 ? read_fd_max(fd, 7, &len) : NULL;
	ASSERT_TRUE(!text && errno == EFBIG, "read max: 8 bytes over 7, EFBIG");
	free(text);
	if (fd >= 0)
		close(fd);
}

/* A copy of libc with @len bytes, byte @at set to @value (@at past the end: unchanged). */
static void libc_copy(const char *name, size_t len, size_t at, unsigned char value)
{
	static unsigned char image[4 << 20];
	char path[256];
	size_t n;
	FILE *f;

	f = fopen(LIBC, "r");
	n = f ? fread(image, 1, sizeof(image), f) : 0;
	if (f)
		fclose(f);
	if (at < n)
		image[at] = value;
	snprintf(path, sizeof(path), "%s/%s", top, name);
	f = fopen(path, "w");
	if (f) {
		fwrite(image, 1, len < n ? len : n, f);
		fclose(f);
	}
}

static int elf_error(const char *name)
{
	char path[256];
	int fd, err = 0;
	Elf *elf;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	elf = elf_file_open(path, &fd, &err);
	if (elf)
		elf_file_close(elf, fd);
	return err;
}

static void test_elf_refused(void)
{
	struct stat st;

	if (stat(LIBC, &st)) {
		tap_skip("elf refused", LIBC " missing");
		return;
	}
	libc_copy("whole", st.st_size, ~0UL, 0);
	libc_copy("half", st.st_size / 2, ~0UL, 0);
	libc_copy("elf32", st.st_size, 4, ELFCLASS32);
	libc_copy("big-endian", st.st_size, 5, ELFDATA2MSB);
	put("text", "#!/bin/sh\n");
	ASSERT_EQ(elf_error("whole"), 0, "elf: a whole libc opens");
	ASSERT_EQ(elf_error("half"), -MW_ELF_TRUNCATED, "elf: half of it is truncated");
	ASSERT_EQ(elf_error("elf32"), -MW_ELF_NOT64, "elf: a 32-bit class refused");
	ASSERT_EQ(elf_error("big-endian"), -MW_ELF_MACHINE, "elf: another byte order refused");
	ASSERT_EQ(elf_error("text"), -ENOEXEC, "elf: a script is no ELF file");
	ASSERT_EQ(elf_error("fifo"), -MW_ENOTREG, "elf: a FIFO is not opened");
	ASSERT_STREQ(elf_strerror(-MW_ELF_TRUNCATED), "truncated: its headers point past its end",
		     "elf: truncated, in words");
}

int main(void)
{
	char rm[64];

	if (!ASSERT_TRUE(mkdtemp(top), "a directory for the files"))
		return tap_done();
	test_in_root();
	test_read_max();
	test_elf_refused();
	snprintf(rm, sizeof(rm), "rm -rf %s", top);
	if (system(rm) == -1)
		perror("rm");
	return tap_done();
}
