// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* command_resolve against a PATH of temporary directories, as execvp searches it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "attach/target.h"
#include "sys/log.h"
#include "tap.h"

/* main.o is not linked: the library objects' log flag, unless one of them defines it */


static char top[64], dir1[128], dir2[128], cwd[PATH_MAX];
static char path[PATH_MAX], want[PATH_MAX], pathenv[512];

/*
 * ASSERT_STREQ on a PATH_MAX array trips -Wformat-truncation in its 512-byte
 * message buffer; an opaque pointer keeps the compiler from sizing the string.
 */
static __attribute__((noinline)) const char *str(const char *s)
{
	return s;
}

#define PATH_STREQ(got, want, name) ASSERT_STREQ(str(got), str(want), name)

static bool make_file(const char *dir, const char *name, mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return false;
	if (write(fd, "#!/bin/sh\n", 10) != 10) {
		close(fd);
		return false;
	}
	close(fd);
	return !chmod(p, mode);
}

static __attribute__((format(printf, 1, 2))) void set_path(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pathenv, sizeof(pathenv), fmt, ap);
	va_end(ap);
	setenv("PATH", pathenv, 1);
}

/* dir1: mwtool (0755), mwnoexec (0644), mwboth (0644), mwdir/; dir2: mwboth (0755) */
static bool setup(void)
{
	char p[256];

	snprintf(top, sizeof(top), "/tmp/mw-unit-resolve-XXXXXX");
	if (!mkdtemp(top))
		return false;
	snprintf(dir1, sizeof(dir1), "%s/one", top);
	snprintf(dir2, sizeof(dir2), "%s/two dir", top);
	snprintf(p, sizeof(p), "%s/mwdir", dir1);
	return !mkdir(dir1, 0755) && !mkdir(dir2, 0755) && !mkdir(p, 0755) &&
	       make_file(dir1, "mwtool", 0755) && make_file(dir1, "mwnoexec", 0644) &&
	       make_file(dir1, "mwboth", 0644) && make_file(dir2, "mwboth", 0755);
}

static void cleanup(void)
{
	static const char *const files[] = {
		"one/mwtool", "one/mwnoexec", "one/mwboth", "two dir/mwboth",
	};
	char p[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", top, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/mwdir", dir1);
	rmdir(p);
	rmdir(dir1);
	rmdir(dir2);
	rmdir(top);
}

static void test_search(void)
{
	set_path("/nonexistent-mw:%s:%s", dir1, dir2);
	ASSERT_OK(command_resolve("mwtool", path, sizeof(path)), "search: executable found");
	snprintf(want, sizeof(want), "%s/mwtool", dir1);
	PATH_STREQ(path, want, "search: full path of the executable");

	ASSERT_EQ(command_resolve("mwnoexec", path, sizeof(path)), -EACCES,
		  "search: not executable is -EACCES");
	ASSERT_EQ(command_resolve("mwmissing", path, sizeof(path)), -ENOENT,
		  "search: missing is -ENOENT");
	ASSERT_EQ(command_resolve("mwdir", path, sizeof(path)), -EACCES,
		  "search: a directory is -EACCES, like execvp");

	/* a later executable wins over an earlier non-executable file */
	ASSERT_OK(command_resolve("mwboth", path, sizeof(path)), "search: later executable found");
	snprintf(want, sizeof(want), "%s/mwboth", dir2);
	PATH_STREQ(path, want, "search: directory with a space in PATH");

	set_path("%s/:%s", dir1, dir2);
	ASSERT_OK(command_resolve("mwtool", path, sizeof(path)), "search: PATH entry ending in /");
	snprintf(want, sizeof(want), "%s//mwtool", dir1);
	PATH_STREQ(path, want, "search: path joined as given");

	set_path("%s", dir1);
	ASSERT_EQ(command_resolve("mwtool", path, 8), -ENOENT,
		  "search: a candidate longer than the buffer is skipped");
}

