// SPDX-License-Identifier: MIT
/*
 * gzip: one member written by zlib at level 6 (gzip's default), with the
 * header zlib emits when none is set: mtime 0, no name, OS unix. That keeps
 * the output reproducible. U-Boot's gunzip decodes only the first member, so
 * the decoder refuses anything after it instead of silently dropping it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* next_in becomes const: zlib never writes to its input. */
#define ZLIB_CONST
#include <zlib.h>

#include "codec_impl.h"
#include "util/util.h"

/* zlib counts in unsigned int: hand it at most this much per call. */
#ifndef BPI_CODEC_FEED_MAX
#define BPI_CODEC_FEED_MAX ((size_t)1 << 30)
#endif
#define GZ_OUT_CHUNK ((size_t)256 << 10)

#define GZ_LEVEL 6
#define GZ_WBITS (15 + 16) /* 32 KiB window, gzip wrapper */
#define GZ_MEMLEVEL 8

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Offer zlib the next slice of input once it has used up the previous one. */
static void feed(z_stream *s, const uint8_t **src, size_t *left)
{
	size_t n;

	if (s->avail_in || !*left)
		return;
	n = min_size(*left, BPI_CODEC_FEED_MAX);
	s->next_in = *src;
	s->avail_in = (uInt)n;
	*src += n;
	*left -= n;
}

/* Point zlib at free space in @out; @avail bytes of it at most. */
static int give_room(z_stream *s, struct bp_buf *out, size_t avail)
{
	avail = min_size(min_size(avail, GZ_OUT_CHUNK), BPI_CODEC_FEED_MAX);
	if (bp_buf_reserve(out, avail))
		return BP_ERR_NOMEM;
	s->next_out = out->data + out->len;
	s->avail_out = (uInt)avail;
	return 0;
}

static int gz_deflate_all(z_stream *s, const uint8_t *src, size_t len, struct bp_buf *out,
			  struct bp_diag *d)
{
	int flush, zr;
	uInt room;

	do {
		feed(s, &src, &len);
		flush = (len || s->avail_in) ? Z_NO_FLUSH : Z_FINISH;
		if (give_room(s, out, GZ_OUT_CHUNK))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
		room = s->avail_out;
		zr = deflate(s, flush);
		out->len += room - s->avail_out;
		if (zr == Z_STREAM_ERROR)
			return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib deflate failed: %s",
					   s->msg ? s->msg : "stream error");
	} while (zr != Z_STREAM_END);
	return 0;
}

