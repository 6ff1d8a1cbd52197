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
#include <xxhash.h>

#include "codec_impl.h"
#include "util/util.h"

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
	.autoFlush = 1, /* each block is written as soon as it is full */
	.favorDecSpeed = 0,
};

static int lz4_lib_error(size_t r, const char *what, struct bp_diag *d)
{
	return bp_diag_set(d, BP_ERR_CODEC, NULL, "%s failed: %s", what,
			   LZ4F_getErrorName(r));
}

/*
 * Blocks are independent, so they are compressed side by side: each one as
 * a frame of its own holding that single block, whose header and end mark
 * are dropped. The block bytes are those LZ4F_compressUpdate() writes; the
 * content checksum is taken over the input in order.
 */
#define LZ4_FRAME_HEADER 7 /* magic, FLG, BD, HC: no content size, no dictionary */
#define LZ4_END_MARK 4

struct lz4_split {
	LZ4F_preferences_t block_prefs;
	XXH32_state_t *xxh;
};

static int lz4_block_pack(void *ctx, const uint8_t *src, size_t n, bool last,
			  struct bp_buf *out, uint32_t *sum)
{
	const struct lz4_split *z = ctx;
	size_t r;

	(void)last;
	(void)sum;
	if (bp_buf_reserve(out, LZ4F_compressFrameBound(n, &z->block_prefs)))
		return BP_ERR_NOMEM;
	r = LZ4F_compressFrame(out->data, out->cap, src, n, &z->block_prefs);
	if (LZ4F_isError(r) || r < LZ4_FRAME_HEADER + LZ4_END_MARK)
		return BP_ERR_CODEC;
	memmove(out->data, out->data + LZ4_FRAME_HEADER, r - LZ4_FRAME_HEADER - LZ4_END_MARK);
	out->len = r - LZ4_FRAME_HEADER - LZ4_END_MARK;
	return 0;
}

static void lz4_block_seen(void *ctx, const uint8_t *src, size_t n, uint32_t sum)
{
	struct lz4_split *z = ctx;

	(void)sum;
	XXH32_update(z->xxh, src, n);
}

static int lz4_frame_header(struct bpi_stream *s, const LZ4F_preferences_t *prefs,
			    struct bp_diag *d)
{
	uint8_t h[LZ4F_HEADER_SIZE_MAX];
	LZ4F_cctx *cctx = NULL;
	size_t r = LZ4F_createCompressionContext(&cctx, LZ4F_VERSION);

	if (!LZ4F_isError(r))
		r = LZ4F_compressBegin(cctx, h, sizeof(h), prefs);
	LZ4F_freeCompressionContext(cctx);
	if (LZ4F_isError(r))
		return lz4_lib_error(r, "LZ4F_compressBegin", d);
	return s->write(s, h, r, d);
}

static int lz4_compress(struct bpi_stream *s, struct bp_diag *d)
{
	LZ4F_preferences_t prefs = lz4_prefs;
	struct lz4_split z = { .xxh = XXH32_createState() };
	struct bpi_blocks b = {
		.name = "lz4", .block = LZ4_BLOCK_BYTES,
		.pack = lz4_block_pack, .seen = lz4_block_seen, .ctx = &z,
	};
	uint8_t tail[LZ4_END_MARK + 4] = { 0 };
	int ret;

	if (s->level)
		prefs.compressionLevel = s->level;
	z.block_prefs = prefs;
	z.block_prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	if (!z.xxh || XXH32_reset(z.xxh, 0) != XXH_OK)
		ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: out of memory");
	else
		ret = lz4_frame_header(s, &prefs, d);
	if (!ret)
		ret = bpi_blocks_run(s, &b, d);
	if (!ret) {
		bpi_put_le32(tail + LZ4_END_MARK, XXH32_digest(z.xxh));
		ret = s->write(s, tail, sizeof(tail), d);
	}
	XXH32_freeState(z.xxh);
	return ret;
}

