/*
 * family - every function of the malloc family memwatch probes, N times, with known sizes.
 *
 * Allocators implement the family in their own ways: calloc through malloc, realloc through
 * malloc and free, memalign through aligned_alloc, functions that are aliases of each other, or
 * missing ones that glibc then serves by calling the preloaded realloc. Whatever happens inside,
 * each call the program makes must count once, with the size it asked for. The program counts
 * the way memwatch does: realloc(p, n) is a free of p plus an allocation of n, realloc(NULL, n)
 * only an allocation, free(NULL) nothing.
 *
 *	family [-n N] [-w]
 *
 * Per iteration i, with s = 16 + (i % 32) * 8: malloc(s), calloc(3, s), realloc(NULL, s),
 * realloc to 8s, realloc to s/2, reallocarray(NULL, 2, s), reallocarray to 4s,
 * posix_memalign(64, s), aligned_alloc(128, 256), memalign(32, s), valloc(s), then free of each
 * block and free(NULL): 11 allocations and 11 frees.
 *
 * -w: print `ready pid=PID` on stderr, then start on a line (or EOF) on stdin. At the end, on
 * stdout (written with write(2): stdio allocates nothing):
 *
 *	total mode=family n=N allocs=A alloc_bytes=B frees=F free_bytes=G
 *
 * Build: cc -O2 -fno-builtin (glibc) or musl-gcc -static (musl's malloc in the executable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
	uint64_t allocs, alloc_bytes, frees, free_bytes;
} did;

static void fail(const char *what)
{
	char msg[128];
	int len = snprintf(msg, sizeof(msg), "family: %s failed\n", what);

	if (write(STDERR_FILENO, msg, len) < 0)
		exit(1);
	exit(1);
}

/* Counts an allocation and writes every byte, so the block is really used. */
static void *got(void *p, size_t size, const char *what)
{
	if (!p)
		fail(what);
	memset(p, 0x5a, size);
	did.allocs++;
	did.alloc_bytes += size;
	return p;
}

static void freed(size_t size)
{
	did.frees++;
	did.free_bytes += size;
}

static void release(void *p, size_t size)
{
	free(p);
	freed(size);
}

static void iteration(uint64_t i)
{
	size_t s = 16 + (i % 32) * 8;
	void *a, *b, *c, *d, *e, *f, *g, *h;

	a = got(malloc(s), s, "malloc");
	b = got(calloc(3, s), 3 * s, "calloc");
	c = got(realloc(NULL, s), s, "realloc(NULL)");
	c = realloc(c, 8 * s);
	freed(s);
	got(c, 8 * s, "realloc up");
	c = realloc(c, s / 2);
	freed(8 * s);
	got(c, s / 2, "realloc down");
	d = got(reallocarray(NULL, 2, s), 2 * s, "reallocarray(NULL)");
	d = reallocarray(d, 4, s);
	freed(2 * s);
	got(d, 4 * s, "reallocarray up");
	if (posix_memalign(&e, 64, s))
		fail("posix_memalign");
	got(e, s, "posix_memalign");
	f = got(aligned_alloc(128, 256), 256, "aligned_alloc");
	g = got(memalign(32, s), s, "memalign");
	h = got(valloc(s), s, "valloc");

	release(a, s);
	release(b, 3 * s);
	release(c, s / 2);
	release(d, 4 * s);
	release(e, s);
	release(f, 256);
	release(g, s);
	release(h, s);
	free(NULL);
}

int main(int argc, char **argv)
{
	uint64_t n = 100000, i;
	int opt, len, wait_start = 0;
	char line[256];

	while ((opt = getopt(argc, argv, "n:w")) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			n = strtoull(optarg, NULL, 10);
			if (errno)
				return 2;
			break;
		case 'w':
			wait_start = 1;
			break;
		default:
			return 2;
		}
	}
	if (wait_start) {
		len = snprintf(line, sizeof(line), "ready pid=%d\n", getpid());
		if (write(STDERR_FILENO, line, len) < 0 || read(STDIN_FILENO, line, 1) < 0)
			return 1;
	}
	for (i = 0; i < n; i++)
		iteration(i);
	len = snprintf(line, sizeof(line),
		       "total mode=family n=%llu allocs=%llu alloc_bytes=%llu frees=%llu "
		       "free_bytes=%llu\n", (unsigned long long)n, (unsigned long long)did.allocs,
		       (unsigned long long)did.alloc_bytes, (unsigned long long)did.frees,
		       (unsigned long long)did.free_bytes);
	return write(STDOUT_FILENO, line, len) == len ? 0 : 1;
}
