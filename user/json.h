/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The pieces of memwatch's JSON lines that more than one writer needs. */
#ifndef MW_JSON_H
#define MW_JSON_H

#include <stdio.h>

/* @s as a JSON string, quoted and escaped. */
void json_string(FILE *out, const char *s);

#endif /* MW_JSON_H */
