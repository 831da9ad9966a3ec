/*
 * sites - the workload of memwatch's --stacks tests: three call sites, each
 * a noinline function allocating a known count and size through its own
 * path, called from main through another noinline function, so that each
 * site's stack up to main is known. Built twice, with and without frame
 * pointers: the stacks must be the same.
 *
 *   alloc_paired:  N x malloc(SMALL), each freed at once        (frees N, live 0)
 *   alloc_zeroed:  N x calloc(2, SMALL), all freed after        (frees N, live 0)
 *   alloc_kept:    N x malloc(KEPT), none freed                 (live N x KEPT)
 *
 * It prints "sites n=N small=SMALL kept=KEPT" at the end. Launched under
 * memwatch, which holds it until every probe is in: no call is missed.
 * "sites N gate" waits after its first allocation until its standard input
 * ends: a test closes it once memwatch has read the process's modules, so
 * that the sites' stacks are symbolized however soon the process exits.
 * "sites N [gate] hold" stays after the sites, its blocks live, until a
 * signal ends it: the live view's test looks at them meanwhile.
 *
 * Build: gcc -O2 -g -fno-builtin [-fomit-frame-pointer|-fno-omit-frame-pointer] -o sites sites.c
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMALL 48
#define KEPT 200

/* the blocks, where gcc cannot see them unused */
static void *volatile sink;
static void **kept;

__attribute__((noinline)) static void alloc_paired(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(SMALL);
		free(sink);
	}
	/* no tail call: this frame is on the stack during every malloc above */
	__asm__ volatile("");
}

__attribute__((noinline)) static void alloc_zeroed(int n)
{
	void **blocks = kept + n;

	for (int i = 0; i < n; i++)
		blocks[i] = calloc(2, SMALL);
	for (int i = 0; i < n; i++)
		free(blocks[i]);
	__asm__ volatile("");
}

__attribute__((noinline)) static void alloc_kept(int n)
{
	for (int i = 0; i < n; i++)
		kept[i] = malloc(KEPT);
	__asm__ volatile("");
}

/* one more frame between the sites and main */
__attribute__((noinline)) static void run(int n)
{
	alloc_paired(n);
	alloc_zeroed(n);
	alloc_kept(n);
	__asm__ volatile("");
}

static bool has_arg(int argc, char **argv, const char *word)
{
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], word))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;

	/* one array for both: its own site, made before any of the three */
	kept = malloc(2 * (n ?: 1) * sizeof(*kept));
	if (!kept)
		return 1;
	if (has_arg(argc, argv, "gate")) {
		char c;

		while (read(STDIN_FILENO, &c, 1) > 0)
			;
	}
	run(n);
	printf("sites n=%d small=%d kept=%d\n", n, SMALL, KEPT);
	if (has_arg(argc, argv, "hold")) {
		fflush(stdout);
		for (;;)
			pause();
	}
	return 0;
}
