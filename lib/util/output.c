// SPDX-License-Identifier: MIT
/*
 * Atomic output: write the new file next to the destination and rename it
 * over the destination only when everything succeeded, so a failure never
 * leaves a partial image and never touches an existing file.
 *
 * Where the file system supports it the file is created unnamed (O_TMPFILE)
 * and only gets a name at commit, so a process killed while writing (SIGKILL,
 * OOM) leaves nothing behind; elsewhere a hidden ".NAME.tmp-PID-N" sibling is
 * used, removed on every failure bootpack sees.
 *
 * An existing output that is not a regular file (a pipe, a terminal, a
 * device) is written in place: renaming over it would replace the device
 * node. A symlink is followed and its target replaced, so the link stays
 * (and "-o /dev/stdout" into a file does not replace /dev/stdout).
 *
 * A caller's struct bp_sink is written in place: an fd from its current
 * offset (patches go there with pwrite), a buffer appended to (truncated
 * back on abort), a callback given the bytes as they come or, when the
 * output is patched afterwards, held in memory and given at commit.
 */
#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static char *tmp_name(const char *path, unsigned int attempt)
{
	char suffix[48];

	snprintf(suffix, sizeof(suffix), ".tmp-%ld-%u", (long)getpid(), attempt);
	return bpi_dot_sibling(path, suffix);
}

/* Where the file goes: @o->path, or the file its symlink chain ends at. */
static const char *target(const struct bpi_output *o)
{
	return o->link_target ? o->link_target : o->path;
}

/* Create a free temporary name for @path: open it (@fd) or, with @fd NULL, link @from_fd to it. */
static int create_named(struct bpi_output *o, int *fd, int from_fd, struct bp_diag *d)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", from_fd);
	for (unsigned int attempt = 0; attempt < 100; attempt++) {
		int ok;

		if (!(o->tmp_path = tmp_name(target(o), attempt)))
			return bp_diag_set(d, BP_ERR_NOMEM, o->path, "out of memory");
		if (fd) {
			/* 0666 lets the umask decide, as for any file the user creates. */
			*fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
			ok = *fd >= 0;
		} else {
			/* Through /proc needs no privilege; AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH. */
			ok = !linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp_path, AT_SYMLINK_FOLLOW) ||
			     (errno == ENOENT &&
			      !linkat(from_fd, "", AT_FDCWD, o->tmp_path, AT_EMPTY_PATH));
		}
		if (ok)
			return 0;
		int err = errno;

		free(o->tmp_path);
		o->tmp_path = NULL;
		if (err != EEXIST)
			return bp_diag_set(d, BP_ERR_IO, o->path, "cannot create output: %s",
					   strerror(err));
	}
	return bp_diag_set(d, BP_ERR_IO, o->path, "cannot create a temporary output file");
}

/* The directory of @path ("." for a bare name), for O_TMPFILE. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int bpi_output_open(struct bpi_output *o, const char *path, struct bp_diag *d)
{
	struct stat st, lst;
	bool exists;
	char *dir;
	int ret;

	memset(o, 0, sizeof(*o));
	o->path = path;
	o->fd = -1;
	o->kind = BP_SINK_PATH;
	exists = !stat(path, &st);
	if (exists && S_ISDIR(st.st_mode))
		return bp_diag_set(d, BP_ERR_IO, path, "cannot create output: Is a directory");
	if (exists && !S_ISREG(st.st_mode)) {
		o->direct = true;
		o->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (o->fd < 0)
			return bp_diag_set(d, BP_ERR_IO, path, "cannot open output: %s",
					   strerror(errno));
		return 0;
	}
	/* A dangling link has no target to resolve; the link itself is replaced. */
	if (!lstat(path, &lst) && S_ISLNK(lst.st_mode) &&
	    !(o->link_target = realpath(path, NULL)) && errno != ENOENT)
		return bp_diag_set(d, BP_ERR_IO, path, "cannot resolve output link: %s",
				   strerror(errno));
	if (!(dir = dir_of(target(o)))) {
		bpi_output_abort(o);
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	}
	o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	free(dir);
	if (o->fd >= 0)
		return 0;
	/* Not supported here (EOPNOTSUPP, EISDIR on old kernels): fall back to a name. */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		int err = errno;

		bpi_output_abort(o);
		return bp_diag_set(d, BP_ERR_IO, path, "cannot create output: %s", strerror(err));
	}
	ret = create_named(o, &o->fd, -1, d);
	if (ret)
		bpi_output_abort(o);
	return ret;
}

