// SPDX-License-Identifier: MIT
/*
 * FIT hash algorithms: crc32 through zlib, the digests through OpenSSL's
 * EVP interface (which picks the CPU's SHA extensions when present).
 */
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include <bootpack/hash.h>

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
static uint16_t crc16_ccitt(const uint8_t *p, size_t len)
{
	uint16_t crc = 0;

	while (len--) {
		crc ^= (uint16_t)(*p++ << 8);
		for (int i = 0; i < 8; i++)
			crc = (uint16_t)(crc & 0x8000 ? crc << 1 ^ 0x1021 : crc << 1);
	}
	return crc;
}

int bp_hash(enum bp_hash_algo a, const void *p, size_t len, uint8_t out[BP_HASH_MAX_LEN],
	    struct bp_diag *d)
{
	const EVP_MD *md;
	unsigned int n = 0;

	if (a == BP_HASH_CRC32) {
		/* U-Boot stores the crc32 big-endian (cpu_to_uimage). */
		uLong c = crc32_z(0, p, len);

		out[0] = (uint8_t)(c >> 24);
		out[1] = (uint8_t)(c >> 16);
		out[2] = (uint8_t)(c >> 8);
		out[3] = (uint8_t)c;
		return 0;
	}
	if (a == BP_HASH_CRC16_CCITT) {
		uint16_t c = crc16_ccitt(p, len);

		out[0] = (uint8_t)(c >> 8);
		out[1] = (uint8_t)c;
		return 0;
	}
	md = evp_md(a);
	if (!md)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "unknown hash algorithm %d", (int)a);
	if (!EVP_Digest(p, len, out, &n, md, NULL) || n != algos[a].len)
		return bp_diag_set(d, BP_ERR_CODEC, NULL, "OpenSSL failed to compute %s",
				   algos[a].name);
	return 0;
}
