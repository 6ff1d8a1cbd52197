// SPDX-License-Identifier: MIT
/*
 * zstd: one frame at level 3 with the content checksum and the content
 * size in the header, which is what "zstd -c FILE" writes.
 */
#include <stdint.h>

#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "codec_impl.h"
#include "util/util.h"

#define ZS_LEVEL 3
#define ZS_OUT_CHUNK ((size_t)256 << 10)
#define ZS_IN_PIECE ((size_t)1 << 20)

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Describe free space in @out, @avail bytes of it at most. */
static int give_room(ZSTD_outBuffer *o, struct bp_buf *out, size_t avail)
{
	avail = min_size(avail, ZS_OUT_CHUNK);
	if (bp_buf_reserve(out, avail))
		return BP_ERR_NOMEM;
	o->dst = out->data + out->len;
	o->size = avail;
	o->pos = 0;
	return 0;
}

static int zs_setup(ZSTD_CCtx *cctx, const struct bpi_stream *s, struct bp_diag *d)
{
	/* Split: libzstd's own workers, at least one, as that fixes the format. */
	unsigned int workers = s->split ? bpi_jobs_threads(s->threads) : 0;
	size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel,
					  s->level ? s->level : ZS_LEVEL);

	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, (int)workers);
	/* The size must be pledged up front for streaming to record it. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setPledgedSrcSize(cctx, s->size);
	if (ZSTD_isError(r))
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "zstd setup failed: %s",
				   ZSTD_getErrorName(r));
	return 0;
}

/*
 * Feed the input in fixed pieces and push output as it comes. In split mode
 * libzstd cuts jobs by size, not by worker count, so the bytes are the same
 * for any count >= 1 (but differ from single-threaded mode).
 */
static int zs_compress_all(ZSTD_CCtx *cctx, struct bpi_stream *s, uint8_t *buf, size_t cap,
			   struct bp_diag *d)
{
	ZSTD_EndDirective mode;
	ZSTD_inBuffer in;
	ZSTD_outBuffer o;
	const uint8_t *p;
	size_t n, r;
	int ret;

	do {
		ret = bpi_stream_next(s, ZS_IN_PIECE, &p, &n, d);
		if (ret)
			return ret;
		in = (ZSTD_inBuffer){ p, n, 0 };
		mode = s->done == s->size ? ZSTD_e_end : ZSTD_e_continue;
		do {
			o = (ZSTD_outBuffer){ buf, cap, 0 };
			r = ZSTD_compressStream2(cctx, &o, &in, mode);
			if (ZSTD_isError(r))
				return bp_diag_set(d, BP_ERR_CODEC, NULL,
						   "zstd compression failed: %s",
						   ZSTD_getErrorName(r));
			ret = s->write(s, buf, o.pos, d);
			if (ret)
				return ret;
		} while (mode == ZSTD_e_end ? r != 0 : in.pos < in.size);
	} while (mode != ZSTD_e_end);
	return 0;
}

static int zs_compress(struct bpi_stream *s, struct bp_diag *d)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t cap = ZSTD_CStreamOutSize();
	uint8_t *buf = malloc(cap);
	int ret;

	if (!cctx || !buf)
		ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
	else
		ret = zs_setup(cctx, s, d);
	if (!ret)
		ret = zs_compress_all(cctx, s, buf, cap, d);
	ZSTD_freeCCtx(cctx);
	free(buf);
	return ret;
}

static int zs_decode_error(size_t r, unsigned int frames, struct bp_diag *d)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_prefix_unknown:
		if (frames)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "trailing data after zstd frame %u is not a zstd frame",
					   frames);
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "not zstd data (bad magic)");
	case ZSTD_error_checksum_wrong:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "zstd frame: checksum mismatch");
	case ZSTD_error_frameParameter_windowTooLarge:
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "zstd frame needs a window larger than libzstd's default "
				   "128 MiB limit");
	case ZSTD_error_dictionary_wrong:
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "zstd frame needs a dictionary");
	case ZSTD_error_memory_allocation:
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
	default:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "zstd data is corrupt: %s",
				   ZSTD_getErrorName(r));
	}
}

/*
 * Decode every frame in the input. Output room is capped at one byte past
 * what is still allowed, so exceeding @max_out is seen without producing
 * more than that.
 */
static int zs_decompress_all(ZSTD_DCtx *dctx, const void *src, size_t len, size_t max_out,
			     struct bp_buf *out, size_t base, struct bp_diag *d)
{
	ZSTD_inBuffer in = { src, len, 0 };
	unsigned int frames = 0;
	ZSTD_outBuffer o;
	size_t allowed, r;

	if (!len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "zstd data is empty");
	for (;;) {
		allowed = max_out - (out->len - base);
		if (give_room(&o, out, allowed == SIZE_MAX ? allowed : allowed + 1))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
		r = ZSTD_decompressStream(dctx, &o, &in);
		if (ZSTD_isError(r))
			return zs_decode_error(r, frames, d);
		out->len += o.pos;
		if (out->len - base > max_out)
			return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
					   "decompressed size exceeds limit of %zu bytes", max_out);
		if (!r)
			frames++;
		if (in.pos < in.size)
			continue;
		if (!r)
			return 0;
		/* All input consumed, frame unfinished, and it did not fill the room. */
		if (o.pos < o.size)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "zstd data is truncated");
	}
}

static int zs_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			 struct bp_diag *d)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	size_t base = out->len;
	int ret;

	if (!dctx)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
	ret = zs_decompress_all(dctx, src, len, max_out, out, base, d);
	ZSTD_freeDCtx(dctx);
	if (ret)
		out->len = base;
	return ret;
}

const struct bp_codec_ops bpi_codec_zstd = {
	.name = "zstd",
	.level_min = 1, .level_max = 19, .level_default = ZS_LEVEL,
	.compress = zs_compress,
	.decompress = zs_decompress,
};
