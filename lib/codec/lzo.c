// SPDX-License-Identifier: MIT
/*
 * lzo: the lzop file format with LZO1X-1, as lzop 1.04 writes by default
 * (-1 and -7..-9 select LZO1X-1(15) and LZO1X-999 as lzop does).
 *
 * Writer: the 38-byte lzop header (version 1.04, method LZO1X-1, level byte
 * 5 as lzop records for -2..-6, mtime 0, no name), then 256 KiB blocks, each
 * "uncompressed length, compressed length, adler32 of the data", stored raw
 * when LZO does not shrink it, and a zero length to end. The block bytes are
 * those of "lzop -c". U-Boot's lzop_decompress() skips exactly one 4-byte
 * checksum per block and knows no header options besides the filter word,
 * so the writer sets F_ADLER32_D only: no compressed-data checksum, no CRC32
 * pair, no filter, no extra field.
 *
 * Reader: accepts what lzop itself accepts (header versions from 0.90,
 * adler32 or crc32 checksums on either side, extra header field), checks
 * every checksum and bound, and refuses filters and multipart archives.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "codec_impl.h"
#include "util/util.h"

static const uint8_t lzop_magic[9] = { 0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a };

#define LZOP_VERSION 0x1040        /* lzop 1.04 */
#define LZOP_VERSION_NEEDED 0x0940 /* oldest lzop that can extract it */
#define LZOP_VERSION_MIN 0x0900    /* first public lzop */
#define LZOP_VERSION_LEVEL 0x0940  /* headers from here on carry level etc. */
#define LZOP_METHOD_LZO1X_1 1
#define LZOP_METHOD_LZO1X_1_15 2
#define LZOP_METHOD_LZO1X_999 3
#define LZOP_LEVEL 5          /* the level byte lzop writes for -2..-6 */
#define LZOP_DEFAULT_LEVEL 3  /* lzop without -N */
#define LZOP_MODE 0100644 /* regular file, rw-r--r-- */
#define LZOP_BLOCK ((size_t)256 << 10)
#define LZOP_MAX_BLOCK ((uint32_t)64 << 20) /* lzop refuses larger blocks */
#define LZOP_HEADER_BYTES 25 /* version .. name length, without name */

#define F_ADLER32_D 0x00000001u
#define F_ADLER32_C 0x00000002u
#define F_H_EXTRA_FIELD 0x00000040u
#define F_CRC32_D 0x00000100u
#define F_CRC32_C 0x00000200u
#define F_MULTIPART 0x00000400u
#define F_H_FILTER 0x00000800u
#define F_H_CRC32 0x00001000u
#define F_RESERVED 0x000fc000u /* outside lzop's flag, OS and charset fields */
#define F_OS_UNIX 0x03000000u

#define LZOP_WRITE_FLAGS (F_OS_UNIX | F_ADLER32_D)

#define ADLER32_INIT 1
#define CRC32_INIT 0

/* lzo_init() checks the library ABI once; compression runs on many threads. */
static pthread_once_t lzo_once = PTHREAD_ONCE_INIT;
static int lzo_init_result = LZO_E_ERROR;

static void lzo_init_once(void)
{
	lzo_init_result = lzo_init();
}

static int lzo_ready(struct bp_diag *d)
{
	if (pthread_once(&lzo_once, lzo_init_once))
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzo: pthread_once failed");
	if (lzo_init_result != LZO_E_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzo_init failed (%d)",
				   lzo_init_result);
	return 0;
}

/* What lzop -N writes: its method and level byte, and the LZO call behind them. */
struct lzop_mode {
	uint8_t method, level;
	int level_999;               /* lzo1x_999 level; 0 for the LZO1X-1 variants */
	size_t wrk_size;
};

static struct lzop_mode lzop_mode(int level)
{
	if (level == 1)
		return (struct lzop_mode){ LZOP_METHOD_LZO1X_1_15, 1, 0, LZO1X_1_15_MEM_COMPRESS };
	if (level >= 7)
		return (struct lzop_mode){ LZOP_METHOD_LZO1X_999, (uint8_t)level, level,
					   LZO1X_999_MEM_COMPRESS };
	/* lzop uses LZO1X-1 for -2 to -6 and records level 5 for all of them. */
	return (struct lzop_mode){ LZOP_METHOD_LZO1X_1, LZOP_LEVEL, 0, LZO1X_1_MEM_COMPRESS };
}

static int lzop_write_header(struct bpi_stream *s, const struct lzop_mode *m,
			     struct bp_diag *d)
{
	uint8_t h[sizeof(lzop_magic) + LZOP_HEADER_BYTES + 4] = { 0 };
	uint8_t *f = h + sizeof(lzop_magic);

