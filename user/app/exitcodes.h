/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * memwatch's exit statuses, one per kind of failure, documented in
 * memwatch(8) and docs/usage.md. With `-- CMD` memwatch exits with CMD's status once CMD has run.
 */
#ifndef MW_EXITCODES_H
#define MW_EXITCODES_H

enum mw_exit {
	MW_EXIT_OK = 0,
	MW_EXIT_ERROR = 1,		/* unexpected runtime failure */
	MW_EXIT_USAGE = 2,		/* invalid option or value */
	MW_EXIT_NO_PROCESS = 3,		/* no such PID, or it exited during attach */
	MW_EXIT_PERMISSION = 4,		/* not root / missing capabilities */
	MW_EXIT_UNSUPPORTED = 5,	/* kernel without BTF or tracepoints */
	MW_EXIT_BPF = 6,		/* BPF load or attach failed */
	MW_EXIT_PTRACED = 7,		/* a debugger traces the target: no uprobes placed */
	MW_EXIT_LISTEN = 8,		/* --listen: the address cannot be bound */
	MW_EXIT_CMD_NOT_EXEC = 126,	/* CMD found but not executable */
	MW_EXIT_CMD_NOT_FOUND = 127,	/* CMD not found, or empty */
	MW_EXIT_OUTPUT_CLOSED = 141,	/* the reader of the output went away: as if by SIGPIPE */
};

#endif /* MW_EXITCODES_H */
