/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Text the target controls (its comm and thread names, its command line, the
 * paths of its files) made safe to print, at output: the model keeps the raw
 * bytes. A process can name itself with any bytes, and the kernel passes
 * them on as they are (/proc/PID/status escapes only '\n' and '\\'), so a
 * name such as "\e]0;x\a" would otherwise retitle or clear the terminal of
 * whoever reads memwatch's output.
 *
 * Every C0 control, DEL, C1 control (raw, and U+0080-U+009F encoded in
 * UTF-8, e.g. C2 9B, a CSI on some terminals) and byte that is not part of
 * valid UTF-8 is written as "\xNN", and a backslash as "\\", so that the
 * output reads back unambiguously. Valid UTF-8 otherwise passes: a name in
 * any script stays readable. JSON has its own exact escaping (json.c) on the
 * same UTF-8 decoding.
 */
#ifndef MW_ESCAPE_H
#define MW_ESCAPE_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The size of a buffer that holds @len bytes escaped, whatever they are, and the NUL. */
#define ESCAPED_SIZE(len) (4 * (len) + 1)

/*
 * The valid UTF-8 character at the start of @s (at most @len >= 1 bytes):
 * its length, its code point in *@cp. When @s starts with none (a stray
 * continuation byte, an overlong form, a surrogate, beyond U+10FFFF, cut
 * short), minus the length of the longest start of one there, at least 1:
 * the bytes one U+FFFD replaces in Unicode's recommended practice.
 */
int utf8_decode(const char *s, size_t len, unsigned int *cp);

/*
 * @len bytes of @s escaped into @buf of @size bytes, NUL-terminated. When
 * @size is short the text is cut before the first character or escape that
 * does not fit whole. Returns @buf.
 */
char *escape_mem(char *buf, size_t size, const char *s, size_t len);
/* The NUL-terminated @s escaped into @buf of @size bytes, as escape_mem(). */
char *escape_str(char *buf, size_t size, const char *s);
/* @len bytes of @s escaped, written to @out whatever their length. */
void escape_write(FILE *out, const char *s, size_t len);
/*
 * The same but for '\n' and '\t', which pass: for another program's
 * messages (libbpf's), whose lines are its own but may name the target's files.
 */
void escape_write_layout(FILE *out, const char *s, size_t len);
/*
 * The same and ';' as "\x3b": a frame of a folded stack, whose frames ';'
 * parts, on a line a newline ends (spaces pass: a count follows the last one).
 */
void escape_write_folded(FILE *out, const char *s, size_t len);

/*
 * @s escaped in a buffer of the caller's frame, for a printf argument: @max
 * is the most bytes of @s that are read and shown (a comm's MW_COMM_LEN, a
 * path's PATH_MAX), so a fixed array need not hold a NUL. @s is evaluated twice.
 */
#define ESC(s, max)									\
	escape_mem((char[ESCAPED_SIZE(max)]){ 0 }, ESCAPED_SIZE(max), (s), strnlen((s), (max)))

#endif /* MW_ESCAPE_H */
