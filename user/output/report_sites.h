/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * --stacks: the summary's call sites, the top ones by live bytes and by
 * allocated bytes (--top), as text and as JSON's "sites" array, then the
 * same of the sites grouped by caller (JSON's "callers").
 */
#ifndef MW_REPORT_SITES_H
#define MW_REPORT_SITES_H

#include <stdio.h>
#include "model/model.h"

/* The text section, when @m has sites. */
void report_sites_text(FILE *out, const struct mw_model *m);
/* ,"stacks":{...},"sites":[...],"callers":[...] when @m has sites. */
void report_sites_json(FILE *out, const struct mw_model *m);

#endif /* MW_REPORT_SITES_H */
