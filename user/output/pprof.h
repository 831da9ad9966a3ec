/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --pprof FILE: every call site as a sample of a gzipped pprof profile
 * (profile.proto, encoded by protobuf-c), which go tool pprof, Pyroscope,
 * Parca and Grafana read. Its values are those of Go's heap profile:
 * alloc_objects, alloc_space, inuse_objects and inuse_space (the default),
 * as --stacks counted or estimated them.
 */
#ifndef MW_PPROF_H
#define MW_PPROF_H

#include <stdio.h>
#include <linux/types.h>
#include "stacks/sites.h"

/*
 * The profile of @s's sites (symbolized: stacks_stop()'s @all), watched for
 * @duration_ns from @start_ns (since the epoch), gzipped to @out. 0 or
 * -ENOMEM; a failed write is @out's error.
 */
int pprof_write(FILE *out, const struct stack_sites *s, __u64 start_ns, __u64 duration_ns);

#endif /* MW_PPROF_H */