int bpi_output_open_sink(struct bpi_output *o, const struct bp_sink *sink, bool patch,
			 struct bp_diag *d)
{
	struct bp_sink s;
	off_t at;
	int ret = BPI_STRUCT_IN(&s, BPI_SINK_SIZE_V1, sink, "bp_sink", d);

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (!ret && !sink)
		ret = bp_diag_set(d, BP_ERR_INVALID, "", "no output given");
	if (ret)
		return ret;
	if (s.kind == BP_SINK_PATH && s.name)
		return bpi_output_open(o, s.name, d);
	o->kind = s.kind;
	o->path = s.name ? s.name : "output";
	switch (s.kind) {
	case BP_SINK_PATH:
		break;
	case BP_SINK_FD:
		if (s.fd < 0)
			break;
		o->fd = s.fd;
		at = lseek(s.fd, 0, SEEK_CUR);
		/* An unseekable fd (a pipe) is refused by the caller when it must patch. */
		o->base = at < 0 ? 0 : (uint64_t)at;
		o->direct = at < 0 || (fcntl(s.fd, F_GETFL) & O_APPEND);
		return 0;
	case BP_SINK_BUF:
		if (!s.buf)
			break;
		o->buf = s.buf;
		o->base = s.buf->len;
		return 0;
	case BP_SINK_FN:
		if (!s.write)
			break;
		o->fn = s.write;
		o->ctx = s.ctx;
		o->buf = patch ? &o->stage : NULL;
		return 0;
	default:
		return bp_diag_set(d, BP_ERR_INVALID, o->path, "unknown output kind %d",
				   (int)s.kind);
	}
	return bp_diag_set(d, BP_ERR_INVALID, o->path, "output of kind %d without its fd, "
			   "buffer, callback or path", (int)s.kind);
}

bool bpi_output_can_patch(const struct bpi_output *o)
{
	if (o->kind == BP_SINK_PATH)
		return !o->direct || lseek(o->fd, 0, SEEK_CUR) >= 0;
	if (o->kind == BP_SINK_FD)
		return !o->direct;
	return o->buf != NULL;
}

static int call_sink(struct bpi_output *o, const uint8_t *p, size_t n, struct bp_diag *d)
{
	while (n) {
		size_t k = n > (1u << 20) ? (1u << 20) : n;
		int ret = o->fn(o->ctx, p, k);

		if (ret > 0 || ret < BP_ERR_TOOBIG)
			ret = BP_ERR_IO;
		if (ret)
			return bp_diag_set(d, ret, o->path, "cannot write: the output callback "
					   "failed (%s)", bp_strerror(ret));
		p += k;
		n -= k;
	}
	return 0;
}

/* Into the caller's or our buffer: appended, or at @off from the start of our output. */
static int buf_write(struct bpi_output *o, const uint8_t *p, size_t n, off_t off,
		     struct bp_diag *d)
{
	struct bp_buf *b = o->buf;

	if (off >= 0) {
		memcpy(b->data + o->base + (uint64_t)off, p, n);
		return 0;
	}
	if (bp_buf_append(b, p, n))
		return bp_diag_set(d, BP_ERR_NOMEM, o->path, "out of memory");
	return 0;
}

