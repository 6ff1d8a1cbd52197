// SPDX-License-Identifier: MIT
/*
 * Fuzz target: every decoder on untrusted bytes. The first byte picks the
 * codec; the output limit is small so size checks are exercised too.
 */
#include <stddef.h>
#include <stdint.h>

#include <bootpack/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bp_buf out = BP_BUF_INIT;
	struct bp_diag d;
	enum bp_codec c;

	if (size < 1)
		return 0;
	c = (enum bp_codec)(data[0] % BP_CODEC_COUNT);
	bp_decompress(c, data + 1, size - 1, 1u << 20, &out, &d);
	bp_buf_free(&out);
	return 0;
}
