// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Prints docs/json-fields.md from the counter registry: `make json-fields`. */
#include "output/json_fields.h"

int main(void)
{
	json_fields_write(stdout);
	return fflush(stdout) || ferror(stdout);
}
