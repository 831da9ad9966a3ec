/*
 * channel - the C workload of memwatch's scenarios (docs/scenarios.md).
 *
 * A mutex+condvar FIFO filled and drained in the patterns that make glibc keep memory (paired,
 * batch, per-thread arenas, cross-thread frees), plus a buffer recycler, a leak, large blocks and
 * plain mmap/madvise. The program counts every allocator call it makes for items, per thread, and
 * prints the counts at the end.
 *
 * Tests run it under memwatch twice, with -n N and with -n 0, and compare memwatch's difference
 * with what the N run reports. So a -n 0 run reports all zeros, and everything apart from item work
 * (threads, their names, output, waits) happens the same way in both runs.
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -fno-builtin -pthread -o channel channel.c
 * (-fno-builtin keeps gcc from dropping malloc/free pairs it can see through.)
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ULL
#define MIB (1024 * KIB)

/* --advice none: munmap the region without advising it first */
#define ADVICE_NONE -1

/* the generic syscall numbers, for C libraries whose headers predate them */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

/* main plus the longest chain of workers -T accepts */
#define MAX_THREADS 64

enum item_type { ITEM_NODE, ITEM_VALUE, ITEM_BOXED };

enum trim_point { TRIM_NONE, TRIM_DRAINED, TRIM_JOINED, TRIM_EXIT };

struct mode {
	const char *name;
	void (*run)(void);
	uint64_t count;		/* -n default */
	uint64_t size;		/* -s default */
	enum trim_point trim_at;	/* --trim-at default */
};

static struct options {
	const struct mode *mode;
	uint64_t count;
	uint64_t size;
	enum item_type type;
	unsigned int threads;
	uint64_t keep;
	bool pool;
	int advice;
	bool untouched;
	bool keep_mapped;
	enum trim_point trim_at;
	bool hold;
	unsigned int delay_ms;
	unsigned int interval_ms;
	bool wait_start;
	bool wait_end;
	bool quiet;
	int exit_code;
} opts = {
	.type = ITEM_NODE,
	.threads = 3,
	.keep = 20,
	.advice = MADV_DONTNEED,
};

/* ---- output: formatted on the stack and written with write(2), so no stdio buffers ---- */

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t done = write(fd, buf, len);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			exit(1);
		buf += done;
		len -= done;
	}
}

static void __attribute__((format(printf, 2, 3))) say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(buf))
		len = sizeof(buf) - 1;
	write_all(fd, buf, len);
}

static void __attribute__((noreturn, format(printf, 2, 3))) fail(int status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(STDERR_FILENO, "channel: %s\n", msg);
	exit(status);
}

#define die(...) fail(1, __VA_ARGS__)
#define usage_error(...) fail(2, __VA_ARGS__)

/* ---- channel layout ---- */

/* -t node: each message is one malloc(SIZE) starting with this header */
struct node {
	struct node *next;
	uint64_t value;
};

/*
 * -t value and -t boxed: the block of Rust's std mpsc (list flavour) for an 8-byte T: 31 slots of
 * (message, state) and the next pointer. One malloc per 31 messages.
 */
#define BLOCK_CAP 31
#define SLOT_WRITTEN 1

struct slot {
	uint64_t msg;		/* the value, or the address of the boxed value */
	uint64_t state;
};

struct block {
	struct slot slots[BLOCK_CAP];
	struct block *next;
};

static_assert(sizeof(struct block) == 504, "Rust's mpsc block for a u64 is 504 bytes");

struct channel {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	uint64_t len;
	struct node *first;	/* -t node: oldest and newest node */
	struct node *last;
	struct block *head;	/* -t value/boxed: block read from and block written to */
	struct block *tail;
	unsigned int head_slot;	/* next slot to read in head */
	unsigned int tail_slot;	/* next slot to write in tail */
};

#define CHANNEL_INIT { .lock = PTHREAD_MUTEX_INITIALIZER, .nonempty = PTHREAD_COND_INITIALIZER }

/* ---- per-thread accounting ---- */

struct counters {
	uint64_t allocs;
	uint64_t alloc_bytes;
	uint64_t frees;
	uint64_t free_bytes;
	uint64_t trims;
	uint64_t mmap_bytes;
	uint64_t madvise_bytes;
	uint64_t munmap_bytes;
	uint64_t process_madvise_calls;		/* on this process's own memory */
	uint64_t foreign_advised_bytes;		/* process_madvise on a child's memory */
};

