/*
 * syscall_sites - the workload of memwatch's syscall stack tests: memory
 * syscalls made from known noinline functions, called from main.
 *
 *   map_touch_unmap:  R x (mmap of MAP_BYTES, every page written, munmap):
 *                     grown and returned R x MAP_BYTES, all of it resident
 *                     when unmapped
 *   trim_hole:        HOLE_BLOCKS blocks of BLOCK bytes from the main heap and
 *                     a fence block after them, the blocks freed (a free hole
 *                     below the fence, which free() cannot trim), then
 *                     malloc_trim(0): glibc gives the hole's pages back with
 *                     madvise(MADV_DONTNEED)
 *
 * It prints "syscall_sites rounds=R map=MAP_BYTES hole=HOLE_BYTES" at the
 * end. "syscall_sites R gate" waits after its first allocation until its
 * standard input ends, as sites.c does, so that memwatch reads its modules
 * first.
 *
 * Build: gcc -O2 -g -fno-builtin -fomit-frame-pointer -o syscall_sites syscall_sites.c
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define MAP_BYTES (4 << 20)
#define BLOCK 4096
#define HOLE_BLOCKS 2048

static void *volatile sink;

__attribute__((noinline)) static int map_touch_unmap(int rounds)
{
	for (int i = 0; i < rounds; i++) {
		char *p = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return -1;
		memset(p, 1, MAP_BYTES);
		if (munmap(p, MAP_BYTES))
			return -1;
	}
	/* no tail call: this frame is on the stack during every call above */
	__asm__ volatile("");
	return 0;
}

__attribute__((noinline)) static int trim_hole(void)
{
	static void *blocks[HOLE_BLOCKS];
	void *fence;

	for (int i = 0; i < HOLE_BLOCKS; i++) {
		blocks[i] = malloc(BLOCK);
		if (!blocks[i])
			return -1;
		memset(blocks[i], 1, BLOCK);
	}
	fence = malloc(64);
	for (int i = 0; i < HOLE_BLOCKS; i++)
		free(blocks[i]);
	malloc_trim(0);
	sink = fence;
	__asm__ volatile("");
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;

	sink = malloc(64);
	if (argc > 2 && !strcmp(argv[2], "gate")) {
		char c;

		while (read(STDIN_FILENO, &c, 1) > 0)
			;
	}
	if (map_touch_unmap(rounds) || trim_hole())
		return 1;
	printf("syscall_sites rounds=%d map=%d hole=%d\n", rounds, MAP_BYTES,
	       HOLE_BLOCKS * BLOCK);
	return 0;
}
