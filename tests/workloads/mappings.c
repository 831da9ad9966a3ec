/*
 * mappings - a process with many mappings, as JVMs, browsers and programs with thousands of
 * threads have: what memwatch's reading of /proc/PID/smaps must keep up with.
 *
 *     mappings [-w] [-W] N
 *
 * Maps N pages in one anonymous private mmap, writes every page, then makes every other page
 * read-only with mprotect: neighbours with different protections do not merge, so the process
 * gains exactly N mappings, all created by the main thread, and all N pages stay resident (each
 * was written before its protection changed).
 *
 * -w prints 'ready pid=PID' on stderr and waits for a line (or EOF) on stdin before mapping;
 * -W prints 'done pid=PID' after mapping and waits again before exiting. At the end, on stdout:
 *
 *     total mode=mappings n=N mapped_bytes=B
 *
 * vm.max_map_count (65530 by default) bounds N plus the few mappings the process starts with.
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -o mappings mappings.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: mappings [-w] [-W] N\n");
	exit(2);
}

static void wait_line(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
}

int main(int argc, char **argv)
{
	bool wait_start = false, wait_end = false;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long n, i;
	char *end, *base;
	int opt;

	while ((opt = getopt(argc, argv, "wW")) != -1) {
		if (opt == 'w')
			wait_start = true;
		else if (opt == 'W')
			wait_end = true;
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	errno = 0;
	n = strtoul(argv[optind], &end, 10);
	if (errno || *end || !n) {
		fprintf(stderr, "mappings: invalid count '%s'\n", argv[optind]);
		return 2;
	}
	if (wait_start) {
		fprintf(stderr, "ready pid=%d\n", getpid());
		wait_line();
	}
	base = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		fprintf(stderr, "mappings: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(base, 1, n * page);
	for (i = 1; i < n; i += 2) {
		if (mprotect(base + i * page, page, PROT_READ)) {
			fprintf(stderr, "mappings: mprotect of page %lu: %s (vm.max_map_count?)\n",
				i, strerror(errno));
			return 1;
		}
	}
	if (wait_end) {
		fprintf(stderr, "done pid=%d\n", getpid());
		wait_line();
	}
	printf("total mode=mappings n=%lu mapped_bytes=%lu\n", n, n * page);
	return 0;
}