/* A thread doing item work. Only that thread writes its counters: no atomics needed. */
struct actor {
	char role[16];
	pid_t tid;
	struct counters c;
	struct channel ch;	/* its own channel; with --hold it is kept until exit */
};

/* actors[0] is main; workers and the producer/consumer pair take the next slots */
static struct actor actors[MAX_THREADS] = { [0] = { .role = "main" } };

/* The actors in the order they finished, which is the order of the report. */
static struct {
	pthread_mutex_t lock;
	struct actor *order[MAX_THREADS];
	unsigned int nr;
} finished = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct actor *actor_enter(struct actor *a)
{
	char name[16];

	a->tid = gettid();
	a->ch = (struct channel)CHANNEL_INIT;
	if (a != &actors[0]) {
		/* the kernel keeps 15 characters of a thread name */
		snprintf(name, sizeof(name), "mw-%s", a->role);
		pthread_setname_np(pthread_self(), name);
	}
	return a;
}

static void actor_finish(struct actor *a)
{
	pthread_mutex_lock(&finished.lock);
	finished.order[finished.nr++] = a;
	pthread_mutex_unlock(&finished.lock);
}

static void *item_alloc(struct actor *a, size_t size)
{
	void *p = malloc(size);

	if (!p)
		die("malloc(%zu) failed", size);
	a->c.allocs++;
	a->c.alloc_bytes += size;
	return p;
}

static void item_free(struct actor *a, void *p, size_t size)
{
	free(p);
	a->c.frees++;
	a->c.free_bytes += size;
}

static void trim_point(struct actor *a, enum trim_point at)
{
	/* the -n 0 baseline reports nothing, so it does not trim either */
	if (opts.trim_at != at || !opts.count)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
	a->c.trims++;
#else
	/* musl (the channel-musl build) has no malloc_trim: nothing done, nothing counted */
	(void)a;
#endif
}

/* ---- threads ---- */

static void spawn(pthread_t *thread, void *(*fn)(void *), struct actor *a)
{
	int err = pthread_create(thread, NULL, fn, a);

	if (err)
		die("pthread_create: %s", strerror(err));
}

static void join(pthread_t thread)
{
	int err = pthread_join(thread, NULL);

	if (err)
		die("pthread_join: %s", strerror(err));
}

/* ---- the channel ---- */

static void node_push(struct channel *ch, struct node *node)
{
	if (ch->last)
		ch->last->next = node;
	else
		ch->first = node;
	ch->last = node;
}

static struct node *node_pop(struct channel *ch)
{
	struct node *node = ch->first;

	ch->first = node->next;
	if (!ch->first)
		ch->last = NULL;
	return node;
}

static void block_push(struct channel *ch, struct actor *a, uint64_t msg)
{
	struct slot *slot;

	/* as in Rust, a block is allocated when its first slot is written, and zeroed */
	if (!ch->tail || ch->tail_slot == BLOCK_CAP) {
		struct block *block = item_alloc(a, sizeof(*block));

		memset(block, 0, sizeof(*block));
		if (ch->tail) {
			ch->tail->next = block;
		} else {
			ch->head = block;
			ch->head_slot = 0;
		}
		ch->tail = block;
		ch->tail_slot = 0;
	}
	slot = &ch->tail->slots[ch->tail_slot++];
	slot->msg = msg;
	slot->state = SLOT_WRITTEN;
}

static uint64_t block_pop(struct channel *ch, struct actor *a)
{
	struct block *block = ch->head;
	struct slot *slot = &block->slots[ch->head_slot++];
	uint64_t msg = slot->msg;

	if (slot->state != SLOT_WRITTEN)
		die("read a slot that was never written");
	/* as in Rust, the reader frees a block once it has read its last slot */
	if (ch->head_slot == BLOCK_CAP) {
		ch->head = block->next;
		ch->head_slot = 0;
		if (!ch->head)
			ch->tail = NULL;
		item_free(a, block, sizeof(*block));
	}
	return msg;
}

static void channel_send(struct channel *ch, struct actor *a, uint64_t value)
{
	struct node *node = NULL;
	uint64_t msg = value;

	/* the message is built before taking the lock, as a sender would */
	if (opts.type == ITEM_NODE) {
		node = item_alloc(a, opts.size);
		memset(node, 0xa5, opts.size);
		node->next = NULL;
		node->value = value;
	} else if (opts.type == ITEM_BOXED) {
		uint64_t *box = item_alloc(a, sizeof(*box));

		*box = value;
		msg = (uintptr_t)box;
	}

	pthread_mutex_lock(&ch->lock);
	if (node)
		node_push(ch, node);
	else
		block_push(ch, a, msg);
	ch->len++;
	pthread_cond_signal(&ch->nonempty);
	pthread_mutex_unlock(&ch->lock);
}

