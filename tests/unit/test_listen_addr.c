// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --listen's [HOST:]PORT: loopback for a bare port, other interfaces only when named. */
#include <errno.h>
#include "sys/listen_addr.h"
#include "tap.h"

/* @arg parsed and printed back, or "error" */
static const char *parsed(const char *arg)
{
	static char buf[LISTEN_ADDR_STR_LEN];
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
	ASSERT_STREQ(parsed(" 9464"), "error", "a port with a leading space refused");
	ASSERT_STREQ(parsed("+9464"), "error", "a port with a + refused");
	ASSERT_STREQ(parsed("127.0.0.1: 80"), "error", "a space after the colon refused");
	ASSERT_STREQ(parsed("127.0.0.1:-80"), "error", "a negative port refused");
	ASSERT_STREQ(parsed("127.1:80"), "error", "inet_aton's short form is no address");
	ASSERT_STREQ(parsed("0x7f.0.0.1:80"), "error", "nor its hexadecimal (x is no name's letter)");
	ASSERT_STREQ(parsed("1.2.3.4.5:80"), "error", "five parts refused, not looked up");
	ASSERT_STREQ(parsed("[fe80::1%lo]:9464"), "[fe80::1%lo]:9464",
		     "a link-local address keeps its scope when printed");
	ASSERT_STREQ(parsed("[fe80::1%1]:9464"), "[fe80::1%lo]:9464",
		     "a scope by number is printed by name");
	return tap_done();
}
