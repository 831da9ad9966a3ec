// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "kernel/compat.h"

#define MW_TRACE_UPROBE_MULTI 48	/* enum bpf_attach_type */
#define MW_F_UPROBE_MULTI_RETURN 1U

struct mw_uprobe_multi_attr {		/* union bpf_attr, BPF_LINK_CREATE */
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__aligned_u64 path;
	__aligned_u64 offsets;
	__aligned_u64 ref_ctr_offsets;
	__aligned_u64 cookies;
	__u32 cnt;
	__u32 uprobe_flags;
	__u32 pid;
};

enum bpf_attach_type compat_uprobe_multi_type(void)
{
	return (enum bpf_attach_type)MW_TRACE_UPROBE_MULTI;
}

int compat_uprobe_multi_link(int prog_fd, const char *path, const __u64 *offsets,
			     const __u64 *cookies, __u32 cnt, pid_t pid, bool retprobe)
{
	struct mw_uprobe_multi_attr attr = {
		.prog_fd = prog_fd,
		.attach_type = MW_TRACE_UPROBE_MULTI,
		.path = (uintptr_t)path,
		.offsets = (uintptr_t)offsets,
		.cookies = (uintptr_t)cookies,
		.cnt = cnt,
		.uprobe_flags = retprobe ? MW_F_UPROBE_MULTI_RETURN : 0,
		.pid = pid,
	};
	int fd;

	fd = syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

bool compat_uprobe_multi_supported(void)
{
	/* r0 = 0; exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = compat_uprobe_multi_type());
	__u64 offset = 0;
	int prog_fd, link_fd;

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &opts);
	if (prog_fd < 0)
		return false;
	/* a kernel that knows the link type gets as far as refusing a directory */
	link_fd = compat_uprobe_multi_link(prog_fd, "/", &offset, NULL, 1, 0, false);
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	return link_fd == -EBADF;
}

void compat_use_uprobe_multi(struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		if (bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE)
			bpf_program__set_expected_attach_type(prog, compat_uprobe_multi_type());
	}
}
