/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The views of a model snapshot: plain text and a JSON line stream. */
#ifndef MW_REPORT_H
#define MW_REPORT_H

#include <stdio.h>
#include "model.h"

struct reporter {
	void (*interval)(FILE *out, const struct mw_model *m);
	void (*summary)(FILE *out, const struct mw_model *m);
};

extern const struct reporter report_text;
extern const struct reporter report_json;

#endif /* MW_REPORT_H */
