// SPDX-License-Identifier: MIT
/*
 * Linux EFI zboot: the DOS stub of vmlinuz.efi says where the compressed
 * kernel lies ("zimg", offset, size, compression name). bp_zboot_extract()
 * decompresses it with a cap, checks the le32 size the kernel's build
 * appends after every stream but gzip, and checks the result is a kernel.
 */
#include <stdio.h>
#include <string.h>

#include "codec/codec_impl.h"
#include "pe_internal.h"
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

static int decode(const char *comp, const uint8_t *src, size_t len, size_t max,
		  struct bp_buf *out, struct bp_diag *d)
{
	if (!strcmp(comp, "gzip"))
		return bp_decompress(BP_CODEC_GZIP, src, len, max, out, d);
	if (!strcmp(comp, "lz4"))
		return bpi_lz4_legacy_decompress(src, len, max, out, d);
	if (!strcmp(comp, "lzma"))
		return bp_decompress(BP_CODEC_LZMA, src, len, max, out, d);
	if (!strcmp(comp, "lzo"))
		return bp_decompress(BP_CODEC_LZO, src, len, max, out, d);
	if (!strcmp(comp, "xzkern"))
		return bpi_xz_decompress(src, len, max, out, d);
	if (!strcmp(comp, "zstd22") || !strcmp(comp, "zstd"))
		return bp_decompress(BP_CODEC_ZSTD, src, len, max, out, d);
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL, "unknown zboot compression '%s'", comp);
}

int bp_zboot_extract(const struct bp_pe *pe, const char *out_path, uint64_t max,
		     enum bp_kernel_kind *kind, uint64_t *written, struct bp_diag *d)
{
	const struct bp_pe_zboot *z = &pe->info.zboot;
	const uint8_t *src = pe->file.data + z->payload_offset;
	struct bp_buf out = BP_BUF_INIT;
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
	if (!z->payload_in_file)
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "zboot payload (0x%x bytes at 0x%x) "
				   "is not inside the file", z->payload_size, z->payload_offset);
	/* Every compression but gzip is followed by the le32 uncompressed size. */
	sized = strcmp(z->compression, "gzip") != 0;
	if (sized) {
		if ((uint64_t)z->payload_offset + z->payload_size + 4 > pe->file.len)
			return bp_diag_set(d, BP_ERR_RANGE, pe->name, "zboot: the size field after "
					   "the %s payload lies past the end of the file",
					   z->compression);
		declared = bpi_get_le32(src + z->payload_size);
		if (declared > max)
			return bp_diag_set(d, BP_ERR_TOOBIG, pe->name, "zboot: the payload declares "
					   "%u decompressed bytes, more than the limit of %llu",
					   declared, (unsigned long long)max);
	}
	ret = decode(z->compression, src, z->payload_size, (size_t)max, &out, d);
	if (ret) {
		char why[BP_DIAG_MSG_MAX];

		snprintf(why, sizeof(why), "%s", d ? d->msg : "");
		ret = bp_diag_set(d, ret, pe->name, "zboot: cannot decompress the %s payload: %s",
				  z->compression, why);
		goto out;
	}
	if (sized && out.len != declared) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, pe->name, "zboot: the %s payload decompresses "
				  "to %zu bytes, but the size after it says %u", z->compression,
				  out.len, declared);
		goto out;
	}
	k = bp_kernel_kind_of(out.data, out.len);
	if (k == BP_KERNEL_UNKNOWN) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, pe->name, "zboot: the payload (%zu bytes) is not "
				  "an arm64, riscv or LoongArch kernel Image (no magic at 0x38)",
				  out.len);
		goto out;
	}
	ret = bpi_output_file(out_path, out.data, out.len, d);
	if (!ret && kind)
		*kind = k;
	if (!ret && written)
		*written = out.len;
out:
	bp_buf_free(&out);
	return ret;
}
