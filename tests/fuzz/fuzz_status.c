// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer target: /proc/PID/status parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attach/target.h"
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct proc_status st;

	if (!text)
		return 0;
	proc_status_parse(text, &st);
	free(text);
	return 0;
}