	memcpy(h, lzop_magic, sizeof(lzop_magic));
	bpi_put_be16(f, LZOP_VERSION);
	/* The headers' LZO version, fixed at build time to stay reproducible. */
	bpi_put_be16(f + 2, LZO_VERSION & 0xffff);
	bpi_put_be16(f + 4, LZOP_VERSION_NEEDED);
	f[6] = m->method;
	f[7] = m->level;
	bpi_put_be32(f + 8, LZOP_WRITE_FLAGS);
	bpi_put_be32(f + 12, LZOP_MODE);
	/* f + 16: mtime low, f + 20: mtime high, f + 24: name length, all 0 */
	bpi_put_be32(f + LZOP_HEADER_BYTES, lzo_adler32(ADLER32_INIT, f, LZOP_HEADER_BYTES));
	return s->write(s, h, sizeof(h), d);
}

/* @scratch: LZOP_BLOCK bytes, used by lzo1x_optimize() as lzop does after LZO1X-999. */
static int lzop_pack(const struct lzop_mode *m, const uint8_t *src, size_t n, uint8_t *dst,
		     lzo_uint *clen, void *wrk, uint8_t *scratch)
{
	lzo_uint back = n;
	int r;

	if (!m->level_999) {
		if (m->method == LZOP_METHOD_LZO1X_1_15)
			return lzo1x_1_15_compress(src, n, dst, clen, wrk);
		return lzo1x_1_compress(src, n, dst, clen, wrk);
	}
	r = lzo1x_999_compress_level(src, n, dst, clen, wrk, NULL, 0, 0, m->level_999);
	if (r == LZO_E_OK && *clen < n)
		r = lzo1x_optimize(dst, *clen, scratch, &back, NULL);
	return r;
}

/* LZO1X worst case for incompressible input, from the LZO docs. */
#define LZOP_BOUND (LZOP_BLOCK + LZOP_BLOCK / 16 + 64 + 3)

/*
 * One block, compressed on any thread (lzop blocks are independent):
 * "uncompressed length, compressed length, adler32 of the data", then the
 * data, stored raw when LZO does not make it smaller, as lzop does.
 */
static int lzop_block_pack(void *ctx, const uint8_t *src, size_t n, bool last,
			   struct bp_buf *out, uint32_t *sum)
{
	const struct lzop_mode *m = ctx;
	void *wrk = calloc(1, m->wrk_size);
	uint8_t *scratch = m->level_999 ? malloc(LZOP_BLOCK) : NULL;
	uint8_t *dst;
	lzo_uint clen = 0;
	int r = LZO_E_OUT_OF_MEMORY;

	(void)last;
	(void)sum;
	if (wrk && (scratch || !m->level_999) && !bp_buf_reserve(out, 12 + LZOP_BOUND)) {
		dst = out->data + 12;
		r = lzop_pack(m, src, n, dst, &clen, wrk, scratch);
	}
	free(scratch);
	free(wrk);
	if (r != LZO_E_OK)
		return r == LZO_E_OUT_OF_MEMORY ? BP_ERR_NOMEM : BP_ERR_CODEC;
	if (clen >= n) {
		memcpy(dst, src, n);
		clen = n;
	}
	bpi_put_be32(out->data, (uint32_t)n);
	bpi_put_be32(out->data + 4, (uint32_t)clen);
	bpi_put_be32(out->data + 8, lzo_adler32(ADLER32_INIT, src, n));
	out->len = 12 + clen;
	return 0;
}

static int lzop_compress(struct bpi_stream *s, struct bp_diag *d)
{
	static const uint8_t end[4] = { 0 };
	struct lzop_mode m = lzop_mode(s->level ? s->level : LZOP_DEFAULT_LEVEL);
	struct bpi_blocks b = {
		.name = "LZO", .block = LZOP_BLOCK, .pack = lzop_block_pack, .ctx = &m,
	};
	int ret = lzo_ready(d);

	if (!ret)
		ret = lzop_write_header(s, &m, d);
	if (!ret)
		ret = bpi_blocks_run(s, &b, d);
	return ret ? ret : s->write(s, end, sizeof(end), d);
}

