/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --listen: /metrics over HTTP (libmicrohttpd, in a thread of its own that
 * blocks every signal). The report loop renders the exposition once per
 * interval and publishes it by swapping a pointer under a mutex; a scrape
 * takes a reference to the page published last. The server never reads the
 * model or the BPF maps, and never holds the mutex longer than the loop does.
 */
#ifndef MW_METRICS_SERVER_H
#define MW_METRICS_SERVER_H

#include <stdbool.h>
#include "model/model.h"
#include "sys/listen_addr.h"

struct metrics_server;

/*
 * Binds @addr and starts serving: until the first publish, /metrics answers
 * 503. 0, or -errno (the bind's: EADDRINUSE, EADDRNOTAVAIL, EACCES, ...).
 */
int metrics_server_start(struct metrics_server **s, const struct listen_addr *addr);
/*
 * Renders @m and the processes after it (with their per-thread families if
 * @threads) as what scrapes get from now on.
 */
int metrics_server_publish(struct metrics_server *s, const struct mw_model *m, bool threads);
/* Stops serving, closes every connection, frees @s; NULL is none. */
void metrics_server_stop(struct metrics_server *s);

#endif /* MW_METRICS_SERVER_H */
