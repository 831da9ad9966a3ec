// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * memwatch's benchmark driver, two programs in one:
 *
 *   driver work MODE [-n N] [-w] [-W]
 *	a workload: malloc (malloc(64)+free pairs), mmap (mmap 1 MiB, touch
 *	every page, madvise DONTNEED, munmap), brk (brk(0) calls), threads
 *	(4 threads of malloc(64)+free pairs at once) or fork (forks one after
 *	another: each child makes one malloc(64)+free pair and exits, the
 *	parent reaps it before the next). With -w it prints
 *	"ready pid=PID" on stderr and starts on a line on stdin; with -W it
 *	prints "done pid=PID" and exits on a line on stdin, as the channel
 *	workload does. Its last line on stdout says what it did.
 *
 *   driver time [-o FILE] -- CMD [ARGS...]
 *	runs CMD: a tool (or nothing) around a workload started with -w -W.
 *	Times the work from "ready" to "done" and appends one line to FILE
 *	(stdout by default): elapsed_ns, attach_ns (start to "ready": load and
 *	attach of the tool), and the CPU time and peak RSS of CMD's own process
 *	(the tool) over the work.
 *
 * Built with -fno-builtin: the allocator is really called.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_SIZE 64
#define MAP_SIZE (1UL << 20)
#define THREADS 4

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void wait_line(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
}

static void say(const char *what)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s pid=%d\n", what, getpid());

	if (write(STDERR_FILENO, line, n) != n)
		exit(1);
}

static void malloc_pairs(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		char *volatile p = malloc(BLOCK_SIZE);

		p[0] = 1;
		free(p);
	}
}

static pthread_barrier_t start_barrier;

static void *thread_pairs(void *arg)
{
	pthread_barrier_wait(&start_barrier);
	malloc_pairs(*(unsigned long *)arg);
	return NULL;
}

static int mmap_loop(unsigned long n)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long i, off;

	for (i = 0; i < n; i++) {
		char *p = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return -1;
		for (off = 0; off < MAP_SIZE; off += page)
			((volatile char *)p)[off] = 1;
		if (madvise(p, MAP_SIZE, MADV_DONTNEED) || munmap(p, MAP_SIZE))
			return -1;
	}
	return 0;
}

/* -1 with errno when a fork or wait fails; exits when a child ended otherwise than with 0 */
static int fork_loop(unsigned long n)
{
	unsigned long i;
	int status;
	pid_t pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0)
			return -1;
		if (!pid) {
			malloc_pairs(1);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid)
			return -1;
		/* a child killed before its exit did not do the work timed */
		if (status) {
			fprintf(stderr, "driver work: child %d ended with status 0x%x\n", pid, status);
			exit(1);
		}
	}
	return 0;
}

