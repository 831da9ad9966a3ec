// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "snapshot.h"
#include "memwatch.skel.h"

/* Copies every thread's counters out of the map, a batch at a time. */
static int read_threads(int map_fd, __u32 max_entries, struct mw_model *m)
{
	struct mw_thread *values = calloc(max_entries, sizeof(*values));
	__u32 *keys = calloc(max_entries, sizeof(*keys));
	__u32 batch, count, i;
	bool first = true;
	int err = 0;

	if (!values || !keys) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		count = max_entries;
		err = bpf_map_lookup_batch(map_fd, first ? NULL : &batch, &batch, keys, values,
					   &count, NULL);
		/* ENOENT marks the last batch, which may still hold entries */
		if (err && errno != ENOENT) {
			err = -errno;
			goto cleanup;
		}
		for (i = 0; i < count; i++) {
			if (model_set_thread(m, keys[i], &values[i])) {
				err = -ENOMEM;
				goto cleanup;
			}
		}
		if (err) {
			err = 0;
			break;
		}
		first = false;
	}
cleanup:
	free(values);
	free(keys);
	return err;
}

static void add_live_thread(pid_t tid, void *model)
{
	model_add_live_thread(model, tid);
}

int snapshot_take(struct memwatch_bpf *skel, struct mw_model *m, double elapsed_s)
{
	struct bpf_map *threads = skel->maps.threads;
	struct proc_status status;
	bool alive;
	int err;

	model_begin_update(m, elapsed_s);
	err = read_threads(bpf_map__fd(threads), bpf_map__max_entries(threads), m);
	if (err)
		return err;
	/* a zombie keeps its /proc entry but no longer any memory */
	alive = !m->target_exited && !proc_status_read(m->info.pid, &status) && status.has_mm;
	if (alive) {
		m->status = status;
		for_each_thread(m->info.pid, add_live_thread, m);
	}
	m->lost_events = skel->bss->lost_events;
	model_end_update(m, alive);
	return 0;
}