#define LZ4_FRAME_MAGIC 0x184D2204u
#define LZ4_FLG_CONTENT_SIZE 0x08
#define LZ4_BLOCK_HEADER 4

/* Where one frame started and the size its header declares (0: none). */
struct lz4_frame {
	unsigned int no;           /* from 1 */
	size_t out_base;           /* output length when it started */
	uint64_t declared;
};

static void lz4_frame_start(struct lz4_frame *f, const uint8_t *p, size_t n, size_t out_len)
{
	f->no++;
	f->out_base = out_len;
	f->declared = 0;
	/* Magic, FLG, BD, then the 8-byte content size when FLG says so. */
	if (n >= 14 && bpi_get_le32(p) == LZ4_FRAME_MAGIC && (p[4] & LZ4_FLG_CONTENT_SIZE))
		f->declared = bpi_get_le64(p + 6);
}

/* Translate LZ4F's error names into messages about the data. */
static int lz4_decode_error(size_t r, const struct lz4_frame *f, size_t out_len,
			    struct bp_diag *d)
{
	const char *name = LZ4F_getErrorName(r);
	unsigned int frames = f->no - 1;

	if (!strcmp(name, "ERROR_frameType_unknown") && frames)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "trailing data after lz4 frame %u is not an lz4 frame", frames);
	if (!strcmp(name, "ERROR_frameType_unknown"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "not lz4 frame data (bad magic; legacy lz4 is not supported)");
	if (!strcmp(name, "ERROR_frameSize_wrong"))
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "lz4 frame %u declares a content size of %llu bytes but "
				   "decodes to %zu", f->no, (unsigned long long)f->declared,
				   out_len - f->out_base);
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
 * Decode every frame in the input. Input is offered a block at a time, as
 * LZ4F's hints ask, so when it finds the frame's size wrong (at the end
 * mark) all the frame's output has been counted.
 */
static int lz4_decompress_all(LZ4F_dctx *dctx, const uint8_t *src, size_t len,
			      struct bpi_out *o, struct bp_diag *d)
{
	size_t pos = 0, hint = 0, room, dst_n, src_n;
	struct lz4_frame f = { 0 };
	uint8_t *dst;

	if (!len)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lz4 data is empty");
	for (;;) {
		if (!hint) {
			lz4_frame_start(&f, src + pos, len - pos, bpi_out_len(o));
			/* The smallest frame header; the block header is taken off below. */
			hint = LZ4F_HEADER_SIZE_MIN + LZ4_BLOCK_HEADER;
		}
		if (!(dst = bpi_out_room(o, LZ4_OUT_CHUNK, &room)))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: out of memory");
		dst_n = room;
		/*
		 * The hint is the rest of the current block plus the next block's
		 * header; holding that header back makes the end mark, where the
		 * size is checked, a call of its own.
		 */
		src_n = bpi_min_size(len - pos,
				     hint > LZ4_BLOCK_HEADER ? hint - LZ4_BLOCK_HEADER : hint);
		hint = LZ4F_decompress(dctx, dst, &dst_n, src + pos, &src_n, NULL);
		if (LZ4F_isError(hint))
			return lz4_decode_error(hint, &f, bpi_out_len(o), d);
		pos += src_n;
		if (bpi_out_add(o, dst_n, d))
			return BP_ERR_TOOBIG;
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

static int lz4_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	LZ4F_dctx *dctx = NULL;
	size_t r;
	int ret;

	r = LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION);
	if (LZ4F_isError(r))
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lz4: cannot create context: %s",
				   LZ4F_getErrorName(r));
	ret = lz4_decompress_all(dctx, src, len, o, d);
	LZ4F_freeDecompressionContext(dctx);
	return ret;
}

const struct bp_codec_ops bpi_codec_lz4 = {
	.name = "lz4",
	.level_min = 1, .level_max = 12, .level_default = 1,
	.compress = lz4_compress,
	.decompress = lz4_decompress,
};
