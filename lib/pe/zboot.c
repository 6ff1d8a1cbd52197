// SPDX-License-Identifier: MIT
/*
 * Linux EFI zboot: the DOS stub of vmlinuz.efi says where the compressed
 * kernel lies ("zimg", offset, size, compression name). bp_zboot_extract()
 * decompresses it with a cap, checks the le32 size the kernel's build
 * appends after every stream but gzip, and checks the result is a kernel.
 */
#include <stdio.h>
#include <string.h>

#include <zstd.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "codec/codec_impl.h"
#include "pe_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define LINUX_PE_MAGIC 0x818223cdu

const char *bp_kernel_kind_name(enum bp_kernel_kind k)
{
	switch (k) {
	case BP_KERNEL_ARM64: return "arm64";
	case BP_KERNEL_RISCV: return "riscv";
	case BP_KERNEL_LOONGARCH: return "loongarch";
	default: return "unknown";
	}
}

enum bp_kernel_kind bp_kernel_kind_of(const uint8_t *p, size_t len)
{
	if (len < 0x40)
		return BP_KERNEL_UNKNOWN;
	/* arm64 and riscv Image headers carry their magic at 0x38; LoongArch's
	 * EFI-stub Image starts with "MZ" and has LINUX_PE_MAGIC there. */
	if (!memcmp(p + 0x38, "ARM\x64", 4))
		return BP_KERNEL_ARM64;
	if (!memcmp(p + 0x38, "RSC\x05", 4) || !memcmp(p + 0x30, "RISCV\0\0\0", 8))
		return BP_KERNEL_RISCV;
	if (p[0] == 'M' && p[1] == 'Z' && bpi_get_le32(p + 0x38) == LINUX_PE_MAGIC)
		return BP_KERNEL_LOONGARCH;
	return BP_KERNEL_UNKNOWN;
}

/*
 * A zstd frame header may carry Frame_Content_Size: when the payload is one
 * frame (as Linux writes it) that has one, it must agree with the le32 after
 * the stream. Frames that cannot be walked are left to the decoder, which
 * says what is wrong with them.
 */
static int check_zstd_size(const struct bp_pe *pe, const uint8_t *src, uint32_t declared,
			   struct bp_diag *d)
{
	const struct bp_pe_zboot *z = &pe->info.zboot;
	const struct bpi_zboot_codec *c = bpi_zboot_codec(z->compression);
	unsigned long long fcs;

	if (!c || c->ops != &bpi_codec_zstd)
		return 0;
	if (ZSTD_findFrameCompressedSize(src, z->payload_size) != z->payload_size)
		return 0;
	fcs = ZSTD_getFrameContentSize(src, z->payload_size);
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR || fcs == declared)
		return 0;
	return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "zboot: the zstd frame header says %llu "
			   "decompressed bytes (Frame_Content_Size), but the size after the stream "
			   "says %u", fcs, declared);
}

/*
 * Every compression but gzip is followed by the le32 uncompressed size;
 * read it into *@declared and check it against @max and the stream.
 */
static int read_declared_size(const struct bp_pe *pe, const uint8_t *src, uint64_t max,
			      uint32_t *declared, struct bp_diag *d)
{
	const struct bp_pe_zboot *z = &pe->info.zboot;
	uint64_t end = (uint64_t)z->payload_offset + z->payload_size;

	if (!bpi_pe_le32(pe, end, declared))
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "zboot: the le32 size after the %s "
				   "payload (at 0x%llx) is past the end of the file (0x%llx)",
				   z->compression, (unsigned long long)end,
				   (unsigned long long)pe->file.len);
	if (*declared > max)
		return bp_diag_set(d, BP_ERR_TOOBIG, pe->name, "zboot: the payload declares %u "
				   "decompressed bytes, more than the limit of %llu", *declared,
				   (unsigned long long)max);
	return check_zstd_size(pe, src, *declared, d);
}

/*
 * Decompress at most @cap bytes. When the size after the stream set the
 * cap, running into it means that size lies: a bomb stops there, not at
 * --max-size.
 */
