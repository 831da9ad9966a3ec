/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* One update of the model: the kernel's counters plus what /proc says now. */
#ifndef MW_SNAPSHOT_H
#define MW_SNAPSHOT_H

#include "model/model.h"
#include "model/smaps_pass.h"

struct memwatch_bpf;
struct thread_table;

/* The target's command line into m->cmdline, kept as it was when /proc has none. */
void snapshot_read_cmdline(struct mw_model *m);
/*
 * Of the process the kernel watches as @process, whose smaps @smaps_pass
 * reads across updates; 0 or -errno.
 */
int snapshot_take(struct memwatch_bpf *skel, __u32 process, struct thread_table *tt,
		  struct mw_model *m, struct smaps_pass *smaps_pass, double elapsed_s);
/* Of no process (m->no_process): the time and memwatch's own counts. */
void snapshot_take_none(struct memwatch_bpf *skel, struct mw_model *m, double elapsed_s);

#endif /* MW_SNAPSHOT_H */
