/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The watched process: PID resolution, a held launch, and /proc readers. */
#ifndef MW_TARGET_H
#define MW_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MW_TASK_COMM_LEN 16

struct proc_status {
	char name[MW_TASK_COMM_LEN];
	pid_t tgid;
	pid_t tracer_pid;		/* the process ptracing it, 0 if none */
	bool has_mm;			/* false for zombies and kernel threads */
	unsigned long long rss_bytes;
	unsigned long long rss_anon_bytes;
	unsigned long long rss_file_bytes;
	unsigned long long rss_shmem_bytes;
};

/* Parses the text of /proc/PID/status; 0 or -EINVAL. */
int proc_status_parse(const char *text, struct proc_status *st);
/* Reads /proc/PID/status; 0 or -errno (-ENOENT: no such process). */
int proc_status_read(pid_t pid, struct proc_status *st);
/* Whether process @pid has exited: no /proc entry, or a zombie with no memory left. */
bool process_gone(pid_t pid);
/* The current name of a thread, "" when it is gone. */
void thread_comm_read(pid_t pid, pid_t tid, char *buf, size_t len);
/* Calls @fn for each live thread of @pid; 0 or -errno. */
int for_each_thread(pid_t pid, void (*fn)(pid_t tid, void *arg), void *arg);

/* A command forked but held before exec until every probe is attached. */
struct launch {
	pid_t pid;
	int go_fd;		/* closing it (after a write) lets the child exec */
	int exec_err_fd;	/* the child's exec errno, EOF once exec succeeded */
};

/* Looks @cmd up in PATH like execvp; 0, -ENOENT or -EACCES. */
int command_resolve(const char *cmd, char *path, size_t len);
int launch_prepare(const char *path, char *const argv[], struct launch *l);
/* Lets the child exec; 0, or the exec's -errno (the child has exited then). */
int launch_release(struct launch *l);
/* Kills and reaps a child that never got to exec. */
void launch_abort(struct launch *l);

#endif /* MW_TARGET_H */
