/*
 * execstorm - one process that execs back and forth between two images, as a
 * supervisor or a shell loop might: memwatch must follow every exec and move
 * its uprobes between allocators (glibc's libc, the static musl executable's
 * own malloc) without losing events or falling behind.
 *
 *	execstorm [-w] OTHER_IMAGE PERIOD_MS LIFE_MS
 *
 * Each image does N=1000 malloc+free pairs of 64 bytes, then sleeps PERIOD_MS
 * and execs OTHER_IMAGE (with this image's path as the next OTHER_IMAGE) while
 * LIFE_MS of the process's life remain; then it exits 0. On stderr each image
 * says `image pid=PID exec=K` (K counts the execs so far) before its work.
 *
 * -w (the first image only): print `ready pid=PID` on stderr, then start on a
 * line (or EOF) on stdin.
 *
 * Build: cc -O2 -fno-builtin (glibc) and musl-gcc -static (musl).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAIRS 1000

static void say(const char *fmt, long a, long b)
{
	char msg[128];
	int len = snprintf(msg, sizeof(msg), fmt, a, b);

	if (write(STDERR_FILENO, msg, len) != len)
		exit(1);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	char self[4096], period_arg[32], end_arg[32], count_arg[32], *next[7];
	long period, end, count = 0;
	int wait = argc > 1 && !strcmp(argv[1], "-w"), i;
	char line[16];
	ssize_t n;

	argv += wait;
	argc -= wait;
	/* internal form: OTHER PERIOD_MS END_MS EXECS, END an absolute CLOCK_MONOTONIC time */
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: execstorm [-w] OTHER_IMAGE PERIOD_MS LIFE_MS\n");
		return 2;
	}
	period = atol(argv[2]);
	if (argc == 5) {
		end = atol(argv[3]);
		count = atol(argv[4]);
	} else {
		if (wait) {
			say("ready pid=%ld\n", getpid(), 0);
			n = read(STDIN_FILENO, line, sizeof(line));
			(void)n;
		}
		end = now_ms() + atol(argv[3]);
	}
	say("image pid=%ld exec=%ld\n", getpid(), count);
	for (i = 0; i < PAIRS; i++) {
		void *p = malloc(64);

		if (!p)
			return 1;
		memset(p, 0x5a, 64);
		free(p);
	}
	usleep(period * 1000);
	if (now_ms() + period > end)
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 1;
	self[n] = '\0';
	snprintf(period_arg, sizeof(period_arg), "%ld", period);
	snprintf(end_arg, sizeof(end_arg), "%ld", end);
	snprintf(count_arg, sizeof(count_arg), "%ld", count + 1);
	next[0] = argv[1];
	next[1] = self;
	next[2] = period_arg;
	next[3] = end_arg;
	next[4] = count_arg;
	next[5] = NULL;
	execv(argv[1], next);
	perror("execstorm: exec");
	return 1;
}
