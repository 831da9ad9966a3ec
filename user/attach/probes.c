// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach/allocator.h"
#include "attach/probe_site.h"
#include "attach/probes.h"
#include "attach/target.h"
#include "output/escape.h"
#include "sys/elf_file.h"
#include "sys/log.h"
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

/* A link fd of uprobes at the @cnt file offsets @offsets of @path; -errno on failure. */
static int uprobe_multi_link(int prog_fd, const char *path, const __u64 *offsets, __u32 cnt,
			     pid_t pid, bool retprobe)
{
	struct mw_uprobe_multi_attr attr = {
		.prog_fd = prog_fd,
		.attach_type = MW_TRACE_UPROBE_MULTI,
		.path = (uintptr_t)path,
		.offsets = (uintptr_t)offsets,
		.cnt = cnt,
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
	__u64 offset = 0;
	int prog_fd, link_fd;

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &opts);
	if (prog_fd < 0)
		return false;
	/* a kernel that knows the link type gets as far as refusing a directory */
	link_fd = uprobe_multi_link(prog_fd, "/", &offset, 1, 0, false);
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

static bool uses_uprobe_multi(const struct bpf_program *prog)
{
	return bpf_program__expected_attach_type(prog) ==
	       (enum bpf_attach_type)MW_TRACE_UPROBE_MULTI;
}

/* The planned site of function @func: its entry probe's, or 0 for its uretprobe. */
static unsigned long site_offset(const struct probe_plan *plan, int func, bool retprobe)
{
	return retprobe ? 0 : plan->fn[func].entry.offset;
}

static void link_failed(pid_t pid, const struct allocator *a, int func, bool retprobe, int err)
{
	/* a target that exited fails every probe: the caller says so once */
	if (!process_gone(pid))
		elog("cannot attach %s to %s in %s: %s", retprobe ? "uretprobe" : "uprobe",
		     allocator_functions[func], ESC(a->target_path, sizeof(a->target_path)),
		     strerror(-err));
}

/*
 * One uprobe_multi link of @prog at the planned sites of the @n functions
 * @funcs: the kernel places them all in one call, and removes them with one
 * wait for the programs still running.
 */
static int attach_multi(struct bpf_program *prog, pid_t pid, const struct allocator *a,
			const struct probe_plan *plan, const int *funcs, int n, bool retprobe,
			struct probes *p)
{
	__u64 offsets[MW_FUNC_NR];
	unsigned long long start;
	int i, fd, err;

	for (i = 0; i < n; i++) {
		err = elf_code_offset(a->path, a->addrs[funcs[i]], &start);
		if (err) {
			link_failed(pid, a, funcs[i], retprobe, err);
			return err;
		}
		offsets[i] = start + site_offset(plan, funcs[i], retprobe);
	}
	fd = uprobe_multi_link(bpf_program__fd(prog), a->path, offsets, n, pid, retprobe);
	if (fd < 0) {
		link_failed(pid, a, funcs[0], retprobe, fd);
		return fd;
	}
	return probes_add(p, NULL, fd, retprobe);
}

/* libbpf's perf uprobes, a link per function; libbpf adds the site to the function's offset. */
static int attach_perf(struct bpf_program *prog, pid_t pid, const struct allocator *a,
		       const struct probe_plan *plan, const int *funcs, int n, bool retprobe,
		       struct probes *p)
{
	struct bpf_link *link;
	int i, err;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = allocator_functions[funcs[i]],
			    .retprobe = retprobe);

		link = bpf_program__attach_uprobe_opts(prog, pid, a->path,
						       site_offset(plan, funcs[i], retprobe),
						       &opts);
		if (!link) {
			err = -errno;
			link_failed(pid, a, funcs[i], retprobe, err);
			return err;
		}
		err = probes_add(p, link, -1, retprobe);
		if (err)
			return err;
	}
	return 0;
}

/* @prog at the planned sites of functions @funcs, as entry probes or uretprobes. */
static int attach_sites(struct bpf_program *prog, pid_t pid, const struct allocator *a,
			const struct probe_plan *plan, const int *funcs, int n, bool retprobe,
			struct probes *p)
{
	int err;

	if (!n)
		return 0;
	if (uses_uprobe_multi(prog))
		err = attach_multi(prog, pid, a, plan, funcs, n, retprobe, p);
	else
		err = attach_perf(prog, pid, a, plan, funcs, n, retprobe, p);
	if (err)
		return err;
	if (retprobe)
		p->uretprobes += n;
	else
		p->uprobes += n;
	return 0;
}

int probes_attach_plan(struct bpf_program *const entry[], struct bpf_program *ret,
		       pid_t pid, const struct allocator *a, const struct probe_plan *plan,
		       struct probes *p)
{
	bool placed[MW_FUNC_NR] = { false };
	int funcs[MW_FUNC_NR];
	int i, j, n, err;

	/*
	 * Every uretprobe before any entry probe: the target may be calling
	 * these functions meanwhile, and an entry seen without its return
	 * would leave the thread's call depth raised for good, so that all its
	 * later calls looked nested and went uncounted. A return seen without
	 * its entry is ignored.
	 */
	for (i = n = 0; i < MW_FUNC_NR; i++)
		if (plan->fn[i].probe && plan->fn[i].retprobe)
			funcs[n++] = i;
	err = attach_sites(ret, pid, a, plan, funcs, n, true, p);
	if (err)
		return err;
	/* then each entry program at the sites of all the functions it serves */
	for (i = 0; i < MW_FUNC_NR; i++) {
		if (!plan->fn[i].probe) {
			vlog("%s: not probed (%s)", allocator_functions[i],
			     a->addrs[i] ? "alias" : "not defined");
			continue;
		}
		if (placed[i])
			continue;
		for (j = i, n = 0; j < MW_FUNC_NR; j++) {
			if (plan->fn[j].probe && entry[j] == entry[i]) {
				funcs[n++] = j;
				placed[j] = true;
			}
		}
		err = attach_sites(entry[i], pid, a, plan, funcs, n, false, p);
		if (err)
			return err;
	}
	for (i = 0; i < MW_FUNC_NR; i++) {
		const struct probe_site *site = &plan->fn[i].entry;
		const char *func = allocator_functions[i];

		if (plan->fn[i].probe)
			vlog("%s: entry probe at %s+%lu, %s (%s): %s", func, func, site->offset,
			     site->insn[0] ? site->insn : "?",
			     site->emulated ? "emulated" : "single-stepped", site->why);
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

void probes_counting(struct memwatch_bpf *skel, bool on)
{
	/* after the syscalls that made the links: every entry probe of the set is live */
	__atomic_store_n(&skel->bss->counting, on, __ATOMIC_RELEASE);
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
