// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --listen's [HOST:]PORT: loopback for a bare port, other interfaces only when named. */
#include <errno.h>
#include "sys/listen_addr.h"
#include "tap.h"

/* @arg parsed and printed back, or "error" */
static const char *parsed(const char *arg)
{
	static char buf[64];
	struct listen_addr a;
	char why[256];

	if (listen_addr_parse(arg, &a, why, sizeof(why)))
		return "error";
	return listen_addr_str(&a, buf, sizeof(buf));
}

int main(void)
{
	ASSERT_STREQ(parsed("9464"), "127.0.0.1:9464", "a bare port binds 127.0.0.1");
	ASSERT_STREQ(parsed("0.0.0.0:9464"), "0.0.0.0:9464", "every IPv4 interface when named");
	ASSERT_STREQ(parsed("[::]:9464"), "[::]:9464", "every IPv6 interface when named");
	ASSERT_STREQ(parsed("[::1]:80"), "[::1]:80", "IPv6 loopback");
	ASSERT_STREQ(parsed("10.1.2.3:1"), "10.1.2.3:1", "an IPv4 address");
	ASSERT_STREQ(parsed("0"), "error", "port 0 refused");
	ASSERT_STREQ(parsed("65536"), "error", "a port beyond 65535 refused");
	ASSERT_STREQ(parsed("9464x"), "error", "a port with trailing text refused");
	ASSERT_STREQ(parsed("::1:80"), "error", "an IPv6 address without brackets refused");
	ASSERT_STREQ(parsed("[::1:80"), "error", "an unclosed bracket refused");
	ASSERT_STREQ(parsed(":80"), "error", "an empty host refused");
	ASSERT_STREQ(parsed("[127.0.0.1]:80"), "error", "brackets hold IPv6 only");
	return tap_done();
}
