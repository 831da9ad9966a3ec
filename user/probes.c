// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocator.h"
#include "elf_file.h"
#include "escape.h"
#include "log.h"
#include "probe_site.h"
#include "probes.h"
#include "target.h"
#include "memwatch.skel.h"

static struct bpf_program **entry_programs(struct memwatch_bpf *skel)
{
	static struct bpf_program *progs[MW_FUNC_NR];

	progs[MW_FUNC_MALLOC] = skel->progs.malloc_enter;
	progs[MW_FUNC_CALLOC] = skel->progs.calloc_enter;
	progs[MW_FUNC_REALLOC] = skel->progs.realloc_enter;
	progs[MW_FUNC_REALLOCARRAY] = skel->progs.reallocarray_enter;
	progs[MW_FUNC_FREE] = skel->progs.free_enter;
	progs[MW_FUNC_POSIX_MEMALIGN] = skel->progs.posix_memalign_enter;
	progs[MW_FUNC_ALIGNED_ALLOC] = skel->progs.memalign_enter;
	progs[MW_FUNC_MEMALIGN] = skel->progs.memalign_enter;
	/* valloc(size) and pvalloc(size) take their size where malloc does */
	progs[MW_FUNC_VALLOC] = skel->progs.malloc_enter;
	progs[MW_FUNC_PVALLOC] = skel->progs.malloc_enter;
	return progs;
}

void probes_skip_malloc(struct memwatch_bpf *skel)
{
	struct bpf_program **progs = entry_programs(skel);
	int i;

	for (i = 0; i < MW_FUNC_NR; i++)
		bpf_program__set_autoload(progs[i], false);
	bpf_program__set_autoload(skel->progs.alloc_return, false);
}

/*
 * Uprobes through BPF_TRACE_UPROBE_MULTI links (Linux 6.6) need CAP_BPF and
 * CAP_PERFMON only; the perf uprobe PMU that libbpf uses needs CAP_SYS_ADMIN
 * since the fix of CVE-2025-38466 (a uprobe placed inside an instruction).
 * libbpf 1.1 and the 6.1 UAPI headers predate these links: their ABI is here.
 */
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

/* A link fd of one uprobe at file offset @offset of @path; -errno on failure. */
static int uprobe_multi_link(int prog_fd, const char *path, unsigned long long offset, pid_t pid,
			     bool retprobe)
{
	__u64 offsets[1] = { offset };
	struct mw_uprobe_multi_attr attr = {
		.prog_fd = prog_fd,
		.attach_type = MW_TRACE_UPROBE_MULTI,
		.path = (uintptr_t)path,
		.offsets = (uintptr_t)offsets,
		.cnt = 1,
		.uprobe_flags = retprobe ? MW_F_UPROBE_MULTI_RETURN : 0,
		.pid = pid,
	};
	int fd;

	fd = syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

bool probes_uprobe_multi_supported(void)
{
	/* r0 = 0; exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = (enum bpf_attach_type)MW_TRACE_UPROBE_MULTI);
	int prog_fd, link_fd;

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &opts);
	if (prog_fd < 0)
		return false;
	/* a kernel that knows the link type gets as far as refusing a directory */
	link_fd = uprobe_multi_link(prog_fd, "/", 0, 0, false);
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	return link_fd == -EBADF;
}

void probes_use_uprobe_multi(struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		if (bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE)
			bpf_program__set_expected_attach_type(
				prog, (enum bpf_attach_type)MW_TRACE_UPROBE_MULTI);
	}
}

/* Keeps @link, or the uprobe_multi link @fd when @link is NULL; @ret: a uretprobe's. */
static int probes_add(struct probes *p, struct bpf_link *link, int fd, bool ret)
{
	struct probe_link *links;

	if (p->count == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		links = realloc(p->links, p->cap * sizeof(*links));
		if (!links) {
			if (link)
				bpf_link__destroy(link);
			else
				close(fd);
			return -ENOMEM;
		}
		p->links = links;
	}
	p->links[p->count].link = link;
	p->links[p->count].fd = fd;
	p->links[p->count].ret = ret;
	p->count++;
	return 0;
}

int probes_attach_tracepoints(struct memwatch_bpf *skel, struct probes *p)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	int err;

	bpf_object__for_each_program(prog, skel->obj) {
		enum bpf_prog_type type = bpf_program__type(prog);

		if (type != BPF_PROG_TYPE_TRACEPOINT && type != BPF_PROG_TYPE_TRACING)
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			elog("cannot attach %s: %s", bpf_program__section_name(prog),
			     strerror(-err));
			return err;
		}
		err = probes_add(p, link, -1, false);
		if (err)
			return err;
		p->tracepoints++;
	}
	return 0;
}

/*
 * A uprobe_multi link (*@fd) when @prog was loaded for one, else libbpf's
 * perf uprobe (*@link). @offset is from the start of function @func. 0 or -errno.
 */
