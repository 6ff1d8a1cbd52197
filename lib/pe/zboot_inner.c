// SPDX-License-Identifier: MIT
/*
 * bp_zboot_inner(): is the kernel Image inside a zboot image signed?
 *
 * Up to Linux 6.1, the zboot decompressor passes the decompressed Image to
 * the firmware's LoadImage() (drivers/firmware/efi/libstub/zboot.c:
 * efi_zboot_entry() serves it through a LoadFile2 protocol, then calls
 * load_image and start_image), so under Secure Boot the inner Image must
 * carry its own signature. Linux 6.2 merged the decompressor with the
 * ordinary EFI stub (commit c51e97e7f129, "efi: libstub: Merge zboot
 * decompressor with the ordinary stub", first in v6.2-rc1): it decompresses
 * and runs the stub in-process, and only the outer image is verified.
 * Which decompressor an image has is told by the kernel release in the
 * Image's "Linux version " banner (both are built from the same tree).
 */
#include <stdio.h>
#include <string.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "authenticode_internal.h"
#include "util/util.h"

static const char banner[] = "Linux version ";

static bool release_char(uint8_t c)
{
	return c > ' ' && c < 0x7f;
}

/* The release after the first "Linux version " followed by a digit (linux_banner). */
static void find_version(const uint8_t *p, size_t len, struct bp_zboot_inner *r)
{
	const size_t blen = sizeof(banner) - 1;
	const uint8_t *at = p, *end = p + len;
	size_t n = 0;

	while ((at = memmem(at, (size_t)(end - at), banner, blen))) {
		at += blen;
		if (at < end && *at >= '0' && *at <= '9')
			break;
	}
	if (!at)
		return;
	while (n < sizeof(r->version) - 1 && at + n < end && release_char(at[n]))
		n++;
	memcpy(r->version, at, n);
	r->version[n] = '\0';
	if (sscanf(r->version, "%u.%u", &r->major, &r->minor) != 2)
		r->major = r->minor = 0;
}

/* Whether the Image is a PE with a certificate table (it takes over @img's bytes). */
static enum bp_zboot_inner_sig inner_sig(struct bp_buf *img)
{
	struct bp_pe *pe;
	struct bp_diag d;
	enum bp_zboot_inner_sig sig = BP_ZBOOT_INNER_NOT_PE;

	if (img->len < 2 || img->data[0] != 'M' || img->data[1] != 'Z')
		return sig;
	if (!bpi_pe_open_buf(img, "inner Image", &pe, &d)) {
		sig = pe->info.has_certificates ? BP_ZBOOT_INNER_SIGNED : BP_ZBOOT_INNER_UNSIGNED;
		bp_pe_close(pe);
	}
	return sig;
}

static const size_t inner_v1 = BPI_SIZE_V1(struct bp_zboot_inner, loads_inner_image);

int bp_zboot_inner(const struct bp_pe *pe, uint64_t max, struct bp_zboot_inner *out,
		   struct bp_diag *d)
{
	struct bp_zboot_inner r = { .size = sizeof(r), .loads_inner_image = true };
	struct bp_buf img = BP_BUF_INIT;
	int ret;

	bp_diag_clear(d);
	ret = bpi_struct_out_check(out, inner_v1, "bp_zboot_inner", d);
	if (ret)
		return ret;
	if (!out)
		return bp_diag_set(d, BP_ERR_INVALID, pe->name, "no struct bp_zboot_inner given");
	if (!pe->info.zboot.present)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "not a zboot image: no \"zimg\" at "
				   "offset 4 of the DOS header");
	ret = bpi_zboot_decode(pe, max, &img, NULL, d);
	if (!ret) {
		find_version(img.data, img.len, &r);
		r.sig = inner_sig(&img);
		r.loads_inner_image = !r.major ||
				      r.major * 100 + r.minor < BP_ZBOOT_LOADIMAGE_FIXED;
	}
	bp_buf_free(&img);
	bpi_struct_out(out, &r, sizeof(r));
	return ret;
}
