// SPDX-License-Identifier: MIT
/*
 * lzma: the legacy .lzma (LZMA_Alone) container, as "lzma -c" or
 * "xz --format=lzma" write it with preset 6: properties 0x5D, 8 MiB
 * dictionary, size field "unknown" (all ones) and an end marker. U-Boot's
 * lzmaBuffToBuffDecompress() reads exactly this header and treats the
 * all-ones size as unknown, stopping at the end marker. Also the decoder of
 * liblzma's other container, xz, which only zboot uses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>

#include "codec_impl.h"
#include "util/util.h"

#define ALONE_PRESET 6
#define ALONE_OUT_CHUNK ((size_t)256 << 10)
#define ALONE_IN_PIECE ((size_t)1 << 20)
/*
 * Decoder memory cap. Preset 9 needs about 65 MiB; a header asking for much
 * more is either hostile or far outside what bootloader images use.
 */
#define ALONE_MEMLIMIT ((uint64_t)256 << 20)

/* Encode what liblzma holds, pushing every full or final output buffer. */
static int alone_drain(struct bpi_stream *st, lzma_stream *s, uint8_t *buf, lzma_action action,
		       struct bp_diag *d)
{
	lzma_ret r;
	int ret;

	do {
		s->next_out = buf;
		s->avail_out = ALONE_OUT_CHUNK;
		r = lzma_code(s, action);
		if (r == LZMA_MEM_ERROR)
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lzma: out of memory");
		if (r != LZMA_OK && r != LZMA_STREAM_END)
			return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzma encoder failed (%d)", (int)r);
		ret = st->write(st, buf, ALONE_OUT_CHUNK - s->avail_out, d);
		if (ret)
			return ret;
	} while (s->avail_out == 0 || (action == LZMA_FINISH && r != LZMA_STREAM_END));
	return 0;
}

static int alone_encode_all(struct bpi_stream *st, lzma_stream *s, struct bp_diag *d)
{
	uint8_t *buf = malloc(ALONE_OUT_CHUNK);
	const uint8_t *p;
	size_t n;
	int ret;

	if (!buf)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lzma: out of memory");
	do {
		ret = bpi_stream_next(st, ALONE_IN_PIECE, &p, &n, d);
		if (ret)
			break;
		s->next_in = p;
		s->avail_in = n;
		ret = alone_drain(st, s, buf, st->done == st->size ? LZMA_FINISH : LZMA_RUN, d);
	} while (!ret && st->done < st->size);
	free(buf);
	return ret;
}

static int alone_compress(struct bpi_stream *st, struct bp_diag *d)
{
	uint32_t preset = st->level ? (uint32_t)st->level : ALONE_PRESET;
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	lzma_ret r;
	int ret;

	if (lzma_lzma_preset(&opt, preset))
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzma preset %u unavailable", preset);
	r = lzma_alone_encoder(&s, &opt);
	if (r == LZMA_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lzma: out of memory");
	if (r != LZMA_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzma_alone_encoder failed (%d)",
				   (int)r);
	ret = alone_encode_all(st, &s, d);
	lzma_end(&s);
	return ret;
}

static int alone_decode_error(lzma_stream *s, lzma_ret r, struct bp_diag *d)
{
	switch (r) {
	case LZMA_MEM_ERROR:
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lzma: out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				   "lzma dictionary needs %llu MiB to decode, more than the "
				   "%llu MiB allowed",
				   (unsigned long long)(lzma_memusage(s) >> 20),
				   (unsigned long long)(ALONE_MEMLIMIT >> 20));
	case LZMA_FORMAT_ERROR:
	case LZMA_OPTIONS_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "not .lzma data (invalid LZMA_Alone header)");
	case LZMA_DATA_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzma data is corrupt");
	case LZMA_BUF_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "lzma data is truncated");
	default:
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzma decoder failed (%d)", (int)r);
	}
}

/* What differs between liblzma's two containers when decoding. */
struct lz_container {
	const char *name;    /* for messages: "lzma", "xz" */
	const char *what;    /* "lzma data is truncated" */
	const char *end;     /* "trailing data after the lzma end marker" */
	int (*error)(lzma_stream *s, lzma_ret r, struct bp_diag *d);
};

/* Decode until the end of the stream (the end marker, the size in a header). */
static int lz_decode_all(lzma_stream *s, const struct lz_container *c, struct bpi_out *o,
			 struct bp_diag *d)
{
	size_t room;
	lzma_ret r;

	for (;;) {
		s->next_out = bpi_out_room(o, ALONE_OUT_CHUNK, &room);
		if (!s->next_out)
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "%s: out of memory", c->name);
		s->avail_out = room;
		r = lzma_code(s, LZMA_FINISH);
		if (bpi_out_add(o, room - s->avail_out, d))
			return BP_ERR_TOOBIG;
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK)
			return c->error(s, r, d);
		/* Output space left over with all input consumed: cut short. */
		if (!s->avail_in && s->avail_out)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "%s is truncated", c->what);
	}
	if (s->avail_in)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "%zu bytes of trailing data after %s",
				   s->avail_in, c->end);
	return 0;
}