static void test_slash(void)
{
	set_path("/nonexistent-mw");
	snprintf(want, sizeof(want), "%s/mwtool", dir1);
	ASSERT_OK(command_resolve(want, path, sizeof(path)), "slash: absolute executable");
	PATH_STREQ(path, want, "slash: path is the command itself");
	snprintf(want, sizeof(want), "%s/mwnoexec", dir1);
	ASSERT_EQ(command_resolve(want, path, sizeof(path)), -EACCES,
		  "slash: absolute non-executable is -EACCES");
	snprintf(want, sizeof(want), "%s/mwmissing", dir1);
	ASSERT_EQ(command_resolve(want, path, sizeof(path)), -ENOENT,
		  "slash: absolute missing is -ENOENT");
	snprintf(want, sizeof(want), "%s/mwdir", dir1);
	ASSERT_EQ(command_resolve(want, path, sizeof(path)), -EACCES,
		  "slash: a directory is -EACCES");
	snprintf(want, sizeof(want), "%s/mwtool", dir1);
	ASSERT_EQ(command_resolve(want, path, 8), -ENAMETOOLONG,
		  "slash: longer than the buffer is -ENAMETOOLONG");

	if (!ASSERT_OK(chdir(dir1), "slash: chdir"))
		return;
	ASSERT_OK(command_resolve("./mwtool", path, sizeof(path)), "slash: ./mwtool");
	ASSERT_STREQ(str(path), "./mwtool", "slash: relative path kept");
	/* with a slash PATH is not searched, even if it has the name */
	set_path("%s", dir1);
	ASSERT_EQ(command_resolve("../one/mwmissing", path, sizeof(path)), -ENOENT,
		  "slash: relative missing is -ENOENT");
	ASSERT_EQ(chdir(cwd), 0, "slash: chdir back");
}

/* POSIX: an empty PATH entry (leading, "::" or trailing colon) is the current directory. */
static void test_empty_entry(void)
{
	if (!ASSERT_OK(chdir(dir1), "empty entry: chdir"))
		return;
	set_path(":/nonexistent-mw");
	ASSERT_OK(command_resolve("mwtool", path, sizeof(path)), "empty entry: leading colon");
	ASSERT_STREQ(str(path), "mwtool", "empty entry: leading colon, path in cwd");
	set_path("/nonexistent-mw::/nonexistent-mw2");
	ASSERT_OK(command_resolve("mwtool", path, sizeof(path)), "empty entry: double colon");
	ASSERT_STREQ(str(path), "mwtool", "empty entry: double colon, path in cwd");
	set_path("/nonexistent-mw:");
	ASSERT_OK(command_resolve("mwtool", path, sizeof(path)), "empty entry: trailing colon");
	ASSERT_STREQ(str(path), "mwtool", "empty entry: trailing colon, path in cwd");
	/* glibc's execvp searches only the current directory when PATH is "" */
	set_path("%s", "");
	ASSERT_OK(command_resolve("mwtool", path, sizeof(path)), "empty entry: PATH=\"\"");
	set_path("/nonexistent-mw");
	ASSERT_EQ(command_resolve("mwtool", path, sizeof(path)), -ENOENT,
		  "empty entry: no empty entry, cwd not searched");
	set_path(":/nonexistent-mw");
	ASSERT_EQ(command_resolve("mwnoexec", path, sizeof(path)), -EACCES,
		  "empty entry: non-executable in cwd is -EACCES");
	ASSERT_EQ(chdir(cwd), 0, "empty entry: chdir back");
}

static void test_unset(void)
{
	unsetenv("PATH");
	ASSERT_OK(command_resolve("sh", path, sizeof(path)), "unset PATH: sh found in a default");
	ASSERT_TRUE(!strcmp(path, "/usr/bin/sh") || !strcmp(path, "/bin/sh"),
		    "unset PATH: sh in /usr/bin or /bin");
	ASSERT_EQ(command_resolve("mwtool", path, sizeof(path)), -ENOENT,
		  "unset PATH: cwd not searched");
}

int main(void)
{
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	if (!ASSERT_TRUE(getcwd(cwd, sizeof(cwd)), "getcwd"))
		return tap_done();
	if (ASSERT_TRUE(setup(), "temporary directories")) {
		test_search();
		test_slash();
		test_empty_entry();
		if (chdir(dir1) == 0) {
			test_unset();
			if (chdir(cwd))
				ASSERT_TRUE(false, "chdir back");
		}
	}
	cleanup();
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	return tap_done();
}
