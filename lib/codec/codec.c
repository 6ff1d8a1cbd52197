// SPDX-License-Identifier: MIT
/* The codec table: maps enum bp_codec and FIT names to implementations. */
#include <stdint.h>
#include <string.h>

#include "codec_impl.h"

#define NONE_PIECE ((size_t)1 << 20)

int bpi_stream_next(struct bpi_stream *s, size_t max, const uint8_t **p, size_t *got,
		    struct bp_diag *d)
{
	uint64_t left = s->size - s->done;
	size_t n = left < max ? (size_t)left : max;
	int ret;

	*got = 0;
	if (!n)
		return 0;
	ret = s->read(s, n, p, d);
	if (ret)
		return ret;
	s->done += n;
	*got = n;
	return 0;
}

static int none_compress(struct bpi_stream *s, struct bp_diag *d)
{
	const uint8_t *p;
	size_t n;
	int ret;

	do {
		ret = bpi_stream_next(s, NONE_PIECE, &p, &n, d);
		if (!ret && n)
			ret = s->write(s, p, n, d);
	} while (!ret && n);
	return ret;
}

static int none_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	if (len > o->max)
		return bp_diag_set(d, BP_ERR_TOOBIG, NULL,
				   "data is %zu bytes, more than the limit of %zu", len, o->max);
	if (bp_buf_append(o->buf, src, len))
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	return 0;
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
	bp_diag_clear(d);
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

/* A buffer in memory as a stream: reads hand out pointers, writes append. */
struct mem_stream {
	struct bpi_stream s;
	const uint8_t *src;
	struct bp_buf *out;
};

static int mem_read(struct bpi_stream *s, size_t want, const uint8_t **p, struct bp_diag *d)
{
	struct mem_stream *m = (struct mem_stream *)s;

	(void)want;
	(void)d;
	*p = m->src + s->done;
	return 0;
}

static int mem_write(struct bpi_stream *s, const void *p, size_t n, struct bp_diag *d)
{
	struct mem_stream *m = (struct mem_stream *)s;

	if (bp_buf_append(m->out, p, n))
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	return 0;
}

int bp_codec_levels(enum bp_codec c, int *min, int *max, int *def)
{
	if ((unsigned)c >= BP_CODEC_COUNT)
		return BP_ERR_INVALID;
	*min = codecs[c]->level_min;
	*max = codecs[c]->level_max;
	*def = codecs[c]->level_default;
	return 0;
}

static int check_level(enum bp_codec c, int level, struct bp_diag *d)
{
	if ((unsigned)c >= BP_CODEC_COUNT)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "codec %d out of range", (int)c);
	if (!level)
		return 0;
	if (!codecs[c]->level_max)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "compression %s has no levels",
				   codecs[c]->name);
	if (level < codecs[c]->level_min || level > codecs[c]->level_max)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "%s level %d is outside %d..%d",
				   codecs[c]->name, level, codecs[c]->level_min,
				   codecs[c]->level_max);
	return 0;
}

int bpi_compress_stream(enum bp_codec c, struct bpi_stream *s, struct bp_diag *d)
{
	int ret = check_level(c, s->level, d);

	return ret ? ret : codecs[c]->compress(s, d);
}

static int compress_mem(enum bp_codec c, int level, bool split, unsigned int threads,
			const void *src, size_t len, struct bp_buf *out, struct bp_diag *d)
{
	struct mem_stream m = {
		.s = { .read = mem_read, .write = mem_write, .size = len, .level = level,
		       .split = split, .threads = threads },
		.src = src,
		.out = out,
	};
	size_t base = out->len;
	int ret;

	bp_diag_clear(d);
	ret = bpi_compress_stream(c, &m.s, d);
	if (ret)
		out->len = base;
	return ret;
}

int bpi_compress_mt(enum bp_codec c, int level, const void *src, size_t len,
		    unsigned int threads, struct bp_buf *out, struct bp_diag *d)
{
	return compress_mem(c, level, true, threads, src, len, out, d);
}

int bp_compress_level(enum bp_codec c, int level, const void *src, size_t len,
		      struct bp_buf *out, struct bp_diag *d)
{
	return compress_mem(c, level, false, 1, src, len, out, d);
}

int bp_compress(enum bp_codec c, const void *src, size_t len, struct bp_buf *out,
		struct bp_diag *d)
{
	return bp_compress_level(c, 0, src, len, out, d);
}

uint8_t *bpi_out_room(struct bpi_out *o, size_t chunk, size_t *room)
{
	size_t allowed = o->max - bpi_out_len(o);

	*room = bpi_min_size(allowed == SIZE_MAX ? allowed : allowed + 1, chunk);
	if (bp_buf_reserve(o->buf, *room))
		return NULL;
	return o->buf->data + o->buf->len;
}

int bpi_out_over(const struct bpi_out *o, struct bp_diag *d)
{
	return bp_diag_set(d, BP_ERR_TOOBIG, NULL, "decompressed size exceeds limit of %zu bytes",
			   o->max);
}

int bpi_out_add(struct bpi_out *o, size_t n, struct bp_diag *d)
{
	o->buf->len += n;
	return bpi_out_len(o) > o->max ? bpi_out_over(o, d) : 0;
}

int bpi_decompress(bpi_decode_fn *decode, const void *src, size_t len, size_t max_out,
		   struct bp_buf *out, struct bp_diag *d)
{
	struct bpi_out o = { .buf = out, .base = out->len, .max = max_out };
	int ret;

	bp_diag_clear(d);
	ret = decode(src, len, &o, d);
	if (ret)
		out->len = o.base;
	return ret;
}

int bp_decompress(enum bp_codec c, const void *src, size_t len, size_t max_out,
		  struct bp_buf *out, struct bp_diag *d)
{
	if ((unsigned)c >= BP_CODEC_COUNT) {
		bp_diag_clear(d);
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "codec %d out of range", (int)c);
	}
	return bpi_decompress(codecs[c]->decompress, src, len, max_out, out, d);
}
