// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "output/metrics.h"
#include "output/mhd_lib.h"
#include "output/metrics_server.h"

/*
 * Limits that keep a hostile or broken client from costing memwatch more
 * than a little memory and no report-loop time: a scraper needs one
 * connection, a browser a few. Each address of 127.0.0.0/8 counts as its
 * own for MAX_PER_IP: MAX_CONNECTIONS is the bound that holds.
 */
#define MAX_CONNECTIONS		32
#define MAX_PER_IP		4
/* idle time, reset by each byte that moves: an idle keep-alive connection frees its slot then */
#define CONNECTION_TIMEOUT_S	5
#define NSEC_PER_SEC		1000000000ULL
/*
 * Absolute time a request may take, from the accept or the end of the
 * connection's previous request, its headers included: a client that
 * trickles its headers or reads its answer a little at a time loses its
 * connection then, and the page it held.
 */
#define REQUEST_DEADLINE_NS	(30 * NSEC_PER_SEC)
/* a request's headers must fit in this: more is answered 431 */
#define CONNECTION_MEMORY	(32 * 1024)
/* what the kernel buffers for a slow reader, beyond the block MHD holds */
#define CONNECTION_SNDBUF	(128 * 1024)
/* the buffer MHD copies a page into, per connection: with 16 KiB a 5 MB scrape took 10 ms, not 3-6 */
#define READER_BLOCK		(64 * 1024)

#define CONTENT_TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

static const char index_page[] =
	"memwatch exporter: the metrics are at /metrics\n";

/*
 * One interval's exposition in one format, freed by whoever drops the last
 * reference: a scrape holds only the format it sends.
 */
struct page {
	int refs;
	size_t len;
	char *text;
};

/* An accepted connection, on the server's list until MHD closes it. */
struct conn {
	struct conn *next, **pprev;
	int fd;
	__u64 deadline_ns;		/* of its current request */
};

struct metrics_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;		/* the pages, the connections and stopping */
	struct page *page[METRICS_FORMAT_NR];	/* the last ones published, NULL before */
	struct conn *conns;
	pthread_t watchdog;
	pthread_cond_t wake;		/* the watchdog's: memwatch stops */
	bool stopping;
};

/* What a response reads from: its page, until the request's deadline. */
struct reader {
	struct page *page;
	__u64 deadline_ns;
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void page_put(struct page *p)
{
	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL))
		return;
	free(p->text);
	free(p);
}

static struct page *page_get(struct metrics_server *s, enum metrics_format f)
{
	struct page *p;

	pthread_mutex_lock(&s->lock);
	p = s->page[f];
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&s->lock);
	return p;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned int status,
			      struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = sym_MHD_queue_response(c, status, r);
	sym_MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned int status,
				   const char *text)
{
	struct MHD_Response *r;

	r = sym_MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	sym_MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		sym_MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		sym_MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return answer(c, status, r);
}

/* Up to @max bytes of the page from @pos, or the end of the connection past the deadline. */
static ssize_t read_page(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reader *rd = cls;
	size_t n = rd->page->len - pos;

	if (now_ns() >= rd->deadline_ns)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n > max)
		n = max;
	memcpy(buf, rd->page->text + pos, n);
	return n;
}

static void reader_free(void *cls)
{
	struct reader *rd = cls;

	page_put(rd->page);
	free(rd);
}

static enum MHD_Result answer_metrics(struct metrics_server *s, struct MHD_Connection *c)
{
	const char *accept = sym_MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	const union MHD_ConnectionInfo *info;
	enum metrics_format f = metrics_format_of(accept);
	struct MHD_Response *r;
	struct reader *rd;
	struct conn *conn;

	info = sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	conn = info ? info->socket_context : NULL;
	if (!conn)
		return MHD_NO;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return MHD_NO;
	rd->page = page_get(s, f);
	if (!rd->page) {
		free(rd);
		return answer_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "memwatch: no interval has ended yet\n");
	}
	/* set when the request began, in this thread: no lock to read it */
	rd->deadline_ns = conn->deadline_ns;
	/* the response holds the reference: a publish meanwhile frees nothing it sends */
	r = sym_MHD_create_response_from_callback(rd->page->len, READER_BLOCK, read_page, rd,
					      reader_free);
	if (!r) {
		reader_free(rd);
		return MHD_NO;
	}
	sym_MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				f == METRICS_OPENMETRICS ? CONTENT_TYPE_OPENMETRICS :
							   CONTENT_TYPE_PROMETHEUS);
	return answer(c, MHD_HTTP_OK, r);
}

