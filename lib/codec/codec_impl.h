/* SPDX-License-Identifier: MIT */
/* Internal (bpi_ prefix: not exported from the shared library): one entry per compressor, filled in by lib/codec/<name>.c. */
#ifndef BP_CODEC_IMPL_H
#define BP_CODEC_IMPL_H

#include <bootpack/codec.h>

struct bp_codec_ops {
	const char *name; /* FIT "compression" value */
	int (*compress)(const void *src, size_t len, struct bp_buf *out, struct bp_diag *d);
	int (*decompress)(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			  struct bp_diag *d);
};

extern const struct bp_codec_ops bpi_codec_gzip;
extern const struct bp_codec_ops bpi_codec_bzip2;
extern const struct bp_codec_ops bpi_codec_lz4;
extern const struct bp_codec_ops bpi_codec_lzma;
extern const struct bp_codec_ops bpi_codec_lzo;
extern const struct bp_codec_ops bpi_codec_zstd;

/*
 * Compress one large input on up to @threads threads (0 = all CPUs). The
 * bytes do not depend on @threads; small inputs get bp_compress()'s output.
 */
int bpi_gzip_compress_mt(const void *src, size_t len, unsigned int threads, struct bp_buf *out,
			 struct bp_diag *d);
int bpi_zstd_compress_mt(const void *src, size_t len, unsigned int threads, struct bp_buf *out,
			 struct bp_diag *d);

/* Formats only Linux's zboot uses (lib/codec/zboot_codecs.c); same contract as decompress. */
int bpi_lz4_legacy_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			      struct bp_diag *d);
int bpi_xz_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
		      struct bp_diag *d);

#endif