/* Bounds-checked big-endian reader; a short read sets @bad and yields 0. */
struct rd {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static const uint8_t *rd_skip(struct rd *r, size_t n)
{
	const uint8_t *at = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return at;
}

static uint32_t rd_be(struct rd *r, unsigned int n)
{
	const uint8_t *p = rd_skip(r, n);
	uint32_t v = 0;

	while (p && n--)
		v = v << 8 | *p++;
	return v;
}

struct lzop_hdr {
	uint16_t version;
	uint16_t needed;
	uint8_t method;
	uint8_t level;
	uint32_t flags;
};

static uint32_t lzop_sum(uint32_t flags, const uint8_t *p, size_t n)
{
	if (flags & F_H_CRC32)
		return lzo_crc32(CRC32_INIT, p, n);
	return lzo_adler32(ADLER32_INIT, p, n);
}

/* Read the fields from version to the header checksum and verify it. */
static int lzop_read_fields(struct rd *r, struct lzop_hdr *h, struct bp_diag *d)
{
	const uint8_t *start = r->p;
	uint32_t sum;

	h->version = (uint16_t)rd_be(r, 2);
	rd_be(r, 2); /* LZO library version: informational */
	if (h->version >= LZOP_VERSION_LEVEL)
		h->needed = (uint16_t)rd_be(r, 2);
	h->method = (uint8_t)rd_be(r, 1);
	if (h->version >= LZOP_VERSION_LEVEL)
		h->level = (uint8_t)rd_be(r, 1);
	h->flags = rd_be(r, 4);
	if (h->flags & F_H_FILTER)
		rd_be(r, 4);
	rd_be(r, 4); /* mode */
	rd_be(r, 4); /* mtime low */
	if (h->version >= LZOP_VERSION_LEVEL)
		rd_be(r, 4); /* mtime high */
	rd_skip(r, rd_be(r, 1)); /* file name */
	if (r->bad)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop header is truncated");
	sum = lzop_sum(h->flags, start, (size_t)(r->p - start));
	if (rd_be(r, 4) != sum || r->bad)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "%s",
				   r->bad ? "lzop header is truncated" :
					    "lzop header checksum mismatch");
	return 0;
}

/* Refuse what lzop refuses, and the options that would change the output. */
static int lzop_check_fields(const struct lzop_hdr *h, struct bp_diag *d)
{
	if (h->version < LZOP_VERSION_MIN)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop header version %#x is invalid",
				   h->version);
	if (h->version >= LZOP_VERSION_LEVEL && h->needed > LZOP_VERSION)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "lzop file needs lzop %x.%02x to extract (newer than 1.04)",
				   h->needed >> 12, (h->needed >> 4) & 0xff);
	if (h->version >= LZOP_VERSION_LEVEL && h->needed < LZOP_VERSION_MIN)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "lzop header 'version needed' %#x is invalid", h->needed);
	if (h->method < LZOP_METHOD_LZO1X_1 || h->method > LZOP_METHOD_LZO1X_999)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "lzop method %u is not an LZO1X method", h->method);
	if (h->level > 9)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop level %u is invalid", h->level);
	if (h->flags & F_RESERVED)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop header has reserved flags %#x",
				   h->flags & F_RESERVED);
	if (h->flags & F_MULTIPART)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "multipart lzop archives are not supported");
	if (h->flags & F_H_FILTER)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "lzop filters are not supported (U-Boot ignores them and "
				   "would boot wrong data)");
	return 0;
}

/* The optional extra field: length, bytes, and a checksum over both. */
static int lzop_skip_extra(struct rd *r, uint32_t flags, struct bp_diag *d)
{
	const uint8_t *start = r->p;
	uint32_t sum;

	if (!(flags & F_H_EXTRA_FIELD))
		return 0;
	rd_skip(r, rd_be(r, 4));
	if (r->bad)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop extra field is truncated");
	sum = lzop_sum(flags, start, (size_t)(r->p - start));
	if (rd_be(r, 4) != sum || r->bad)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "%s",
				   r->bad ? "lzop extra field is truncated" :
					    "lzop extra field checksum mismatch");
	return 0;
}

static int lzop_read_header(struct rd *r, struct lzop_hdr *h, struct bp_diag *d)
{
	const uint8_t *m = rd_skip(r, sizeof(lzop_magic));
	int ret;

	if (!m)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop data is truncated (%zu bytes)",
				   (size_t)(r->end - r->p));
	if (memcmp(m, lzop_magic, sizeof(lzop_magic)))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "not lzop data (bad magic)");
	ret = lzop_read_fields(r, h, d);
	if (!ret)
		ret = lzop_check_fields(h, d);
	if (!ret)
		ret = lzop_skip_extra(r, h->flags, d);
	return ret;
}

struct lzop_blk {
	uint32_t dlen; /* uncompressed */
	uint32_t slen; /* stored */
	uint32_t d_adler, d_crc, c_adler, c_crc;
	const uint8_t *data;
};