static int uprobe_link(struct bpf_program *prog, pid_t pid, const struct allocator *a, int func,
		       unsigned long offset, bool retprobe, struct bpf_link **link, int *fd)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = allocator_functions[func],
		    .retprobe = retprobe);
	unsigned long long start;
	int err;

	*link = NULL;
	*fd = -1;
	if (bpf_program__expected_attach_type(prog) ==
	    (enum bpf_attach_type)MW_TRACE_UPROBE_MULTI) {
		err = elf_code_offset(a->path, a->addrs[func], &start);
		if (err)
			return err;
		*fd = uprobe_multi_link(bpf_program__fd(prog), a->path, start + offset, pid,
					retprobe);
		return *fd < 0 ? *fd : 0;
	}
	/* libbpf adds @offset to the function's own offset */
	*link = bpf_program__attach_uprobe_opts(prog, pid, a->path, offset, &opts);
	return *link ? 0 : -errno;
}

static int attach_uprobe(struct bpf_program *prog, pid_t pid, const struct allocator *a, int func,
			 unsigned long offset, bool retprobe, struct probes *p)
{
	struct bpf_link *link;
	int fd, err;

	err = uprobe_link(prog, pid, a, func, offset, retprobe, &link, &fd);
	if (err) {
		/* a target that exited fails every probe: the caller says so once */
		if (!process_gone(pid))
			elog("cannot attach %s to %s in %s: %s", retprobe ? "uretprobe" : "uprobe",
			     allocator_functions[func],
			     ESC(a->target_path, sizeof(a->target_path)), strerror(-err));
		return err;
	}
	err = probes_add(p, link, fd, retprobe);
	if (err)
		return err;
	if (retprobe)
		p->uretprobes++;
	else
		p->uprobes++;
	return 0;
}

int probes_attach_plan(struct bpf_program *const entry[], struct bpf_program *ret,
		       pid_t pid, const struct allocator *a, const struct probe_plan *plan,
		       struct probes *p)
{
	int i, err;

	/*
	 * Every uretprobe before any entry probe: the target may be calling
	 * these functions meanwhile, and an entry seen without its return
	 * would leave the thread's call depth raised for good, so that all its
	 * later calls looked nested and went uncounted. A return seen without
	 * its entry is ignored.
	 */
	for (i = 0; i < MW_FUNC_NR; i++) {
		if (!plan->fn[i].probe || !plan->fn[i].retprobe)
			continue;
		err = attach_uprobe(ret, pid, a, i, 0, true, p);
		if (err)
			return err;
	}
	for (i = 0; i < MW_FUNC_NR; i++) {
		const struct probe_site *site = &plan->fn[i].entry;
		const char *func = allocator_functions[i];

		if (!plan->fn[i].probe) {
			vlog("%s: not probed (%s)", func, a->addrs[i] ? "alias" : "not defined");
			continue;
		}
		err = attach_uprobe(entry[i], pid, a, i, site->offset, false, p);
		if (err)
			return err;
		vlog("%s: entry probe at %s+%lu, %s (%s): %s", func, func, site->offset,
		     site->insn[0] ? site->insn : "?", site->emulated ? "emulated" : "single-stepped",
		     site->why);
	}
	return 0;
}

int probes_attach_allocator(struct memwatch_bpf *skel, pid_t pid, const struct allocator *a,
			    struct probes *p)
{
	struct probe_plan plan;

	probe_plan_make(a, MW_SITES_CHOSEN, &plan);
	return probes_attach_plan(entry_programs(skel), skel->progs.alloc_return, pid, a, &plan, p);
}

static void link_destroy(struct probe_link *l)
{
	if (l->link)
		bpf_link__destroy(l->link);
	else
		close(l->fd);
}

/* One thread's share of a detach wave: every DETACH_THREADS-th link of its kind. */
struct detach_share {
	struct probes *p;
	bool ret;
	int first;
};

#define DETACH_THREADS 8

static void *detach_share(void *arg)
{
	struct detach_share *d = arg;
	int i, n = 0;

	for (i = 0; i < d->p->count; i++) {
		if (d->p->links[i].ret == d->ret && n++ % DETACH_THREADS == d->first)
			link_destroy(&d->p->links[i]);
	}
	return NULL;
}

/*
 * Every link of one kind (entry probes and tracepoints, or uretprobes),
 * destroyed by several threads at once: each destroy waits for RCU grace
 * periods (a tracepoint's or uprobe's unregistering), ~30 ms apiece here, and
 * waits that overlap share them. Where no thread starts, the rest are
 * destroyed here.
 */
static void detach_wave(struct probes *p, bool ret)
{
	struct detach_share shares[DETACH_THREADS];
	pthread_t threads[DETACH_THREADS];
	bool started[DETACH_THREADS];
	int i;

	for (i = 0; i < DETACH_THREADS; i++) {
		shares[i] = (struct detach_share){ .p = p, .ret = ret, .first = i };
		started[i] = !pthread_create(&threads[i], NULL, detach_share, &shares[i]);
		if (!started[i])
			detach_share(&shares[i]);
	}
	for (i = 0; i < DETACH_THREADS; i++) {
		if (started[i])
			pthread_join(threads[i], NULL);
	}
}

void probes_detach(struct probes *p)
{
	/* entry probes go before the uretprobes: no return is missed of an entry seen */
	if (p->count) {
		detach_wave(p, false);
		detach_wave(p, true);
	}
	free(p->links);
	p->links = NULL;
	p->count = p->cap = 0;
	p->tracepoints = p->uprobes = p->uretprobes = 0;
}
