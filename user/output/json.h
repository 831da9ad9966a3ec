/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The pieces of memwatch's JSON lines that more than one writer needs. */
#ifndef MW_JSON_H
#define MW_JSON_H

#include <stdio.h>

/*
 * @s as a JSON string, quoted and escaped: valid JSON whatever its bytes.
 * Control characters (C0, DEL, C1) become \uXXXX; bytes that are not valid
 * UTF-8 become U+FFFD, written \ufffd, one for each longest start of a
 * character as Unicode recommends (and Python's decoder does).
 */
void json_string(FILE *out, const char *s);

#endif /* MW_JSON_H */
