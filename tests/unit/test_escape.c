// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Target-controlled text made safe to print: the text escaping and JSON strings. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
#include "output/escape.h"
#include "output/json.h"
#include "unescape.h"
#include "tap.h"

static const char *esc(const char *s, size_t len)
{
	static char text[256];

	return escape_mem(text, sizeof(text), s, len);
}

#define ESC_LIT(lit) esc(lit, sizeof(lit) - 1)

static const char *json(const char *s)
{
	static char text[256];
	FILE *f;

	text[0] = '\0';
	f = fmemopen(text, sizeof(text), "w");
	json_string(f, s);
	fclose(f);
	return text;
}

static void test_passes(void)
{
	ASSERT_STREQ(ESC_LIT("channel"), "channel", "plain ASCII as it is");
	ASSERT_STREQ(ESC_LIT("a b~/.[]{}'\""), "a b~/.[]{}'\"", "printable ASCII as it is");
	ASSERT_STREQ(ESC_LIT("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"),
		     "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "valid UTF-8, 2 to 4 bytes");
	ASSERT_STREQ(ESC_LIT("\xc2\xa0\xc2\xbf"), "\xc2\xa0\xc2\xbf", "U+00A0 and on are not C1");
	ASSERT_STREQ(ESC_LIT("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf", "U+10FFFF passes");
}

static void test_controls(void)
{
	ASSERT_STREQ(ESC_LIT("\x1b]0;OWNED\a\x1b[2J"), "\\x1b]0;OWNED\\x07\\x1b[2J",
		     "ESC and BEL: a title and a clear screen made inert");
	ASSERT_STREQ(ESC_LIT("a\rb\nc\td\x7f"), "a\\x0db\\x0ac\\x09d\\x7f", "CR, LF, tab and DEL");
	ASSERT_STREQ(ESC_LIT("\0x"), "\\x00x", "a NUL inside the length");
	ASSERT_STREQ(ESC_LIT("a\\x1b"), "a\\\\x1b", "a backslash doubled: \\x is unambiguous");
	ASSERT_STREQ(ESC_LIT("\x9b" "2J\x80\x9f"), "\\x9b2J\\x80\\x9f", "raw C1 bytes");
	ASSERT_STREQ(ESC_LIT("\xc2\x9b" "2J\xc2\x80\xc2\x85\xc2\x9f"),
		     "\\xc2\\x9b2J\\xc2\\x80\\xc2\\x85\\xc2\\x9f", "C1 in UTF-8 (C2 9B: CSI)");
}

static void test_invalid_utf8(void)
{
	ASSERT_STREQ(ESC_LIT("\xff\xfe"), "\\xff\\xfe", "FF and FE");
	ASSERT_STREQ(ESC_LIT("\xc0\xaf\xc1\xbf"), "\\xc0\\xaf\\xc1\\xbf", "overlong 2-byte forms");
	ASSERT_STREQ(ESC_LIT("\xe0\x80\xaf"), "\\xe0\\x80\\xaf", "overlong 3-byte form");
	ASSERT_STREQ(ESC_LIT("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf", "overlong 4-byte form");
	ASSERT_STREQ(ESC_LIT("\xed\xa0\x80"), "\\xed\\xa0\\x80", "a UTF-16 surrogate");
	ASSERT_STREQ(ESC_LIT("\xf4\x90\x80\x80\xf5"), "\\xf4\\x90\\x80\\x80\\xf5",
		     "beyond U+10FFFF");
	ASSERT_STREQ(ESC_LIT("\xe2\x82(\xc3"), "\\xe2\\x82(\\xc3",
		     "a sequence cut by an ASCII byte, another by the end");
	ASSERT_STREQ(ESC_LIT("\xa9\xc3\xa9"), "\\xa9\xc3\xa9", "a stray continuation, then valid");
}

static void test_utf8_decode(void)
{
	unsigned int cp = 0;

	ASSERT_EQ(utf8_decode("\xe2\x82\xac", 3, &cp), 3, "decode: the euro sign is 3 bytes");
	ASSERT_EQ(cp, 0x20ac, "decode: U+20AC");
	ASSERT_EQ(utf8_decode("\xc2\x9b", 2, &cp), 2, "decode: C2 9B is valid UTF-8");
	ASSERT_EQ(cp, 0x9b, "decode: U+009B");
	ASSERT_EQ(utf8_decode("\x9b", 1, &cp), -1, "decode: a raw 9B is not");
	ASSERT_EQ(utf8_decode("\xe2\x82\xac", 2, &cp), -2, "decode: cut by the length, 2 bytes");
	ASSERT_EQ(utf8_decode("\xf0\x9f\x98(", 4, &cp), -3, "decode: cut by ASCII, 3 bytes");
	ASSERT_EQ(utf8_decode("\xed\xa0\x80", 3, &cp), -1, "decode: a surrogate's lead alone");
	ASSERT_EQ(utf8_decode("\xe0\x9f\xbf", 3, &cp), -1, "decode: an overlong lead alone");
	ASSERT_EQ(utf8_decode("\xf4\x90\x80\x80", 4, &cp), -1, "decode: past U+10FFFF, lead alone");
}

static void test_bounds(void)
{
	char buf[8];

	memset(buf, '#', sizeof(buf));
	ASSERT_STREQ(escape_mem(buf, 5, "ab\x1b", 3), "ab", "cut before an escape not fitting");
	ASSERT_EQ(buf[3], '#', "nothing written past the NUL");
	ASSERT_STREQ(escape_mem(buf, 6, "ab\x1b", 3), "ab", "an escape needs its 4 bytes");
	ASSERT_STREQ(escape_mem(buf, 7, "ab\x1b", 3), "ab\\x1b", "room for it whole");
	ASSERT_STREQ(escape_mem(buf, 3, "a\xc3\xa9", 3), "a", "cut before a character, not inside");
	ASSERT_STREQ(escape_mem(buf, 3, "a\\", 2), "a", "cut before a doubled backslash");
	ASSERT_STREQ(escape_mem(buf, 1, "abc", 3), "", "room for the NUL only");
	buf[0] = '#';
	escape_mem(buf, 0, "abc", 3);
	ASSERT_EQ(buf[0], '#', "size 0: nothing written");
}

static void test_esc_macro(void)
{
	char comm[16], all[16];
	char *out;

	memset(comm, '\xff', sizeof(comm));
	out = ESC(comm, sizeof(comm));
	ASSERT_EQ(strlen(out), 64, "ESC: 16 bytes of FF, no NUL: 64 bytes, read no further");
	memset(all, '\x1b', sizeof(all));
	all[15] = '\0';
	ASSERT_EQ(strlen(ESC(all, sizeof(all))), 60, "ESC: a 15-byte name of ESC whole");
}

static void test_write(void)
{
	static const char s[] = "x\x1b\xc2\x9b\xc3\xa9\xff\\";
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	escape_write(f, s, sizeof(s) - 1);
	fclose(f);
	ASSERT_STREQ(text, ESC_LIT("x\x1b\xc2\x9b\xc3\xa9\xff\\"), "escape_write: as escape_mem");
	free(text);
}

/* Every byte, C0 or C1 once decoded, or a byte not part of valid UTF-8. */
static bool unsafe(const char *s)
{
	mbstate_t state = { 0 };
	size_t len = strlen(s);

	while (len) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, len, &state);

		if (n == (size_t)-1 || n == (size_t)-2 || wc < 0x20 || (wc >= 0x7f && wc <= 0x9f))
			return true;
		s += n;
		len -= n;
	}
	return false;
}

/* Every 2-byte input: the output is safe UTF-8 (glibc's decoder) and reads back to the input. */
static void test_all_pairs(void)
{
	unsigned int bad_safety = 0, bad_round = 0, i;

	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		tap_skip("every byte pair: safe and reversible", "no C.UTF-8 locale");
		return;
	}
	for (i = 0; i < 65536; i++) {
		char in[2] = { i >> 8, i & 0xff }, back[8];
		const char *out = esc(in, 2);

		bad_safety += unsafe(out);
		bad_round += unescape(out, back) != 2 || memcmp(back, in, 2);
	}
	ASSERT_EQ(bad_safety, 0, "every byte pair: no control, valid UTF-8");
	ASSERT_EQ(bad_round, 0, "every byte pair: reads back to itself");
	setlocale(LC_CTYPE, "C");
}

static void test_json_string(void)
{
	ASSERT_STREQ(json("caf\xc3\xa9 \"q\" \\"), "\"caf\xc3\xa9 \\\"q\\\" \\\\\"",
		     "json: UTF-8 as it is, quote and backslash escaped");
	ASSERT_STREQ(json("\x1b[2J\a\r\n\x7f"), "\"\\u001b[2J\\u0007\\u000d\\u000a\\u007f\"",
		     "json: C0 and DEL as \\u");
	ASSERT_STREQ(json("\xc2\x9b\xc2\x80"), "\"\\u009b\\u0080\"", "json: C1 as \\u, not raw");
	ASSERT_STREQ(json("a\xff\x9b\xe2\x82(\xed\xa0\x80"),
		     "\"a\\ufffd\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"",
		     "json: invalid UTF-8 replaced as Python's decoder does");
	ASSERT_STREQ(json(""), "\"\"", "json: empty");
}

int main(void)
{
	test_passes();
	test_controls();
	test_invalid_utf8();
	test_utf8_decode();
	test_bounds();
	test_esc_macro();
	test_write();
	test_all_pairs();
	test_json_string();
	return tap_done();
}