/*
 * A connection accepted: on the list the watchdog reads, its first request's
 * deadline set, and a send buffer small enough that a client that stops
 * reading holds little of the kernel's memory too. Closed: off the list,
 * before MHD closes its fd, so the watchdog never shuts another socket down.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics_server *s = cls;
	const union MHD_ConnectionInfo *info;
	struct conn *conn = *socket_context;
	int sndbuf = CONNECTION_SNDBUF;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!conn)
			return;
		pthread_mutex_lock(&s->lock);
		*conn->pprev = conn->next;
		if (conn->next)
			conn->next->pprev = conn->pprev;
		pthread_mutex_unlock(&s->lock);
		free(conn);
		return;
	}
	info = sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	conn = calloc(1, sizeof(*conn));
	/* without its record the connection is answered nothing: answer_metrics refuses it */
	if (!conn || !info) {
		free(conn);
		return;
	}
	conn->fd = info->connect_fd;
	conn->deadline_ns = now_ns() + REQUEST_DEADLINE_NS;
	setsockopt(conn->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	pthread_mutex_lock(&s->lock);
	conn->next = s->conns;
	conn->pprev = &s->conns;
	if (s->conns)
		s->conns->pprev = &conn->next;
	s->conns = conn;
	pthread_mutex_unlock(&s->lock);
	*socket_context = conn;
}

/* A request answered: the connection's next request has its own time, from now. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct metrics_server *s = cls;
	const union MHD_ConnectionInfo *info;
	struct conn *conn;

	(void)con_cls;
	info = sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	conn = info ? info->socket_context : NULL;
	if (!conn || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	pthread_mutex_lock(&s->lock);
	conn->deadline_ns = now_ns() + REQUEST_DEADLINE_NS;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Once a second, shuts down the connections past their deadline. MHD calls
 * memwatch only once a request's headers are in and when it wants more of a
 * response: a client that trickles its headers, or stops reading, would keep
 * its slot (and its page) as long as each byte comes within the idle
 * timeout. shutdown() wakes MHD, which then closes the connection itself.
 */
static void *watchdog(void *arg)
{
	struct metrics_server *s = arg;
	struct timespec next;
	struct conn *conn;
	__u64 now;

	pthread_mutex_lock(&s->lock);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!s->stopping) {
		now = now_ns();
		for (conn = s->conns; conn; conn = conn->next) {
			if (now >= conn->deadline_ns)
				shutdown(conn->fd, SHUT_RDWR);
		}
		next.tv_sec++;
		pthread_cond_timedwait(&s->wake, &s->lock, &next);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
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
	pthread_condattr_t attr;
	sigset_t all, old;
	int fd, err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	fd = listen_socket(addr);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	if (addr->sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the server's threads inherit this mask: SIGINT and SIGTERM are the report loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/*
	 * From here the socket is MHD's: its failure paths past reading
	 * MHD_OPTION_LISTEN_SOCKET (the first option) close it. Closing it again
	 * could close a file another thread opened meanwhile with the number;
	 * a path that left it open would cost one descriptor, as memwatch exits.
	 */
	s->daemon = sym_MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)MAX_PER_IP,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_END);
	err = s->daemon ? 0 : errno ? -errno : -EIO;
	if (!err)
		err = -pthread_create(&s->watchdog, NULL, watchdog, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	*out = s;
	return 0;

fail:
	if (s->daemon)
		sym_MHD_stop_daemon(s->daemon);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return err;
}

/* @m in @format as a page with one reference, the caller's; NULL and *err on failure. */
static struct page *render(const struct mw_model *m, enum metrics_format format, bool threads,
			   int *err)
{
	struct page *p;
	FILE *f;

	p = calloc(1, sizeof(*p));
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	p->refs = 1;
	f = open_memstream(&p->text, &p->len);
	if (!f) {
		*err = -errno;
		goto fail;
	}
	*err = metrics_write(f, m, format, threads);
	if (fclose(f) && !*err)
		*err = -ENOMEM;
	if (*err)
		goto fail;
	return p;

fail:
	page_put(p);
	return NULL;
}

int metrics_server_publish(struct metrics_server *s, const struct mw_model *m, bool threads)
{
	struct page *p[METRICS_FORMAT_NR] = { NULL }, *old;
	int i, err = 0;

	for (i = 0; i < METRICS_FORMAT_NR && !err; i++)
		p[i] = render(m, i, threads, &err);
	if (err) {
		for (i = 0; i < METRICS_FORMAT_NR; i++)
			page_put(p[i]);
		return err;
	}
	for (i = 0; i < METRICS_FORMAT_NR; i++) {
		pthread_mutex_lock(&s->lock);
		old = s->page[i];
		s->page[i] = p[i];
		pthread_mutex_unlock(&s->lock);
		page_put(old);
	}
	return 0;
}

void metrics_server_stop(struct metrics_server *s)
{
	int i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->watchdog, NULL);
	/* joins its thread and ends its connections: their pages' references are dropped */
	sym_MHD_stop_daemon(s->daemon);
	for (i = 0; i < METRICS_FORMAT_NR; i++)
		page_put(s->page[i]);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
