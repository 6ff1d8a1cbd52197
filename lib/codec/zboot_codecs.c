// SPDX-License-Identifier: MIT
/*
 * The compressions of Linux's zboot, in one table, and the decoder of the
 * one container zboot uses that FIT and liblzma do not: legacy lz4 ("lz4
 * -l": magic, then blocks of at most 8 MiB, each prefixed by its compressed
 * size). xz ("xzkern") is in lzma.c. Output is capped like every other
 * decoder's.
 */
#include <stdio.h>
#include <string.h>

#include <lz4.h>

#include "codec_impl.h"
#include "util/util.h"

#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK ((size_t)8 << 20)

static int lz4_legacy_decompress(const void *src, size_t len, struct bpi_out *o,
				 struct bp_diag *d)
{
	const uint8_t *p = src, *end = p + len;
	unsigned int blocks = 0;

	if (len < 4 || bpi_get_le32(p) != LZ4_LEGACY_MAGIC)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "not legacy lz4 data (bad magic)");
	p += 4;
	while (p < end) {
		uint32_t csize;
		int n;

		if (end - p < 4)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "legacy lz4: truncated block "
					   "header after block %u", blocks);
		csize = bpi_get_le32(p);
		p += 4;
		/* Concatenated streams start again with the magic. */
		if (csize == LZ4_LEGACY_MAGIC)
			continue;
		if (csize > (size_t)(end - p) || csize > (size_t)LZ4_compressBound((int)LZ4_LEGACY_BLOCK))
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "legacy lz4: block %u claims %u "
					   "bytes; only %zu remain", blocks, csize,
					   (size_t)(end - p));
		/*
		 * Room for a whole block, whatever is left of the cap: decoding into
		 * less would make a corrupt block look like one that is too large.
		 */
		if (bp_buf_reserve(o->buf, LZ4_LEGACY_BLOCK))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
		n = LZ4_decompress_safe((const char *)p, (char *)o->buf->data + o->buf->len,
					(int)csize, (int)LZ4_LEGACY_BLOCK);
		if (n < 0)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "legacy lz4: block %u is "
					   "corrupt", blocks);
		if (bpi_out_add(o, (size_t)n, d))
			return BP_ERR_TOOBIG;
		p += csize;
		blocks++;
	}
	if (!blocks)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "legacy lz4: no blocks");
	return 0;
}

static const struct bp_codec_ops codec_lz4_legacy = {
	.name = "lz4 (legacy)",
	.decompress = lz4_legacy_decompress,
};

/* Linux up to 6.12 writes the first six; later kernels name their zstd payload "zstd". */
static const struct bpi_zboot_codec zboot_codecs[] = {
	{ "gzip", &bpi_codec_gzip, false },
	{ "lz4", &codec_lz4_legacy, true },
	{ "lzma", &bpi_codec_lzma, true },
	{ "lzo", &bpi_codec_lzo, true },
	{ "xzkern", &bpi_codec_xz, true },
	{ "zstd22", &bpi_codec_zstd, true },
	{ "zstd", &bpi_codec_zstd, true },
};

#define N_ZBOOT_CODECS (sizeof(zboot_codecs) / sizeof(zboot_codecs[0]))

const struct bpi_zboot_codec *bpi_zboot_codec(const char *name)
{
	for (size_t i = 0; i < N_ZBOOT_CODECS; i++) {
		if (!strcmp(name, zboot_codecs[i].name))
			return &zboot_codecs[i];
	}
	return NULL;
}

const char *bpi_zboot_names(char buf[BPI_ZBOOT_NAMES_MAX])
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_ZBOOT_CODECS && at < BPI_ZBOOT_NAMES_MAX; i++)
		at += (size_t)snprintf(buf + at, BPI_ZBOOT_NAMES_MAX - at, "%s%s",
				       !i ? "" : i + 1 < N_ZBOOT_CODECS ? ", " : " or ",
				       zboot_codecs[i].name);
	return buf;
}
