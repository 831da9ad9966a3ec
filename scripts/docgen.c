// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Writes the docs generated from memwatch's own tables to stdout: `make docs`
 * commits them, and a unit test fails when they drift.
 *   docgen keys: docs/keys.md
 *   docgen man <docs/memwatch.8: the page with its key list rewritten
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "output/keys.h"
#include "sys/fileio.h"

/* The page on stdin, its lines between KEYS_MAN_BEGIN's and KEYS_MAN_END's the key list's. */
static int man_page(void)
{
	char *page = read_fd(STDIN_FILENO, NULL), *begin, *end;

	begin = page ? strstr(page, KEYS_MAN_BEGIN "\n") : NULL;
	end = begin ? strstr(begin, "\n" KEYS_MAN_END "\n") : NULL;
	if (!end) {
		fprintf(stderr, "docgen: no key list (" KEYS_MAN_BEGIN " ... " KEYS_MAN_END
				") in the page on stdin\n");
		free(page);
		return 1;
	}
	begin += strlen(KEYS_MAN_BEGIN "\n");
	fwrite(page, 1, begin - page, stdout);
	keys_man(stdout);
	fputs(end + 1, stdout);
	free(page);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc == 2 && !strcmp(argv[1], "keys")) {
		keys_markdown(stdout);
		ret = 0;
	} else if (argc == 2 && !strcmp(argv[1], "man")) {
		ret = man_page();
	} else {
		fprintf(stderr, "usage: %s keys | man <docs/memwatch.8\n", argv[0]);
		return 2;
	}
	return fflush(stdout) || ret ? 1 : 0;
}
