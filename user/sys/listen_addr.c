// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "sys/listen_addr.h"

/* the port of "[HOST]:PORT", "HOST:PORT" or "PORT", 1 to 65535 */
static int parse_port(const char *s, unsigned short *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

int listen_addr_parse(const char *arg, struct listen_addr *a, char *why, size_t why_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *colon = strrchr(arg, ':');
	char host[256], service[8];
	unsigned short port;
	size_t host_len;
	int err;

	memset(a, 0, sizeof(*a));
	if (parse_port(colon ? colon + 1 : arg, &port)) {
		snprintf(why, why_len, "expected [HOST:]PORT, PORT from 1 to 65535");
		return -EINVAL;
	}
	/* a bare port: loopback only, other interfaces only when named */
	if (!colon) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->len = sizeof(*in);
		return 0;
	}
	host_len = colon - arg;
	if (arg[0] == '[') {
		if (host_len < 2 || arg[host_len - 1] != ']') {
			snprintf(why, why_len, "an IPv6 address is written [ADDRESS]:PORT");
			return -EINVAL;
		}
		arg++;
		host_len -= 2;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	}
	if (!host_len || host_len >= sizeof(host)) {
		snprintf(why, why_len, "expected [HOST:]PORT with a HOST");
		return -EINVAL;
	}
	memcpy(host, arg, host_len);
	host[host_len] = '\0';
	/* an IPv6 address needs its brackets: its colons would be ambiguous */
	if (hints.ai_family != AF_INET6 && strchr(host, ':')) {
		snprintf(why, why_len, "an IPv6 address is written [ADDRESS]:PORT");
		return -EINVAL;
	}
	snprintf(service, sizeof(service), "%u", port);
	err = getaddrinfo(host, service, &hints, &res);
	if (err || !res) {
		snprintf(why, why_len, "cannot resolve %s: %s", host, gai_strerror(err));
		return -EINVAL;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

char *listen_addr_str(const struct listen_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	}
	return buf;
}
