// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "app/signals.h"

enum phase {
	PHASE_SETUP,
	PHASE_WATCH,
};

static volatile sig_atomic_t phase;
static volatile sig_atomic_t exiting_signal;
static volatile sig_atomic_t cmd_pid;
static pid_t memwatch_pid;
static sigset_t caller_mask;
static sigset_t caller_ignored;

static void say(const char *s)
{
	ssize_t n = write(STDERR_FILENO, s, strlen(s));

	(void)n;
}

static void on_signal(int sig, siginfo_t *si, void *ucontext)
{
	(void)ucontext;
	/* a child between fork() and signals_restore_for_exec(): not memwatch */
	if (getpid() != memwatch_pid)
		_exit(128 + sig);
	if (phase == PHASE_SETUP) {
		/* nothing of memwatch's outlives its descriptors: the kernel detaches it all */
		say(sig == SIGINT ? "memwatch: interrupted (SIGINT) before the watch began; "
				    "nothing left attached\n" :
				    "memwatch: terminated (SIGTERM) before the watch began; "
				    "nothing left attached\n");
		_exit(128 + sig);
	}
	if (!exiting_signal)
		exiting_signal = sig;
	/* the terminal's signals (SI_KERNEL) went to the command's process group already */
	if (cmd_pid > 0 && si->si_code != SI_KERNEL)
		kill(cmd_pid, sig);
}

void signals_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	int sig;

	memwatch_pid = getpid();
	sigprocmask(SIG_SETMASK, NULL, &caller_mask);
	sigemptyset(&caller_ignored);
	for (sig = 1; sig < NSIG; sig++) {
		struct sigaction old;

		if (!sigaction(sig, NULL, &old) && old.sa_handler == SIG_IGN)
			sigaddset(&caller_ignored, sig);
	}
	/* no SA_RESTART: a blocking open() or read() of the setup returns to the handler */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* a caller that blocked them would make memwatch unstoppable before the watch */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}

void signals_restore_for_exec(void)
{
	int sig;

	/* dispositions first: a signal pending under memwatch's mask must not run its handler */
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		signal(sig, sigismember(&caller_ignored, sig) ? SIG_IGN : SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &caller_mask, NULL);
}

void signals_watch(pid_t cmd, sigset_t *run_mask)
{
	sigset_t blocked;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGTERM);
	sigprocmask(SIG_BLOCK, &blocked, run_mask);
	sigdelset(run_mask, SIGINT);
	sigdelset(run_mask, SIGTERM);
	cmd_pid = cmd;
	phase = PHASE_WATCH;
}

int signals_exiting(void)
{
	return exiting_signal;
}

int signals_pending(void)
{
	sigset_t pending;

	sigpending(&pending);
	if (sigismember(&pending, SIGINT))
		return SIGINT;
	return sigismember(&pending, SIGTERM) ? SIGTERM : 0;
}
