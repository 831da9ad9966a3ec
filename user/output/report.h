/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The views of a model snapshot: plain text, a JSON line stream, the live view. */
#ifndef MW_REPORT_H
#define MW_REPORT_H

#include <stdio.h>
#include "model/model.h"

/* What an interactive view asks of the report loop once it has read its keys. */
enum report_input {
	REPORT_RUN,
	REPORT_PAUSE,		/* leave the model as it is */
	REPORT_QUIT,
};

struct reporter {
	void (*interval)(FILE *out, const struct mw_model *m);
	void (*summary)(FILE *out, const struct mw_model *m);
	/* interactive views only: called whenever stdin is readable or a signal woke the loop */
	enum report_input (*input)(const struct mw_model *m);
};

extern const struct reporter report_text;
extern const struct reporter report_json;

#endif /* MW_REPORT_H */