static uint64_t channel_recv(struct channel *ch, struct actor *a)
{
	uint64_t value;

	pthread_mutex_lock(&ch->lock);
	while (!ch->len)
		pthread_cond_wait(&ch->nonempty, &ch->lock);
	ch->len--;
	if (opts.type == ITEM_NODE) {
		struct node *node = node_pop(ch);

		value = node->value;
		item_free(a, node, opts.size);
	} else {
		uint64_t msg = block_pop(ch, a);

		value = msg;
		if (opts.type == ITEM_BOXED) {
			uint64_t *box = (uint64_t *)(uintptr_t)msg;

			value = *box;
			item_free(a, box, sizeof(*box));
		}
	}
	pthread_mutex_unlock(&ch->lock);
	return value;
}

static void expect(uint64_t got, uint64_t want)
{
	if (got != want)
		die("received message %" PRIu64 ", expected %" PRIu64, got, want);
}

/* The channel is empty again: trim if asked to, then drop it unless --hold keeps it. */
static void channel_drained(struct channel *ch, struct actor *a)
{
	trim_point(a, TRIM_DRAINED);
	if (opts.hold)
		return;
	/* dropping frees the block the last messages were read from */
	pthread_mutex_lock(&ch->lock);
	while (ch->head) {
		struct block *next = ch->head->next;

		item_free(a, ch->head, sizeof(*ch->head));
		ch->head = next;
	}
	ch->tail = NULL;
	pthread_mutex_unlock(&ch->lock);
}

/* Send all N messages, then receive all N, on the thread's own channel. */
static void sleep_ms(unsigned int ms)
{
	struct timespec left = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&left, &left) && errno == EINTR)
		;
}

/* -i in channel modes: a pause after every twentieth of the items, to watch it live */
static void pace(uint64_t i)
{
	uint64_t step = opts.count / 20 ? opts.count / 20 : 1;

	if (opts.interval_ms && i && i % step == 0)
		sleep_ms(opts.interval_ms);
}

static void channel_batch(struct actor *a)
{
	for (uint64_t i = 0; i < opts.count; i++) {
		channel_send(&a->ch, a, i);
		pace(i);
	}
	for (uint64_t i = 0; i < opts.count; i++) {
		expect(channel_recv(&a->ch, a), i);
		pace(i);
	}
	channel_drained(&a->ch, a);
}

/* ---- channel modes ---- */

static void run_paired(void)
{
	struct actor *a = actor_enter(&actors[0]);

	for (uint64_t i = 0; i < opts.count; i++) {
		channel_send(&a->ch, a, i);
		expect(channel_recv(&a->ch, a), i);
	}
	channel_drained(&a->ch, a);
	trim_point(a, TRIM_JOINED);
	actor_finish(a);
}

static void run_batch(void)
{
	struct actor *a = actor_enter(&actors[0]);

	channel_batch(a);
	trim_point(a, TRIM_JOINED);
	actor_finish(a);
}

/* Worker K starts worker K+1, does its batch, then waits for it. */
static void *chain_thread(void *arg)
{
	struct actor *a = actor_enter(arg);
	bool has_child = a + 1 < actors + opts.threads;
	pthread_t child;

	if (has_child)
		spawn(&child, chain_thread, a + 1);
	channel_batch(a);
	if (has_child)
		join(child);
	actor_finish(a);
	return NULL;
}

/* Scenario 2: every thread of the chain fills its own arena; main goes last, on its own heap. */
static void run_threads(void)
{
	struct actor *a = actor_enter(&actors[0]);
	pthread_t first;

	for (unsigned int i = 1; i < opts.threads; i++)
		snprintf(actors[i].role, sizeof(actors[i].role), "worker%u", i);
	if (opts.threads > 1) {
		spawn(&first, chain_thread, &actors[1]);
		join(first);
	}
	trim_point(a, TRIM_JOINED);
	channel_batch(a);
	actor_finish(a);
}

static struct channel xchannel = CHANNEL_INIT;

static void *producer_thread(void *arg)
{
	struct actor *a = actor_enter(arg);

	for (uint64_t i = 0; i < opts.count; i++)
		channel_send(&xchannel, a, i);
	actor_finish(a);
	return NULL;
}

