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

static inline size_t bpi_min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* zlib and libbz2 count in unsigned int: hand them at most this much per call. */
#define BPI_CODEC_FEED_MAX ((size_t)1 << 30)

/* The next slice of input for such a library: *@n bytes at the returned pointer. */
static inline const uint8_t *bpi_feed_slice(const uint8_t **src, size_t *left, unsigned int *n)
{
	const uint8_t *p = *src;

	*n = (unsigned int)bpi_min_size(*left, BPI_CODEC_FEED_MAX);
	*src += *n;
	*left -= *n;
	return p;
}

/*
 * Where a decoder writes: appended to @buf after the @base bytes it held on
 * entry, at most @max of them. bpi_decompress() sets it up and takes the
 * output back on failure, so a decoder only decodes.
 */
struct bpi_out {
	struct bp_buf *buf;
	size_t base;
	size_t max;
};

/* Bytes decoded so far. */
static inline size_t bpi_out_len(const struct bpi_out *o)
{
	return o->buf->len - o->base;
}

/*
 * Reserve room for the next call into a decoding library and return where it
 * starts, with its size in *@room: @chunk bytes at most, and one byte past
 * what the limit still allows, so a stream that goes over shows it without
 * more being produced. NULL when out of memory.
 */
uint8_t *bpi_out_room(struct bpi_out *o, size_t chunk, size_t *room);

/* Count @n bytes written at bpi_out_room(); BP_ERR_TOOBIG once over the limit. */
int bpi_out_add(struct bpi_out *o, size_t n, struct bp_diag *d);

/* BP_ERR_TOOBIG, with the message every decoder gives for the limit. */
int bpi_out_over(const struct bpi_out *o, struct bp_diag *d);

/* Decode @len bytes at @src (untrusted) into @o; on failure @o may hold part of it. */
typedef int bpi_decode_fn(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d);

struct bp_codec_ops {
	const char *name; /* FIT "compression" value */
	int level_min, level_max, level_default; /* as the command-line tool */
	int (*compress)(struct bpi_stream *s, struct bp_diag *d);
	bpi_decode_fn *decompress;
};

extern const struct bp_codec_ops bpi_codec_gzip;
extern const struct bp_codec_ops bpi_codec_bzip2;
extern const struct bp_codec_ops bpi_codec_lz4;
extern const struct bp_codec_ops bpi_codec_lzma;
extern const struct bp_codec_ops bpi_codec_lzo;
extern const struct bp_codec_ops bpi_codec_zstd;
/* Decoding only, for zboot (lib/codec/lzma.c): U-Boot's FIT has no xz. */
extern const struct bp_codec_ops bpi_codec_xz;

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

/*
 * bp_decompress() for any decoder: clears @d, appends at most @max_out bytes
 * to @out, and on failure leaves @out as it was.
 */
int bpi_decompress(bpi_decode_fn *decode, const void *src, size_t len, size_t max_out,
		   struct bp_buf *out, struct bp_diag *d);

/*
 * The compressions of Linux's EFI zboot, by the name its header carries at
 * 0x18 (lib/codec/zboot_codecs.c). Two of them are not FIT compressions:
 * "lz4" is the legacy container ("lz4 -l") and "xzkern" is xz.
 */
struct bpi_zboot_codec {
	const char *name;
	const struct bp_codec_ops *ops;   /* only ->decompress is used */
	bool size_after;   /* the le32 uncompressed size follows the stream (all but gzip) */
};

/* The entry for @name, or NULL when Linux writes no such name. */
const struct bpi_zboot_codec *bpi_zboot_codec(const char *name);

#define BPI_ZBOOT_NAMES_MAX 64

/* The names as a message lists them, "gzip, lz4, ... or zstd", written to @buf. */
const char *bpi_zboot_names(char buf[BPI_ZBOOT_NAMES_MAX]);

#endif
