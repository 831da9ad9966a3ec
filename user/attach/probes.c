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
#include "kernel/compat.h"
#include "memwatch.h"
#include "output/escape.h"
#include "sys/elf_file.h"
#include "sys/log.h"

/* Each function's entry program (the family shares a few), and the one uretprobe program. */
static const char *const entry_program_names[MW_FUNC_NR] = {
	[MW_FUNC_MALLOC] = "malloc_enter",
	[MW_FUNC_CALLOC] = "calloc_enter",
	[MW_FUNC_REALLOC] = "realloc_enter",
	/* its cookie, MW_COOKIE_ARRAY, says where its size is */
	[MW_FUNC_REALLOCARRAY] = "realloc_enter",
	[MW_FUNC_FREE] = "free_enter",
	[MW_FUNC_POSIX_MEMALIGN] = "posix_memalign_enter",
	[MW_FUNC_ALIGNED_ALLOC] = "memalign_enter",
	[MW_FUNC_MEMALIGN] = "memalign_enter",
	/* valloc(size) and pvalloc(size) take their size where malloc does */
	[MW_FUNC_VALLOC] = "malloc_enter",
	[MW_FUNC_PVALLOC] = "malloc_enter",
};

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

int probes_attach_tracepoints(struct bpf_object *obj, struct probes *p)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	int err;

	bpf_object__for_each_program(prog, obj) {
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
	return bpf_program__expected_attach_type(prog) == compat_uprobe_multi_type();
}

/* What the entry program of function @func reads from its cookie. */
static __u64 site_cookie(int func)
{
	return func == MW_FUNC_REALLOCARRAY ? MW_COOKIE_ARRAY : MW_COOKIE_SIZE;
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
	__u64 offsets[MW_FUNC_NR], cookies[MW_FUNC_NR];
	unsigned long long start;
	int i, fd, err;

	for (i = 0; i < n; i++) {
		err = elf_code_offset(a->path, a->addrs[funcs[i]], &start);
		if (err) {
			link_failed(pid, a, funcs[i], retprobe, err);
			return err;
		}
		offsets[i] = start + site_offset(plan, funcs[i], retprobe);
		cookies[i] = site_cookie(funcs[i]);
	}
	fd = compat_uprobe_multi_link(bpf_program__fd(prog), a->path, offsets, cookies, n, pid,
				      retprobe);
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
			    .bpf_cookie = site_cookie(funcs[i]), .retprobe = retprobe);

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

int probes_attach_allocator(struct bpf_object *obj, pid_t pid, const struct allocator *a,
			    struct probes *p)
{
	struct bpf_program *entry[MW_FUNC_NR];
	struct probe_plan plan;
	int i;

	for (i = 0; i < MW_FUNC_NR; i++)
		entry[i] = bpf_object__find_program_by_name(obj, entry_program_names[i]);
	probe_plan_make(a, MW_SITES_CHOSEN, &plan);
	return probes_attach_plan(entry, bpf_object__find_program_by_name(obj, "alloc_return"), pid,
				  a, &plan, p);
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

int probes_move(struct probes *dst, struct probes *src)
{
	struct probe_link *links;
	int need = dst->count + src->count;

	if (need > dst->cap) {
		links = realloc(dst->links, need * sizeof(*links));
		if (!links)
			return -ENOMEM;
		dst->links = links;
		dst->cap = need;
	}
	memcpy(&dst->links[dst->count], src->links, src->count * sizeof(*links));
	dst->count = need;
	/* the counts stay the first's: they describe what it attached */
	free(src->links);
	src->links = NULL;
	src->count = src->cap = 0;
	return 0;
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
