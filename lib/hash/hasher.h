/* SPDX-License-Identifier: MIT */
/* Internal: incremental hashing, for data that passes through in pieces. */
#ifndef BP_HASHER_H
#define BP_HASHER_H

#include <stddef.h>
#include <stdint.h>

#include <bootpack/hash.h>

struct evp_md_ctx_st;

struct bpi_hasher {
	enum bp_hash_algo algo;
	struct evp_md_ctx_st *md;   /* OpenSSL digests; NULL for the CRCs */
	uint32_t crc;
};

int bpi_hasher_init(struct bpi_hasher *h, enum bp_hash_algo a, struct bp_diag *d);
/* Returns 0, or BP_ERR_CODEC when OpenSSL fails. */
int bpi_hasher_update(struct bpi_hasher *h, const void *p, size_t len, struct bp_diag *d);
/* Writes bp_hash_len() bytes to @out (big-endian CRCs, as U-Boot) and frees @h. */
int bpi_hasher_final(struct bpi_hasher *h, uint8_t out[BP_HASH_MAX_LEN], struct bp_diag *d);
/* Release @h without a result; safe after final and on a zeroed struct. */
void bpi_hasher_free(struct bpi_hasher *h);

#endif
