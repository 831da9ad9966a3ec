// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The refusal's one line: what is missing, and what to give memwatch. */
#include "attach/privileges.h"
#include "tap.h"

#define BIT(need) (1U << (need))
#define BASE (BIT(MW_NEED_BPF) | BIT(MW_NEED_PERFMON) | BIT(MW_NEED_TRACEFS))

static void test_one_missing(void)
{
	char line[1024];

	privileges_message(line, sizeof(line), BASE, BIT(MW_NEED_PERFMON), "/usr/sbin/memwatch");
	ASSERT_STREQ(line, "needs root, or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH; it lacks "
		     "CAP_PERFMON (tracing programs and probes): run it with sudo, or give it them "
		     "once: sudo setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep /usr/sbin/memwatch",
		     "one missing: named, with the whole set to give");
}

static void test_several_missing(void)
{
	char line[1024];

	privileges_message(line, sizeof(line), BASE | BIT(MW_NEED_PTRACE),
			   BIT(MW_NEED_TRACEFS) | BIT(MW_NEED_PTRACE), "memwatch");
	ASSERT_STREQ(line, "needs root, or CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH and "
		     "CAP_SYS_PTRACE; it lacks CAP_DAC_READ_SEARCH (tracepoint IDs in tracefs, "
		     "root's alone) and CAP_SYS_PTRACE (another user's /proc/PID): run it with sudo, "
		     "or give it them once: sudo setcap cap_bpf,cap_perfmon,cap_dac_read_search,"
		     "cap_sys_ptrace+ep memwatch", "two missing: both named, in one line");
	ASSERT_TRUE(!strchr(line, '\n'), "the message is one line");
}

static void test_short_buffer(void)
{
	char line[16];

	privileges_message(line, sizeof(line), BASE, BASE, "memwatch");
	ASSERT_STREQ(line, "needs root, or ", "a short buffer is cut, not overrun");
}

int main(void)
{
	test_one_missing();
	test_several_missing();
	test_short_buffer();
	return tap_done();
}
