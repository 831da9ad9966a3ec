/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* --listen's [HOST:]PORT: the address a server binds, loopback unless a host is named. */
#ifndef MW_LISTEN_ADDR_H
#define MW_LISTEN_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct listen_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

/*
 * Parses PORT (127.0.0.1 then), HOST:PORT or [IPV6]:PORT (a scope too:
 * [fe80::1%eth0]:PORT), PORT in decimal digits, HOST a dotted-quad IPv4
 * address, or a name (it has a letter) whose first address is taken.
 * 0, or -EINVAL with why in @why.
 */
int listen_addr_parse(const char *arg, struct listen_addr *a, char *why, size_t why_len);
/* what listen_addr_str writes at most, its NUL included */
#define LISTEN_ADDR_STR_LEN 80
/* "127.0.0.1:9464", "[::1]:9464" or "[fe80::1%eth0]:9464", for messages. Returns @buf. */
char *listen_addr_str(const struct listen_addr *a, char *buf, size_t len);

#endif /* MW_LISTEN_ADDR_H */
