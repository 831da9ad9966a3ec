// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer target: Go build info sections, and maps texts searched for a mapped file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attach/mapped_file.h"
#include "sys/go_binary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long start, end;
	char version[32], *text;
	struct file_id id;

	go_buildinfo_version(data, size, version, sizeof(version));
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	maps_find_file(text, "/lib/libc.so.6", &id, &start, &end);
	free(text);
	return 0;
}
