// SPDX-License-Identifier: MIT
/* The codec table: maps enum bp_codec and FIT names to implementations. */
#include <string.h>

#include "codec_impl.h"

static int none_compress(const void *src, size_t len, struct bp_buf *out, struct bp_diag *d)
{
	(void)d;
	return bp_buf_append(out, src, len);
}

static int none_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			   struct bp_diag *d)
{
	if (len > max_out)
		return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
				   "data is %zu bytes, more than the limit of %zu", len, max_out);
	return bp_buf_append(out, src, len);
}

static const struct bp_codec_ops codec_none = {
	.name = "none",
	.compress = none_compress,
	.decompress = none_decompress,
};

static const struct bp_codec_ops *const codecs[BP_CODEC_COUNT] = {
	[BP_CODEC_NONE] = &codec_none,
	[BP_CODEC_GZIP] = &bpi_codec_gzip,
	[BP_CODEC_BZIP2] = &bpi_codec_bzip2,
	[BP_CODEC_LZ4] = &bpi_codec_lz4,
	[BP_CODEC_LZMA] = &bpi_codec_lzma,
	[BP_CODEC_LZO] = &bpi_codec_lzo,
	[BP_CODEC_ZSTD] = &bpi_codec_zstd,
};

int bp_codec_from_name(const char *name, enum bp_codec *out, struct bp_diag *d)
{
	for (int i = 0; i < BP_CODEC_COUNT; i++) {
		if (strcmp(name, codecs[i]->name) == 0) {
			*out = (enum bp_codec)i;
			return 0;
		}
	}
	/* make_fit.py accepts "xz", but U-Boot has no such FIT compression. */
	if (strcmp(name, "xz") == 0)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "not a FIT compression: U-Boot cannot "
				   "decompress it (dumpimage reports \"Unknown Compression\"); "
				   "use -c lzma, the LZMA container U-Boot reads");
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
			   "unknown compression (choose from none, gzip, bzip2, lz4, lzma, "
			   "lzo, zstd)");
}

const char *bp_codec_name(enum bp_codec c)
{
	if ((unsigned)c >= BP_CODEC_COUNT)
		return NULL;
	return codecs[c]->name;
}

int bp_compress(enum bp_codec c, const void *src, size_t len, struct bp_buf *out,
		struct bp_diag *d)
{
	if ((unsigned)c >= BP_CODEC_COUNT)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "codec %d out of range", (int)c);
	return codecs[c]->compress(src, len, out, d);
}

int bp_decompress(enum bp_codec c, const void *src, size_t len, size_t max_out,
		  struct bp_buf *out, struct bp_diag *d)
{
	if ((unsigned)c >= BP_CODEC_COUNT)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "codec %d out of range", (int)c);
	return codecs[c]->decompress(src, len, max_out, out, d);
}
