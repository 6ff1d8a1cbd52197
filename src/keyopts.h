/* SPDX-License-Identifier: MIT */
/*
 * Option values shared by the commands that sign or take keys (fit sign,
 * fit key add, fit build --sign): algorithm and padding names, --required,
 * opening a key, SOURCE_DATE_EPOCH. Each prints its own error.
 */
#ifndef BP_KEYOPTS_H
#define BP_KEYOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/sign.h>

/* Room for "sha512,ecdsa384" and the like. */
#define KEYOPTS_ALGO_MAX 32

/*
 * --algo: "sha256,rsa2048"... as U-Boot names it, or a hash alone ("sha384")
 * to pair with the key's type. Anything else is a usage error of @cmd.
 */
int keyopts_algo(const char *cmd, const char *val);
/* --padding: "pkcs-1.5" or "pss". */
int keyopts_padding(const char *cmd, const char *val);
/* --required: "conf" or "image". */
int keyopts_required(const char *cmd, const char *val, enum bp_key_required *out);
/* --key-name: a name that makes a devicetree node name key-NAME. */
int keyopts_key_name(const char *cmd, const char *val);

/*
 * Open @spec (a PEM file or a pkcs11: URI): the private key, or with
 * @public_only its public half (a certificate or public key will do).
 * 0, or EXIT_FAIL after printing the library's reason.
 */
int keyopts_open(const char *spec, const char *pin, bool public_only, struct bp_key **out);

/*
 * The algorithm to ask the library for: @algo as given, or for a hash alone
 * the full name for @k ("sha384" -> "sha384,rsa2048") in @buf; NULL (the
 * library's default) when @algo is NULL. 0 or EXIT_FAIL.
 */
int keyopts_resolve_algo(const struct bp_key *k, const char *algo, char *buf, size_t size,
			 const char **out);

/*
 * SOURCE_DATE_EPOCH: *@set false when it is not in the environment, else
 * its value in @out. 0, or EXIT_FAIL for a value that is not a 32-bit count
 * of seconds.
 */
int keyopts_source_date_epoch(bool *set, uint32_t *out);

#endif
