// SPDX-License-Identifier: MIT
/*
 * Seeds for fuzz_decompress: one valid stream per decoder, its id first (the
 * seven codecs, then zboot's legacy lz4 and xzkern, as the harness numbers them).
 */
#include <stdio.h>
#include <string.h>

#include <lz4.h>
#include <lzma.h>

#include <bootpack/codec.h>

#include "util/util.h"

static const char text[] =
	"/dts-v1/; / { model = \"seed\"; compatible = \"bootpack,seed\"; }; "
	"The quick brown fox jumps over the lazy dog. 0123456789 0123456789";

static int write_seed(const char *dir, const char *name, const struct bp_buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "wb");
	return !f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) ? -1 : 0;
}

/* "lz4 -l": magic, then one block prefixed by its compressed size. */
static int lz4_legacy(struct bp_buf *b)
{
	char block[LZ4_COMPRESSBOUND(sizeof(text))];
	int n = LZ4_compress_default(text, block, sizeof(text), sizeof(block));
	uint8_t hdr[8];

	if (n <= 0)
		return -1;
	bpi_put_le32(hdr, 0x184c2102u);
	bpi_put_le32(hdr + 4, (uint32_t)n);
	return bp_buf_append(b, hdr, sizeof(hdr)) || bp_buf_append(b, block, (size_t)n) ? -1 : 0;
}

/* xz with a CRC32 check, as the kernel's "xzkern" streams carry. */
static int xz(struct bp_buf *b)
{
	uint8_t out[1024];
	size_t n = 0;

	if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, (const uint8_t *)text,
				    sizeof(text), out, &n, sizeof(out)) != LZMA_OK)
		return -1;
	return bp_buf_append(b, out, n) ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	for (int c = 0; c < BP_CODEC_COUNT + 2; c++) {
		struct bp_buf b = BP_BUF_INIT;
		uint8_t id = (uint8_t)c;
		int ret = bp_buf_append(&b, &id, 1);

		if (!ret && c == BP_CODEC_COUNT)
			ret = lz4_legacy(&b);
		else if (!ret && c == BP_CODEC_COUNT + 1)
			ret = xz(&b);
		else if (!ret)
			ret = bp_compress((enum bp_codec)c, text, sizeof(text), &b, NULL);
		if (!ret)
			ret = write_seed(argv[1], c == BP_CODEC_COUNT ? "lz4-legacy" :
					 c == BP_CODEC_COUNT + 1 ? "xzkern" :
					 bp_codec_name((enum bp_codec)c), &b);
		bp_buf_free(&b);
		if (ret)
			return 1;
	}
	return 0;
}
