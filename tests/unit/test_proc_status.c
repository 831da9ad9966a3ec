// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * proc_status_parse on real /proc/PID/status texts (tests/unit/fixtures/status_*,
 * numbers adjusted to known values), and the live /proc readers of target.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attach/target.h"
#include "sys/log.h"
#include "tap.h"

/* main.o is not linked: the library objects' log flag, unless one of them defines it */


#define KIB 1024ULL



/* Parses fixture @name into @st; false (after a failed point) if it cannot. */
static bool parse_fixture(const char *name, struct proc_status *st)
{
	const char *t = fixture(name);
	char what[128];

	snprintf(what, sizeof(what), "%s: fixture readable", name);
	if (!ASSERT_TRUE(t, what))
		return false;
	snprintf(what, sizeof(what), "%s: parses", name);
	return ASSERT_OK(proc_status_parse(t, st), what);
}

static void test_normal(void)
{
	struct proc_status st;

	if (!parse_fixture("status_normal", &st))
		return;
	ASSERT_STREQ(st.name, "cat", "normal: name");
	/* NStgid "4242 1" (a container) comes later and must not win */
	ASSERT_EQ(st.tgid, 4242, "normal: tgid from Tgid, not NStgid");
	ASSERT_TRUE(st.has_mm, "normal: has_mm");
	ASSERT_EQ(st.rss_bytes, 10240 * KIB, "normal: rss_bytes = VmRSS * 1024");
	ASSERT_EQ(st.rss_anon_bytes, 8000 * KIB, "normal: rss_anon_bytes");
	ASSERT_EQ(st.rss_file_bytes, 2000 * KIB, "normal: rss_file_bytes");
	ASSERT_EQ(st.rss_shmem_bytes, 240 * KIB, "normal: rss_shmem_bytes");
}

static void test_large(void)
{
	struct proc_status st;

	if (!parse_fixture("status_large", &st))
		return;
	ASSERT_STREQ(st.name, "bigproc", "large: name");
	ASSERT_EQ(st.rss_bytes, 6442450944ULL, "large: 6 GiB VmRSS does not overflow");
	ASSERT_EQ(st.rss_anon_bytes, 6000000 * KIB, "large: rss_anon_bytes");
	ASSERT_EQ(st.rss_file_bytes, 291000 * KIB, "large: rss_file_bytes");
	ASSERT_EQ(st.rss_shmem_bytes, 456 * KIB, "large: rss_shmem_bytes");
}

static void test_zombie(void)
{
	struct proc_status st;

	if (!parse_fixture("status_zombie", &st))
		return;
	ASSERT_STREQ(st.name, "defunct-child", "zombie: name");
	ASSERT_EQ(st.tgid, 4243, "zombie: tgid");
	ASSERT_TRUE(!st.has_mm, "zombie: no VmRSS line, has_mm false");
	ASSERT_EQ(st.rss_bytes, 0, "zombie: rss_bytes 0");
	ASSERT_EQ(st.rss_anon_bytes, 0, "zombie: rss_anon_bytes 0");
	ASSERT_EQ(st.rss_file_bytes, 0, "zombie: rss_file_bytes 0");
	ASSERT_EQ(st.rss_shmem_bytes, 0, "zombie: rss_shmem_bytes 0");
}

static void test_kthread(void)
{
	struct proc_status st;

	if (!parse_fixture("status_kthread", &st))
		return;
	ASSERT_STREQ(st.name, "kthreadd", "kthread: name");
	ASSERT_EQ(st.tgid, 2, "kthread: tgid");
	ASSERT_TRUE(!st.has_mm, "kthread: has_mm false");
	ASSERT_EQ(st.rss_bytes, 0, "kthread: rss_bytes 0");
}

static void test_spaces(void)
{
	struct proc_status st;

	if (!parse_fixture("status_spaces", &st))
		return;
	ASSERT_STREQ(st.name, "my sleep prog", "spaces: name keeps its spaces");
	ASSERT_EQ(st.tgid, 5150, "spaces: tgid");
	ASSERT_TRUE(st.has_mm, "spaces: has_mm");
	ASSERT_EQ(st.rss_bytes, 1812 * KIB, "spaces: rss_bytes");
	ASSERT_EQ(st.rss_anon_bytes, 108 * KIB, "spaces: rss_anon_bytes");
	ASSERT_EQ(st.rss_file_bytes, 1704 * KIB, "spaces: rss_file_bytes");
	ASSERT_EQ(st.rss_shmem_bytes, 0, "spaces: rss_shmem_bytes");
}

