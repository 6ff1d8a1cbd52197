// SPDX-License-Identifier: MIT
/*
 * The kernel release for .uname, found where ukify looks: the x86 setup
 * header's kernel_version string, else the "Linux version X (" banner in
 * the image (a zboot kernel's payload decompressed first). Scanned a chunk
 * at a time, each let go of, so a large kernel does not stay in memory.
 */
#include <stdbool.h>
#include <string.h>

#include <bootpack/authenticode.h>

#include "uki_build_internal.h"

#define SETUP_MAGIC_AT 0x202
#define SETUP_VERSION_PTR 0x20e
#define SETUP_VERSION_BASE 0x200
/* Bytes a version string is looked for in. */
#define SETUP_VERSION_MAX 128

static bool release_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '.' || c == '_' || c == '-' || c == '+' || c == '~';
}

/* A release of @n bytes at @p: only release characters, then @end must be " (". */
static int take_release(const uint8_t *p, size_t n, char out[BPI_UNAME_MAX + 1])
{
	size_t len = 0;

	while (len < n && len <= BPI_UNAME_MAX && release_char(p[len]))
		len++;
	if (!len || len > BPI_UNAME_MAX || n - len < 2 || p[len] != ' ' || p[len + 1] != '(')
		return BP_ERR_NOTFOUND;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int bpi_uname_setup_header(const uint8_t *p, size_t n, char out[BPI_UNAME_MAX + 1])
{
	uint64_t at;

	if (n < SETUP_VERSION_PTR + 2 || memcmp(p + SETUP_MAGIC_AT, "HdrS", 4))
		return BP_ERR_NOTFOUND;
	at = SETUP_VERSION_BASE + (uint64_t)bpi_get_le16(p + SETUP_VERSION_PTR);
	if (at >= n)
		return BP_ERR_NOTFOUND;
	return take_release(p + at, n - at < SETUP_VERSION_MAX ? n - at : SETUP_VERSION_MAX, out);
}

int bpi_uname_banner(const uint8_t *p, size_t n, char out[BPI_UNAME_MAX + 1])
{
	static const char key[] = "Linux version ";
	const size_t k = sizeof(key) - 1;
	const uint8_t *at = p, *end = p + n;

	while ((size_t)(end - at) > k) {
		const uint8_t *hit = memmem(at, (size_t)(end - at), key, k);
		size_t left;

		if (!hit)
			break;
		hit += k;
		left = (size_t)(end - hit);
		/* "Linux version %s" format strings and the like are not a release. */
		if (left >= 2 && hit[0] >= '0' && hit[0] <= '9' && hit[1] == '.' &&
		    !take_release(hit, left, out))
			return 0;
		at = hit;
	}
	return BP_ERR_NOTFOUND;
}

/* The banner in the mapped image, chunk by chunk (overlapping by one banner's length). */
static int scan_image(const struct bp_pe *pe, char out[BPI_UNAME_MAX + 1])
{
	const uint64_t overlap = 16 + BPI_UNAME_MAX + 2;
	uint64_t len = pe->file.len;
	int ret = BP_ERR_NOTFOUND;

	for (uint64_t off = 0; off < len && ret; off += BPI_PE_CHUNK) {
		uint64_t n = len - off < BPI_PE_CHUNK + overlap ? len - off : BPI_PE_CHUNK + overlap;

		ret = bpi_uname_banner(pe->file.data + off, (size_t)n, out);
		bpi_pe_release(pe, off, n);
	}
	return ret;
}

int bpi_uname_scrape(const struct bp_pe *pe, char out[BPI_UNAME_MAX + 1])
{
	struct bp_zboot_inner zi = BP_ZBOOT_INNER_INIT;
	struct bp_diag d;

	if (!pe->file.data)
		return BP_ERR_NOTFOUND;
	if (!bpi_uname_setup_header(pe->file.data, pe->file.len, out))
		return 0;
	if (!pe->info.zboot.present)
		return scan_image(pe, out);
	if (bp_zboot_inner(pe, 0, &zi, &d) || !zi.version[0] ||
	    strlen(zi.version) > BPI_UNAME_MAX)
		return BP_ERR_NOTFOUND;
	memcpy(out, zi.version, strlen(zi.version) + 1);
	return 0;
}

unsigned int bpi_stub_major(const uint8_t *p, size_t n)
{
	static const char key[] = "LoaderInfo: systemd-stub ";
	const uint8_t *hit = memmem(p, n, key, sizeof(key) - 1);
	unsigned int v = 0;

	if (!hit)
		return 0;
	hit += sizeof(key) - 1;
	for (size_t i = 0; hit + i < p + n && i < 6 && hit[i] >= '0' && hit[i] <= '9'; i++)
		v = v * 10 + (unsigned int)(hit[i] - '0');
	return v;
}
