// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include "output/metrics.h"
#include "output/metrics_server.h"

/*
 * Limits that keep a hostile or broken client from costing memwatch more
 * than a little memory and no report-loop time: a scraper needs one
 * connection, a browser a few.
 */
#define MAX_CONNECTIONS		32
#define MAX_PER_IP		8
#define CONNECTION_TIMEOUT_S	10
/* a request's headers must fit in this: more is answered 431 */
#define CONNECTION_MEMORY	(32 * 1024)

#define CONTENT_TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

static const char index_page[] =
	"memwatch exporter: the metrics are at /metrics\n";

/* One interval's exposition in both formats, freed by whoever drops the last reference. */
struct page {
	int refs;
	char *text[METRICS_FORMAT_NR];
	size_t len[METRICS_FORMAT_NR];
};

struct metrics_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	struct page *page;		/* the last one published, NULL before the first */
};

static void page_put(void *cls)
{
	struct page *p = cls;
	int i;

	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < METRICS_FORMAT_NR; i++)
		free(p->text[i]);
	free(p);
}

static struct page *page_get(struct metrics_server *s)
{
	struct page *p;

	pthread_mutex_lock(&s->lock);
	p = s->page;
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&s->lock);
	return p;
}

/*
 * Whether the Accept header asks for OpenMetrics: a media range
 * application/openmetrics-text whose q is not 0. Prometheus 2.42 sends it
 * first, text/plain with a lower q after.
 */
static bool wants_openmetrics(const char *accept)
{
	static const char type[] = "application/openmetrics-text";
	const char *range = accept;

	while (range && *range) {
		const char *end, *q;
		size_t len;

		range += strspn(range, " \t");
		end = strchr(range, ',');
		len = end ? (size_t)(end - range) : strlen(range);
		if (!strncasecmp(range, type, sizeof(type) - 1) &&
		    strchr("; \t,", range[sizeof(type) - 1] ?: ',')) {
			q = memmem(range, len, "q=", 2);
			if (!q || strtod(q + 2, NULL) > 0)
				return true;
		}
		range = end ? end + 1 : NULL;
	}
	return false;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned int status,
			      struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned int status,
				   const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return answer(c, status, r);
}

static enum MHD_Result answer_metrics(struct metrics_server *s, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum metrics_format f = accept && wants_openmetrics(accept) ? METRICS_OPENMETRICS :
								    METRICS_PROMETHEUS;
	struct MHD_Response *r;
	struct page *p;

	p = page_get(s);
	if (!p)
		return answer_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "memwatch: no interval has ended yet\n");
	/* the response holds the reference: a publish meanwhile frees nothing it sends */
	r = MHD_create_response_from_buffer_with_free_callback_cls(p->len[f], p->text[f],
								   page_put, p);
	if (!r) {
		page_put(p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				f == METRICS_OPENMETRICS ? CONTENT_TYPE_OPENMETRICS :
							   CONTENT_TYPE_PROMETHEUS);
	return answer(c, MHD_HTTP_OK, r);
}

/* Every request, answered as soon as its headers are in: no method here takes a body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/metrics"))
		return answer_metrics(cls, c);
	if (!strcmp(url, "/"))
		return answer_text(c, MHD_HTTP_OK, index_page);
	return answer_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
}

/* Our own socket: a bind that fails says why with its errno. */
static int listen_socket(const struct listen_addr *addr)
{
	int fd, one = 1, err;

	fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:PORT is IPv6 only: 0.0.0.0:PORT is asked for by name */
	if (addr->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int metrics_server_start(struct metrics_server **out, const struct listen_addr *addr)
{
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD;
	struct metrics_server *s;
	sigset_t all, old;
	int fd, err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	fd = listen_socket(addr);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	if (addr->sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the server's thread inherits this mask: SIGINT and SIGTERM are the report loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)MAX_PER_IP,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
				     MHD_OPTION_END);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->daemon) {
		close(fd);
		err = err ? -err : -EIO;
		goto fail;
	}
	*out = s;
	return 0;

fail:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return err;
}

int metrics_server_publish(struct metrics_server *s, const struct mw_model *m, bool threads)
{
	struct page *p, *old;
	int i, err = 0;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->refs = 1;
	for (i = 0; i < METRICS_FORMAT_NR && !err; i++) {
		FILE *f = open_memstream(&p->text[i], &p->len[i]);

		if (!f) {
			err = -errno;
			break;
		}
		err = metrics_write(f, m, i, threads);
		if (fclose(f) && !err)
			err = -ENOMEM;
	}
	if (err) {
		page_put(p);
		return err;
	}
	pthread_mutex_lock(&s->lock);
	old = s->page;
	s->page = p;
	pthread_mutex_unlock(&s->lock);
	page_put(old);
	return 0;
}

void metrics_server_stop(struct metrics_server *s)
{
	if (!s)
		return;
	/* joins its thread and ends its connections: their pages' references are dropped */
	MHD_stop_daemon(s->daemon);
	page_put(s->page);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