/* /proc/PID/task/TID/status of a non-main thread: Tgid is the process, Pid the thread */
static void test_thread(void)
{
	struct proc_status st;

	if (!parse_fixture("status_thread", &st))
		return;
	ASSERT_STREQ(st.name, "mw worker", "thread: name");
	ASSERT_EQ(st.tgid, 6000, "thread: tgid is the process, not Pid 6007");
	ASSERT_EQ(st.rss_bytes, 13924 * KIB, "thread: rss_bytes");
	ASSERT_EQ(st.rss_anon_bytes, 7084 * KIB, "thread: rss_anon_bytes");
	ASSERT_EQ(st.rss_file_bytes, 6816 * KIB, "thread: rss_file_bytes");
	ASSERT_EQ(st.rss_shmem_bytes, 24 * KIB, "thread: rss_shmem_bytes");
}

/* prctl(PR_SET_NAME, " lead") shows as "Name:\t lead": only the tab separates */
static void test_leading_space(void)
{
	struct proc_status st;

	if (!parse_fixture("status_leading_space", &st))
		return;
	ASSERT_STREQ(st.name, " lead", "leading space: name keeps its leading space");
}

static void test_no_tgid(void)
{
	struct proc_status st;
	const char *t = fixture("status_no_tgid");

	if (!ASSERT_TRUE(t, "no tgid: fixture readable"))
		return;
	ASSERT_EQ(proc_status_parse(t, &st), -EINVAL, "no tgid: -EINVAL");
	ASSERT_EQ(proc_status_parse("", &st), -EINVAL, "empty text: -EINVAL");
	ASSERT_EQ(proc_status_parse("Name:\tx\nNStgid:\t5\n", &st), -EINVAL,
		  "only NStgid: -EINVAL");
}

static void test_inline(void)
{
	struct proc_status st;

	ASSERT_OK(proc_status_parse("Name:\tabcdefghijklmno\nTgid:\t7", &st),
		  "inline: last line without newline parses");
	ASSERT_STREQ(st.name, "abcdefghijklmno", "inline: 15-char name kept whole");
	ASSERT_EQ(st.tgid, 7, "inline: tgid on the last line");
	ASSERT_OK(proc_status_parse("Name:\tabcdefghijklmnopqrstuvwxyz\nTgid:\t8\n", &st),
		  "inline: long name parses");
	ASSERT_STREQ(st.name, "abcdefghijklmno", "inline: long name cut to 15 chars");
	ASSERT_OK(proc_status_parse("Tgid:\t9\nVmRSS:\t       0 kB\n", &st),
		  "inline: VmRSS 0 parses");
	ASSERT_TRUE(st.has_mm, "inline: VmRSS 0 kB still means has_mm");
	ASSERT_EQ(st.rss_bytes, 0, "inline: rss_bytes 0");
	ASSERT_STREQ(st.name, "", "inline: no Name line, empty name");
	/* the struct is reset by every parse */
	ASSERT_OK(proc_status_parse("Tgid:\t10\n", &st), "inline: second parse");
	ASSERT_TRUE(!st.has_mm, "inline: has_mm reset by the next parse");
}

static void test_read_self(void)
{
	struct proc_status st;
	char comm[MW_TASK_COMM_LEN];

	prctl(PR_SET_NAME, "mw-status-unit", 0, 0, 0);
	if (!ASSERT_OK(proc_status_read(getpid(), &st), "read self: 0"))
		return;
	ASSERT_EQ(st.tgid, getpid(), "read self: tgid");
	ASSERT_STREQ(st.name, "mw-status-unit", "read self: name");
	ASSERT_TRUE(st.has_mm && st.rss_bytes > 0, "read self: has_mm and rss > 0");
	ASSERT_TRUE(st.rss_bytes >= st.rss_anon_bytes + st.rss_file_bytes,
		    "read self: rss >= anon + file");
	thread_comm_read(getpid(), gettid(), comm, sizeof(comm));
	ASSERT_STREQ(comm, "mw-status-unit", "thread_comm_read: own thread");
	thread_comm_read(getpid(), 4194000, comm, sizeof(comm));
	ASSERT_STREQ(comm, "", "thread_comm_read: no such thread gives \"\"");
}

