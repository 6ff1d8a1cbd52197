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
#include <string.h>

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

#define GZ_IN_PIECE ((size_t)1 << 20)

static int gz_level(const struct bpi_stream *s)
{
	return s->level ? s->level : GZ_LEVEL;
}

static int gz_init_error(int zr, struct bp_diag *d)
{
	if (zr == Z_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib deflateInit2 failed (%d)", zr);
}

/* Deflate what zlib holds, pushing every full or final output buffer. */
static int gz_drain(struct bpi_stream *s, z_stream *z, uint8_t *buf, int flush,
		    struct bp_diag *d)
{
	int zr, ret;

	do {
		z->next_out = buf;
		z->avail_out = (uInt)GZ_OUT_CHUNK;
		zr = deflate(z, flush);
		if (zr == Z_STREAM_ERROR)
			return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib deflate failed: %s",
					   z->msg ? z->msg : "stream error");
		ret = s->write(s, buf, GZ_OUT_CHUNK - z->avail_out, d);
		if (ret)
			return ret;
	} while (z->avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

/* One member as gzip -c writes it; zlib's own header (mtime 0, OS unix). */
static int gz_plain(struct bpi_stream *s, struct bp_diag *d)
{
	uint8_t *buf = malloc(GZ_OUT_CHUNK);
	z_stream z = { 0 };
	const uint8_t *p;
	size_t n;
	int zr, ret;

	if (!buf)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
	zr = deflateInit2(&z, gz_level(s), Z_DEFLATED, GZ_WBITS, GZ_MEMLEVEL,
			  Z_DEFAULT_STRATEGY);
	if (zr != Z_OK) {
		free(buf);
		return gz_init_error(zr, d);
	}
	do {
		ret = bpi_stream_next(s, GZ_IN_PIECE, &p, &n, d);
		if (ret)
			break;
		z.next_in = p;
		z.avail_in = (uInt)n;
		ret = gz_drain(s, &z, buf, s->done == s->size ? Z_FINISH : Z_NO_FLUSH, d);
	} while (!ret && s->done < s->size);
	deflateEnd(&z);
	free(buf);
	return ret;
}

/*
 * pigz-style parallel gzip: the input is cut into fixed-size chunks, each
 * deflated raw with the 32 KiB before it as dictionary and ended by a sync
 * flush, the last one by the final block. Concatenated they form one deflate
 * stream: one gzip member with one CRC (combined from the chunks' CRCs),
 * which is what U-Boot's gunzip needs.
 */
#define GZ_MT_CHUNK ((size_t)512 << 10)
#define GZ_DICT ((size_t)32 << 10)

struct gz_split {
	int level;
	uLong crc;
};

static int gz_chunk_pack(void *ctx, const uint8_t *src, size_t n, bool history, bool last,
			 struct bp_buf *out, uint32_t *sum)
{
	const struct gz_split *g = ctx;
	z_stream s = { 0 };
	int zr;

	*sum = (uint32_t)crc32_z(0, src, n);
	zr = deflateInit2(&s, g->level, Z_DEFLATED, -15, GZ_MEMLEVEL, Z_DEFAULT_STRATEGY);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? BP_ERR_NOMEM : BP_ERR_CODEC;
	if (history)
		zr = deflateSetDictionary(&s, src - GZ_DICT, (uInt)GZ_DICT);
	if (zr == Z_OK && bp_buf_reserve(out, deflateBound(&s, (uLong)n) + 16))
		zr = Z_MEM_ERROR;
	if (zr == Z_OK) {
		s.next_in = src;
		s.avail_in = (uInt)n;
		s.next_out = out->data;
		s.avail_out = (uInt)out->cap;
		zr = deflate(&s, last ? Z_FINISH : Z_SYNC_FLUSH);
		out->len = out->cap - s.avail_out;
		/* deflateBound leaves room for everything, so one call finishes. */
		zr = zr == (last ? Z_STREAM_END : Z_OK) && !s.avail_in ? Z_OK : Z_BUF_ERROR;
	}
	deflateEnd(&s);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? BP_ERR_NOMEM : BP_ERR_CODEC;
	return 0;
}

static void gz_chunk_seen(void *ctx, const uint8_t *src, size_t n, uint32_t sum)
{
	struct gz_split *g = ctx;

	(void)src;
	g->crc = crc32_combine(g->crc, sum, (z_off_t)n);
}

static int gz_split(struct bpi_stream *s, struct bp_diag *d)
{
	/* What zlib writes with no header set: mtime 0, XFL from the level, OS unix. */
	uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	struct gz_split g = { .level = gz_level(s) };
	struct bpi_blocks b = {
		.name = "zlib deflate", .block = GZ_MT_CHUNK, .history = GZ_DICT,
		.pack = gz_chunk_pack, .seen = gz_chunk_seen, .ctx = &g,
	};
	uint8_t trailer[8];
	int ret;

	header[8] = g.level == 9 ? 2 : g.level == 1 ? 4 : 0;
	ret = s->write(s, header, sizeof(header), d);
	if (!ret)
		ret = bpi_blocks_run(s, &b, d);
	bpi_put_le32(trailer, (uint32_t)g.crc);
	bpi_put_le32(trailer + 4, (uint32_t)s->size);
	return ret ? ret : s->write(s, trailer, sizeof(trailer), d);
}

static int gz_compress(struct bpi_stream *s, struct bp_diag *d)
{
	/* Below two chunks there is nothing to split. */
	if (s->split && s->size >= 2 * GZ_MT_CHUNK)
		return gz_split(s, d);
	return gz_plain(s, d);
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
	.level_min = 1, .level_max = 9, .level_default = GZ_LEVEL,
	.compress = gz_compress,
	.decompress = gz_decompress,
};