static int gz_compress(const void *src, size_t len, struct bp_buf *out, struct bp_diag *d)
{
	z_stream s = { 0 };
	size_t base = out->len;
	int zr, ret;

	zr = deflateInit2(&s, GZ_LEVEL, Z_DEFLATED, GZ_WBITS, GZ_MEMLEVEL, Z_DEFAULT_STRATEGY);
	if (zr == Z_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	if (zr != Z_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib deflateInit2 failed (%d)", zr);
	ret = gz_deflate_all(&s, src, len, out, d);
	deflateEnd(&s);
	if (ret)
		out->len = base;
	return ret;
}

/*
 * pigz-style parallel gzip: the input is cut into fixed-size chunks (so the
 * output does not depend on the thread count), each deflated raw with the
 * 32 KiB before it as dictionary and ended by a sync flush, the last one by
 * the final block. Concatenated they form one deflate stream: one gzip
 * member with one CRC, which is what U-Boot's gunzip needs.
 */
#define GZ_MT_CHUNK ((size_t)512 << 10)
#define GZ_DICT ((size_t)32 << 10)

struct gz_chunk {
	struct bp_buf out;
	uLong crc;
	int err;
	char msg[128];
};

struct gz_mt {
	const uint8_t *src;
	size_t len, n;
	struct gz_chunk *chunks;
};

static int gz_chunk_job(void *ctx, size_t i)
{
	struct gz_mt *m = ctx;
	struct gz_chunk *c = &m->chunks[i];
	size_t start = i * GZ_MT_CHUNK, n = min_size(GZ_MT_CHUNK, m->len - start);
	bool last = i + 1 == m->n;
	z_stream s = { 0 };
	int zr;

	c->crc = crc32_z(0, m->src + start, n);
	zr = deflateInit2(&s, GZ_LEVEL, Z_DEFLATED, -15, GZ_MEMLEVEL, Z_DEFAULT_STRATEGY);
	if (zr != Z_OK)
		return c->err = zr == Z_MEM_ERROR ? BP_ERR_NOMEM : BP_ERR_CODEC;
	if (start)
		zr = deflateSetDictionary(&s, m->src + start - GZ_DICT, (uInt)GZ_DICT);
	if (zr == Z_OK && bp_buf_reserve(&c->out, deflateBound(&s, (uLong)n) + 16))
		zr = Z_MEM_ERROR;
	if (zr == Z_OK) {
		s.next_in = m->src + start;
		s.avail_in = (uInt)n;
		s.next_out = c->out.data;
		s.avail_out = (uInt)(c->out.cap);
		zr = deflate(&s, last ? Z_FINISH : Z_SYNC_FLUSH);
		c->out.len = c->out.cap - s.avail_out;
		/* deflateBound leaves room for everything, so one call finishes. */
		if (zr == (last ? Z_STREAM_END : Z_OK) && !s.avail_in)
			zr = Z_OK;
		else
			zr = Z_BUF_ERROR;
	}
	deflateEnd(&s);
	if (zr != Z_OK)
		c->err = zr == Z_MEM_ERROR ? BP_ERR_NOMEM : BP_ERR_CODEC;
	return c->err;
}

int bpi_gzip_compress_mt(const void *src, size_t len, unsigned int threads, struct bp_buf *out,
			 struct bp_diag *d)
{
	/* The header zlib writes for level 6 with no gzip header set. */
	static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	struct gz_mt m = { src, len, (len + GZ_MT_CHUNK - 1) / GZ_MT_CHUNK, NULL };
	size_t base = out->len;
	uint8_t trailer[8];
	uLong crc = 0;
	int ret;

	if (len < 2 * GZ_MT_CHUNK)
		return gz_compress(src, len, out, d);
	m.chunks = calloc(m.n, sizeof(*m.chunks));
	if (!m.chunks)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	ret = bpi_jobs_run(m.n, threads, gz_chunk_job, &m);
	if (ret)
		ret = bp_diag_set(d, ret, NULL, "zlib deflate failed on a chunk (%s)",
				  bp_strerror(ret));
	if (!ret && bp_buf_append(out, header, sizeof(header)))
		ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	for (size_t i = 0; i < m.n && !ret; i++) {
		size_t n = min_size(GZ_MT_CHUNK, len - i * GZ_MT_CHUNK);

		crc = i ? crc32_combine(crc, m.chunks[i].crc, (z_off_t)n) : m.chunks[i].crc;
		if (bp_buf_append(out, m.chunks[i].out.data, m.chunks[i].out.len))
			ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	}
	bpi_put_le32(trailer, (uint32_t)crc);
	bpi_put_le32(trailer + 4, (uint32_t)len);
	if (!ret && bp_buf_append(out, trailer, sizeof(trailer)))
		ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	for (size_t i = 0; i < m.n; i++)
		bp_buf_free(&m.chunks[i].out);
	free(m.chunks);
	if (ret)
		out->len = base;
	return ret;
}

/* Map an inflate() failure to an error code and a message. */
static int gz_inflate_error(z_stream *s, int zr, struct bp_diag *d)
{
	const char *why = s->msg ? s->msg : "invalid data";

	switch (zr) {
	case Z_MEM_ERROR:
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	case Z_NEED_DICT:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "gzip data asks for a preset dictionary");
	case Z_DATA_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "gzip data is corrupt: %s", why);
	default:
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib inflate failed (%d): %s", zr,
				   why);
	}
}

/*
 * Run inflate until the end of the first member. Output room is capped at
 * one byte past what is still allowed, so exceeding @max_out shows up as
 * output beyond the limit without ever producing more than that.
 */
static int gz_inflate_all(z_stream *s, const uint8_t *src, size_t len, size_t max_out,
			  struct bp_buf *out, size_t base, struct bp_diag *d)
{
	size_t allowed;
	uInt room;
	int zr;

	for (;;) {
		feed(s, &src, &len);
		allowed = max_out - (out->len - base);
		if (give_room(s, out, allowed == SIZE_MAX ? allowed : allowed + 1))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
		room = s->avail_out;
		zr = inflate(s, Z_NO_FLUSH);
		out->len += room - s->avail_out;
		if (out->len - base > max_out)
			return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
					   "decompressed size exceeds limit of %zu bytes", max_out);
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return gz_inflate_error(s, zr, d);
		/* Output space left over with all input consumed: the member is cut short. */
		if (!s->avail_in && !len && s->avail_out)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "gzip data is truncated");
		if (zr == Z_BUF_ERROR && s->avail_in && s->avail_out)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "gzip decoder made no progress");
	}
	if (s->avail_in || len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "%zu bytes of trailing data after the gzip member "
				   "(U-Boot decodes only the first member)",
				   (size_t)s->avail_in + len);
	return 0;
}

static int gz_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			 struct bp_diag *d)
{
	const uint8_t *p = src;
	z_stream s = { 0 };
	size_t base = out->len;
	int zr, ret;

	if (len < 2)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "gzip data is truncated (%zu bytes)",
				   len);
	if (p[0] != 0x1f || p[1] != 0x8b)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "not gzip data (starts with %02x %02x, expected 1f 8b)", p[0],
				   p[1]);
	zr = inflateInit2(&s, GZ_WBITS);
	if (zr == Z_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	if (zr != Z_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib inflateInit2 failed (%d)", zr);
	ret = gz_inflate_all(&s, src, len, max_out, out, base, d);
	inflateEnd(&s);
	if (ret)
		out->len = base;
	return ret;
}

const struct bp_codec_ops bpi_codec_gzip = {
	.name = "gzip",
	.compress = gz_compress,
	.decompress = gz_decompress,
};
