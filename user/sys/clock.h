/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The one clock memwatch times itself by: the kernel side's bpf_ktime_get_ns(). */
#ifndef MW_CLOCK_H
#define MW_CLOCK_H

#include <time.h>

static inline double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* MW_CLOCK_H */