static int work(int argc, char **argv)
{
	unsigned long n = 100000, allocs = 0, syscalls = 0, forks = 0, i;
	bool wait_start = false, wait_end = false;
	pthread_t threads[THREADS];
	const char *mode;
	int opt, err = 0;

	while ((opt = getopt(argc, argv, "n:wW")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			wait_start = true;
			break;
		case 'W':
			wait_end = true;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: driver work malloc|mmap|brk|threads|fork [-n N] [-w] [-W]\n");
		return 2;
	}
	mode = argv[optind];
	/* threads exist before the start: their creation is not timed */
	if (!strcmp(mode, "threads")) {
		pthread_barrier_init(&start_barrier, NULL, THREADS + 1);
		for (i = 0; i < THREADS; i++)
			pthread_create(&threads[i], NULL, thread_pairs, &n);
	}
	/* the heap exists before the start: each child's pair comes from the one it inherits */
	if (!strcmp(mode, "fork"))
		malloc_pairs(1);
	if (wait_start) {
		say("ready");
		wait_line();
	}
	if (!strcmp(mode, "malloc")) {
		malloc_pairs(n);
		allocs = n;
	} else if (!strcmp(mode, "threads")) {
		pthread_barrier_wait(&start_barrier);
		for (i = 0; i < THREADS; i++)
			pthread_join(threads[i], NULL);
		allocs = n * THREADS;
	} else if (!strcmp(mode, "mmap")) {
		err = mmap_loop(n);
		syscalls = 3 * n;
	} else if (!strcmp(mode, "brk")) {
		for (i = 0; i < n; i++)
			syscall(SYS_brk, 0);
		syscalls = n;
	} else if (!strcmp(mode, "fork")) {
		err = fork_loop(n);
		forks = n;
	} else {
		fprintf(stderr, "driver work: unknown mode %s\n", mode);
		return 2;
	}
	if (err) {
		perror("driver work");
		return 1;
	}
	if (wait_end) {
		say("done");
		wait_line();
	}
	printf("total mode=%s n=%lu allocs=%lu frees=%lu syscalls=%lu forks=%lu\n", mode, n, allocs,
	       allocs, syscalls, forks);
	return 0;
}

/* CPU time (ns) of every thread of @pid so far, from schedstat; 0 if gone. */
static unsigned long long process_cpu_ns(pid_t pid)
{
	unsigned long long total = 0, ns;
	char path[64];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid, d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			total += ns;
		fclose(f);
	}
	closedir(dir);
	return total;
}

/* Peak RSS (VmHWM, KiB) of @pid, 0 if gone. */
static unsigned long process_hwm_kb(pid_t pid)
{
	unsigned long kb = 0;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmHWM: %lu", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static int time_command(int argc, char **argv)
{
	unsigned long long start, ready = 0, done = 0, cpu_ready = 0, cpu_done = 0;
	int in[2], err[2], opt, status;
	const char *out_path = NULL;
	unsigned long hwm = 0;
	char buf[4096];
	size_t used = 0;
	FILE *out;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+o:")) != -1) {
		if (opt != 'o')
			return 2;
		out_path = optarg;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: driver time [-o FILE] -- CMD [ARGS...]\n");
		return 2;
	}
	if (pipe(in) || pipe(err))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	start = now_ns();
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(in[0]), close(in[1]), close(err[0]), close(err[1]);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	close(in[0]);
	close(err[1]);
	/* the child's stderr, line by line: the markers, the rest passed on */
	for (;;) {
		ssize_t n = read(err[0], buf + used, sizeof(buf) - 1 - used);
		char *line, *nl;

		if (n <= 0)
			break;
		used += n;
		buf[used] = '\0';
		for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			if (!ready && !strncmp(line, "ready pid=", 10)) {
				ready = now_ns();
				cpu_ready = process_cpu_ns(pid);
				if (write(in[1], "\n", 1) != 1)
					break;
			} else if (ready && !done && !strncmp(line, "done pid=", 9)) {
				done = now_ns();
				cpu_done = process_cpu_ns(pid);
				hwm = process_hwm_kb(pid);
				if (write(in[1], "\n", 1) != 1)
					break;
			} else {
				fprintf(stderr, "%s\n", line);
			}
		}
		used = strlen(line);
		memmove(buf, line, used);
		if (used == sizeof(buf) - 1)
			used = 0;
	}
	close(in[1]);
	close(err[0]);
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	if (!ready || !done) {
		fprintf(stderr, "driver time: %s never said %s\n", argv[optind],
			ready ? "done" : "ready");
		return 1;
	}
	out = out_path ? fopen(out_path, "a") : stdout;
	if (!out)
		return 1;
	fprintf(out, "elapsed_ns=%llu attach_ns=%llu tool_cpu_ns=%llu tool_hwm_kb=%lu status=%d\n",
		done - ready, ready - start, cpu_done - cpu_ready, hwm,
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (out != stdout)
		fclose(out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "work"))
		return work(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "time"))
		return time_command(argc - 1, argv + 1);
	fprintf(stderr, "usage: driver work MODE [-n N] [-w] [-W] | driver time [-o FILE] -- CMD...\n");
	return 2;
}
