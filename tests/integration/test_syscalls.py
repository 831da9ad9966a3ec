#!/usr/bin/env python3
"""Syscall accounting: the bytes memwatch credits to mmap, madvise, munmap, brk,
mremap, mprotect and process_madvise equal what the workload asked for, per advice."""
import mwtest

MIB = 1024 * 1024


def diff(full, empty, counter, sub=None):
    if sub:
        return full.process[counter][sub] - empty.process[counter][sub]
    return full.process[counter] - empty.process[counter]


def check_madvise(tap, advice, sub):
    name = "madvise %s" % advice
    full, empty = mwtest.channel_pair(tap, name, "madvise", 3, "-s", "64M", "--advice", advice)
    if not full:
        return
    did = full.workload["total"]
    tap.eq(did["mmap_bytes"], 3 * 64 * MIB, "%s: workload mapped 3 x 64 MiB" % name)
    tap.eq(diff(full, empty, "mmap_anon_bytes"), did["mmap_bytes"], "%s: mmap bytes" % name)
    tap.eq(diff(full, empty, "madvise", sub), did["madvise_bytes"], "%s: advised bytes" % name)
    tap.eq(diff(full, empty, "munmap_bytes"), did["munmap_bytes"], "%s: munmap bytes" % name)
    tap.eq(diff(full, empty, "syscalls", "madvise"), 3, "%s: three madvise calls" % name)
    tap.eq(diff(full, empty, "returned_bytes"), did["madvise_bytes"] + did["munmap_bytes"],
           "%s: returned = advised + unmapped" % name)


def check_process_madvise(tap):
    """process_madvise on the workload's own memory counts as madvise; on its child's, not."""
    name = "process_madvise"
    full, empty = mwtest.channel_pair(tap, name, "process_madvise", 3, "-s", "4M")
    if not full:
        return
    did = full.workload["total"]
    tap.eq(did["process_madvise_calls"], 3, "%s: workload advised its own memory 3 times" % name)
    tap.eq(did["foreign_advised_bytes"], 3 * 4 * MIB,
           "%s: and its child's, 3 x 4 MiB the kernel accepted" % name)
    tap.eq(diff(full, empty, "syscalls", "process_madvise"), did["process_madvise_calls"],
           "%s: syscalls.process_madvise counts the calls on its own process only" % name)
    tap.eq(diff(full, empty, "syscalls", "madvise"), 0, "%s: no madvise call counted" % name)
    tap.eq(diff(full, empty, "madvise", "dontneed"), did["madvise_bytes"],
           "%s: its bytes, from the return value, under madvise.dontneed" % name)
    tap.eq(diff(full, empty, "madvise", "cold"), 0,
           "%s: the child's MADV_COLD is not the target's memory: not counted" % name)
    tap.eq(diff(full, empty, "returned_actual", "process_madvise"), did["madvise_bytes"],
           "%s: the written pages it dropped left RSS during the call" % name)
    tap.eq(diff(full, empty, "returned_bytes"), did["madvise_bytes"] + did["munmap_bytes"],
           "%s: returned = advised + unmapped" % name)


def check_syscall_mode(tap, mode, expect):
    full, empty = mwtest.channel_pair(tap, mode, mode, 4, "-s", "1M")
    if not full:
        return
    for counter, value in expect.items():
        tap.eq(diff(full, empty, counter), value, "%s: %s" % (mode, counter))


def check_advices(tap):
    check_madvise(tap, "dontneed", "dontneed")
    check_madvise(tap, "free", "free")


def check_brk_mremap_mprotect(tap):
    # sbrk: 4 x +1 MiB then 4 x -1 MiB
    check_syscall_mode(tap, "sbrk", {"brk_grow_bytes": 4 * MIB, "brk_shrink_bytes": 4 * MIB})
    # mremap: 4 x (map 1 MiB, grow to 2 MiB, shrink to 1 MiB, unmap)
    check_syscall_mode(tap, "mremap", {"mremap_grow_bytes": 4 * MIB,
                                       "mremap_shrink_bytes": 4 * MIB,
                                       "munmap_bytes": 4 * MIB, "mmap_anon_bytes": 4 * MIB})
    # mprotect: 4 x (reserve 1 MiB PROT_NONE, make it RW, back to NONE, unmap)
    check_syscall_mode(tap, "mprotect", {"mmap_none_bytes": 4 * MIB,
                                         "mprotect_rw_bytes": 4 * MIB,
                                         "mprotect_none_bytes": 4 * MIB,
                                         "munmap_bytes": 4 * MIB, "mmap_anon_bytes": 0})


if __name__ == "__main__":
    mwtest.run_checks("syscall accounting", check_advices, check_brk_mremap_mprotect,
                      check_process_madvise)
