// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * hostile: a process whose names are written to take over a terminal, for
 * memwatch's escaping of what the target controls.
 *
 *	hostile PROCESS_NAME [THREAD_NAME...]
 *
 * Starts a thread per THREAD_NAME under that name: the process takes the
 * name (prctl(PR_SET_NAME)) just before it creates the thread, which inherits
 * it, so that even the thread's first event carries it. The thread names
 * itself again (pthread_setname_np), then allocates and frees a block and
 * maps, writes and unmaps a page. Once every thread has, the process names
 * itself PROCESS_NAME, does the same, prints "ready pid=PID" on stderr and
 * waits for a line (or EOF) on stdin; the threads end with it and it exits 0.
 * A name is its argument's bytes, cut to 15 as the kernel does. Bad usage:
 * one line on stderr, status 2.
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -fno-builtin -pthread -o hostile hostile.c
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_THREADS 8
#define COMM_LEN 16

static pthread_barrier_t named, done;

/* @name cut to what the kernel keeps */
static void comm_of(char *comm, const char *name)
{
	snprintf(comm, COMM_LEN, "%s", name);
}

/* A malloc, a free, an mmap, a write and a munmap: events under the thread's current name. */
static int touch_memory(void)
{
	char *block = malloc(4096), *page;

	if (!block)
		return -1;
	memset(block, 1, 4096);
	free(block);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -1;
	page[0] = 1;
	return munmap(page, 4096);
}

static void *thread_main(void *arg)
{
	char comm[COMM_LEN];

	comm_of(comm, arg);
	if (pthread_setname_np(pthread_self(), comm) || touch_memory()) {
		perror("hostile: thread");
		exit(1);
	}
	pthread_barrier_wait(&named);
	pthread_barrier_wait(&done);
	return NULL;
}

/* A line or EOF on stdin, without stdio's buffer. */
static void wait_stdin(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
}

int main(int argc, char **argv)
{
	pthread_t threads[MAX_THREADS];
	int nr = argc - 2, i;
	char comm[COMM_LEN];

	if (argc < 2 || nr > MAX_THREADS) {
		fprintf(stderr, "usage: hostile PROCESS_NAME [THREAD_NAME...] (up to %d threads)\n",
			MAX_THREADS);
		return 2;
	}
	pthread_barrier_init(&named, NULL, nr + 1);
	pthread_barrier_init(&done, NULL, nr + 1);
	for (i = 0; i < nr; i++) {
		comm_of(comm, argv[i + 2]);
		if (prctl(PR_SET_NAME, comm, 0, 0, 0) ||
		    pthread_create(&threads[i], NULL, thread_main, argv[i + 2])) {
			fprintf(stderr, "hostile: cannot start a thread\n");
			return 1;
		}
	}
	pthread_barrier_wait(&named);
	comm_of(comm, argv[1]);
	if (prctl(PR_SET_NAME, comm, 0, 0, 0) || touch_memory()) {
		perror("hostile");
		return 1;
	}
	fprintf(stderr, "ready pid=%d\n", getpid());
	wait_stdin();
	pthread_barrier_wait(&done);
	for (i = 0; i < nr; i++)
		pthread_join(threads[i], NULL);
	return 0;
}