static void *consumer_thread(void *arg)
{
	struct actor *a = actor_enter(arg);

	for (uint64_t i = 0; i < opts.count; i++)
		expect(channel_recv(&xchannel, a), i);
	channel_drained(&xchannel, a);
	actor_finish(a);
	return NULL;
}

/* Scenario 3: one thread allocates the messages, another frees them. */
static void run_xthread(void)
{
	struct actor *producer = &actors[1];
	struct actor *consumer = &actors[2];
	pthread_t threads[2];

	actor_enter(&actors[0]);
	strcpy(producer->role, "producer");
	strcpy(consumer->role, "consumer");
	spawn(&threads[0], producer_thread, producer);
	spawn(&threads[1], consumer_thread, consumer);
	join(threads[0]);
	join(threads[1]);
	trim_point(&actors[0], TRIM_JOINED);
}

/* ---- buffer modes ---- */

/* A large buffer starts with its own list link, so keeping N of them needs no extra memory. */
struct buffer {
	struct buffer *next;
	size_t size;		/* bytes allocated */
};

struct buffer_list {
	struct buffer *first;
	struct buffer *last;
	uint64_t len;
};

static void list_push(struct buffer_list *list, struct buffer *b)
{
	b->next = NULL;
	if (list->last)
		list->last->next = b;
	else
		list->first = b;
	list->last = b;
	list->len++;
}

static struct buffer *list_pop(struct buffer_list *list)
{
	struct buffer *b = list->first;

	if (!b)
		return NULL;
	list->first = b->next;
	if (!list->first)
		list->last = NULL;
	list->len--;
	return b;
}

static void list_free(struct actor *a, struct buffer_list *list)
{
	struct buffer *b;

	while ((b = list_pop(list)))
		item_free(a, b, b->size);
}


#define RECYCLER_MIN (5 * MIB)
#define RECYCLER_MAX (10 * MIB)

/* A deterministic spread over [5 MiB, 10 MiB): i MiB + i * i * 37 KiB, modulo 5 MiB. */
static size_t recycler_size(uint64_t i)
{
	uint64_t j = i % 5120;	/* the formula, in KiB, repeats every 5120 */

	return RECYCLER_MIN + KIB * ((j * 1024 + j * j * 37) % 5120);
}

/*
 * Scenario 5: a new buffer per iteration, the last K kept. With --pool, buffers of the largest
 * size come back through a free list, so at most K + 1 are ever allocated.
 */
static void run_recycler(void)
{
	struct actor *a = actor_enter(&actors[0]);
	struct buffer_list live = { 0 };
	struct buffer_list pool = { 0 };

	for (uint64_t i = 0; i < opts.count; i++) {
		size_t size = recycler_size(i);
		struct buffer *b = list_pop(&pool);
		size_t cap = b ? b->size : opts.pool ? RECYCLER_MAX : size;

		if (!b)
			b = item_alloc(a, cap);
		memset(b, 0x5a, size);	/* a buffer in use has every page written */
		b->size = cap;
		list_push(&live, b);
		if (live.len > opts.keep) {
			b = list_pop(&live);
			if (opts.pool)
				list_push(&pool, b);
			else
				item_free(a, b, b->size);
		}
		if (opts.interval_ms)
			sleep_ms(opts.interval_ms);
	}
	list_free(a, &live);
	list_free(a, &pool);
	trim_point(a, TRIM_JOINED);
	actor_finish(a);
}

static void *volatile leak_sink;

/* Scenario 6: N blocks, written to and never freed. */
static void run_leak(void)
{
	struct actor *a = actor_enter(&actors[0]);

	for (uint64_t i = 0; i < opts.count; i++) {
		void *p = item_alloc(a, opts.size);

		memset(p, 0x5a, opts.size);
		leak_sink = p;
	}
	trim_point(a, TRIM_JOINED);
	actor_finish(a);
}

/* Scenario 7: blocks above the mmap threshold, freed one by one, then one more of the same size. */
static void run_bigalloc(void)
{
	struct actor *a = actor_enter(&actors[0]);
	struct buffer_list blocks = { 0 };

	for (uint64_t i = 0; i < opts.count; i++) {
		struct buffer *b = item_alloc(a, opts.size);

		memset(b, 0x5a, opts.size);
		b->size = opts.size;
		list_push(&blocks, b);
	}
	list_free(a, &blocks);
	/* freeing a mmapped block raised glibc's threshold past it: this one comes from the heap */
	if (opts.count) {
		void *p = item_alloc(a, opts.size);

		memset(p, 0x5a, opts.size);
		item_free(a, p, opts.size);
	}
	trim_point(a, TRIM_JOINED);
	actor_finish(a);
}

