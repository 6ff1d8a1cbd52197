// SPDX-License-Identifier: MIT
/*
 * zstd: one frame at level 3 with the content checksum and the content
 * size in the header, which is what "zstd -c FILE" writes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "codec_impl.h"
#include "util/util.h"

#define ZS_LEVEL 3
#define ZS_OUT_CHUNK ((size_t)256 << 10)
#define ZS_IN_PIECE ((size_t)1 << 20)

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

/* One frame being decoded: where it started and the size its header declares. */
struct zs_frame {
	unsigned int no;             /* from 1 */
	size_t in_pos;               /* its first byte in the input */
	size_t out_base;             /* output length when it started */
	unsigned long long declared; /* ZSTD_CONTENTSIZE_UNKNOWN when not given */
};

static int zs_decode_error(size_t r, const struct zs_frame *f, struct bp_diag *d)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_prefix_unknown:
		if (f->no > 1)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL,
					   "trailing data after zstd frame %u is not a zstd frame",
					   f->no - 1);
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

#define ZS_FHD_SINGLE_SEGMENT 0x20
#define ZS_WINDOWLOG_MIN 10
#define ZS_WINDOWLOG_MAX 27          /* libzstd's default limit for decoding */

static unsigned int zs_window_log(size_t max_out)
{
	unsigned int wl = ZS_WINDOWLOG_MIN;

	while (wl < ZS_WINDOWLOG_MAX && ((size_t)1 << wl) < max_out)
		wl++;
	return wl;
}

/*
 * Copy the frame at @p (@n bytes to the end of the input) with its
 * Frame_Content_Size dropped, so decoding it tells what the frame really
 * holds. A single-segment frame gets a window descriptor instead: as large
 * as the output may be, since its declared size is the one in doubt.
 */
static int zs_frame_without_size(const uint8_t *p, size_t n, size_t max_out, struct bp_buf *copy)
{
	static const size_t fcs_bytes[4] = { 0, 2, 4, 8 }, dict_bytes[4] = { 0, 1, 2, 4 };
	uint8_t fhd, head[6];
	size_t fcs, keep, hdr;
	bool single;

	if (n < 5)
		return -1;
	fhd = p[4];
	single = fhd & ZS_FHD_SINGLE_SEGMENT;
	fcs = (fhd >> 6) ? fcs_bytes[fhd >> 6] : single;
	keep = !single + dict_bytes[fhd & 3];     /* window descriptor, dictionary ID */
	hdr = 5 + keep + fcs;
	if (n < hdr)
		return -1;
	memcpy(head, p, 4);
	head[4] = fhd & 0x1f;                     /* no content size, not single-segment */
	head[5] = (uint8_t)((zs_window_log(max_out) - ZS_WINDOWLOG_MIN) << 3);
	if (bp_buf_append(copy, head, single ? 6 : 5) ||
	    bp_buf_append(copy, p + 5, keep) || bp_buf_append(copy, p + hdr, n - hdr))
		return -1;
	return 0;
}

/* Decode the first frame of @p and count its bytes; -1 if it is corrupt anyway. */
static int zs_count_frame(const uint8_t *p, size_t n, size_t max_out, uint64_t *total)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	uint8_t *scratch = malloc(ZS_OUT_CHUNK);
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer o;
	int ret = -1;
	size_t r;

	*total = 0;
	while (dctx && scratch) {
		o = (ZSTD_outBuffer){ scratch, ZS_OUT_CHUNK, 0 };
		r = ZSTD_decompressStream(dctx, &o, &in);
		*total += o.pos;
		if (ZSTD_isError(r) || *total > max_out)
			break;
		if (!r) {
			ret = 0;
			break;
		}
		if (in.pos == in.size && o.pos < o.size)
			break;
	}
	ZSTD_freeDCtx(dctx);
	free(scratch);
	return ret;
}

/* The errors libzstd gives for blocks that do not add up to the declared size. */
static bool zs_maybe_size(size_t r)
{
	return ZSTD_getErrorCode(r) == ZSTD_error_corruption_detected ||
	       ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall;
}

