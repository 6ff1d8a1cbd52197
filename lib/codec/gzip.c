// SPDX-License-Identifier: MIT
/*
 * gzip: one member at level 6 (gzip's default), header with mtime 0, no
 * name, OS unix, so the output is reproducible. U-Boot's gunzip decodes only
 * the first member, so the decoder refuses anything after it instead of
 * silently dropping it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* next_in becomes const: zlib never writes to its input. */
#define ZLIB_CONST
#include <zlib.h>

#include <libdeflate.h>

#include "codec_impl.h"
#include "util/util.h"

#define GZ_OUT_CHUNK ((size_t)256 << 10)

#define GZ_LEVEL 6
#define GZ_WBITS (15 + 16) /* 32 KiB window, gzip wrapper */

/*
 * The member is deflated by libdeflate (three times zlib's speed at the same
 * level, and smaller) in independent 1 MiB chunks, so a large image is
 * compressed on all threads and the bytes never depend on how many. Each
 * chunk is a complete deflate stream; for all but the last, the final-block
 * bit is cleared and an empty stored block appended (what zlib's sync flush
 * writes), so the chunks join into one stream: one member, one CRC, as
 * U-Boot's gunzip needs. Chunks cost about 0.1% of size against one stream.
 */
#define GZ_CHUNK ((size_t)1 << 20)
#define GZ_XFL_BEST 2
#define GZ_XFL_FAST 4
#define GZ_OS_UNIX 3

static int gz_level(const struct bpi_stream *s)
{
	return s->level ? s->level : GZ_LEVEL;
}

/*
 * Turn the complete raw deflate stream in @out (@n bytes uncompressed) into
 * one that continues: zlib's inflate, stopping at block boundaries, finds
 * where the final block's header and the stream end lie, in bits.
 */
static int gz_unfinal(struct bp_buf *out, size_t n)
{
	static const uint8_t empty_stored[4] = { 0x00, 0x00, 0xff, 0xff };
	uint8_t *scratch = malloc(n ? n : 1);
	uint64_t last_header = 0, end = 0, at;
	z_stream z = { 0 };
	int zr = Z_MEM_ERROR;

	if (scratch)
		zr = inflateInit2(&z, -15);
	if (zr != Z_OK) {
		free(scratch);
		return BP_ERR_NOMEM;
	}
	z.next_in = out->data;
	z.avail_in = (uInt)out->len;
	z.next_out = scratch;
	z.avail_out = (uInt)n;
	/*
	 * Z_BLOCK stops after each end-of-block code (data_type bit 128); bit 64
	 * says the block just ended was the final one, and bits 0-2 count the
	 * unused bits of the last input byte taken.
	 */
	do {
		zr = inflate(&z, Z_BLOCK);
		at = (uint64_t)z.total_in * 8 - (unsigned)(z.data_type & 7);
		if (zr == Z_OK && (z.data_type & 128) && (z.data_type & 64))
			end = at;
		else if (zr == Z_OK && (z.data_type & 128))
			last_header = at;
	} while (zr == Z_OK);
	inflateEnd(&z);
	free(scratch);
	if (zr != Z_STREAM_END || !end || z.total_out != n || z.total_in != out->len ||
	    ((end & 7) && (out->data[end >> 3] >> (end & 7))) ||
	    bp_buf_reserve(out, 1 + sizeof(empty_stored)))
		return BP_ERR_CODEC;
	out->data[last_header >> 3] &= (uint8_t)~(1u << (last_header & 7));
	/* Three zero bits (not final, stored), padding to a byte, LEN 0, NLEN ~0. */
	out->len = (size_t)((end + 3 + 7) / 8);
	if (out->len > z.total_in)
		out->data[out->len - 1] = 0;
	memcpy(out->data + out->len, empty_stored, sizeof(empty_stored));
	out->len += sizeof(empty_stored);
	return 0;
}

struct gz_member {
	int level;
	uLong crc;
};

static int gz_chunk_pack(void *ctx, const uint8_t *src, size_t n, bool last,
			 struct bp_buf *out, uint32_t *sum)
{
	const struct gz_member *g = ctx;
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(g->level);
	size_t bound, r = 0;
	int ret = BP_ERR_NOMEM;

