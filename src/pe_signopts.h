/* SPDX-License-Identifier: MIT */
/*
 * The Authenticode signing options shared by pe sign and the section edits
 * (--key, --cert, --chain, --digest, --signing-time, --pin), and the zboot
 * inner-Image warning every command that signs prints.
 */
#ifndef BP_PE_SIGNOPTS_H
#define BP_PE_SIGNOPTS_H

#include <stdbool.h>

#include <bootpack/authenticode.h>
#include <bootpack/pe.h>

/* Option keys: clear of the commands' own (256 and up) and of the short letters. */
enum { PE_OPT_CHAIN = 0x200, PE_OPT_DIGEST, PE_OPT_SIGNING_TIME, PE_OPT_PIN };

/* The option table entries, for a command's struct cli_opt array. */
#define PE_SIGN_CLI_OPTS                                                                   \
	{ "key", required_argument, 'k', "KEY",                                            \
	  "private key: a PEM file or a pkcs11: URI" },                                    \
	{ "cert", required_argument, 'c', "CERT",                                          \
	  "the key's X.509 certificate (PEM or DER)" },                                    \
	{ "chain", required_argument, PE_OPT_CHAIN, "FILE",                                \
	  "also carry the certificates in FILE (PEM),\ne.g. intermediate CAs" },          \
	{ "digest", required_argument, PE_OPT_DIGEST, "ALGO",                              \
	  "sha256 (default), sha384 or sha512" },                                          \
	{ "signing-time", required_argument, PE_OPT_SIGNING_TIME, "WHEN",                  \
	  "add a signingTime: SECONDS since 1970, now,\nor none (default: $SOURCE_DATE_EPOCH "\
	  "if set,\nelse none)" },                                                         \
	{ "pin", required_argument, PE_OPT_PIN, "PIN", "the PKCS#11 token's user PIN" }

struct pe_signopts {
	const char *key, *cert, *chain, *pin;
	const char *signing_time;   /* as given, or NULL */
	enum bp_hash_algo digest;   /* BP_HASH_SHA256 unless --digest */
	bool any;                   /* one of the options was given */
};

#define PE_SIGNOPTS_INIT { .digest = BP_HASH_SHA256 }

/*
 * Take option @key if it is one of PE_SIGN_CLI_OPTS: 0, or EXIT_USAGE after
 * a usage error of @cmd. PE_SIGNOPTS_NOT_MINE when @key is not a signing option.
 */
#define PE_SIGNOPTS_NOT_MINE (-1)
int pe_signopts_set(struct pe_signopts *s, const char *cmd, int key, const char *val);

/*
 * --digest and pe hash's ALGO: @val among sha256, sha384, sha512 (and sha1
 * when @sha1_ok). 0 or EXIT_USAGE.
 */
int pe_digest_opt(const char *cmd, const char *val, bool sha1_ok, enum bp_hash_algo *out);

/* Usage checks once all options are in: --key and --cert go together. 0 or EXIT_USAGE. */
int pe_signopts_check(const struct pe_signopts *s, const char *cmd);

/*
 * Fill @o (cert, chain, digest, signing time from --signing-time or
 * SOURCE_DATE_EPOCH; mode left alone) and open the key into *@k. 0, or
 * EXIT_FAIL after printing why (then *@k is NULL).
 */
int pe_signopts_prepare(const struct pe_signopts *s, struct bp_pe_sign_opts *o,
			struct bp_key **k);

/*
 * A signed zboot image whose decompressor hands an unsigned inner Image to
 * LoadImage() (Linux before 6.2) is refused under Secure Boot all the same:
 * one warning line on stderr for @path, just signed. Nothing for other images.
 */
void pe_warn_inner_unsigned(const char *path, const struct bp_pe *pe);

#endif