static void *map_region(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap(%zu): %s", len, strerror(errno));
	return p;
}

static void unmap_region(void *p, size_t len)
{
	if (munmap(p, len))
		die("munmap: %s", strerror(errno));
}

/* Scenario 4 without Go: anonymous memory taken with mmap and given back with madvise. */
static void run_madvise(void)
{
	struct actor *a = actor_enter(&actors[0]);
	size_t len = opts.size;

	for (uint64_t i = 0; i < opts.count; i++) {
		void *p = map_region(len, PROT_READ | PROT_WRITE);

		a->c.mmap_bytes += len;
		if (!opts.untouched)
			memset(p, 0x5a, len);
		if (opts.advice != ADVICE_NONE) {
			if (madvise(p, len, opts.advice))
				die("madvise: %s", strerror(errno));
			a->c.madvise_bytes += len;
		}
		/* --keep-mapped: left to the exit, so MADV_FREE'd pages can be seen resident */
		if (opts.keep_mapped)
			continue;
		unmap_region(p, len);
		a->c.munmap_bytes += len;
	}
	trim_point(a, TRIM_JOINED);
	actor_finish(a);
}

static int pidfd_open(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		die("pidfd_open(%d): %s", (int)pid, strerror(errno));
	return fd;
}

/* process_madvise() of one region of the process @pidfd names; the bytes the kernel advised. */
static uint64_t advise_process(int pidfd, void *p, size_t len, int advice)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };
	long done = syscall(SYS_process_madvise, pidfd, &iov, 1, advice, 0);

	if (done < 0)
		die("process_madvise(%s): %s", advice == MADV_COLD ? "MADV_COLD" : "--advice",
		    strerror(errno));
	return done;
}

/*
 * madvise's calls made through process_madvise(): N times a region of SIZE
 * mapped, written, advised through a pidfd of this process, and unmapped;
 * and N times MADV_COLD (what the kernel allows on another process) on a
 * child's copy of a region. The child and both pidfds exist with -n 0 too.
 */
