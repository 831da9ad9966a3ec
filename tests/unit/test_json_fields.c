// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* docs/json-fields.md is what the counter registry says today: `make json-fields` rewrites it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include "output/json_fields.h"
#include "tap.h"

#define DOC "docs/json-fields.md"

/* The whole of @path, NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *in = fopen(path, "r"), *out;
	int c;

	if (!in)
		return NULL;
	out = open_memstream(&text, &len);
	while ((c = fgetc(in)) != EOF)
		fputc(c, out);
	fclose(out);
	fclose(in);
	return text;
}

/* The first line where @a and @b differ, 1-based. */
static int first_difference(const char *a, const char *b)
{
	int line = 1;

	for (; *a && *a == *b; a++, b++)
		line += *a == '\n';
	return line;
}

int main(void)
{
	char *want = NULL, *got;
	size_t len = 0;
	FILE *out = open_memstream(&want, &len);

	json_fields_write(out);
	fclose(out);
	got = slurp(DOC);
	if (ASSERT_TRUE(got, DOC " exists (run from the repository's top)") &&
	    !ASSERT_TRUE(!strcmp(got, want), DOC " is what the registry says"))
		printf("#   they differ from line %d on: make json-fields rewrites it\n",
		       first_difference(got, want));
	free(got);
	free(want);
	return tap_done();
}
