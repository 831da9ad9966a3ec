// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <string.h>
#include "log.h"
#include "output.h"

static const char *output_name = "standard output";
static bool output_said;

FILE *output_open(const char *path)
{
	FILE *out = stdout;

	if (path) {
		out = fopen(path, "w");
		if (!out)
			return NULL;
		output_name = path;
	}
	/* a line at a time: a report is complete as soon as it is written */
	setvbuf(out, NULL, _IOLBF, 0);
	return out;
}

bool output_failed(FILE *out)
{
	int err = errno ?: EIO;

	if (!ferror(out))
		return false;
	if (!output_said)
		elog("cannot write %s: %s", output_name, strerror(err));
	output_said = true;
	return true;
}

bool output_close(FILE *out)
{
	bool failed;

	errno = 0;
	failed = fflush(out) == EOF;
	failed = output_failed(out) || failed;
	if (out != stdout && fclose(out) == EOF && !failed) {
		elog("cannot write %s: %s", output_name, strerror(errno));
		failed = true;
	}
	return failed;
}
