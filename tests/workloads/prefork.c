/*
 * prefork - a parent and the workers it forks, each with allocator counts known in advance:
 * the workload of memwatch's process following (-f), as nginx or PostgreSQL fork theirs.
 *
 *   prefork [-g] [-m] [-r ROUNDS] [-w WORKERS] [-t THREADS] [-n N] [-d DELAY_MS]
 *           [-e IMAGE [ARG...]]
 *
 * The parent makes N malloc(64)+free pairs, forks WORKERS workers (default 4) and waits for
 * them, ROUNDS times (default 1: a watch of processes coming and going is -r 80). Worker k
 * (1..WORKERS) waits DELAY_MS (default 200; 0: it allocates at once after the
 * fork), then makes k*N pairs (with -m also k mmap+munmap pairs of a page) and exits; with -t, each of its THREADS threads (default 1,
 * the worker itself) makes k*N pairs. With -e, the last worker execs IMAGE with the
 * arguments after it instead. With -g (a gate), each worker, after its delay, reads one byte of
 * standard input before its pairs or its exec, and with -w 0 the process itself does before
 * its pairs: a test releases them once memwatch counts them. Every process says what it did on stderr, one line each:
 *   parent pid=P pairs=N workers=W
 *   worker k=K pid=P pairs=M
 * then the parent "done pid=P", after the workers were reaped. Lines go through snprintf and
 * write(2): stdio allocates nothing, so a run with -n 0 makes the same calls but the pairs.
 * Exit status: 0, or 1 when a worker failed (its status is said).
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -fno-builtin -o prefork prefork.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MAX_WORKERS 256
#define MAX_THREADS 64

static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* a closed stderr is no reason to stop: the counts are the point */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void pairs(unsigned long n)
{
	while (n--)
		free(malloc(64));
}

static void pause_ms(unsigned long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *pairs_thread(void *n)
{
	pairs((unsigned long)n);
	return NULL;
}

/* @threads threads (the caller the first) each make @n pairs; how many pairs in all. */
static unsigned long threaded_pairs(unsigned long threads, unsigned long n)
{
	pthread_t t[MAX_THREADS];
	unsigned long i, started = 1;

	for (i = 1; i < threads; i++)
		started += !pthread_create(&t[started - 1], NULL, pairs_thread, (void *)n);
	pairs(n);
	for (i = 1; i < started; i++)
		pthread_join(t[i - 1], NULL);
	return started * n;
}

/* -m: @n mmap+munmap pairs of a page, counted by the syscall tracepoints */
static void map_pairs(unsigned long n)
{
	void *p;

	while (n--) {
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}
}

/* -g: one byte of standard input, which the test writes once memwatch counts this process */
static void gate(void)
{
	char c;
	ssize_t n;

	do
		n = read(STDIN_FILENO, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		say("prefork: pid %d: no byte to go on\n", getpid());
		_exit(3);
	}
}

static unsigned long number(const char *s, const char *what, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		say("prefork: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	say("usage: prefork [-g] [-m] [-r ROUNDS] [-w WORKERS] [-t THREADS] [-n N] [-d DELAY_MS] "
	    "[-e IMAGE [ARG...]]\n");
	exit(2);
}

/* Worker @k, forked: its pairs (or its exec of @image), then its exit. */
static void work(unsigned long k, unsigned long n, unsigned long threads, unsigned long delay,
		 int gated, int maps, char **image)
{
	unsigned long made;

	pause_ms(delay);
	if (gated)
		gate();
	if (image) {
		say("worker k=%lu pid=%d exec=%s\n", k, getpid(), image[0]);
		execv(image[0], image);
		say("prefork: exec %s: %s\n", image[0], strerror(errno));
		_exit(127);
	}
	made = threaded_pairs(threads, k * n);
	if (maps)
		map_pairs(k);
	say("worker k=%lu pid=%d pairs=%lu\n", k, getpid(), made);
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long workers = 4, threads = 1, n = 1000, delay = 200, rounds = 1, k, r;
	char **image = NULL;
	int opt, status, failed = 0, gated = 0, maps = 0;
	pid_t pid;

	while (!image && (opt = getopt(argc, argv, "+gmr:w:t:n:d:e:")) != -1) {
		switch (opt) {
		case 'g':
			gated = 1;
			break;
		case 'm':
			maps = 1;
			break;
		case 'r':
			rounds = number(optarg, "round count", 100000);
			break;
		case 'w':
			workers = number(optarg, "worker count", MAX_WORKERS);
			break;
		case 't':
			threads = number(optarg, "thread count", MAX_THREADS);
			if (!threads)
				usage();
			break;
		case 'n':
			n = number(optarg, "count", 1000000000);
			break;
		case 'd':
			delay = number(optarg, "delay", 60000);
			break;
		case 'e':
			/* IMAGE is optarg, its arguments the rest */
			image = &argv[optind - 1];
			break;
		default:
			usage();
		}
	}
	if (!image && optind < argc)
		usage();
	if (gated && !workers)
		gate();
	pairs(n);
	say("parent pid=%d pairs=%lu workers=%lu\n", getpid(), n, workers);
	for (r = 0; r < rounds; r++) {
		for (k = 1; k <= workers; k++) {
			pid = fork();
			if (pid < 0) {
				say("prefork: fork: %s\n", strerror(errno));
				return 1;
			}
			if (!pid)
				work(k, n, threads, delay, gated, maps, image && k == workers ? image : NULL);
		}
		while ((pid = wait(&status)) > 0) {
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				say("prefork: worker %d ended with status 0x%x\n", pid, status);
				failed = 1;
			}
		}
	}
	say("done pid=%d\n", getpid());
	return failed;
}