/* Write all of @p at @off, or at the current position when @off is -1. */
static int write_at(struct bpi_output *o, const uint8_t *p, size_t n, off_t off,
		    struct bp_diag *d)
{
	if (o->buf)
		return buf_write(o, p, n, off, d);
	if (o->fn)
		return call_sink(o, p, n, d);
	if (off >= 0)
		off += (off_t)o->base;
	while (n) {
		size_t k = n > (1u << 30) ? (1u << 30) : n;
		ssize_t w = off < 0 ? write(o->fd, p, k) : pwrite(o->fd, p, k, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return bp_diag_set(d, BP_ERR_IO, o->path, "cannot write: %s",
					   strerror(errno));
		}
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int bpi_output_write(struct bpi_output *o, const void *p, size_t n, struct bp_diag *d)
{
	return write_at(o, p, n, -1, d);
}

int bpi_output_pwrite(struct bpi_output *o, const void *p, size_t n, uint64_t off,
		      struct bp_diag *d)
{
	return write_at(o, p, n, (off_t)off, d);
}

int bpi_output_zero(struct bpi_output *o, size_t n, struct bp_diag *d)
{
	static const uint8_t zeros[4096];

	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		int ret = bpi_output_write(o, zeros, k, d);

		if (ret)
			return ret;
		n -= k;
	}
	return 0;
}

/* A callback's patched output, now final. */
static int call_sink_staged(struct bpi_output *o, struct bp_diag *d)
{
	struct bp_buf *b = o->buf;

	o->buf = NULL;
	return call_sink(o, b->data, b->len, d);
}

int bpi_output_commit(struct bpi_output *o, struct bp_diag *d)
{
	int ret;

	if (o->kind != BP_SINK_PATH) {
		ret = o->fn && o->buf ? call_sink_staged(o, d) : 0;
		bp_buf_free(&o->stage);
		o->buf = NULL;
		return ret;
	}
	/* An unnamed file gets a temporary name first: linkat cannot replace. */
	ret = o->tmp_path || o->direct ? 0 : create_named(o, NULL, o->fd, d);

	if (close(o->fd) < 0 && !ret)
		ret = bp_diag_set(d, BP_ERR_IO, o->path, "cannot write: %s", strerror(errno));
	o->fd = -1;
	if (!ret && o->direct)
		return 0;
	if (!ret && rename(o->tmp_path, target(o)) < 0)
		ret = bp_diag_set(d, BP_ERR_IO, o->path, "cannot rename output into place: %s",
				  strerror(errno));
	if (ret) {
		bpi_output_abort(o);
		return ret;
	}
	free(o->tmp_path);
	o->tmp_path = NULL;
	free(o->link_target);
	o->link_target = NULL;
	return 0;
}

void bpi_output_abort(struct bpi_output *o)
{
	if (o->kind != BP_SINK_PATH) {
		/* A caller's fd stays open; a caller's buffer is as it was. */
		if (o->buf && o->buf != &o->stage)
			o->buf->len = (size_t)o->base;
		bp_buf_free(&o->stage);
		o->buf = NULL;
		return;
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp_path) {
		unlink(o->tmp_path);
		free(o->tmp_path);
		o->tmp_path = NULL;
	}
	free(o->link_target);
	o->link_target = NULL;
}

static int write_commit(struct bpi_output *o, const void *p, size_t n, struct bp_diag *d)
{
	int ret = bpi_output_write(o, p, n, d);

	if (ret)
		bpi_output_abort(o);
	else
		ret = bpi_output_commit(o, d);
	return ret;
}

int bpi_output_file(const char *path, const void *p, size_t n, struct bp_diag *d)
{
	struct bpi_output o;
	int ret = bpi_output_open(&o, path, d);

	if (ret)
		return ret;
	return write_commit(&o, p, n, d);
}

int bpi_output_to(const struct bp_sink *s, const void *p, size_t n, struct bp_diag *d)
{
	struct bpi_output o;
	int ret = bpi_output_open_sink(&o, s, false, d);

	return ret ? ret : write_commit(&o, p, n, d);
}
