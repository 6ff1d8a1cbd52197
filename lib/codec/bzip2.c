// SPDX-License-Identifier: MIT
/*
 * bzip2: a single stream with 900k blocks (bzip2's default -9). U-Boot
 * decodes one stream with BZ2_bzBuffToBuffDecompress, so anything after the
 * end of that stream is refused rather than ignored.
 */
#include <stdint.h>
#include <stdlib.h>

#include <bzlib.h>

#include "codec_impl.h"

#define BZ_OUT_CHUNK ((size_t)256 << 10)
#define BZ_IN_PIECE ((size_t)1 << 20)

#define BZ_BLOCK_100K 9
#define BZ_WORK_FACTOR 0 /* library default (30) */

/* Compress what libbz2 holds, pushing every full or final output buffer. */
static int bz_drain(struct bpi_stream *st, bz_stream *s, char *buf, int action,
		    struct bp_diag *d)
{
	int r, ret;

	do {
		s->next_out = buf;
		s->avail_out = (unsigned int)BZ_OUT_CHUNK;
		r = BZ2_bzCompress(s, action);
		if (r < 0)
			return bp_diag_set(d, BP_ERR_CODEC, NULL, "BZ2_bzCompress failed (%d)", r);
		ret = st->write(st, buf, BZ_OUT_CHUNK - s->avail_out, d);
		if (ret)
			return ret;
	} while (action == BZ_FINISH ? r != BZ_STREAM_END : s->avail_in > 0);
	return 0;
}

static int bz_compress_all(struct bpi_stream *st, bz_stream *s, struct bp_diag *d)
{
	char *buf = malloc(BZ_OUT_CHUNK);
	const uint8_t *p;
	size_t n;
	int ret;

	if (!buf)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "bzip2: out of memory");
	do {
		ret = bpi_stream_next(st, BZ_IN_PIECE, &p, &n, d);
		if (ret)
			break;
		/* bzlib.h lacks const, but the library only reads next_in. */
		s->next_in = (char *)(uintptr_t)p;
		s->avail_in = (unsigned int)n;
		ret = bz_drain(st, s, buf, st->done == st->size ? BZ_FINISH : BZ_RUN, d);
	} while (!ret && st->done < st->size);
	free(buf);
	return ret;
}

static int bz_compress(struct bpi_stream *st, struct bp_diag *d)
{
	bz_stream s = { 0 };
	int r, ret;

	r = BZ2_bzCompressInit(&s, st->level ? st->level : BZ_BLOCK_100K, 0, BZ_WORK_FACTOR);
	if (r == BZ_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "bzip2: out of memory");
	if (r != BZ_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "BZ2_bzCompressInit failed (%d)", r);
	ret = bz_compress_all(st, &s, d);
	BZ2_bzCompressEnd(&s);
	return ret;
}

static int bz_decode_error(int r, struct bp_diag *d)
{
	switch (r) {
	case BZ_MEM_ERROR:
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "bzip2: out of memory");
	case BZ_DATA_ERROR_MAGIC:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "not bzip2 data (bad stream magic)");
	case BZ_DATA_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "bzip2 data is corrupt (bad block or CRC mismatch)");
	default:
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "BZ2_bzDecompress failed (%d)", r);
	}
}

/* Decode up to the end of the first stream. */
static int bz_decompress_all(bz_stream *s, const uint8_t *src, size_t len, struct bpi_out *o,
			     struct bp_diag *d)
{
	unsigned int had_in;
	size_t room;
	int r;

	for (;;) {
		/* The next slice of input once libbz2 has used up the previous one. */
		if (!s->avail_in && len)
			/* bzlib.h lacks const, but the library only reads next_in. */
			s->next_in = (char *)(uintptr_t)bpi_feed_slice(&src, &len, &s->avail_in);
		/* BZ_OUT_CHUNK fits libbz2's unsigned int. */
		s->next_out = (char *)bpi_out_room(o, BZ_OUT_CHUNK, &room);
		if (!s->next_out)
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "bzip2: out of memory");
		s->avail_out = (unsigned int)room;
		had_in = s->avail_in;
		r = BZ2_bzDecompress(s);
		if (bpi_out_add(o, room - s->avail_out, d))
			return BP_ERR_TOOBIG;
		if (r == BZ_STREAM_END)
			break;
		if (r != BZ_OK)
			return bz_decode_error(r, d);
		/* Output space left over with all input consumed: the stream is cut short. */
		if (!s->avail_in && !len && s->avail_out)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "bzip2 data is truncated");
		if (s->avail_in == had_in && s->avail_out == room)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "bzip2 decoder made no progress");
	}
	if (s->avail_in || len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "%zu bytes of trailing data after the bzip2 stream "
				   "(U-Boot decodes only one stream)",
				   (size_t)s->avail_in + len);
	return 0;
}

static int bz_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	bz_stream s = { 0 };
	int r, ret;

	if (!len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "bzip2 data is empty");
	r = BZ2_bzDecompressInit(&s, 0, 0);
	if (r == BZ_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "bzip2: out of memory");
	if (r != BZ_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "BZ2_bzDecompressInit failed (%d)", r);
	ret = bz_decompress_all(&s, src, len, o, d);
	BZ2_bzDecompressEnd(&s);
	return ret;
}

const struct bp_codec_ops bpi_codec_bzip2 = {
	.name = "bzip2",
	.level_min = 1, .level_max = 9, .level_default = BZ_BLOCK_100K,
	.compress = bz_compress,
	.decompress = bz_decompress,
};