static void run_process_madvise(void)
{
	struct actor *a = actor_enter(&actors[0]);
	int self = pidfd_open(getpid()), child_fd, gate[2];
	size_t len = opts.size;
	void *shared = map_region(len, PROT_READ | PROT_WRITE);
	pid_t child;
	char c;

	memset(shared, 0x5a, len);
	if (pipe(gate))
		die("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (!child) {
		/* holds its copy of the region until the parent closes the pipe */
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	child_fd = pidfd_open(child);
	for (uint64_t i = 0; i < opts.count; i++) {
		void *p = map_region(len, PROT_READ | PROT_WRITE);

		a->c.mmap_bytes += len;
		memset(p, 0x5a, len);
		if (opts.advice != ADVICE_NONE) {
			a->c.madvise_bytes += advise_process(self, p, len, opts.advice);
			a->c.process_madvise_calls++;
		}
		unmap_region(p, len);
		a->c.munmap_bytes += len;
		a->c.foreign_advised_bytes += advise_process(child_fd, shared, len, MADV_COLD);
	}
	close(gate[1]);
	if (waitpid(child, NULL, 0) != child)
		die("waitpid: %s", strerror(errno));
	close(child_fd);
	close(self);
	unmap_region(shared, len);
	actor_finish(a);
}

/* The program break: N times up by SIZE, then N times down by SIZE. */
static void run_sbrk(void)
{
	struct actor *a = actor_enter(&actors[0]);

	for (uint64_t i = 0; i < opts.count; i++)
		if (sbrk(opts.size) == (void *)-1)
			die("sbrk(+%zu): %s", (size_t)opts.size, strerror(errno));
	for (uint64_t i = 0; i < opts.count; i++)
		if (sbrk(-(intptr_t)opts.size) == (void *)-1)
			die("sbrk(-%zu): %s", (size_t)opts.size, strerror(errno));
	actor_finish(a);
}

/* N times: map SIZE, grow it to twice SIZE, shrink it back, unmap. */
static void run_mremap(void)
{
	struct actor *a = actor_enter(&actors[0]);
	size_t len = opts.size;

	for (uint64_t i = 0; i < opts.count; i++) {
		void *p = map_region(len, PROT_READ | PROT_WRITE), *q;

		q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			die("mremap grow: %s", strerror(errno));
		p = mremap(q, 2 * len, len, 0);
		if (p == MAP_FAILED)
			die("mremap shrink: %s", strerror(errno));
		unmap_region(p, len);
	}
	actor_finish(a);
}

/* N times: reserve SIZE PROT_NONE, make it writable, PROT_NONE again, unmap: an arena's life. */
static void run_mprotect(void)
{
	struct actor *a = actor_enter(&actors[0]);
	size_t len = opts.size;

	for (uint64_t i = 0; i < opts.count; i++) {
		void *p = map_region(len, PROT_NONE);

		if (mprotect(p, len, PROT_READ | PROT_WRITE) || mprotect(p, len, PROT_NONE))
			die("mprotect: %s", strerror(errno));
		unmap_region(p, len);
	}
	actor_finish(a);
}

/* ---- options ---- */

static const struct mode modes[] = {
	{ .name = "paired", .run = run_paired, .count = 1000000, .size = 64 },
	{ .name = "batch", .run = run_batch, .count = 1000000, .size = 64 },
	{ .name = "threads", .run = run_threads, .count = 1000000, .size = 64 },
	{ .name = "xthread", .run = run_xthread, .count = 1000000, .size = 64 },
	{ .name = "trim", .run = run_batch, .count = 1000000, .size = 64, .trim_at = TRIM_DRAINED },
	{ .name = "recycler", .run = run_recycler, .count = 60, .size = 64 },
	{ .name = "leak", .run = run_leak, .count = 100000, .size = 64 },
	{ .name = "bigalloc", .run = run_bigalloc, .count = 16, .size = MIB },
	{ .name = "madvise", .run = run_madvise, .count = 1, .size = 64 * MIB },
	{ .name = "process_madvise", .run = run_process_madvise, .count = 3, .size = 4 * MIB },
	{ .name = "sbrk", .run = run_sbrk, .count = 4, .size = MIB },
	{ .name = "mremap", .run = run_mremap, .count = 4, .size = MIB },
	{ .name = "mprotect", .run = run_mprotect, .count = 4, .size = MIB },
};

static const char *const type_names[] = { "node", "value", "boxed" };
static const char *const trim_names[] = { "none", "drained", "joined", "exit" };

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static unsigned int lookup(const char *const names[], unsigned int nr, const char *what,
			   const char *s)
{
	for (unsigned int i = 0; i < nr; i++)
		if (!strcmp(names[i], s))
			return i;
	usage_error("unknown %s '%s'", what, s);
}

static const struct mode *lookup_mode(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strcmp(modes[i].name, s))
			return &modes[i];
	usage_error("unknown mode '%s' (see --help)", s);
}

/* A decimal number with an optional k, M or G suffix worth unit, unit^2 or unit^3. */
static uint64_t parse_number(const char *what, const char *s, uint64_t unit, uint64_t max)
{
	uint64_t value, scale = 1;
	char *end;

	if (*s < '0' || *s > '9')
		usage_error("invalid %s '%s'", what, s);
	errno = 0;
	value = strtoull(s, &end, 10);
	switch (*end) {
	case 'G': case 'g':
		scale *= unit;
		/* fall through */
	case 'M': case 'm':
		scale *= unit;
		/* fall through */
	case 'K': case 'k':
		scale *= unit;
		end++;
		break;
	}
	if (errno || *end || value > max / scale)
		usage_error("invalid %s '%s'", what, s);
	return value * scale;
}

