/* SPDX-License-Identifier: MIT */
/* Internal (bpi_ prefix: not exported from the shared library): one entry per compressor, filled in by lib/codec/<name>.c. */
#ifndef BP_CODEC_IMPL_H
#define BP_CODEC_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <bootpack/codec.h>

/*
 * One compression in progress. Input is pulled and output pushed in pieces,
 * so a large image goes from file to file through bounded buffers; in
 * memory, bp_compress() wraps a buffer the same way.
 */
struct bpi_stream {
	/* Exactly @want bytes of input at *@p, valid until the next call. */
	int (*read)(struct bpi_stream *s, size_t want, const uint8_t **p, struct bp_diag *d);
	int (*write)(struct bpi_stream *s, const void *p, size_t n, struct bp_diag *d);
	uint64_t size;         /* input length; read() never asks past it */
	uint64_t done;         /* input consumed so far (bpi_stream_next) */
	int level;             /* validated; 0 = the codec's default */
	/*
	 * Large inputs may be cut for threads (gzip chunks, zstd workers). The
	 * bytes then differ from the unsplit form but not between thread counts.
	 */
	bool split;
	unsigned int threads;  /* for split; 0 = one per online CPU */
};

/* The next piece of input, at most @max bytes; *@got is 0 at the end. */
int bpi_stream_next(struct bpi_stream *s, size_t max, const uint8_t **p, size_t *got,
		    struct bp_diag *d);

/*
 * A codec whose stream is a sequence of independently compressed blocks
 * (gzip chunks, lz4 frame blocks, lzop blocks), run by bpi_blocks_run().
 */
struct bpi_blocks {
	const char *name;         /* for messages */
	size_t block;             /* input bytes per block (the last may be short) */
	/*
	 * Compress @n bytes at @src into @out (emptied) on any thread; @last says
	 * whether this is the stream's final block. May set *@sum for seen().
	 */
	int (*pack)(void *ctx, const uint8_t *src, size_t n, bool last, struct bp_buf *out,
		    uint32_t *sum);
	/* Called in stream order for each block before its output is pushed; may be NULL. */
	void (*seen)(void *ctx, const uint8_t *src, size_t n, uint32_t sum);
	void *ctx;
};

/* Pull @s through @b's blocks on up to s->threads threads, pushing output in order. */
int bpi_blocks_run(struct bpi_stream *s, const struct bpi_blocks *b, struct bp_diag *d);

struct bp_codec_ops {
	const char *name; /* FIT "compression" value */
	int level_min, level_max, level_default; /* as the command-line tool */
	int (*compress)(struct bpi_stream *s, struct bp_diag *d);
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
 * Run codec @c over @s (level already checked by the caller with
 * bp_codec_levels()). On failure some output may have been written.
 */
int bpi_compress_stream(enum bp_codec c, struct bpi_stream *s, struct bp_diag *d);

/*
 * bp_compress() with splitting allowed: one large input on up to @threads
 * threads (0 = all CPUs). The bytes do not depend on @threads.
 */
int bpi_compress_mt(enum bp_codec c, int level, const void *src, size_t len,
		    unsigned int threads, struct bp_buf *out, struct bp_diag *d);

/* Formats only Linux's zboot uses (lib/codec/zboot_codecs.c); same contract as decompress. */
int bpi_lz4_legacy_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
			      struct bp_diag *d);
int bpi_xz_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
		      struct bp_diag *d);

#endif
