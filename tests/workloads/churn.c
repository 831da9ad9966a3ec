/*
 * churn - many threads calling the whole malloc family as fast as they can: the busy target
 * memwatch -p must attach to without missing a free of a block it saw allocated.
 *
 * Each of -t threads keeps at most -k blocks of 1..-s bytes, replacing a random one per step
 * with malloc, calloc, realloc or posix_memalign (free'ing what it replaces). Before starting,
 * main may allocate -H blocks of -S bytes and hold them: blocks a later attach never saw made.
 *
 * Commands, one per line on stdin, each acknowledged with a line on stderr once it is done:
 *   free    every thread stops and frees all its blocks, main its held ones: "freed pid=PID
 *           steps=N", N the blocks replaced so far (each one or two allocator calls)
 *   go      the threads churn again, with new blocks: "going pid=PID"
 *   EOF     the threads are joined and the program exits
 * So an observer reads its numbers between "freed" and "go", while nothing is allocated. The
 * threads stay alive meanwhile: none exits (and flushes its tcache) before EOF.
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -fno-builtin -pthread -o churn churn.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 256
#define MAX_KEEP 4096

static unsigned int nthreads = 16, keep = 64;
static size_t max_size = 100000;

/* what the threads do; changed under @lock, waited for on @changed */
enum phase { CHURN, DRAIN, STOP };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static enum phase phase = CHURN;
static unsigned int phase_gen;		/* counts the phase changes */
static unsigned int drained;		/* threads done draining in this phase */
static unsigned long steps;		/* blocks replaced by all threads, at the last drain */

/* Formats on the stack and writes with write(2): stdio would allocate. */
static void say(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(STDERR_FILENO, line, len) != len)
		exit(1);
}

static void die(const char *what)
{
	say("churn: %s\n", what);
	exit(1);
}

/* xorshift64: cheap, per thread, no locks */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* Replaces *@slot (NULL or a block) with a new block made by one of the family. */
static void replace(void **slot, uint64_t *rnd)
{
	uint64_t r = next_random(rnd);
	size_t size = 1 + r % max_size;
	void *p = NULL;

	switch (r >> 60 & 3) {
	case 0:
		free(*slot);
		p = malloc(size);
		break;
	case 1:
		free(*slot);
		p = calloc(1, size);
		break;
	case 2:
		p = realloc(*slot, size);
		break;
	case 3:
		free(*slot);
		if (posix_memalign(&p, 64, size))
			p = NULL;
		break;
	}
	if (!p)
		die("out of memory");
	/* touched, as a real program would */
	*(volatile char *)p = 1;
	*slot = p;
}

/* Waits for the phase to change after generation *@gen; returns the new phase. */
static enum phase wait_phase(unsigned int *gen)
{
	enum phase now;

	pthread_mutex_lock(&lock);
	while (phase_gen == *gen)
		pthread_cond_wait(&changed, &lock);
	*gen = phase_gen;
	now = phase;
	pthread_mutex_unlock(&lock);
	return now;
}

static void *churn_thread(void *arg)
{
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	void *blocks[MAX_KEEP] = { NULL };
	unsigned long done = 0;
	unsigned int gen = 0, i;
	enum phase now;

	for (;;) {
		/* a relaxed read per step: the phase changes a few times per run */
		for (; __atomic_load_n(&phase_gen, __ATOMIC_RELAXED) == gen; done++)
			replace(&blocks[next_random(&rnd) % keep], &rnd);
		for (i = 0; i < keep; i++) {
			free(blocks[i]);
			blocks[i] = NULL;
		}
		pthread_mutex_lock(&lock);
		gen = phase_gen;
		now = phase;
		drained++;
		steps += done;
		done = 0;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
		/* drained: idle until the next change */
		while (now == DRAIN)
			now = wait_phase(&gen);
		if (now == STOP)
			return NULL;
	}
}

/* Moves the threads to @next; for DRAIN, returns once each has freed its blocks. */
static void set_phase(enum phase next)
{
	pthread_mutex_lock(&lock);
	phase = next;
	drained = 0;
	__atomic_store_n(&phase_gen, phase_gen + 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&changed);
	while (next == DRAIN && drained < nthreads)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

/* One line of stdin into @buf; false at EOF. read(2): no stdio buffer. */
static bool read_line(char *buf, size_t len)
{
	size_t n = 0;
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1) {
		if (c == '\n') {
			buf[n] = '\0';
			return true;
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return n > 0;
}

static unsigned long number(const char *arg, unsigned long low, unsigned long high)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v < low || v > high) {
		say("churn: bad number %s (%lu..%lu)\n", arg, low, high);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	pthread_t threads[MAX_THREADS];
	unsigned long held_count = 0, i;
	size_t held_size = 64;
	void **held = NULL;
	char cmd[32];
	int opt;

	while ((opt = getopt(argc, argv, "t:k:s:H:S:")) != -1) {
		switch (opt) {
		case 't': nthreads = number(optarg, 0, MAX_THREADS); break;
		case 'k': keep = number(optarg, 1, MAX_KEEP); break;
		case 's': max_size = number(optarg, 1, 1UL << 30); break;
		case 'H': held_count = number(optarg, 0, 100000000); break;
		case 'S': held_size = number(optarg, 1, 1UL << 30); break;
		default:
			say("usage: churn [-t THREADS] [-k KEEP] [-s MAX_SIZE] [-H HELD -S SIZE]\n");
			return 2;
		}
	}
	if (held_count) {
		held = malloc(held_count * sizeof(*held));
		if (!held)
			die("out of memory");
		for (i = 0; i < held_count; i++) {
			held[i] = malloc(held_size);
			if (!held[i])
				die("out of memory");
		}
	}
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, churn_thread, (void *)(uintptr_t)i))
			die("cannot start a thread");
	say("ready pid=%d\n", getpid());
	while (read_line(cmd, sizeof(cmd))) {
		if (!strcmp(cmd, "free")) {
			set_phase(DRAIN);
			for (i = 0; i < held_count; i++)
				free(held[i]);
			held_count = 0;
			say("freed pid=%d steps=%lu\n", getpid(), steps);
		} else if (!strcmp(cmd, "go")) {
			set_phase(CHURN);
			say("going pid=%d\n", getpid());
		}
	}
	set_phase(STOP);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(held);
	return 0;
}
