// SPDX-License-Identifier: MIT
/*
 * zstd: one frame at level 3 with the content checksum and the content
 * size in the header, which is what "zstd -c FILE" writes. Single-threaded
 * so the bytes never depend on scheduling.
 */
#include <stdint.h>

#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "codec_impl.h"

#define ZS_LEVEL 3
#define ZS_OUT_CHUNK ((size_t)256 << 10)

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

static int zs_setup(ZSTD_CCtx *cctx, size_t len, unsigned int workers, struct bp_diag *d)
{
	size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZS_LEVEL);

	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, (int)workers);
	/* The size must be pledged up front for streaming to record it. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setPledgedSrcSize(cctx, len);
	if (ZSTD_isError(r))
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "zstd setup failed: %s",
				   ZSTD_getErrorName(r));
	return 0;
}

static int zs_compress_all(ZSTD_CCtx *cctx, const void *src, size_t len, struct bp_buf *out,
			   struct bp_diag *d)
{
	ZSTD_inBuffer in = { src, len, 0 };
	ZSTD_outBuffer o;
	size_t r;

	do {
		/* Small inputs (most DTBs) must not each hold a whole chunk. */
		if (give_room(&o, out, ZSTD_compressBound(len - in.pos)))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
		r = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_end);
		if (ZSTD_isError(r))
			return bp_diag_set(d, BP_ERR_CODEC, NULL, "zstd compression failed: %s",
					   ZSTD_getErrorName(r));
		out->len += o.pos;
	} while (r);
	return 0;
}

static int zs_compress_workers(const void *src, size_t len, unsigned int workers,
			       struct bp_buf *out, struct bp_diag *d)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t base = out->len;
	int ret;

	if (!cctx)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
	ret = zs_setup(cctx, len, workers, d);
	if (!ret)
		ret = zs_compress_all(cctx, src, len, out, d);
	ZSTD_freeCCtx(cctx);
	if (ret)
		out->len = base;
	return ret;
}

static int zs_compress(const void *src, size_t len, struct bp_buf *out, struct bp_diag *d)
{
	return zs_compress_workers(src, len, 0, out, d);
}

/*
 * libzstd's own workers. Its multithreaded format cuts jobs by size, not
 * by worker count, so the bytes are the same for any count >= 1 (but not
 * the same as single-threaded mode, which is why small inputs stay there).
 */
int bpi_zstd_compress_mt(const void *src, size_t len, unsigned int threads, struct bp_buf *out,
			 struct bp_diag *d)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!threads)
		threads = cpus > 0 ? (unsigned int)cpus : 1;
	return zs_compress_workers(src, len, threads, out, d);
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
	.compress = zs_compress,
	.decompress = zs_decompress,
};
