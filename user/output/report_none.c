// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* --format=none: no reports, no summary; for a headless exporter (--listen). */
#include "output/report.h"

static void none_report(FILE *out, const struct mw_model *m)
{
	(void)out;
	(void)m;
}

const struct reporter report_none = {
	.name = "none",
	.interval = none_report,
	.summary = none_report,
};
