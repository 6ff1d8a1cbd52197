// SPDX-License-Identifier: MIT
/*
 * gzip: one member written by zlib at level 6 (gzip's default), with the
 * header zlib emits when none is set: mtime 0, no name, OS unix. That keeps
 * the output reproducible. U-Boot's gunzip decodes only the first member, so
 * the decoder refuses anything after it instead of silently dropping it.
 */
#include <stdint.h>

/* next_in becomes const: zlib never writes to its input. */
#define ZLIB_CONST
#include <zlib.h>

#include "codec_impl.h"

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
