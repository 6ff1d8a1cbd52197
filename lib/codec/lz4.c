// SPDX-License-Identifier: MIT
/*
 * lz4: the frame format as the lz4 command-line tool writes it by default:
 * LZ4 fast (level 1), 4 MiB blocks, independent blocks, content checksum,
 * no block checksums, no content size. Independent blocks are not a style
 * choice: U-Boot's ulz4fn() refuses frames with linked blocks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>

#include "codec_impl.h"

#define LZ4_BLOCK_BYTES ((size_t)4 << 20) /* matches LZ4F_max4MB */
#define LZ4_OUT_CHUNK ((size_t)256 << 10)

static const LZ4F_preferences_t lz4_prefs = {
	.frameInfo = {
		.blockSizeID = LZ4F_max4MB,
		.blockMode = LZ4F_blockIndependent,
		.contentChecksumFlag = LZ4F_contentChecksumEnabled,
		.frameType = LZ4F_frame,
		.contentSize = 0,
		.dictID = 0,
		.blockChecksumFlag = LZ4F_noBlockChecksum,
	},
	.compressionLevel = 1,
	.autoFlush = 1,
	.favorDecSpeed = 0,
};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Make room for @need bytes in @out and return where they go. */
static uint8_t *room_for(struct bp_buf *out, size_t need)
{
	if (bp_buf_reserve(out, need))
		return NULL;
	return out->data + out->len;
}

static int lz4_lib_error(size_t r, const char *what, struct bp_diag *d)
{
	return bp_diag_set(d, BP_ERR_CODEC, NULL, "%s failed: %s", what,
			   LZ4F_getErrorName(r));
}

/* Each update gets one whole block of input, so every call emits it. */
static int lz4_compress_all(LZ4F_cctx *cctx, struct bpi_stream *s,
			    const LZ4F_preferences_t *prefs, uint8_t *buf, struct bp_diag *d)
{
	size_t cap = LZ4F_compressBound(LZ4_BLOCK_BYTES, prefs), n, piece;
	const uint8_t *p;
	int ret;

	n = LZ4F_compressBegin(cctx, buf, cap, prefs);
	if (LZ4F_isError(n))
		return lz4_lib_error(n, "LZ4F_compressBegin", d);
	ret = s->write(s, buf, n, d);
	while (!ret) {
		ret = bpi_stream_next(s, LZ4_BLOCK_BYTES, &p, &piece, d);
		if (ret || !piece)
			break;
		n = LZ4F_compressUpdate(cctx, buf, cap, p, piece, NULL);
		if (LZ4F_isError(n))
			return lz4_lib_error(n, "LZ4F_compressUpdate", d);
		ret = s->write(s, buf, n, d);
	}
	if (ret)
		return ret;
	n = LZ4F_compressEnd(cctx, buf, cap, NULL);
	if (LZ4F_isError(n))
		return lz4_lib_error(n, "LZ4F_compressEnd", d);
	return s->write(s, buf, n, d);
}

static int lz4_compress(struct bpi_stream *s, struct bp_diag *d)
{
	LZ4F_preferences_t prefs = lz4_prefs;
	LZ4F_cctx *cctx = NULL;
	uint8_t *buf;
	size_t r;
	int ret;

	if (s->level)
		prefs.compressionLevel = s->level;
	buf = malloc(LZ4F_compressBound(LZ4_BLOCK_BYTES, &prefs));
	if (!buf)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: out of memory");
	r = LZ4F_createCompressionContext(&cctx, LZ4F_VERSION);
	if (LZ4F_isError(r))
		ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: cannot create context: %s",
				  LZ4F_getErrorName(r));
	else
		ret = lz4_compress_all(cctx, s, &prefs, buf, d);
	LZ4F_freeCompressionContext(cctx);
	free(buf);
	return ret;
}

/* Translate LZ4F's error names into messages about the data. */
static int lz4_decode_error(size_t r, unsigned frames, struct bp_diag *d)
{
	const char *name = LZ4F_getErrorName(r);

	if (!strcmp(name, "ERROR_frameType_unknown") && frames)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "trailing data after lz4 frame %u is not an lz4 frame", frames);
	if (!strcmp(name, "ERROR_frameType_unknown"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "not lz4 frame data (bad magic; legacy lz4 is not supported)");
	if (!strcmp(name, "ERROR_contentChecksum_invalid"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 frame: checksum mismatch");
	if (!strcmp(name, "ERROR_blockChecksum_invalid"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 frame: block checksum mismatch");
	if (!strcmp(name, "ERROR_headerChecksum_invalid"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 frame: header checksum mismatch");
	if (!strcmp(name, "ERROR_decompressionFailed"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 frame: corrupt block data");
	if (!strcmp(name, "ERROR_allocation_failed"))
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: out of memory");
	return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 frame: invalid data (%s)", name);
}

/*
 * Decode every frame in the input. Output room is capped at one byte past
 * what is still allowed, so exceeding @max_out is seen without producing
 * more than that.
 */
static int lz4_decompress_all(LZ4F_dctx *dctx, const uint8_t *src, size_t len,
			      size_t max_out, struct bp_buf *out, size_t base,
			      struct bp_diag *d)
{
	size_t pos = 0, hint, allowed, room, dst_n, src_n;
	unsigned frames = 0;
	uint8_t *dst;

	if (!len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 data is empty");
	for (;;) {
		allowed = max_out - (out->len - base);
		room = min_size(allowed == SIZE_MAX ? allowed : allowed + 1, LZ4_OUT_CHUNK);
		if (!(dst = room_for(out, room)))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: out of memory");
		dst_n = room;
		src_n = len - pos;
		hint = LZ4F_decompress(dctx, dst, &dst_n, src + pos, &src_n, NULL);
		if (LZ4F_isError(hint))
			return lz4_decode_error(hint, frames, d);
		pos += src_n;
		out->len += dst_n;
		if (out->len - base > max_out)
			return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
					   "decompressed size exceeds limit of %zu bytes", max_out);
		if (!hint)
			frames++;
		if (pos < len && !src_n && !dst_n)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 decoder made no progress");
		if (pos < len)
			continue;
		if (!hint)
			return 0;
		/* All input consumed, frame unfinished, and it did not fill the room. */
		if (dst_n < room)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 data is truncated");
	}
}

static int lz4_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			  struct bp_diag *d)
{
	LZ4F_dctx *dctx = NULL;
	size_t base = out->len;
	size_t r;
	int ret;

	r = LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION);
	if (LZ4F_isError(r))
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: cannot create context: %s",
				   LZ4F_getErrorName(r));
	ret = lz4_decompress_all(dctx, src, len, max_out, out, base, d);
	LZ4F_freeDecompressionContext(dctx);
	if (ret)
		out->len = base;
	return ret;
}

const struct bp_codec_ops bpi_codec_lz4 = {
	.name = "lz4",
	.level_min = 1, .level_max = 12, .level_default = 1,
	.compress = lz4_compress,
	.decompress = lz4_decompress,
};