static void usage(void)
{
	/* longer than say()'s buffer */
	static const char text[] =
	    "Usage: channel [OPTIONS] MODE\n"
	    "Allocate and free in one of memwatch's scenarios, then print what was done.\n"
	    "\n"
	    "Modes: paired batch threads xthread trim recycler leak bigalloc madvise\n"
	    "       process_madvise sbrk mremap mprotect (syscalls only: -n times with -s bytes)\n"
	    "\n"
	    "  -n, --count N        items or iterations (k, M, G = 10^3, 10^6, 10^9)\n"
	    "  -s, --size SIZE      bytes per node or block (K, M, G = 2^10, 2^20, 2^30)\n"
	    "  -t, --type TYPE      channel item: node, value or boxed (default node)\n"
	    "  -T, --threads N      threads mode: main plus N-1 chained workers (default 3)\n"
	    "  -k, --keep K         recycler: buffers kept alive (default 20)\n"
	    "      --pool           recycler: reuse buffers from a free list\n"
	    "  -i, --interval MS    recycler: sleep per iteration; channel modes: pause after\n"
	    "                       every twentieth of the items (to watch them live)\n"
	    "      --advice ADVICE  madvise, process_madvise: dontneed, free, pageout or none\n"
	    "                       (default dontneed)\n"
	    "      --untouched      madvise: do not write the region first\n"
	    "      --keep-mapped    madvise: leave the region mapped until exit\n"
	    "      --trim-at POINT  malloc_trim(0) at none, drained, joined or exit\n"
	    "      --drop, --hold   free the drained channel's last block, or keep it (default drop)\n"
	    "  -d, --delay MS       sleep before starting\n"
	    "  -w, --wait           print 'ready pid=PID' on stderr, start on a line on stdin\n"
	    "  -W, --wait-end       print 'done pid=PID' on stderr, exit on a line on stdin\n"
	    "  -q, --quiet          print only the total line\n"
	    "      --exit-code C    exit with status C\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Examples:\n"
	    "  channel -n 1M -t boxed batch\n"
	    "  channel -w -W --trim-at joined threads\n"
	    "  channel -n 60 --pool recycler\n";

	write_all(STDOUT_FILENO, text, sizeof(text) - 1);
}

enum {
	OPT_POOL = 256,
	OPT_ADVICE,
	OPT_UNTOUCHED,
	OPT_TRIM_AT,
	OPT_DROP,
	OPT_HOLD,
	OPT_EXIT_CODE,
	OPT_KEEP_MAPPED,
};

static const struct option long_options[] = {
	{ "count", required_argument, NULL, 'n' },
	{ "size", required_argument, NULL, 's' },
	{ "type", required_argument, NULL, 't' },
	{ "threads", required_argument, NULL, 'T' },
	{ "keep", required_argument, NULL, 'k' },
	{ "interval", required_argument, NULL, 'i' },
	{ "delay", required_argument, NULL, 'd' },
	{ "wait", no_argument, NULL, 'w' },
	{ "wait-end", no_argument, NULL, 'W' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "pool", no_argument, NULL, OPT_POOL },
	{ "advice", required_argument, NULL, OPT_ADVICE },
	{ "untouched", no_argument, NULL, OPT_UNTOUCHED },
	{ "trim-at", required_argument, NULL, OPT_TRIM_AT },
	{ "drop", no_argument, NULL, OPT_DROP },
	{ "hold", no_argument, NULL, OPT_HOLD },
	{ "exit-code", required_argument, NULL, OPT_EXIT_CODE },
	{ "keep-mapped", no_argument, NULL, OPT_KEEP_MAPPED },
	{ 0 },
};

static void parse_options(int argc, char **argv)
{
	const char *count = NULL, *size = NULL, *trim_at = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:s:t:T:k:i:d:wWqh", long_options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			count = optarg;
			break;
		case 's':
			size = optarg;
			break;
		case 't':
			opts.type = lookup(type_names, ARRAY_SIZE(type_names), "type", optarg);
			break;
		case 'T':
			opts.threads = parse_number("thread count", optarg, 1000, MAX_THREADS);
			if (!opts.threads)
				usage_error("invalid thread count '%s'", optarg);
			break;
		case 'k':
			opts.keep = parse_number("keep count", optarg, 1000, UINT32_MAX);
			break;
		case 'i':
			opts.interval_ms = parse_number("interval", optarg, 1000, UINT32_MAX);
			break;
		case 'd':
			opts.delay_ms = parse_number("delay", optarg, 1000, UINT32_MAX);
			break;
		case 'w':
			opts.wait_start = true;
			break;
		case 'W':
			opts.wait_end = true;
			break;
		case 'q':
			opts.quiet = true;
			break;
		case 'h':
			usage();
			exit(0);
		case OPT_POOL:
			opts.pool = true;
			break;
		case OPT_ADVICE:
			if (!strcmp(optarg, "dontneed"))
				opts.advice = MADV_DONTNEED;
			else if (!strcmp(optarg, "free"))
				opts.advice = MADV_FREE;
			else if (!strcmp(optarg, "pageout"))
				opts.advice = MADV_PAGEOUT;
			else if (!strcmp(optarg, "none"))
				opts.advice = ADVICE_NONE;
			else
				usage_error("unknown advice '%s'", optarg);
			break;
		case OPT_UNTOUCHED:
			opts.untouched = true;
			break;
		case OPT_TRIM_AT:
			trim_at = optarg;
			break;
		case OPT_DROP:
			opts.hold = false;
			break;
		case OPT_HOLD:
			opts.hold = true;
			break;
		case OPT_EXIT_CODE:
			opts.exit_code = parse_number("exit code", optarg, 1000, 255);
			break;
		case OPT_KEEP_MAPPED:
			opts.keep_mapped = true;
			break;
		default:
			/* getopt has printed the one-line complaint */
			exit(2);
		}
	}
	if (optind != argc - 1)
		usage_error("expected one mode (see --help)");
	opts.mode = lookup_mode(argv[optind]);

	opts.count = count ? parse_number("count", count, 1000, UINT64_MAX) : opts.mode->count;
	opts.size = size ? parse_number("size", size, 1024, SIZE_MAX) : opts.mode->size;
	opts.trim_at = trim_at ? lookup(trim_names, ARRAY_SIZE(trim_names), "trim point", trim_at)
			       : opts.mode->trim_at;
	if (!opts.size)
		usage_error("size must not be 0");

	/* nodes and large blocks carry their own links */
	if (opts.type == ITEM_NODE && opts.size < sizeof(struct node))
		usage_error("size must be at least %zu bytes", sizeof(struct node));
	if (opts.mode->run == run_bigalloc && opts.size < sizeof(struct buffer))
		usage_error("size must be at least %zu bytes", sizeof(struct buffer));
	if (opts.mode->run == run_madvise || opts.mode->run == run_process_madvise) {
		uint64_t page = sysconf(_SC_PAGESIZE);

		/* the kernel works in whole pages: report what it was asked for */
		opts.size = (opts.size + page - 1) / page * page;
	}
}