/* status escapes a name's '\n' and '\\' (only those): the parse gives the raw name back */
static void test_name_unescaped(void)
{
	/* ESC, '\n', BEL, '\\', CR, 0x9b as prctl(PR_SET_NAME) sets them */
	static const char hostile[] = "a\x1b\n\a\\\r\x9bz";
	struct proc_status st;
	char comm[MW_TASK_COMM_LEN], self[MW_TASK_COMM_LEN];

	ASSERT_OK(proc_status_parse("Name:\ta\\nb\\\\c\\x\nTgid:\t7\n", &st), "unescape: parses");
	ASSERT_STREQ(st.name, "a\nb\\c\\x", "unescape: \\n and \\\\ undone, another \\ kept");
	ASSERT_OK(proc_status_parse("Name:\t\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\n"
				    "Tgid:\t7\n", &st), "unescape: 15 escaped newlines parse");
	ASSERT_STREQ(st.name, "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", "unescape: 15 newlines, none cut");

	prctl(PR_GET_NAME, self, 0, 0, 0);
	prctl(PR_SET_NAME, hostile, 0, 0, 0);
	ASSERT_OK(proc_status_read(getpid(), &st), "hostile name: status read");
	ASSERT_STREQ(st.name, hostile, "hostile name: raw from status");
	thread_comm_read(getpid(), gettid(), comm, sizeof(comm));
	ASSERT_STREQ(comm, hostile, "hostile name: raw from comm");
	prctl(PR_SET_NAME, "ends-in-nl\n", 0, 0, 0);
	thread_comm_read(getpid(), gettid(), comm, sizeof(comm));
	ASSERT_STREQ(comm, "ends-in-nl\n", "comm: a name's own last newline kept");
	prctl(PR_SET_NAME, "fifteen-chars\n\n", 0, 0, 0);
	thread_comm_read(getpid(), gettid(), comm, sizeof(comm));
	ASSERT_STREQ(comm, "fifteen-chars\n\n", "comm: 15 bytes ending in newlines kept");
	prctl(PR_SET_NAME, self, 0, 0, 0);
}

static bool found_self;

static void note_thread(pid_t tid, void *arg)
{
	if (tid == *(pid_t *)arg)
		found_self = true;
}

static void test_for_each_thread(void)
{
	pid_t self = gettid();

	ASSERT_OK(for_each_thread(getpid(), note_thread, &self), "for_each_thread: self 0");
	ASSERT_TRUE(found_self, "for_each_thread: lists the calling thread");
}

static void test_read_missing(void)
{
	struct proc_status st;

	if (kill(4194000, 0) == 0 || errno != ESRCH) {
		tap_skip("read missing: -ENOENT", "pid 4194000 exists");
		return;
	}
	ASSERT_EQ(proc_status_read(4194000, &st), -ENOENT, "read missing: -ENOENT");
}

/*
 * A process with many supplementary groups has a long "Groups:" line, which
 * comes before VmRSS. The whole status must still be read: has_mm stays true.
 */
static void test_read_many_groups(void)
{
	struct proc_status st = { 0 };
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0) {
		tap_skip("many groups: VmRSS still read", "needs root for setgroups");
		return;
	}
	if (!ASSERT_OK(pipe(pipefd), "many groups: pipe"))
		return;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		static gid_t groups[2000];
		size_t i;

		close(pipefd[0]);
		for (i = 0; i < 2000; i++)
			groups[i] = 1000000000 + i;
		if (setgroups(2000, groups))
			_exit(2);
		if (proc_status_read(getpid(), &st))
			_exit(3);
		if (write(pipefd[1], &st, sizeof(st)) != sizeof(st))
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], &st, sizeof(st));
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		tap_skip("many groups: VmRSS still read", "setgroups refused");
		return;
	}
	if (!ASSERT_EQ(n, sizeof(st), "many groups: child read its status"))
		return;
	ASSERT_TRUE(st.has_mm, "many groups: has_mm (VmRSS after a 22 KB Groups line)");
	ASSERT_TRUE(st.rss_bytes > 0, "many groups: rss_bytes > 0");
}

int main(void)
{
	test_normal();
	test_large();
	test_zombie();
	test_kthread();
	test_spaces();
	test_thread();
	test_leading_space();
	test_no_tgid();
	test_inline();
	test_read_self();
	test_name_unescaped();
	test_for_each_thread();
	test_read_missing();
	test_read_many_groups();
	return tap_done();
}
