// SPDX-License-Identifier: MIT
/* Seeds for fuzz_decompress: one valid stream per codec, codec id first. */
#include <stdio.h>
#include <string.h>

#include <bootpack/codec.h>

int main(int argc, char **argv)
{
	static const char text[] =
		"/dts-v1/; / { model = \"seed\"; compatible = \"bootpack,seed\"; }; "
		"The quick brown fox jumps over the lazy dog. 0123456789 0123456789";

	if (argc != 2)
		return 2;
	for (int c = 0; c < BP_CODEC_COUNT; c++) {
		struct bp_buf b = BP_BUF_INIT;
		uint8_t id = (uint8_t)c;
		char path[4096];
		FILE *f;

		if (bp_buf_append(&b, &id, 1) ||
		    bp_compress((enum bp_codec)c, text, sizeof(text), &b, NULL))
			return 1;
		snprintf(path, sizeof(path), "%s/seed-%s", argv[1], bp_codec_name((enum bp_codec)c));
		f = fopen(path, "wb");
		if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f))
			return 1;
		bp_buf_free(&b);
	}
	return 0;
}
