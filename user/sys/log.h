/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Messages to stderr: elog for errors and warnings, vlog only with -v. */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern bool mw_verbose;

#define elog(fmt, ...) fprintf(stderr, "memwatch: " fmt "\n", ##__VA_ARGS__)
#define vlog(fmt, ...)								\
	do {									\
		if (mw_verbose)							\
			fprintf(stderr, "memwatch: " fmt "\n", ##__VA_ARGS__);	\
	} while (0)

#endif /* MW_LOG_H */
