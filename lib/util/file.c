// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bootpack/file.h>

#include "util.h"

static int read_all(int fd, const char *path, uint64_t max, struct bp_buf *out,
		    struct bp_diag *d)
{
	for (;;) {
		ssize_t n;

		/* Grow only when full: a regular file was sized up front (+1 for EOF). */
		if (out->cap == out->len && bp_buf_reserve(out, 65536))
			return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory while reading");
		n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bp_diag_set(d, BP_ERR_IO, path, "cannot read: %s", strerror(errno));
		}
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		if (out->len > max)
			return bp_diag_set(d, BP_ERR_TOOBIG, path,
					   "file is larger than the limit of %llu bytes",
					   (unsigned long long)max);
	}
}

int bpi_read_fd(int fd, const char *path, uint64_t max, struct bp_buf *out, struct bp_diag *d)
{
	struct stat st;
	off_t at;

	out->len = 0;
	if (fstat(fd, &st) < 0)
		return bp_diag_set(d, BP_ERR_IO, path, "cannot stat: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return bp_diag_set(d, BP_ERR_IO, path, "is a directory, not a file");
	/* A regular file is read from its offset: what is left of it must fit. */
	at = S_ISREG(st.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
	if (at >= 0 && at <= st.st_size) {
		if ((uint64_t)(st.st_size - at) > max)
			return bp_diag_set(d, BP_ERR_TOOBIG, path,
					   "file is %llu bytes, more than the limit of %llu",
					   (unsigned long long)(st.st_size - at),
					   (unsigned long long)max);
		/* One allocation of the right size; +1 so EOF is seen without growing. */
		if (bp_buf_reserve(out, (size_t)(st.st_size - at) + 1))
			return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	}
	return read_all(fd, path, max, out, d);
}

int bpi_read_file(const char *path, uint64_t max, struct bp_buf *out, struct bp_diag *d)
{
	int fd, ret;

	out->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bp_diag_set(d, BP_ERR_IO, path, "cannot open: %s", strerror(errno));
	ret = bpi_read_fd(fd, path, max, out, d);
	close(fd);
	return ret;
}

int bp_buf_read_file(struct bp_buf *out, const char *path, uint64_t max, struct bp_diag *d)
{
	int ret;

	bp_diag_clear(d);
	ret = bpi_read_file(path, max, out, d);
	if (ret)
		out->len = 0;
	return ret;
}

int bpi_map_file(const char *path, uint64_t max, const uint8_t **p, size_t *len,
		 struct bp_diag *d)
{
	struct stat st;
	void *m;
	int fd;

	*p = NULL;
	*len = 0;
	/*
	 * Opening a FIFO waits for its writer, and the data it sends can be
	 * read only through that one open: what is not a regular file is left
	 * to the caller's read, unopened.
	 */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return BP_ERR_UNSUPPORTED;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bp_diag_set(d, BP_ERR_IO, path, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return BP_ERR_UNSUPPORTED;
	}
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return bp_diag_set(d, BP_ERR_TOOBIG, path, "file is %llu bytes, over the %llu-byte "
				   "limit", (unsigned long long)st.st_size, (unsigned long long)max);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return BP_ERR_UNSUPPORTED;
	*p = m;
	*len = (size_t)st.st_size;
	return 0;
}

void bpi_unmap(const uint8_t *p, size_t len)
{
	if (p)
		munmap((void *)p, len);
}

void bpi_drop_mapped(const void *p, size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p, b = a + n;

	if (page <= 0)
		return;
	a = (a + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
	b = b / (uintptr_t)page * (uintptr_t)page;
	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

char *bpi_dot_sibling(const char *path, const char *suffix)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t n = strlen(path) + strlen(suffix) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%.*s.%s%s", (int)dirlen, path, path + dirlen, suffix);
	return p;
}