	*sum = (uint32_t)crc32_z(0, src, n);
	if (c) {
		bound = libdeflate_deflate_compress_bound(c, n);
		if (!bp_buf_reserve(out, bound))
			r = libdeflate_deflate_compress(c, src, n, out->data, bound);
		ret = r ? 0 : BP_ERR_CODEC;
	}
	libdeflate_free_compressor(c);
	out->len = r;
	if (!ret && !last)
		ret = gz_unfinal(out, n);
	return ret;
}

static void gz_chunk_seen(void *ctx, const uint8_t *src, size_t n, uint32_t sum)
{
	struct gz_member *g = ctx;

	(void)src;
	g->crc = crc32_combine(g->crc, sum, (z_off_t)n);
}

static int gz_compress(struct bpi_stream *s, struct bp_diag *d)
{
	/* mtime 0 and no name keep it reproducible; XFL as gzip sets it. */
	uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZ_OS_UNIX };
	struct gz_member g = { .level = gz_level(s) };
	struct bpi_blocks b = {
		.name = "deflate", .block = GZ_CHUNK,
		.pack = gz_chunk_pack, .seen = gz_chunk_seen, .ctx = &g,
	};
	struct bp_buf empty = BP_BUF_INIT;
	uint8_t trailer[8];
	uint32_t unused;
	int ret;

	header[8] = g.level == 9 ? GZ_XFL_BEST : g.level == 1 ? GZ_XFL_FAST : 0;
	ret = s->write(s, header, sizeof(header), d);
	if (!ret && s->size) {
		ret = bpi_blocks_run(s, &b, d);
	} else if (!ret) {
		/* No input, so no chunk: the stream is one empty final block. */
		ret = gz_chunk_pack(&g, NULL, 0, true, &empty, &unused);
		if (!ret)
			ret = s->write(s, empty.data, empty.len, d);
		else
			ret = bp_diag_set(d, ret, NULL, "libdeflate failed (%s)", bp_strerror(ret));
		bp_buf_free(&empty);
	}
	bpi_put_le32(trailer, (uint32_t)g.crc);
	bpi_put_le32(trailer + 4, (uint32_t)s->size);
	return ret ? ret : s->write(s, trailer, sizeof(trailer), d);
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
		/* zlib says only "incorrect length check": name both sizes. */
		if (s->msg && !strcmp(s->msg, "incorrect length check") &&
		    s->next_in && s->total_in >= 4)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "gzip trailer ISIZE is %u but the member decompresses "
					   "to %lu bytes", bpi_get_le32(s->next_in - 4),
					   (unsigned long)(s->total_out & 0xffffffffu));
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "gzip data is corrupt: %s", why);
	default:
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "zlib inflate failed (%d): %s", zr,
				   why);
	}
}

/* Run inflate until the end of the first member. */
static int gz_inflate_all(z_stream *s, const uint8_t *src, size_t len, struct bpi_out *o,
			  struct bp_diag *d)
{
	size_t room;
	int zr;

	for (;;) {
		/* The next slice of input once zlib has used up the previous one. */
		if (!s->avail_in && len)
			s->next_in = bpi_feed_slice(&src, &len, &s->avail_in);
		/* GZ_OUT_CHUNK fits zlib's unsigned int. */
		s->next_out = bpi_out_room(o, GZ_OUT_CHUNK, &room);
		if (!s->next_out)
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "gzip: out of memory");
		s->avail_out = (uInt)room;
		zr = inflate(s, Z_NO_FLUSH);
		if (bpi_out_add(o, room - s->avail_out, d))
			return BP_ERR_TOOBIG;
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

static int gz_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	const uint8_t *p = src;
	z_stream s = { 0 };
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
	ret = gz_inflate_all(&s, src, len, o, d);
	inflateEnd(&s);
	return ret;
}

const struct bp_codec_ops bpi_codec_gzip = {
	.name = "gzip",
	.level_min = 1, .level_max = 9, .level_default = GZ_LEVEL,
	.compress = gz_compress,
	.decompress = gz_decompress,
};
