// SPDX-License-Identifier: MIT
/*
 * FIT hash algorithms: crc32 through zlib, the digests through OpenSSL's
 * EVP interface (which picks the CPU's SHA extensions when present).
 */
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include <bootpack/hash.h>

#include "hasher.h"
#include "util/util.h"

static const struct {
	const char *name;
	size_t len;
} algos[BP_HASH_COUNT] = {
	[BP_HASH_CRC32] = { "crc32", 4 },
	[BP_HASH_MD5] = { "md5", 16 },
	[BP_HASH_SHA1] = { "sha1", 20 },
	[BP_HASH_SHA256] = { "sha256", 32 },
	[BP_HASH_SHA384] = { "sha384", 48 },
	[BP_HASH_SHA512] = { "sha512", 64 },
	[BP_HASH_CRC16_CCITT] = { "crc16-ccitt", 2 },
};

int bp_hash_from_name(const char *name, enum bp_hash_algo *out, struct bp_diag *d)
{
	bp_diag_clear(d);
	for (int i = 0; i < BP_HASH_COUNT; i++) {
		if (!strcmp(name, algos[i].name)) {
			*out = (enum bp_hash_algo)i;
			return 0;
		}
	}
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
			   "unknown hash algorithm (expected crc16-ccitt, crc32, md5, sha1, "
			   "sha256, sha384 or sha512)");
}

const char *bp_hash_name(enum bp_hash_algo a)
{
	return (unsigned)a < BP_HASH_COUNT ? algos[a].name : NULL;
}

size_t bp_hash_len(enum bp_hash_algo a)
{
	return (unsigned)a < BP_HASH_COUNT ? algos[a].len : 0;
}

static const EVP_MD *evp_md(enum bp_hash_algo a)
{
	switch (a) {
	case BP_HASH_MD5: return EVP_md5();
	case BP_HASH_SHA1: return EVP_sha1();
	case BP_HASH_SHA256: return EVP_sha256();
	case BP_HASH_SHA384: return EVP_sha384();
	case BP_HASH_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

/*
 * CRC-16/XMODEM (polynomial 0x1021, initial 0, unreflected), what U-Boot
 * calls crc16-ccitt. No library we link offers it; it exists for reading
 * mkimage FITs, so the bitwise form is fast enough.
 */
static uint16_t crc16_ccitt(uint16_t crc, const uint8_t *p, size_t len)
{
	while (len--) {
		crc ^= (uint16_t)(*p++ << 8);
		for (int i = 0; i < 8; i++)
			crc = (uint16_t)(crc & 0x8000 ? crc << 1 ^ 0x1021 : crc << 1);
	}
	return crc;
}

int bpi_hasher_init(struct bpi_hasher *h, enum bp_hash_algo a, struct bp_diag *d)
{
	const EVP_MD *md = evp_md(a);

	h->algo = a;
	h->md = NULL;
	h->crc = 0;
	if (a == BP_HASH_CRC32 || a == BP_HASH_CRC16_CCITT)
		return 0;
	if (!md)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "unknown hash algorithm %d", (int)a);
	h->md = EVP_MD_CTX_new();
	if (!h->md)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	if (!EVP_DigestInit_ex(h->md, md, NULL)) {
		bpi_hasher_free(h);
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "OpenSSL cannot start %s",
				   algos[a].name);
	}
	return 0;
}

int bpi_hasher_update(struct bpi_hasher *h, const void *p, size_t len, struct bp_diag *d)
{
	if (h->algo == BP_HASH_CRC32)
		h->crc = (uint32_t)crc32_z(h->crc, p, len);
	else if (h->algo == BP_HASH_CRC16_CCITT)
		h->crc = crc16_ccitt((uint16_t)h->crc, p, len);
	else if (!EVP_DigestUpdate(h->md, p, len))
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "OpenSSL failed to compute %s",
				   algos[h->algo].name);
	return 0;
}

int bpi_hasher_final(struct bpi_hasher *h, uint8_t out[BP_HASH_MAX_LEN], struct bp_diag *d)
{
	unsigned int n = 0;
	int ok;

	/* U-Boot stores CRCs big-endian (cpu_to_uimage). */
	if (h->algo == BP_HASH_CRC32) {
		bpi_put_be32(out, h->crc);
		return 0;
	}
	if (h->algo == BP_HASH_CRC16_CCITT) {
		out[0] = (uint8_t)(h->crc >> 8);
		out[1] = (uint8_t)h->crc;
		return 0;
	}
	ok = EVP_DigestFinal_ex(h->md, out, &n) && n == algos[h->algo].len;
	bpi_hasher_free(h);
	if (!ok)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "OpenSSL failed to compute %s",
				   algos[h->algo].name);
	return 0;
}

void bpi_hasher_free(struct bpi_hasher *h)
{
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

int bp_hash(enum bp_hash_algo a, const void *p, size_t len, uint8_t out[BP_HASH_MAX_LEN],
	    struct bp_diag *d)
{
	struct bpi_hasher h;
	int ret;

	bp_diag_clear(d);
	ret = bpi_hasher_init(&h, a, d);
	if (!ret)
		ret = bpi_hasher_update(&h, p, len, d);
	if (!ret)
		return bpi_hasher_final(&h, out, d);
	bpi_hasher_free(&h);
	return ret;
}
