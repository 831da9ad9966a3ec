// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "app/signals.h"
#include "attach/target.h"
#include "sys/caps.h"
#include "sys/fileio.h"

/* A short file such as a thread's comm into @buf; 0 or -errno. */
static int read_small_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		err = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return err;
}

/*
 * The raw name from status's "Name:" value @val: the kernel writes a '\n' in
 * a name as "\\n" and a '\\' as "\\\\", and everything else as it is.
 */
static void name_unescape(char *name, size_t size, const char *val)
{
	size_t n = 0;

	for (; *val && *val != '\n' && n + 1 < size; val++) {
		if (val[0] == '\\' && (val[1] == 'n' || val[1] == '\\'))
			name[n++] = *++val == 'n' ? '\n' : '\\';
		else
			name[n++] = *val;
	}
	name[n] = '\0';
}

static unsigned long long kib_field(const char *line)
{
	return strtoull(line, NULL, 10) * 1024;
}

int proc_status_parse(const char *text, struct proc_status *st)
{
	const char *line;
	bool have_tgid = false;

	memset(st, 0, sizeof(*st));
	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *val = strchr(line, ':');
		size_t key_len;

		if (!val)
			continue;
		key_len = val - line;
		/* the kernel writes "Key:\tvalue"; a name may itself begin with spaces */
		val++;
		if (*val == '\t')
			val++;
#define KEY(k) (key_len == sizeof(k) - 1 && !strncmp(line, k, key_len))
		if (KEY("Name")) {
			name_unescape(st->name, sizeof(st->name), val);
		} else if (KEY("Tgid")) {
			st->tgid = atoi(val);
			have_tgid = true;
		} else if (KEY("TracerPid")) {
			st->tracer_pid = atoi(val);
		} else if (KEY("VmRSS")) {
			st->rss_bytes = kib_field(val);
			st->has_mm = true;
		} else if (KEY("RssAnon")) {
			st->rss_anon_bytes = kib_field(val);
		} else if (KEY("RssFile")) {
			st->rss_file_bytes = kib_field(val);
		} else if (KEY("RssShmem")) {
			st->rss_shmem_bytes = kib_field(val);
		}
#undef KEY
	}
	return have_tgid ? 0 : -EINVAL;
}

int proc_status_read(pid_t pid, struct proc_status *st)
{
	char path[64], *text;
	int err;

	/* not a fixed buffer: a long Groups: line comes before the Rss lines */
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	text = read_path(path, NULL);
	if (!text)
		return -errno;
	err = proc_status_parse(text, st);
	free(text);
	return err;
}

bool process_gone(pid_t pid)
{
	struct proc_status st;

	return proc_status_read(pid, &st) || !st.has_mm;
}

void thread_comm_read(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64], comm[MW_TASK_COMM_LEN + 1];
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	if (read_small_file(path, comm, sizeof(comm))) {
		buf[0] = '\0';
		return;
	}
	/* the kernel ends the name with a '\n'; one in the name itself is the name's */
	n = strlen(comm);
	if (n && comm[n - 1] == '\n')
		comm[--n] = '\0';
	snprintf(buf, len, "%s", comm);
}

int for_each_thread(pid_t pid, void (*fn)(pid_t tid, void *arg), void *arg)
{
	struct dirent *de;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		pid_t tid = atoi(de->d_name);

		if (tid > 0)
			fn(tid, arg);
	}
	closedir(dir);
	return 0;
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

int command_resolve(const char *cmd, char *path, size_t len)
{
	const char *dirs = getenv("PATH"), *dir, *end;
	bool found_unexecutable = false;

	if (strchr(cmd, '/')) {
		if ((size_t)snprintf(path, len, "%s", cmd) >= len)
			return -ENAMETOOLONG;
		if (access(path, F_OK))
			return -ENOENT;
		return is_executable_file(path) ? 0 : -EACCES;
	}
	if (!dirs)
		dirs = "/usr/local/bin:/usr/bin:/bin";
	/* like execvp: an empty entry, leading, inner or trailing, is the current directory */
	for (dir = dirs;; dir = end + 1) {
		size_t dir_len;

		end = strchrnul(dir, ':');
		dir_len = end - dir;
		if ((size_t)snprintf(path, len, "%.*s%s%s", (int)dir_len, dir, dir_len ? "/" : "",
				     cmd) < len) {
			if (is_executable_file(path))
				return 0;
			if (!access(path, F_OK))
				found_unexecutable = true;
		}
		if (!*end)
			break;
	}
	return found_unexecutable ? -EACCES : -ENOENT;
}

/*
 * In the child: wait for the go byte, then exec as the caller, with the
 * caller's signals and without the capabilities memwatch was given; report a
 * failed exec.
 */
static void __attribute__((noreturn)) launch_child(const char *path, char *const argv[],
						    int go_fd, int err_fd)
{
	char go;
	int err;

	signals_restore_for_exec();
	if (read(go_fd, &go, 1) != 1)
		_exit(1);
	close(go_fd);
	err = -caps_drop_for_exec();
	if (!err) {
		execv(path, argv);
		err = errno;
	}
	if (write(err_fd, &err, sizeof(err)) != sizeof(err))
		_exit(127);
	_exit(err == ENOENT ? 127 : 126);
}

int launch_prepare(const char *path, char *const argv[], struct launch *l)
{
	int go[2], exec_err[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(exec_err, O_CLOEXEC)) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		return err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(exec_err[0]);
		close(exec_err[1]);
		return err;
	}
	if (pid == 0) {
		close(go[1]);
		close(exec_err[0]);
		launch_child(path, argv, go[0], exec_err[1]);
	}
	close(go[0]);
	close(exec_err[1]);
	l->pid = pid;
	l->go_fd = go[1];
	l->exec_err_fd = exec_err[0];
	return 0;
}

int launch_release(struct launch *l)
{
	int exec_errno = 0;
	ssize_t n;

	n = write(l->go_fd, "g", 1);
	close(l->go_fd);
	l->go_fd = -1;
	if (n != 1)
		return -EPIPE;
	do {
		n = read(l->exec_err_fd, &exec_errno, sizeof(exec_errno));
	} while (n < 0 && errno == EINTR);
	close(l->exec_err_fd);
	l->exec_err_fd = -1;
	if (n == sizeof(exec_errno)) {
		waitpid(l->pid, NULL, 0);
		return -exec_errno;
	}
	return 0;
}

void launch_abort(struct launch *l)
{
	/* closing the go pipe without a byte makes the child exit on its own */
	if (l->go_fd >= 0)
		close(l->go_fd);
	if (l->exec_err_fd >= 0)
		close(l->exec_err_fd);
	l->go_fd = l->exec_err_fd = -1;
	waitpid(l->pid, NULL, 0);
}
