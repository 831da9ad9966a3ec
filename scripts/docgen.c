// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Writes the docs generated from memwatch's own tables to stdout: `make docs`
 * commits them, and a unit test fails when they drift.
 */
#include <stdio.h>
#include <string.h>
#include "output/keys.h"

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "keys")) {
		keys_markdown(stdout);
		return fflush(stdout) ? 1 : 0;
	}
	fprintf(stderr, "usage: %s keys\n", argv[0]);
	return 2;
}