/*
 * libzstd reports a Frame_Content_Size that does not match the blocks as
 * plain corruption, and only after it has discarded the last block's
 * output; decoding the frame again without the size says what it holds.
 */
static int zs_size_mismatch(const uint8_t *src, size_t len, size_t max_out,
			    const struct zs_frame *f, struct bp_diag *d)
{
	struct bp_buf copy = BP_BUF_INIT;
	uint64_t real;
	int ret = -1;

	if (f->declared != ZSTD_CONTENTSIZE_UNKNOWN &&
	    !zs_frame_without_size(src + f->in_pos, len - f->in_pos, max_out, &copy))
		ret = zs_count_frame(copy.data, copy.len, max_out, &real);
	bp_buf_free(&copy);
	if (ret || real == f->declared)
		return 0;
	return bp_diag_set(d, BP_ERR_FORMAT, NULL,
			   "zstd frame %u declares a content size of %llu bytes but decodes "
			   "to %llu", f->no, f->declared, (unsigned long long)real);
}

/* At a frame's start: refuse a declared size over the limit before libzstd sizes buffers by it. */
static int zs_frame_start(struct zs_frame *f, const uint8_t *src, size_t len, size_t pos,
			  size_t max_out, size_t produced, struct bp_diag *d)
{
	f->no++;
	f->in_pos = pos;
	f->out_base = produced;
	f->declared = ZSTD_getFrameContentSize(src + pos, len - pos);
	if (f->declared == ZSTD_CONTENTSIZE_ERROR)
		f->declared = ZSTD_CONTENTSIZE_UNKNOWN;   /* not a frame: the decoder says why */
	if (f->declared == ZSTD_CONTENTSIZE_UNKNOWN || f->declared <= max_out - produced)
		return 0;
	if (!produced)
		return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
				   "zstd frame %u declares %llu bytes of content, more than the "
				   "limit of %zu bytes", f->no, f->declared, max_out);
	return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
			   "zstd frame %u declares %llu bytes of content, more than the %zu "
			   "bytes left of the limit of %zu", f->no, f->declared,
			   max_out - produced, max_out);
}

/* Decode every frame in the input. */
static int zs_decompress_all(ZSTD_DCtx *dctx, const void *src, size_t len, struct bpi_out *o,
			     struct bp_diag *d)
{
	ZSTD_inBuffer in = { src, len, 0 };
	struct zs_frame f = { 0 };
	bool frame_start = true;
	ZSTD_outBuffer out = { 0 };
	size_t r;
	int ret;

	if (!len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "zstd data is empty");
	for (;;) {
		if (frame_start) {
			ret = zs_frame_start(&f, src, len, in.pos, o->max, bpi_out_len(o), d);
			if (ret)
				return ret;
			frame_start = false;
		}
		out.dst = bpi_out_room(o, ZS_OUT_CHUNK, &out.size);
		out.pos = 0;
		if (!out.dst)
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
		r = ZSTD_decompressStream(dctx, &out, &in);
		if (ZSTD_isError(r) && zs_maybe_size(r) &&
		    zs_size_mismatch(src, len, o->max, &f, d))
			return BP_ERR_FORMAT;
		if (ZSTD_isError(r))
			return zs_decode_error(r, &f, d);
		if (bpi_out_add(o, out.pos, d))
			return BP_ERR_TOOBIG;
		frame_start = !r;
		if (in.pos < in.size)
			continue;
		if (!r)
			return 0;
		/* All input consumed, frame unfinished, and it did not fill the room. */
		if (out.pos < out.size)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "zstd data is truncated");
	}
}

static int zs_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int ret;

	if (!dctx)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "zstd: out of memory");
	ret = zs_decompress_all(dctx, src, len, o, d);
	ZSTD_freeDCtx(dctx);
	return ret;
}

const struct bp_codec_ops bpi_codec_zstd = {
	.name = "zstd",
	.level_min = 1, .level_max = 19, .level_default = ZS_LEVEL,
	.compress = zs_compress,
	.decompress = zs_decompress,
};
