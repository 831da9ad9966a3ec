/*
 * cxx_sites - the C++ call sites of memwatch's --stacks language tests
 * (test_stacks_langs.py): one function template in a namespace, instantiated
 * twice, each instance filling a std::vector<T *> with N blocks from new:
 *
 *   sites::fill<sites::Block>:  reserve(N), then N x new Block (64 bytes),
 *                               all deleted after          (frees N, live 0)
 *   sites::fill<sites::Page>:   reserve(N), then N x new Page (4096 bytes),
 *                               kept until exit            (live N x 4096)
 *
 * reserve() is one operator new of N pointers per instance, so no push_back
 * reallocates. new reaches glibc's malloc through libstdc++'s operator new.
 *
 *   cxx_sites N [gate]
 *
 * "gate" waits for standard input to end before the work, as the sites
 * workload does. At the end it prints "cxx_sites n=N block=64 page=4096".
 *
 * Build: g++ -O2 -g -fno-builtin -o cxx_sites cxx_sites.cc (no frame pointers forced)
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace sites {

struct Block {
	unsigned char bytes[64];
};

struct Page {
	unsigned char bytes[4096];
};

template <typename T> __attribute__((noinline)) void fill(std::vector<T *> &v, size_t n)
{
	v.reserve(n);
	for (size_t i = 0; i < n; i++)
		v.push_back(new T());
	/* no tail call: this frame is on the stack during every new above */
	__asm__ volatile("");
}

} // namespace sites

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	std::vector<sites::Block *> blocks;
	/* never freed: a static's destructor would free the buffer, not the pages */
	auto *pages = new std::vector<sites::Page *>;

	if (argc > 2 && !strcmp(argv[2], "gate")) {
		char c;

		while (read(STDIN_FILENO, &c, 1) > 0)
			;
	}
	sites::fill(blocks, n);
	for (sites::Block *b : blocks)
		delete b;
	sites::fill(*pages, n);
	printf("cxx_sites n=%zu block=%zu page=%zu\n", n, sizeof(sites::Block),
	       sizeof(sites::Page));
	return 0;
}
