// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --trace's lines: arguments by name as strace shows them, results, JSON. */
#include <stdbool.h>
#include <stdio.h>
#include "output/trace_format.h"
#include "tap.h"

#define START_NS 1000000000ULL

static const char *line(const struct mw_trace_event *e, bool json)
{
	static char text[1024];
	FILE *f;

	text[0] = '\0';
	f = fmemopen(text, sizeof(text), "w");

	if (json)
		trace_print_json(f, e, START_NS);
	else
		trace_print_text(f, e, START_NS);
	fclose(f);
	return text;
}

static struct mw_trace_event event(enum mw_syscall nr, __u64 addr, __u64 len, __u64 arg,
				   __u64 flags, __s64 ret, __s64 resident_change)
{
	struct mw_trace_event e = {
		.time_ns = START_NS + 1500000,
		.duration_ns = 25000,
		.addr = addr,
		.len = len,
		.arg = arg,
		.flags = flags,
		.ret = ret,
		.resident_change = resident_change,
		.tid = 42,
		.nr = nr,
	};

	memcpy(e.comm, "worker", sizeof("worker"));
	return e;
}

static void test_text(void)
{
	struct mw_trace_event e;

	e = event(MW_SYS_MMAP, 0, 1048576, 0x3, 0x22, 0x7f0000000000, 0);
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): worker/42 mmap(NULL, 1048576, "
		     "PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) = 0x7f0000000000  rss +0\n",
		     "text: mmap by name, address result in hex");
	e = event(MW_SYS_MADVISE, 0x7f0000000000, 1048576, 4, 0, 0, -1048576);
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): worker/42 madvise(0x7f0000000000, 1048576, "
		     "MADV_DONTNEED) = 0  rss -1048576\n",
		     "text: madvise with what it returned");
	e = event(MW_SYS_MUNMAP, 1, 4096, 0, 0, -22, 0);
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): worker/42 munmap(0x1, 4096) = -1 EINVAL "
		     "(Invalid argument)  rss +0\n", "text: a failure as strace shows it");
	e = event(MW_SYS_BRK, 0, 0, 0x5000, 0, 0x5000, 0);
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): worker/42 brk(NULL) = 0x5000  rss +0\n",
		     "text: brk shows the break asked for");
	e = event(MW_SYS_MREMAP, 0x1000, 4096, 8192, 1, 0x9000, 0);
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): worker/42 mremap(0x1000, 4096, 8192, "
		     "MREMAP_MAYMOVE) = 0x9000  rss +0\n", "text: mremap's two lengths");
	e = event(MW_SYS_PROCESS_MADVISE, 0x7ffc0000, 1, 4, 3, 1048576, -1048576);
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): worker/42 process_madvise(3, 0x7ffc0000, 1, "
		     "MADV_DONTNEED) = 1048576  rss -1048576\n",
		     "text: process_madvise's pidfd, iovecs and advice");
	e = event(MW_SYS_PROCESS_MADVISE, 0x7ffc0000, 1, 20, (__u64)(__s64)-20000, 4096, 0);
	ASSERT_TRUE(strstr(line(&e, false), "process_madvise(-20000, 0x7ffc0000, 1, MADV_COLD)"),
		    "text: PIDFD_SELF_THREAD_GROUP, a negative pidfd");
	ASSERT_TRUE(strstr(line(&e, true), "\"call\":\"process_madvise\",\"pidfd\":-20000,"
			   "\"iovec\":2147221504,\"vlen\":1,\"advice\":\"MADV_COLD\""),
		    "json: process_madvise's arguments, the pidfd signed");
}

static void test_names(void)
{
	struct mw_trace_event e;

	e = event(MW_SYS_MPROTECT, 0x1000, 4096, 0, 0, 0, 0);
	ASSERT_TRUE(strstr(line(&e, false), "mprotect(0x1000, 4096, PROT_NONE) = 0"),
		    "names: no protection is PROT_NONE");
	e = event(MW_SYS_MPROTECT, 0x1000, 4096, 0x1 | 0x40, 0, 0, 0);
	ASSERT_TRUE(strstr(line(&e, false), "PROT_READ|0x40)"), "names: unnamed bits in hex");
	e = event(MW_SYS_MMAP, 0, 4096, 0x1, 0x3 | 0x4000, 0x1000, 0);
	ASSERT_TRUE(strstr(line(&e, false), "MAP_SHARED_VALIDATE|MAP_NORESERVE)"),
		    "names: the mapping type is one field");
	e = event(MW_SYS_MADVISE, 0x1000, 4096, 999, 0, -22, 0);
	ASSERT_TRUE(strstr(line(&e, false), "madvise(0x1000, 4096, 999)"),
		    "names: an unknown advice by number");
	e = event(MW_SYS_MADVISE, 0x1000, 4096, 5, 0, -22, 0);
	ASSERT_TRUE(strstr(line(&e, false), "madvise(0x1000, 4096, 5)"),
		    "names: a hole in the advice table by number");
	e = event(MW_SYS_NR, 0, 0, 0, 0, 0, 0);
	ASSERT_STREQ(line(&e, false), "", "names: an unknown call prints nothing");
}

static void test_json(void)
{
	struct mw_trace_event e;

	e = event(MW_SYS_MADVISE, 4096, 8192, 8, 0, -12, -4096);
	memcpy(e.comm, "a\"b", sizeof("a\"b"));
	ASSERT_STREQ(line(&e, true),
		     "{\"type\":\"syscall\",\"time_s\":0.001500,\"duration_ns\":25000,\"tid\":42,"
		     "\"comm\":\"a\\\"b\",\"call\":\"madvise\",\"addr\":4096,\"len\":8192,"
		     "\"advice\":\"MADV_FREE\",\"result\":-12,\"error\":\"ENOMEM\","
		     "\"resident_change_bytes\":-4096}\n", "json: every field, comm escaped");
	/* a comm of all 16 bytes without its terminator stays inside the record */
	memset(e.comm, 'x', sizeof(e.comm));
	ASSERT_TRUE(strstr(line(&e, true), "\"comm\":\"xxxxxxxxxxxxxxxx\","),
		    "json: an unterminated comm is cut at 16");
}

/* a thread named to take over the terminal: escaped in text, valid JSON */
static void test_hostile_comm(void)
{
	static const char name[] = "\x1b]0;X\a\r\n\x9b\xc2\x9b\xff\\";
	struct mw_trace_event e = event(MW_SYS_MUNMAP, 0x1000, 4096, 0, 0, 0, 0);

	memcpy(e.comm, name, sizeof(name));
	ASSERT_STREQ(line(&e, false),
		     "    0.001500 (   0.025 ms): "
		     "\\x1b]0;X\\x07\\x0d\\x0a\\x9b\\xc2\\x9b\\xff\\\\/42 munmap(0x1000, 4096) = 0  rss +0\n",
		     "hostile comm: text escaped");
	ASSERT_TRUE(strstr(line(&e, true), "\"comm\":\"\\u001b]0;X\\u0007\\u000d\\u000a\\ufffd"
			   "\\u009b\\ufffd\\\\\","),
		    "hostile comm: JSON escapes C0 and C1, replaces raw 0x9b and 0xff");
}

int main(void)
{
	test_text();
	test_names();
	test_json();
	test_hostile_comm();
	return tap_done();
}
