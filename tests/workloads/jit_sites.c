/*
 * jit_sites - a call site in code no file holds, as a JIT's, for memwatch's
 * --stacks language tests (test_stacks_langs.py). It copies a tiny x86-64
 * function into an anonymous mapping, makes that executable (written with
 * PROT_READ|PROT_WRITE, then mprotect to PROT_READ|PROT_EXEC, as a W^X JIT
 * does) and calls it N times: each call calls malloc(SIZE) through the
 * pointer it is passed in a register, in a frame of its own, so the return
 * address an unwinder finds above malloc is in the anonymous code. The
 * blocks are kept until exit (live N x SIZE).
 *
 *   jit_sites N [gate]
 *
 * "gate" waits for standard input to end before the work, as the sites
 * workload does. At the end it prints "jit_sites n=N size=SIZE code=ADDR
 * code_len=LEN": where the code was, for a test to find its frame.
 *
 * Build: gcc -O2 -g -fno-builtin -o jit_sites jit_sites.c (x86-64 only;
 * elsewhere it says so and exits 2)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE 72

#ifdef __x86_64__
/*
 * void *code(size_t size, void *(*alloc)(size_t)): @alloc(@size), called
 * rather than jumped to, so the anonymous code is a frame of the stack.
 */
static const unsigned char code[] = {
	0x48, 0x83, 0xec, 0x08,	/* sub $8, %rsp: the call finds %rsp 16-byte aligned */
	0xff, 0xd6,		/* call *%rsi */
	0x48, 0x83, 0xc4, 0x08,	/* add $8, %rsp */
	0xc3,			/* ret */
};

typedef void *jit_fn(size_t size, void *(*alloc)(size_t));

static jit_fn *jit_load(void)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, code, sizeof(code));
	if (mprotect(p, page, PROT_READ | PROT_EXEC)) {
		munmap(p, page);
		return NULL;
	}
	return (jit_fn *)p;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	jit_fn *jit = jit_load();
	void **kept = malloc((n ?: 1) * sizeof(*kept));

	if (!jit || !kept) {
		perror("jit_sites");
		return 1;
	}
	if (argc > 2 && !strcmp(argv[2], "gate")) {
		char c;

		while (read(STDIN_FILENO, &c, 1) > 0)
			;
	}
	for (int i = 0; i < n; i++)
		kept[i] = jit(SIZE, malloc);
	printf("jit_sites n=%d size=%d code=%#lx code_len=%zu\n", n, SIZE, (unsigned long)jit,
	       sizeof(code));
	return 0;
}
#else
int main(void)
{
	fputs("jit_sites: x86-64 only\n", stderr);
	return 2;
}
#endif
