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
/* The same for the rest of the open @fd (left open); @path names it in messages. */
int bpi_read_fd(int fd, const char *path, uint64_t max, struct bp_buf *out, struct bp_diag *d);

/*
 * Map all of the regular file @path read-only (private) into *@p, *@len;
 * BP_ERR_UNSUPPORTED for what cannot be mapped (a pipe, an empty file: read
 * it instead), BP_ERR_TOOBIG past @max. A large input then costs no memory
 * of its own: see bpi_drop_mapped(). Release with bpi_unmap().
 */
int bpi_map_file(const char *path, uint64_t max, const uint8_t **p, size_t *len,
		 struct bp_diag *d);
void bpi_unmap(const uint8_t *p, size_t len);
/*
 * Let the kernel drop the pages wholly inside [@p, @p + @n) of such a
 * mapping once they have been used: touched again, they are read again
 * from the file. Never on other memory (anonymous pages would be zeroed).
 */
void bpi_drop_mapped(const void *p, size_t n);

/*
 * "DIR/.BASE" + @suffix for @path "DIR/BASE": the hidden sibling files used
 * for Kbuild's .cmd files and our temporary outputs. Caller frees; NULL on
 * allocation failure.
 */
char *bpi_dot_sibling(const char *path, const char *suffix);

/*
 * Caller structs that start with "size_t size" (the growth rules at the top
 * of <bootpack/fit.h>). The first version of a struct is as large as the
 * struct up to and including its last first-version field, padded.
 */
#define BPI_SIZE_V1(type, last) \
	BPI_ALIGN_UP(offsetof(type, last) + sizeof(((type *)0)->last), _Alignof(type))

/*
 * Copy the caller's struct at @src into @dst (the library's @dst_size
 * bytes), zeroing what the caller's size does not cover; @src NULL gives
 * all zeros. BP_ERR_INVALID below @min_size, BP_ERR_UNSUPPORTED when bytes
 * past @dst_size are set. @what names the struct in messages.
 */
int bpi_struct_in(void *dst, size_t dst_size, size_t min_size, const void *src,
		  const char *what, struct bp_diag *d);
/* BP_ERR_INVALID unless the caller's output struct @dst (may be NULL) is at least @min_size. */
int bpi_struct_out_check(const void *dst, size_t min_size, const char *what, struct bp_diag *d);
/* Copy @src (@src_size bytes) to the caller's @dst (may be NULL), at most its size; its size stays. */
void bpi_struct_out(void *dst, const void *src, size_t src_size);

#define BPI_STRUCT_IN(dst, min, src, what, d) bpi_struct_in(dst, sizeof(*(dst)), min, src, what, d)

struct bp_sink;
/* The first struct bp_sink (<bootpack/experimental.h> must be included to use it). */
#define BPI_SINK_SIZE_V1 BPI_SIZE_V1(struct bp_sink, ctx)

/*
 * An output under construction. A path is written unnamed or to a
 * temporary, then renamed; a caller's fd, buffer or callback (struct
 * bp_sink) gets the bytes in place.
 */
struct bpi_output {
	int fd;
	const char *path;        /* the file, or the sink's name in messages */
	char *tmp_path;          /* the named temporary, if any */
	char *link_target;       /* @path is a symlink to this file */
	bool direct;             /* not a regular file: written in place */
	int kind;                /* enum bp_sink_kind */
	uint64_t base;           /* fd: its offset at open; buf: its length at open */
	struct bp_buf *buf;      /* the caller's buffer, or @stage */
	struct bp_buf stage;     /* a callback's output held for patching */
	int (*fn)(void *ctx, const void *p, size_t n);
	void *ctx;
};

int bpi_output_open(struct bpi_output *o, const char *path, struct bp_diag *d);
/*
 * Open @s (checked). @patch: bpi_output_pwrite() will be used, so an fd
 * must be seekable and a callback's output is held until commit.
 */
int bpi_output_open_sink(struct bpi_output *o, const struct bp_sink *s, bool patch,
			 struct bp_diag *d);
/* Whether bpi_output_pwrite() works: false for a pipe or terminal. */
bool bpi_output_can_patch(const struct bpi_output *o);
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
/* The same into @s. */
int bpi_output_to(const struct bp_sink *s, const void *p, size_t n, struct bp_diag *d);

/*
 * Run fn(ctx, i) for i in [0, n) on up to @threads threads (0 = 1: the
 * library starts threads only when asked). Items are handed out in index order, so the failure reported
 * (the lowest failing index) does not depend on the thread count.
 * Returns 0 or that item's negative code.
 */
int bpi_jobs_run(size_t n, unsigned int threads, int (*fn)(void *ctx, size_t i), void *ctx);

/* The thread count @threads stands for: 0 = 1; capped at the pool's maximum. */
unsigned int bpi_jobs_threads(unsigned int threads);

#endif
