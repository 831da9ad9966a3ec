/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What the kernel has that Debian's libbpf 1.1 and the 6.1 UAPI headers do
 * not know: uprobe_multi links (Linux 6.6), whose ABI is written out here,
 * and the feature probe that tells whether this kernel has them. They need
 * CAP_BPF and CAP_PERFMON only; the perf uprobe PMU that libbpf uses needs
 * CAP_SYS_ADMIN since the fix of CVE-2025-38466 (a uprobe placed inside an
 * instruction).
 */
#ifndef MW_COMPAT_H
#define MW_COMPAT_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include <bpf/bpf.h>

struct bpf_object;

/* BPF_TRACE_UPROBE_MULTI, as an attach type libbpf 1.1 can be given. */
enum bpf_attach_type compat_uprobe_multi_type(void);
/* Whether the kernel has uprobe_multi links. */
bool compat_uprobe_multi_supported(void);
/* Before load: @obj's uprobe programs will attach through uprobe_multi links. */
void compat_use_uprobe_multi(struct bpf_object *obj);
/*
 * A link fd of uprobes at the @cnt file offsets @offsets of @path, each with
 * its cookie (@cookies may be NULL: all 0); -errno on failure.
 */
int compat_uprobe_multi_link(int prog_fd, const char *path, const __u64 *offsets,
			     const __u64 *cookies, __u32 cnt, pid_t pid, bool retprobe);

#endif /* MW_COMPAT_H */
