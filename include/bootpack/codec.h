/* SPDX-License-Identifier: MIT */
/*
 * In-process compression in the container formats U-Boot decompresses:
 * gzip (one member), bzip2, lz4 frame, legacy .lzma (lzma_alone), lzop
 * file format, zstd frame. Levels default to those of the reference
 * command-line tools, so output sizes match what users know.
 *
 * Every function here that takes a struct bp_diag clears it on entry, so
 * after a success it is empty and after a failure it holds only this
 * call's reason (with an empty path: these functions know no file name).
 */
#ifndef BOOTPACK_CODEC_H
#define BOOTPACK_CODEC_H

#include <stddef.h>

#include <bootpack/buf.h>
#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bp_codec {
	BP_CODEC_NONE = 0,
	BP_CODEC_GZIP,
	BP_CODEC_BZIP2,
	BP_CODEC_LZ4,
	BP_CODEC_LZMA,
	BP_CODEC_LZO,
	BP_CODEC_ZSTD,
	BP_CODEC_COUNT
};

/*
 * Look up a codec by its FIT "compression" name ("none", "gzip", ...).
 * Returns 0, or BP_ERR_UNSUPPORTED with the reason in @d (which does not
 * repeat @name, so callers can prefix it).
 */
int bp_codec_from_name(const char *name, enum bp_codec *out, struct bp_diag *d);

/* FIT "compression" name of @c, or NULL when @c is out of range. */
const char *bp_codec_name(enum bp_codec c);

/*
 * Compress @len bytes at @src, appending the result to @out.
 * BP_CODEC_NONE copies. Returns 0, BP_ERR_NOMEM, BP_ERR_CODEC, or
 * BP_ERR_INVALID when @c is out of range. On failure @out is as it was.
 */
int bp_compress(enum bp_codec c, const void *src, size_t len, struct bp_buf *out,
		struct bp_diag *d);

/*
 * As bp_compress(), at @level (0: the default, which is the command-line
 * tool's: gzip 6, bzip2 9, lz4 1, lzma 6, lzo 3, zstd 3). Returns
 * BP_ERR_INVALID for a level outside bp_codec_levels().
 */
int bp_compress_level(enum bp_codec c, int level, const void *src, size_t len,
		      struct bp_buf *out, struct bp_diag *d);

/*
 * The levels @c accepts and its default. BP_CODEC_NONE has none: all three
 * are 0. Returns 0, or BP_ERR_INVALID when @c is out of range.
 */
int bp_codec_levels(enum bp_codec c, int *min, int *max, int *def);

/*
 * Decompress @len bytes at @src (untrusted), appending to @out, producing at
 * most @max_out bytes (counted from what @out held on entry). Returns 0;
 * BP_ERR_FORMAT for corrupt or truncated input; BP_ERR_TOOBIG when the
 * output would exceed @max_out; BP_ERR_UNSUPPORTED for valid input using a
 * feature refused on purpose (an lzop filter, a zstd dictionary, a window
 * or dictionary too large to decode); BP_ERR_NOMEM; BP_ERR_CODEC when the
 * compression library itself fails; BP_ERR_INVALID when @c is out of range.
 * On failure @out is as it was.
 */
int bp_decompress(enum bp_codec c, const void *src, size_t len, size_t max_out,
		  struct bp_buf *out, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