static const struct lz_container alone = {
	.name = "lzma", .what = "lzma data", .end = "the lzma end marker",
	.error = alone_decode_error,
};

#define ALONE_HEADER 13
#define ALONE_SIZE_AT 5              /* uncompressed size, 64-bit LE; all ones: unknown */

/* Decode a whole .lzma stream only to count its bytes; -1 unless it ends cleanly. */
static int alone_count(const uint8_t *src, size_t len, size_t max_out, uint64_t *total)
{
	lzma_stream s = LZMA_STREAM_INIT;
	uint8_t *scratch = malloc(ALONE_OUT_CHUNK);
	lzma_ret r = scratch ? lzma_alone_decoder(&s, ALONE_MEMLIMIT) : LZMA_MEM_ERROR;

	*total = 0;
	s.next_in = src;
	s.avail_in = len;
	while (r == LZMA_OK && *total <= max_out) {
		s.next_out = scratch;
		s.avail_out = ALONE_OUT_CHUNK;
		r = lzma_code(&s, LZMA_FINISH);
		*total += ALONE_OUT_CHUNK - s.avail_out;
	}
	lzma_end(&s);
	free(scratch);
	return r == LZMA_STREAM_END && *total <= max_out ? 0 : -1;
}

/*
 * liblzma calls a header size that disagrees with the data plain corrupt;
 * decoding a copy with the size "unknown" tells whether the size is what
 * lies, and what the data holds.
 */
static int alone_size_mismatch(const uint8_t *src, size_t len, size_t max_out, struct bp_diag *d)
{
	uint64_t declared = bpi_get_le64(src + ALONE_SIZE_AT), real = 0;
	uint8_t *copy;
	int ret = -1;

	if (declared == UINT64_MAX)
		return 0;
	copy = malloc(len);
	if (copy) {
		memcpy(copy, src, len);
		memset(copy + ALONE_SIZE_AT, 0xff, sizeof(declared));
		ret = alone_count(copy, len, max_out, &real);
	}
	free(copy);
	if (ret || real == declared)
		return 0;
	return bp_diag_set(d, BP_ERR_FORMAT, NULL,
			   "lzma header declares an uncompressed size of %llu bytes but "
			   "decodes to %llu", (unsigned long long)declared,
			   (unsigned long long)real);
}

static int alone_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;
	int ret;

	if (len < ALONE_HEADER)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL,
				   "lzma data is truncated (%zu bytes, the header alone is %d)",
				   len, ALONE_HEADER);
	r = lzma_alone_decoder(&s, ALONE_MEMLIMIT);
	if (r == LZMA_MEM_ERROR)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "lzma: out of memory");
	if (r != LZMA_OK)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "lzma_alone_decoder failed (%d)",
				   (int)r);
	s.next_in = src;
	s.avail_in = len;
	ret = lz_decode_all(&s, &alone, o, d);
	lzma_end(&s);
	if (ret == BP_ERR_FORMAT && alone_size_mismatch(src, len, o->max, d))
		ret = BP_ERR_FORMAT;
	return ret;
}

const struct bp_codec_ops bpi_codec_lzma = {
	.name = "lzma",
	.level_min = 1, .level_max = 9, .level_default = ALONE_PRESET,
	.compress = alone_compress,
	.decompress = alone_decompress,
};

/*
 * xz, for zboot's "xzkern" only (U-Boot's FIT has no xz): the kernel's
 * streams use at most a 32 MiB dictionary; leave headroom, refuse beyond.
 */
#define XZ_MEMLIMIT ((uint64_t)256 << 20)

static int xz_error(lzma_stream *s, lzma_ret r, struct bp_diag *d)
{
	(void)s;
	switch (r) {
	case LZMA_MEMLIMIT_ERROR:
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL, "xz stream needs more than %llu "
				   "MiB to decode", (unsigned long long)(XZ_MEMLIMIT >> 20));
	case LZMA_FORMAT_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "not xz data (bad magic)");
	case LZMA_OPTIONS_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "xz stream uses unsupported options");
	case LZMA_DATA_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "xz stream is corrupt");
	case LZMA_BUF_ERROR:
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "xz stream is truncated");
	case LZMA_MEM_ERROR:
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "xz: out of memory");
	default:
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "liblzma error %d", (int)r);
	}
}

static const struct lz_container xz = {
	.name = "xz", .what = "xz stream", .end = "the xz stream", .error = xz_error,
};

static int xz_decompress(const void *src, size_t len, struct bpi_out *o, struct bp_diag *d)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r = lzma_stream_decoder(&s, XZ_MEMLIMIT, LZMA_CONCATENATED);
	int ret;

	if (r != LZMA_OK)
		return xz_error(&s, r, d);
	s.next_in = src;
	s.avail_in = len;
	ret = lz_decode_all(&s, &xz, o, d);
	lzma_end(&s);
	return ret;
}

const struct bp_codec_ops bpi_codec_xz = {
	.name = "xz",
	.decompress = xz_decompress,
};