static int decode_payload(const struct bp_pe *pe, const uint8_t *src, size_t cap,
			  bool capped_by_size, struct bp_buf *out, struct bp_diag *d)
{
	const struct bp_pe_zboot *z = &pe->info.zboot;
	char why[BP_DIAG_MSG_MAX];
	/* bp_zboot_extract() has checked the name. */
	int ret = bpi_decompress(bpi_zboot_codec(z->compression)->ops->decompress, src,
				 z->payload_size, cap, out, d);

	if (!ret)
		return 0;
	if (ret == BP_ERR_TOOBIG && capped_by_size)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "zboot: the %s payload decompresses "
				   "to more than the %zu bytes the size after it says",
				   z->compression, cap);
	snprintf(why, sizeof(why), "%s", d ? d->msg : "");
	return bp_diag_set(d, ret, pe->name, "zboot: cannot decompress the %s payload: %s",
			   z->compression, why);
}

int bpi_zboot_decode(const struct bp_pe *pe, uint64_t max, struct bp_buf *out,
		     enum bp_kernel_kind *kind, struct bp_diag *d)
{
	const struct bp_pe_zboot *z = &pe->info.zboot;
	const uint8_t *src = bpi_pe_bytes(pe, z->payload_offset, z->payload_size);
	const struct bpi_zboot_codec *c;
	uint32_t declared = 0;
	bool sized;
	enum bp_kernel_kind k;
	int ret;

	bp_diag_clear(d);
	if (!max)
		max = BP_ZBOOT_MAX_DEFAULT;
	if (max > SIZE_MAX - 1)
		max = SIZE_MAX - 1;
	if (!z->present)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "not a zboot image: no \"zimg\" at "
				   "offset 4 of the DOS header");
	/* Name, payload bounds, its section: what the header itself gets wrong. */
	if (pe->zboot_err)
		return bp_diag_set(d, pe->zboot_err, pe->name, "%s", pe->zboot_msg);
	if (!src)
		return bpi_pe_range_error(pe, d, "zboot: the payload", z->payload_offset,
					  z->payload_size);
	c = bpi_zboot_codec(z->compression);
	if (!c)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, pe->name, "zboot: unknown compression "
				   "'%s'", z->compression);
	sized = c->size_after;
	if (sized) {
		ret = read_declared_size(pe, src, max, &declared, d);
		if (ret)
			return ret;
	}
	ret = decode_payload(pe, src, sized ? declared : (size_t)max, sized && declared < max,
			     out, d);
	if (ret)
		goto fail;
	if (sized && out->len != declared) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, pe->name, "zboot: the %s payload decompresses "
				  "to %zu bytes, but the size after it says %u", z->compression,
				  out->len, declared);
		goto fail;
	}
	k = bp_kernel_kind_of(out->data, out->len);
	if (k == BP_KERNEL_UNKNOWN) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, pe->name, "zboot: the payload (%zu bytes) is not "
				  "an arm64, riscv or LoongArch kernel Image (no magic at 0x38)",
				  out->len);
		goto fail;
	}
	if (kind)
		*kind = k;
	return 0;
fail:
	bp_buf_free(out);
	return ret;
}

int bp_zboot_extract_to(const struct bp_pe *pe, const struct bp_sink *sink, uint64_t max,
			enum bp_kernel_kind *kind, uint64_t *written, struct bp_diag *d)
{
	struct bp_buf out = BP_BUF_INIT;
	enum bp_kernel_kind k;
	int ret = bpi_zboot_decode(pe, max, &out, &k, d);

	if (!ret)
		ret = bpi_output_to(sink, out.data, out.len, d);
	if (!ret && kind)
		*kind = k;
	if (!ret && written)
		*written = out.len;
	bp_buf_free(&out);
	return ret;
}

int bp_zboot_extract(const struct bp_pe *pe, const char *out_path, uint64_t max,
		     enum bp_kernel_kind *kind, uint64_t *written, struct bp_diag *d)
{
	struct bp_sink s = BP_SINK_PATH_INIT(out_path);

	return bp_zboot_extract_to(pe, &s, max, kind, written, d);
}
