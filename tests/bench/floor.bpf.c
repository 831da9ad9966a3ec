// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The benchmark's floor: programs that do nothing, attached where memwatch
 * attaches its own. What a run costs under them is the price of the traps
 * and of running a BPF program at all, which memwatch cannot go below.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("uprobe")
int BPF_KPROBE(empty_enter)
{
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(empty_return)
{
	return 0;
}

/* attached by hand to each of memwatch's tracepoints */
SEC("tracepoint")
int empty_tracepoint(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
