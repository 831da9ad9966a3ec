// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "allocator.h"
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

static int probes_add(struct probes *p, struct bpf_link *link)
{
	struct bpf_link **links;

	if (p->count == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		links = realloc(p->links, p->cap * sizeof(*links));
		if (!links) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		p->links = links;
	}
	p->links[p->count++] = link;
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
		err = probes_add(p, link);
		if (err)
			return err;
		p->tracepoints++;
	}
	return 0;
}

/* @offset is from the start of @func: libbpf adds it to the function's own offset */
static int attach_uprobe(struct bpf_program *prog, pid_t pid, const char *path,
			 const char *func, unsigned long offset, bool retprobe, struct probes *p)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func, .retprobe = retprobe);
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(prog, pid, path, offset, &opts);
	if (!link) {
		err = -errno;
		/* a target that exited fails every probe: the caller says so once */
		if (!process_gone(pid))
			elog("cannot attach %s to %s in %s: %s", retprobe ? "uretprobe" : "uprobe",
			     func, path, strerror(-err));
		return err;
	}
	err = probes_add(p, link);
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
		err = attach_uprobe(ret, pid, a->path, allocator_functions[i], 0, true, p);
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
		err = attach_uprobe(entry[i], pid, a->path, func, site->offset, false, p);
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

void probes_detach(struct probes *p)
{
	int i;

	/* the reverse of the attach order: entry probes go before their uretprobes */
	for (i = p->count - 1; i >= 0; i--)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	p->links = NULL;
	p->count = p->cap = 0;
	p->tracepoints = p->uprobes = p->uretprobes = 0;
}
