// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * floor [--sites chosen|naive|none] -- CMD [ARGS...]
 *
 * Starts CMD held like memwatch does, attaches empty BPF programs to every
 * tracepoint memwatch uses and to the allocator functions at the sites
 * memwatch's own plan gives (chosen), at their first instruction (naive), or
 * to none (memwatch --no-malloc's set), lets CMD run and exits with its
 * status. The benchmark's lower bound for any uprobe- and tracepoint-based
 * tracer on the same sites.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "attach/allocator.h"
#include "attach/probe_site.h"
#include "attach/probes.h"
#include "attach/target.h"
#include "kernel/compat.h"
#include "floor.skel.h"
/* before the skeleton: its .bss holds memwatch.h's struct mw_process records */
#include "memwatch.h"
#include "memwatch.skel.h"

#define MAX_TRACEPOINTS 64

/* Attaches the empty program to each tracepoint that memwatch's programs name. */
static int attach_tracepoints(struct floor_bpf *floor, struct bpf_link **links, int *count)
{
	struct memwatch_bpf *mw = memwatch_bpf__open();
	struct bpf_program *prog;
	int err = 0;

	if (!mw)
		return -errno;
	bpf_object__for_each_program(prog, mw->obj) {
		char category[64], name[64];
		const char *sec = bpf_program__section_name(prog);

		if (bpf_program__type(prog) != BPF_PROG_TYPE_TRACEPOINT)
			continue;
		if (sscanf(sec, "%*[^/]/%63[^/]/%63s", category, name) != 2 ||
		    *count >= MAX_TRACEPOINTS) {
			err = -EINVAL;
			break;
		}
		links[*count] = bpf_program__attach_tracepoint(floor->progs.empty_tracepoint,
							       category, name);
		if (!links[*count]) {
			err = -errno;
			fprintf(stderr, "floor: cannot attach to %s: %s\n", sec, strerror(-err));
			break;
		}
		(*count)++;
	}
	memwatch_bpf__destroy(mw);
	return err;
}

int main(int argc, char **argv)
{
	struct bpf_program *entry[MW_FUNC_NR];
	struct bpf_link *links[MAX_TRACEPOINTS];
	struct launch l = { .pid = -1, .go_fd = -1, .exec_err_fd = -1 };
	enum probe_placement placement = MW_SITES_CHOSEN;
	struct floor_bpf *floor = NULL;
	struct probes probes = { 0 };
	struct probe_plan plan;
	bool uprobes = true;
	char path[PATH_MAX];
	struct allocator a;
	int i, n = 0, status = 0, err, argi = 1;

	if (argc > 2 && !strcmp(argv[argi], "--sites")) {
		if (!strcmp(argv[argi + 1], "naive"))
			placement = MW_SITES_NAIVE;
		else if (!strcmp(argv[argi + 1], "none"))
			uprobes = false;
		else if (strcmp(argv[argi + 1], "chosen"))
			argi = argc;
		argi += 2;
	}
	if (argi < argc && !strcmp(argv[argi], "--"))
		argi++;
	if (argi >= argc) {
		fprintf(stderr, "usage: floor [--sites chosen|naive|none] -- CMD [ARGS...]\n");
		return 2;
	}
	if (command_resolve(argv[argi], path, sizeof(path))) {
		fprintf(stderr, "floor: %s: command not found\n", argv[argi]);
		return 127;
	}
	if (uprobes && allocator_of_command(path, NULL, &a)) {
		fprintf(stderr, "floor: no allocator found for %s\n", path);
		return 1;
	}
	err = launch_prepare(path, argv + argi, &l);
	floor = err ? NULL : floor_bpf__open();
	/* the uprobes attach the way memwatch's do */
	if (floor && uprobes && compat_uprobe_multi_supported())
		compat_use_uprobe_multi(floor->obj);
	if (floor && floor_bpf__load(floor)) {
		floor_bpf__destroy(floor);
		floor = NULL;
	}
	if (!floor) {
		fprintf(stderr, "floor: cannot start %s or load the BPF object\n", path);
		err = 1;
		goto cleanup;
	}
	if (uprobes) {
		probe_plan_make(&a, placement, &plan);
		for (i = 0; i < MW_FUNC_NR; i++)
			entry[i] = floor->progs.empty_enter;
		err = probes_attach_plan(entry, floor->progs.empty_return, l.pid, &a, &plan, &probes);
	}
	if (!err)
		err = attach_tracepoints(floor, links, &n);
	if (!err)
		err = launch_release(&l);
	if (err) {
		fprintf(stderr, "floor: attach failed: %s\n", strerror(-err));
		err = 1;
		goto cleanup;
	}
	l.pid = -1;
	while (wait(&status) < 0 && errno == EINTR)
		;
	err = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
cleanup:
	if (l.pid > 0)
		launch_abort(&l);
	probes_detach(&probes);
	for (i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	floor_bpf__destroy(floor);
	return err;
}
