// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include "app/exitcodes.h"
#include "app/options.h"
#include "attach/privileges.h"
#include "attach/target.h"
#include "kernel/compat.h"
#include "sys/caps.h"
#include "sys/log.h"

static const struct {
	const char *name, *setcap, *what;
} needs[MW_NEED_NR] = {
	[MW_NEED_BPF] = { "CAP_BPF", "cap_bpf", "BPF maps and programs" },
	[MW_NEED_PERFMON] = { "CAP_PERFMON", "cap_perfmon", "tracing programs and probes" },
	[MW_NEED_TRACEFS] = { "CAP_DAC_READ_SEARCH", "cap_dac_read_search",
			      "tracepoint IDs in tracefs, root's alone" },
	[MW_NEED_PTRACE] = { "CAP_SYS_PTRACE", "cap_sys_ptrace", "another user's /proc/PID" },
	[MW_NEED_UPROBE_PMU] = { "CAP_SYS_ADMIN", "cap_sys_admin",
				 "uprobes on a kernel without uprobe_multi links" },
};

/* The kernel's bpf_capable() and perfmon_capable(): CAP_SYS_ADMIN serves too. */
static bool has_or_admin(int cap)
{
	return caps_have(cap) || caps_have(CAP_SYS_ADMIN);
}

/*
 * libbpf reads each tracepoint's ID in tracefs (mode 0700, IDs 0440 root).
 * Asked with the effective capabilities, as memwatch's open() will be, unlike
 * access(). An unmounted tracefs is check_kernel()'s matter.
 */
static bool tracefs_unreadable(void)
{
	return faccessat(AT_FDCWD, MW_TRACEFS "/events/syscalls/sys_enter_brk/id", R_OK,
			 AT_EACCESS) && errno == EACCES;
}

/*
 * Which of -p's /proc files that memwatch reads is closed to it, into @path
 * ("" if none): another user's process. Its smaps (and maps) open to
 * CAP_PERFMON on recent kernels, to CAP_SYS_PTRACE on all; its root and exe
 * links, through which the allocator is found and opened, to CAP_SYS_PTRACE
 * only. All of them pass the kernel's ptrace access check.
 */
static void target_refused(const struct mw_options *o, pid_t pid, char *path, size_t len)
{
	char link[PATH_MAX];
	struct proc_status st;
	int fd;

	path[0] = '\0';
	/* no such process, a zombie or a kernel thread: prepare_pid() says so */
	if (proc_status_read(pid, &st) || !st.has_mm)
		return;
	snprintf(path, len, "/proc/%d/smaps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != EACCES)
			path[0] = '\0';
		return;
	}
	close(fd);
	if (!o->no_malloc) {
		snprintf(path, len, "/proc/%d/root", pid);
		if (readlink(path, link, sizeof(link)) < 0 && errno == EACCES)
			return;
	}
	path[0] = '\0';
}

/*
 * With CAP_SYS_PTRACE, a refusal is not for a missing capability: the
 * ptrace access check also asks the security modules (Yama's ptrace_scope,
 * Landlock, whose sandboxed processes may not look outside their domain,
 * AppArmor, SELinux) and, for a process that is not dumpable, wants the
 * capability in the user namespace its memory belongs to.
 */
static void ptrace_refusal(pid_t pid, const char *path)
{
	char lsm[256] = "", scope[16] = "";
	struct proc_status st;
	FILE *f;

	f = fopen("/sys/kernel/security/lsm", "re");
	if (f) {
		if (!fgets(lsm, sizeof(lsm), f))
			lsm[0] = '\0';
		fclose(f);
	}
	lsm[strcspn(lsm, "\n")] = '\0';
	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		if (!fgets(scope, sizeof(scope), f))
			scope[0] = '\0';
		fclose(f);
	}
	scope[strcspn(scope, "\n")] = '\0';
	elog("pid %d (%s): %s refused to memwatch (permission denied) by the kernel's ptrace access "
	     "check, though memwatch has CAP_SYS_PTRACE: a security module forbids it (%s%s%s%s), "
	     "or the process is not dumpable and belongs to another user namespace", pid,
	     proc_status_read(pid, &st) ? "?" : st.name, path,
	     lsm[0] ? "active: " : "such as Yama, Landlock, AppArmor or SELinux", lsm,
	     scope[0] ? "; Yama ptrace_scope " : "", scope);
}

/* Appends @word to the list in @buf: "A", "A and B", "A, B and C" as @last says. */
static void list_append(char *buf, size_t len, const char *word, bool last)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", !used ? "" : last ? " and " : ", ", word);
}

void privileges_message(char *buf, size_t len, unsigned int needed, unsigned int missing,
			const char *self)
{
	char names[256] = "", lacks[512] = "", caps[128] = "", lack[128];
	int i, left_needed = __builtin_popcount(needed), left_missing = __builtin_popcount(missing);

	for (i = 0; i < MW_NEED_NR; i++) {
		if (missing & 1U << i) {
			snprintf(lack, sizeof(lack), "%s (%s)", needs[i].name, needs[i].what);
			list_append(lacks, sizeof(lacks), lack, --left_missing == 0);
		}
		if (needed & 1U << i) {
			list_append(names, sizeof(names), needs[i].name, --left_needed == 0);
			snprintf(caps + strlen(caps), sizeof(caps) - strlen(caps), "%s%s",
				 caps[0] ? "," : "", needs[i].setcap);
		}
	}
	snprintf(buf, len, "needs root, or %s; it lacks %s: run it with sudo, or give it "
		 "them once: sudo setcap %s+ep %s", names, lacks, caps, self);
}

int privileges_check(const struct mw_options *o, bool *uprobe_multi)
{
	unsigned int needed = 1U << MW_NEED_BPF | 1U << MW_NEED_PERFMON | 1U << MW_NEED_TRACEFS;
	unsigned int missing = 0;
	char self[PATH_MAX], line[2048], refused[64] = "";
	pid_t refused_pid = 0;
	ssize_t n;
	int i;

	*uprobe_multi = false;
	if (!has_or_admin(CAP_BPF))
		missing |= 1U << MW_NEED_BPF;
	if (!has_or_admin(CAP_PERFMON))
		missing |= 1U << MW_NEED_PERFMON;
	if (tracefs_unreadable())
		missing |= 1U << MW_NEED_TRACEFS;
	/* the first process refused is named */
	for (i = 0; i < o->nr_pids && !refused[0]; i++) {
		refused_pid = o->pids[i];
		target_refused(o, refused_pid, refused, sizeof(refused));
	}
	if (refused[0] && !caps_have(CAP_SYS_PTRACE)) {
		needed |= 1U << MW_NEED_PTRACE;
		missing |= 1U << MW_NEED_PTRACE;
	}
	/* asking the kernel loads a program: only once that is allowed */
	if (!o->no_malloc && !missing) {
		*uprobe_multi = compat_uprobe_multi_supported();
		if (!*uprobe_multi) {
			needed |= 1U << MW_NEED_UPROBE_PMU;
			if (!caps_have(CAP_SYS_ADMIN))
				missing |= 1U << MW_NEED_UPROBE_PMU;
		}
	}
	if (!missing && refused[0]) {
		ptrace_refusal(refused_pid, refused);
		return MW_EXIT_PERMISSION;
	}
	if (!missing)
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	privileges_message(line, sizeof(line), needed, missing, n > 0 ? self : "memwatch");
	/* of several processes, the one refused */
	if (refused[0] && o->nr_pids > 1)
		elog("%s (pid %d: %s)", line, refused_pid, refused);
	else
		elog("%s", line);
	return MW_EXIT_PERMISSION;
}
