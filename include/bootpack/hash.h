/* SPDX-License-Identifier: MIT */
/*
 * The hash algorithms of FIT "hash-N" nodes, with the value encodings
 * U-Boot and mkimage use (crc32 and crc16-ccitt as big-endian words).
 *
 * Every function here that takes a struct bp_diag clears it on entry, so
 * after a success it is empty and after a failure it holds only this
 * call's reason.
 */
#ifndef BOOTPACK_HASH_H
#define BOOTPACK_HASH_H

#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bp_hash_algo {
	BP_HASH_CRC32 = 0,
	BP_HASH_MD5,
	BP_HASH_SHA1,
	BP_HASH_SHA256,
	BP_HASH_SHA384,
	BP_HASH_SHA512,
	BP_HASH_CRC16_CCITT,     /* U-Boot's "crc16-ccitt": XMODEM, big-endian */
	BP_HASH_COUNT
};

/* Longest value of any algorithm (sha512). */
#define BP_HASH_MAX_LEN 64

/*
 * Look up an algorithm by its FIT "algo" name ("crc32", "sha256", ...).
 * Returns 0, or BP_ERR_UNSUPPORTED with the reason in @d (not repeating @name).
 */
int bp_hash_from_name(const char *name, enum bp_hash_algo *out, struct bp_diag *d);

/* FIT "algo" name of @a, or NULL when out of range. */
const char *bp_hash_name(enum bp_hash_algo a);

/* Length in bytes of the value of @a, or 0 when out of range. */
size_t bp_hash_len(enum bp_hash_algo a);

/*
 * Hash @len bytes at @p into @out (bp_hash_len(@a) bytes are written).
 * Returns 0, BP_ERR_INVALID for an unknown @a, or BP_ERR_CODEC when the
 * crypto library fails.
 */
int bp_hash(enum bp_hash_algo a, const void *p, size_t len, uint8_t out[BP_HASH_MAX_LEN],
	    struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
