// SPDX-License-Identifier: MIT
/*
 * Atomic output: write a temporary file next to the destination and rename
 * it over the destination only when everything succeeded, so a failure never
 * leaves a partial image and never touches an existing file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static char *tmp_name(const char *path, unsigned int attempt)
{
	char suffix[48];

	snprintf(suffix, sizeof(suffix), ".tmp-%ld-%u", (long)getpid(), attempt);
	return bpi_dot_sibling(path, suffix);
}

int bpi_output_open(struct bpi_output *o, const char *path, struct bp_diag *d)
{
	o->path = path;
	o->fd = -1;
	o->tmp_path = NULL;
	for (unsigned int attempt = 0; attempt < 100; attempt++) {
		o->tmp_path = tmp_name(path, attempt);
		if (!o->tmp_path)
			return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
		/* 0666 lets the umask decide, as for any file the user creates. */
		o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (o->fd >= 0)
			return 0;
		if (errno != EEXIST) {
			int err = errno;

			free(o->tmp_path);
			o->tmp_path = NULL;
			return bp_diag_set(d, BP_ERR_IO, path, "cannot create output: %s",
					   strerror(err));
		}
		free(o->tmp_path);
		o->tmp_path = NULL;
	}
	return bp_diag_set(d, BP_ERR_IO, path, "cannot create a temporary output file");
}

/* Write all of @p at @off, or at the current position when @off is -1. */
static int write_at(struct bpi_output *o, const uint8_t *p, size_t n, off_t off,
		    struct bp_diag *d)
{
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

int bpi_output_commit(struct bpi_output *o, struct bp_diag *d)
{
	int ret = 0;

	if (close(o->fd) < 0)
		ret = bp_diag_set(d, BP_ERR_IO, o->path, "cannot write: %s", strerror(errno));
	o->fd = -1;
	if (!ret && rename(o->tmp_path, o->path) < 0)
		ret = bp_diag_set(d, BP_ERR_IO, o->path, "cannot rename output into place: %s",
				  strerror(errno));
	if (ret) {
		bpi_output_abort(o);
		return ret;
	}
	free(o->tmp_path);
	o->tmp_path = NULL;
	return 0;
}

void bpi_output_abort(struct bpi_output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp_path) {
		unlink(o->tmp_path);
		free(o->tmp_path);
		o->tmp_path = NULL;
	}
}

int bpi_output_file(const char *path, const void *p, size_t n, struct bp_diag *d)
{
	struct bpi_output o;
	int ret = bpi_output_open(&o, path, d);

	if (ret)
		return ret;
	ret = bpi_output_write(&o, p, n, d);
	if (ret)
		bpi_output_abort(&o);
	else
		ret = bpi_output_commit(&o, d);
	return ret;
}
