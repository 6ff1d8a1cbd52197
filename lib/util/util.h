/* SPDX-License-Identifier: MIT */
/* Internal helpers shared across the library (bpi_: not exported). */
#ifndef BP_UTIL_H
#define BP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/buf.h>
#include <bootpack/error.h>

static inline uint16_t bpi_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t bpi_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t bpi_get_le64(const uint8_t *p)
{
	return bpi_get_le32(p) | (uint64_t)bpi_get_le32(p + 4) << 32;
}

static inline void bpi_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void bpi_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void bpi_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void bpi_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#define BPI_ALIGN_UP(x, a) (((x) + ((a) - 1)) / (a) * (a))

static inline uint32_t bpi_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Read all of @path into @out (replacing its contents). Fails with
 * BP_ERR_TOOBIG rather than allocating more than @max bytes.
 */
int bpi_read_file(const char *path, uint64_t max, struct bp_buf *out, struct bp_diag *d);

/*
 * "DIR/.BASE" + @suffix for @path "DIR/BASE": the hidden sibling files used
 * for Kbuild's .cmd files and our temporary outputs. Caller frees; NULL on
 * allocation failure.
 */
char *bpi_dot_sibling(const char *path, const char *suffix);

/* An output file under construction: written unnamed or to a temporary, then renamed. */
struct bpi_output {
	int fd;
	const char *path;
	char *tmp_path;          /* the named temporary, if any */
	char *link_target;       /* @path is a symlink to this file */
	bool direct;             /* not a regular file: written in place */
};

int bpi_output_open(struct bpi_output *o, const char *path, struct bp_diag *d);
int bpi_output_write(struct bpi_output *o, const void *p, size_t n, struct bp_diag *d);
/* Overwrite @n bytes at @off, which must already be written; the position stays. */
int bpi_output_pwrite(struct bpi_output *o, const void *p, size_t n, uint64_t off,
		      struct bp_diag *d);
/* Write @n zero bytes. */
int bpi_output_zero(struct bpi_output *o, size_t n, struct bp_diag *d);
/* Flush, close and rename into place. On failure the temporary is removed. */
int bpi_output_commit(struct bpi_output *o, struct bp_diag *d);
/* Remove the temporary; @path is never touched. Safe to call twice. */
void bpi_output_abort(struct bpi_output *o);
/* Write @n bytes at @p to @path atomically: open, write, commit (or abort). */
int bpi_output_file(const char *path, const void *p, size_t n, struct bp_diag *d);

/*
 * Run fn(ctx, i) for i in [0, n) on up to @threads threads (0 = one per
 * online CPU). Items are handed out in index order, so the failure reported
 * (the lowest failing index) does not depend on the thread count.
 * Returns 0 or that item's negative code.
 */
int bpi_jobs_run(size_t n, unsigned int threads, int (*fn)(void *ctx, size_t i), void *ctx);

/* The thread count @threads stands for: 0 = online CPUs; capped at the pool's maximum. */
unsigned int bpi_jobs_threads(unsigned int threads);

#endif
