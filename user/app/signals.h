/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * memwatch's signals, in three phases:
 * - setup (from the start until the watch begins): SIGINT and SIGTERM end
 *   memwatch at once; the kernel takes every BPF object with its descriptors,
 *   and a held command, which reads EOF on its go pipe, never runs.
 * - watch: they end the report loop, delivered only inside ppoll() so that no
 *   wakeup is lost. A launched command gets one sent to memwatch alone too,
 *   as strace passes it on; one from the terminal reached it already.
 * - wait (for a launched command after the watch): passed on the same way.
 * Every process memwatch starts gets the caller's mask and dispositions back
 * before its exec, and SIGPIPE is ignored so that a closed output is an
 * EPIPE that memwatch answers, not its death.
 */
#ifndef MW_SIGNALS_H
#define MW_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* Saves the caller's mask and dispositions, then installs memwatch's: the setup phase. */
void signals_init(void);
/* In a child before exec: the caller's dispositions and mask again. */
void signals_restore_for_exec(void);
/*
 * Enters the watch phase: SIGINT and SIGTERM blocked but in @run_mask, which
 * the report loop gives ppoll(). Signals are passed on to @cmd_pid if > 0.
 */
void signals_watch(pid_t cmd_pid, sigset_t *run_mask);
/* A SIGINT or SIGTERM that came after signals_watch() and waits for the report loop, or 0. */
int signals_pending(void);
/* The signal that asked memwatch to end, 0 if none did. */
int signals_exiting(void);

#endif /* MW_SIGNALS_H */
