// SPDX-License-Identifier: MIT
/*
 * Fuzz target: every decoder on untrusted bytes: the seven FIT codecs and the
 * two formats only zboot uses (legacy lz4, xzkern). The first byte picks the
 * decoder; the output cap is small so the size checks are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <bootpack/codec.h>

#include "codec/codec_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bp_buf out = BP_BUF_INIT;
	struct bp_diag d;
	unsigned int pick;
	int ret;

	if (size < 1)
		return 0;
	pick = data[0] % (BP_CODEC_COUNT + 2);
	d.msg[0] = '\0';
	if (pick >= BP_CODEC_COUNT)
		ret = bpi_decompress(bpi_zboot_codec(pick == BP_CODEC_COUNT ? "lz4" : "xzkern")
					     ->ops->decompress,
				     data + 1, size - 1, OUT_CAP, &out, &d);
	else
		ret = bp_decompress((enum bp_codec)pick, data + 1, size - 1, OUT_CAP, &out, &d);
	/* A refusal names its reason; a success stays under the cap. */
	if ((ret && !d.msg[0]) || (!ret && out.len > OUT_CAP))
		abort();
	bp_buf_free(&out);
	return 0;
}
