/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --folded FILE: every call site as a line of folded stacks, the input of
 * flamegraph.pl, inferno and speedscope: the site's frames outermost first,
 * parted by ';', then a space and the bytes allocated there (estimated, with
 * --stacks=sampled). A frame is its function's name, else module+0xOFFSET,
 * else its bare address; the target names its functions and files, so each
 * is escaped (escape_write_folded()): a line holds no ';' but those parting
 * frames, no newline but its end and no control byte.
 */
#ifndef MW_FOLDED_H
#define MW_FOLDED_H

#include <stdio.h>
#include "stacks/sites.h"

/* A line per site of @s, every site's (symbolized: stacks_stop()'s @all). */
void folded_write(FILE *out, const struct stack_sites *s);

#endif /* MW_FOLDED_H */
