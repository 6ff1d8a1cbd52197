// SPDX-License-Identifier: MIT
/*
 * The two stream formats Linux's zboot uses that FIT does not: the legacy
 * lz4 container ("lz4 -l": magic, then blocks of at most 8 MiB, each
 * prefixed by its compressed size) and xz with the kernel's filters
 * ("xzkern"). Output is capped like every other decoder's.
 */
#include <string.h>

#include <lz4.h>
#include <lzma.h>

#include "codec_impl.h"
#include "util/util.h"

#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK ((size_t)8 << 20)
#define XZ_OUT_CHUNK ((size_t)1 << 20)
/* The kernel's xz uses at most a 32 MiB dictionary; leave headroom, refuse beyond. */
#define XZ_MEMLIMIT ((uint64_t)256 << 20)

int bpi_lz4_legacy_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
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
		if (bp_buf_reserve(out, LZ4_LEGACY_BLOCK))
			return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
		n = LZ4_decompress_safe((const char *)p, (char *)out->data + out->len, (int)csize,
					(int)LZ4_LEGACY_BLOCK);
		if (n < 0)
			return bp_diag_set(d, BP_ERR_FORMAT, NULL, "legacy lz4: block %u is "
					   "corrupt", blocks);
		if ((size_t)n > max_out - out->len)
			return bp_diag_set(d, BP_ERR_TOOBIG, NULL, "output exceeds the limit of %zu "
					   "bytes", max_out);
		out->len += (size_t)n;
		p += csize;
		blocks++;
	}
	if (!blocks)
		return bp_diag_set(d, BP_ERR_FORMAT, NULL, "legacy lz4: no blocks");
	return 0;
}

static int xz_error(lzma_ret r, struct bp_diag *d)
{
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
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	default:
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "liblzma error %d", (int)r);
	}
}

int bpi_xz_decompress(const void *src, size_t len, size_t max_out, struct bp_buf *out,
		      struct bp_diag *d)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r = lzma_stream_decoder(&s, XZ_MEMLIMIT, LZMA_CONCATENATED);
	int ret = 0;

	if (r != LZMA_OK)
		return xz_error(r, d);
	s.next_in = src;
	s.avail_in = len;
	for (;;) {
		/* One byte past the cap tells "exactly at the limit" from "over it". */
		size_t room = max_out - out->len + 1;

		if (room > XZ_OUT_CHUNK)
			room = XZ_OUT_CHUNK;
		if (bp_buf_reserve(out, room)) {
			ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
			break;
		}
		s.next_out = out->data + out->len;
		s.avail_out = room;
		r = lzma_code(&s, LZMA_FINISH);
		out->len += room - s.avail_out;
		if (out->len > max_out) {
			ret = bp_diag_set(d, BP_ERR_TOOBIG, NULL, "output exceeds the limit of %zu "
					  "bytes", max_out);
			break;
		}
		if (r == LZMA_STREAM_END) {
			if (s.avail_in)
				ret = bp_diag_set(d, BP_ERR_FORMAT, NULL, "%zu bytes of trailing data "
						  "after the xz stream", s.avail_in);
			break;
		}
		if (r != LZMA_OK) {
			ret = xz_error(r, d);
			break;
		}
	}
	lzma_end(&s);
	return ret;
}
