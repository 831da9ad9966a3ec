// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include "sys/listen_addr.h"

/* the port of "[HOST]:PORT", "HOST:PORT" or "PORT", 1 to 65535, in digits only */
static int parse_port(const char *s, unsigned short *port)
{
	char *end;
	long v;

	/* strtol would take a leading space, + or - */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

#define LETTERS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

int listen_addr_parse(const char *arg, struct listen_addr *a, char *why, size_t why_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *colon = strrchr(arg, ':');
	char host[256], service[8];
	unsigned short port;
	struct in_addr any;
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
	/*
	 * A host without a letter is an address, never looked up as a name, and
	 * so is what inet_aton takes (0x7f.0.0.1): inet_pton's four decimal
	 * parts only, not the short and hexadecimal forms getaddrinfo would take.
	 */
	if (hints.ai_family != AF_INET6 && (!strpbrk(host, LETTERS) || inet_aton(host, &any))) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
			snprintf(why, why_len, "%s is no IPv4 address (four decimal numbers)", host);
			return -EINVAL;
		}
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		a->len = sizeof(*in);
		return 0;
	}
	snprintf(service, sizeof(service), "%u", port);
	/* a name's first address is the one bound, in the order of glibc's RFC 3484 sort */
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
	char host[INET6_ADDRSTRLEN] = "?", scope[IF_NAMESIZE + 1] = "";

	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		/* a link-local address means nothing without its interface */
		if (in6->sin6_scope_id && !if_indextoname(in6->sin6_scope_id, scope + 1))
			snprintf(scope + 1, sizeof(scope) - 1, "%u", in6->sin6_scope_id);
		if (in6->sin6_scope_id)
			scope[0] = '%';
		snprintf(buf, len, "[%s%s]:%u", host, scope, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	}
	return buf;
}