/* Read one block header and locate its data; dlen 0 is the end marker. */
static int lzop_read_blk(struct rd *r, uint32_t flags, unsigned int no, struct lzop_blk *b,
			 struct bp_diag *d)
{
	*b = (struct lzop_blk){ 0 };
	b->dlen = rd_be(r, 4);
	if (r->bad || !b->dlen)
		goto out;
	if (b->dlen > LZOP_MAX_BLOCK)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "lzop block %u claims %u bytes, more than lzop's 64 MiB limit",
				   no, b->dlen);
	b->slen = rd_be(r, 4);
	if (!r->bad && (!b->slen || b->slen > b->dlen))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "lzop block %u: stored size %u is invalid for %u bytes", no,
				   b->slen, b->dlen);
	b->d_adler = (flags & F_ADLER32_D) ? rd_be(r, 4) : 0;
	b->d_crc = (flags & F_CRC32_D) ? rd_be(r, 4) : 0;
	/* Checksums of compressed data exist only for blocks that shrank. */
	b->c_adler = ((flags & F_ADLER32_C) && b->slen < b->dlen) ? rd_be(r, 4) : 0;
	b->c_crc = ((flags & F_CRC32_C) && b->slen < b->dlen) ? rd_be(r, 4) : 0;
	b->data = rd_skip(r, b->slen);
out:
	if (r->bad)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop data is truncated in block %u",
				   no);
	return 0;
}

/* Verify the checksums @flags asks for (the _C pair when @comp). */
static bool lzop_sums_ok(uint32_t flags, bool comp, const struct lzop_blk *b,
			 const uint8_t *p, size_t n)
{
	uint32_t fa = comp ? F_ADLER32_C : F_ADLER32_D;
	uint32_t fc = comp ? F_CRC32_C : F_CRC32_D;

	if ((flags & fa) && lzo_adler32(ADLER32_INIT, p, n) != (comp ? b->c_adler : b->d_adler))
		return false;
	if ((flags & fc) && lzo_crc32(CRC32_INIT, p, n) != (comp ? b->c_crc : b->d_crc))
		return false;
	return true;
}

/* Decode one block into @dst, which has room for exactly b->dlen bytes. */
static int lzop_decode_blk(uint32_t flags, unsigned int no, const struct lzop_blk *b,
			   uint8_t *dst, struct bp_diag *d)
{
	lzo_uint n = b->dlen;
	int r;

	if (b->slen == b->dlen) {
		memcpy(dst, b->data, b->dlen);
	} else {
		if (!lzop_sums_ok(flags, true, b, b->data, b->slen))
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "lzop block %u: compressed data checksum mismatch", no);
		r = lzo1x_decompress_safe(b->data, b->slen, dst, &n, NULL);
		/* The block header's size is what decoding is held to; say which way it fails. */
		if (r == LZO_E_OUTPUT_OVERRUN)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "lzop block %u: the block header declares %u bytes but "
					   "the LZO data decodes to more", no, b->dlen);
		if (r == LZO_E_OK && n != b->dlen)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "lzop block %u: the block header declares %u bytes but "
					   "the LZO data decodes to %lu", no, b->dlen,
					   (unsigned long)n);
		if (r != LZO_E_OK)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "lzop block %u: corrupt LZO data (error %d)", no, r);
	}
	if (!lzop_sums_ok(flags, false, b, dst, b->dlen))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop block %u: checksum mismatch", no);
	return 0;
}

static int lzop_read_all(struct rd *r, struct bpi_out *o, struct bp_diag *d)
{
	struct lzop_hdr h = { 0 };
	struct lzop_blk b;
	unsigned int no;
	int ret;

	ret = lzop_read_header(r, &h, d);
	for (no = 0; !ret; no++) {
		ret = lzop_read_blk(r, h.flags, no, &b, d);
		if (ret || !b.dlen)
			break;
		/* A whole block is decoded at once: refuse it before, not after. */
		if (b.dlen > o->max - bpi_out_len(o))
			return bpi_out_over(o, d);
		if (bp_buf_reserve(o->buf, b.dlen))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lzo: out of memory");
		ret = lzop_decode_blk(h.flags, no, &b, o->buf->data + o->buf->len, d);
		if (!ret)
			o->buf->len += b.dlen;
	}
	if (!ret && r->p != r->end)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "%zu bytes of trailing data after the lzop end marker",
				   (size_t)(r->end - r->p));
	return ret;
}

static int lzop_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	struct rd r = { .p = src, .end = src, .bad = false };
	int ret;

	if (!len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzop data is empty");
	r.end += len;
	ret = lzo_ready(d);
	if (!ret)
		ret = lzop_read_all(&r, o, d);
	return ret;
}

const struct bp_codec_ops bpi_codec_lzo = {
	.name = "lzo",
	.level_min = 1, .level_max = 9, .level_default = LZOP_DEFAULT_LEVEL,
	.compress = lzop_compress,
	.decompress = lzop_decompress,
};
