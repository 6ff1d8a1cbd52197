// SPDX-License-Identifier: MIT
/*
 * dtc as mkimage -f runs it: the one program bootpack starts, because the
 * field's .its sources are written for dtc's grammar and /incbin/ rules.
 * It runs with no input, an address-space limit (a backstop to the /incbin/
 * scan: a file swapped for /dev/zero after the scan still stops) and a
 * deadline (a FIFO swapped in likewise); its messages are read through a
 * pipe so that the caller prints them escaped, and the first error line
 * becomes the diagnostic.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fit_its.h"
#include <bootpack/buf.h>

#include "util/esc.h"

#define MSG_MAX 4096
#define KEPT_MAX (64 * 1024)

/* The child: /dev/null in, the pipe out, the limit set; only async-signal-safe calls. */
static void child(char *const *argv, int wfd, uint64_t mem_max)
{
	struct rlimit rl = { .rlim_cur = (rlim_t)mem_max, .rlim_max = (rlim_t)mem_max };
	int null = open("/dev/null", O_RDONLY);

	if (null < 0 || dup2(null, 0) < 0 || dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0)
		_exit(126);
	setrlimit(RLIMIT_AS, &rl);
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

struct lines {
	char buf[MSG_MAX];
	size_t len;
	char first_error[MSG_MAX];
	struct bp_buf kept;        /* every line, NUL-terminated, for @msg once dtc succeeded */
	bpi_its_msg_fn msg;
	void *ctx;
};

static void line_done(struct lines *l, char *line)
{
	if (!l->first_error[0] && (strstr(line, "Error") || strstr(line, "ERROR") ||
				   strstr(line, "cannot run")))
		snprintf(l->first_error, sizeof(l->first_error), "%s", line);
	/* Warnings are shown when dtc succeeds; a failure is its first error line alone. */
	if (l->kept.len < KEPT_MAX)
		bp_buf_append(&l->kept, line, strlen(line) + 1);
}

static void pass_on(const struct lines *l)
{
	const char *p = (const char *)l->kept.data;

	for (size_t at = 0; l->msg && at < l->kept.len; at += strlen(p + at) + 1)
		l->msg(l->ctx, p + at);
}

/* Split what dtc wrote into lines; an overlong line is cut. */
static void take(struct lines *l, const char *p, size_t n, bool eof)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n' && l->len + 1 < sizeof(l->buf)) {
			l->buf[l->len++] = p[i];
			continue;
		}
		l->buf[l->len] = 0;
		if (p[i] == '\n' || l->len + 1 >= sizeof(l->buf))
			line_done(l, l->buf);
		l->len = 0;
	}
	if (eof && l->len) {
		l->buf[l->len] = 0;
		line_done(l, l->buf);
		l->len = 0;
	}
}

/* Read the pipe until dtc closes it or the deadline passes; false on the deadline. */
static bool drain(int rfd, struct lines *l, unsigned int timeout_s)
{
	time_t end = time(NULL) + (time_t)timeout_s;
	char chunk[4096];

	for (;;) {
		struct pollfd pf = { .fd = rfd, .events = POLLIN };
		time_t left = end - time(NULL);
		ssize_t n;

		if (left <= 0)
			return false;
		if (poll(&pf, 1, (int)(left > 60 ? 60000 : left * 1000)) < 0 && errno != EINTR)
			return true;
		if (!pf.revents)
			continue;
		n = read(rfd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			take(l, chunk, 0, true);
			return true;
		}
		take(l, chunk, (size_t)n, false);
	}
}

static int status_error(int status, bool timed_out, const char *its, const struct lines *l,
			unsigned int timeout_s, struct bp_diag *d)
{
	if (timed_out)
		return bp_diag_set(d, BP_ERR_FORMAT, its, "dtc did not finish within %u s (an "
				   "/incbin/ file that never ends?)", timeout_s);
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (l->first_error[0])
		return bp_diag_set(d, BP_ERR_FORMAT, its, "dtc: %s", BPI_ESC(l->first_error));
	if (WIFSIGNALED(status))
		return bp_diag_set(d, BP_ERR_FORMAT, its, "dtc was killed by signal %d (out of "
				   "memory?)", WTERMSIG(status));
	return bp_diag_set(d, BP_ERR_FORMAT, its, "dtc failed (exit status %d)",
			   WEXITSTATUS(status));
}

int bpi_its_run_dtc(char *const *argv, const char *its, uint64_t mem_max, unsigned int timeout_s,
		    bpi_its_msg_fn msg, void *ctx, struct bp_diag *d)
{
	struct lines *l = calloc(1, sizeof(*l));
	int fds[2], status = 0;
	bool done;
	pid_t pid;

	if (!l)
		return bp_diag_set(d, BP_ERR_NOMEM, its, "out of memory");
	l->msg = msg;
	l->ctx = ctx;
	if (pipe2(fds, O_CLOEXEC)) {
		free(l);
		return bp_diag_set(d, BP_ERR_IO, its, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid == 0)
		child(argv, fds[1], mem_max);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		free(l);
		return bp_diag_set(d, BP_ERR_IO, its, "cannot start dtc: %s", strerror(errno));
	}
	done = drain(fds[0], l, timeout_s);
	if (!done)
		kill(pid, SIGKILL);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	status = status_error(status, !done, its, l, timeout_s, d);
	if (!status)
		pass_on(l);
	bp_buf_free(&l->kept);
	free(l);
	return status;
}