/* ---- main ---- */

/* Block until a line (or EOF) arrives on stdin, without stdio and its buffer. */
static void wait_line(void)
{
	ssize_t got;
	char c;

	do
		got = read(STDIN_FILENO, &c, 1);
	while ((got == 1 && c != '\n') || (got < 0 && errno == EINTR));
}

static void add_counters(struct counters *sum, const struct counters *c)
{
	sum->allocs += c->allocs;
	sum->alloc_bytes += c->alloc_bytes;
	sum->frees += c->frees;
	sum->free_bytes += c->free_bytes;
	sum->trims += c->trims;
	sum->mmap_bytes += c->mmap_bytes;
	sum->madvise_bytes += c->madvise_bytes;
	sum->munmap_bytes += c->munmap_bytes;
	sum->process_madvise_calls += c->process_madvise_calls;
	sum->foreign_advised_bytes += c->foreign_advised_bytes;
}

static void report(void)
{
	struct counters sum = { 0 };

	for (unsigned int i = 0; i < finished.nr && !opts.quiet; i++) {
		const struct actor *a = finished.order[i];

		say(STDOUT_FILENO,
		    "thread tid=%d role=%s allocs=%" PRIu64 " alloc_bytes=%" PRIu64
		    " frees=%" PRIu64 " free_bytes=%" PRIu64 "\n",
		    a->tid, a->role, a->c.allocs, a->c.alloc_bytes, a->c.frees, a->c.free_bytes);
	}
	/* main's trims count even in xthread mode, where it has no line of its own */
	for (unsigned int i = 0; i < MAX_THREADS; i++)
		add_counters(&sum, &actors[i].c);
	say(STDOUT_FILENO,
	    "total mode=%s n=%" PRIu64 " allocs=%" PRIu64 " alloc_bytes=%" PRIu64
	    " frees=%" PRIu64 " free_bytes=%" PRIu64 " trims=%" PRIu64 " mmap_bytes=%" PRIu64
	    " madvise_bytes=%" PRIu64 " munmap_bytes=%" PRIu64 " process_madvise_calls=%" PRIu64
	    " foreign_advised_bytes=%" PRIu64 "\n",
	    opts.mode->name, opts.count, sum.allocs, sum.alloc_bytes, sum.frees, sum.free_bytes,
	    sum.trims, sum.mmap_bytes, sum.madvise_bytes, sum.munmap_bytes,
	    sum.process_madvise_calls, sum.foreign_advised_bytes);
}

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	if (opts.delay_ms)
		sleep_ms(opts.delay_ms);
	if (opts.wait_start) {
		say(STDERR_FILENO, "ready pid=%d\n", getpid());
		wait_line();
	}

	opts.mode->run();

	if (opts.wait_end) {
		say(STDERR_FILENO, "done pid=%d\n", getpid());
		wait_line();
	}
	trim_point(&actors[0], TRIM_EXIT);
	report();
	return opts.exit_code;
}
