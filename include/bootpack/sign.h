/* SPDX-License-Identifier: MIT */
/*
 * Signing keys and U-Boot verified boot for FIT images.
 *
 * A key is opened from a PEM private key file (RSA, EC P-256/P-384) or from a
 * PKCS#11 URI ("pkcs11:token=...;object=...", through OpenSSL's pkcs11
 * engine), so a key that never leaves its token signs the same way.
 *
 * bp_fit_sign() adds configuration (or image) signature nodes to a FIT as
 * `mkimage -F -k` does; bp_fit_key_add() writes the public key into U-Boot's
 * control devicetree as `mkimage -K -r` does; bp_fit_verify() checks
 * signatures against such a control devicetree when given one (see
 * struct bp_fit_verify_opts in <bootpack/fit.h>).
 *
 * Signatures are reproducible: RSA PKCS#1 v1.5 is deterministic, RSA-PSS is
 * written with a zero-length salt (U-Boot verifies any salt length), and
 * ECDSA uses RFC 6979 deterministic nonces. Keys held in a PKCS#11 token
 * sign with whatever the token does: ECDSA there is randomised; PSS asks the
 * token for a zero-length salt too (SoftHSM2 honours it).
 *
 * A PKCS#11 URI must name its key (object= or id=). The module is the
 * pkcs11 engine's: $PKCS11_MODULE_PATH, else p11-kit's proxy. A login lasts
 * as long as the process keeps the module loaded (PKCS#11 logins are per
 * application), so a second key of a token already logged in opens without
 * its PIN being checked again.
 *
 * Growth rules: those at the top of <bootpack/fit.h>.
 */
#ifndef BOOTPACK_SIGN_H
#define BOOTPACK_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Keys ---- */

/* A private key (file or token), or, for bp_fit_key_add(), a public one. Opaque. */
struct bp_key;

/*
 * Open @spec: a path to a PEM private key, or a PKCS#11 URI. @pin may be NULL
 * (then a "pin-value=" in the URI, or none, is used). A certificate or a
 * public key is BP_ERR_FORMAT here: signing needs the private half.
 */
int bp_key_open(const char *spec, const char *pin, struct bp_key **out, struct bp_diag *d);

/*
 * Open @spec for its public half only: a PEM private key, public key or
 * X.509 certificate, or a PKCS#11 URI.
 */
int bp_key_open_public(const char *spec, const char *pin, struct bp_key **out,
		       struct bp_diag *d);

void bp_key_close(struct bp_key *k);

/*
 * The key's default name, mkimage's key-name-hint: the file name without its
 * directory and a ".key", ".pem" or ".crt" suffix ("keys/dev.key" -> "dev"), or
 * the URI's "object=" value.
 */
const char *bp_key_name(const struct bp_key *k);

/*
 * The U-Boot algorithm name for @k with hash @hash ("sha256"):
 * "sha256,rsa2048", "sha384,ecdsa384"... into @buf. BP_ERR_UNSUPPORTED for a
 * key U-Boot cannot verify (RSA size other than 2048/3072/4096, other curves).
 */
int bp_key_algo(const struct bp_key *k, const char *hash, char *buf, size_t bufsz,
		struct bp_diag *d);

/* ---- Signing a FIT ---- */

/* What a signature covers. */
enum bp_fit_sign_what {
	BP_FIT_SIGN_CONFIGS = 0,   /* configuration signatures (the default) */
	BP_FIT_SIGN_IMAGES,        /* a signature node under every image */
};

struct bp_fit_sign_opts {
	size_t size;               /* sizeof(struct bp_fit_sign_opts) */
	const char *algo;          /* "sha256,rsa2048"...; NULL = sha256 and the key's type */
	const char *padding;       /* NULL or "pkcs-1.5" (default), "pss" (RSA only) */
	const char *key_name;      /* key-name-hint; NULL = bp_key_name() */
	enum bp_fit_sign_what what;
	const char *const *configs;/* configurations to sign; NULL = all */
	size_t n_configs;
	bool has_timestamp;        /* signature "timestamp"; else the root's, else 0 */
	uint32_t timestamp;
	const char *signer_name;   /* NULL = "bootpack" */
	const char *signer_version;/* NULL = the library's version */
	unsigned int jobs;         /* signing threads; 0 = 1 */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;  /* test-only */
#endif
};

#define BP_FIT_SIGN_OPTS_INIT { .size = sizeof(struct bp_fit_sign_opts) }

struct bp_fit_sign_stats {
	size_t size;               /* sizeof(struct bp_fit_sign_stats) */
	size_t n_signed;           /* signature nodes written */
	size_t n_replaced;         /* of those, existing ones (same key name) replaced */
	size_t n_hashes_added;     /* sha256 hash nodes added to images lacking one */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;  /* test-only */
#endif
};

#define BP_FIT_SIGN_STATS_INIT { .size = sizeof(struct bp_fit_sign_stats) }

/*
 * Sign the FIT at @in_path (embedded or external data) into @out_path (which
 * may equal @in_path; written to a temporary file and renamed). Images lacking
 * a hash node get a sha256 one, as U-Boot needs for a signed configuration.
 * A tree U-Boot would reject under enforced signatures (an '@' in an image or
 * configuration name...) is BP_ERR_FORMAT and nothing is written.
 */
int bp_fit_sign(const char *in_path, const struct bp_key *k, const struct bp_fit_sign_opts *o,
		const char *out_path, struct bp_fit_sign_stats *st, struct bp_diag *d);

/* ---- Public keys in U-Boot's control devicetree ---- */

enum bp_key_required {
	BP_KEY_REQUIRED_NONE = 0,
	BP_KEY_REQUIRED_CONF,      /* required = "conf" */
	BP_KEY_REQUIRED_IMAGE,     /* required = "image" */
};

struct bp_fit_key_add_opts {
	size_t size;               /* sizeof(struct bp_fit_key_add_opts) */
	const char *key_name;      /* NULL = bp_key_name(); node is /signature/key-NAME */
	const char *algo;          /* NULL = sha256 and the key's type */
	enum bp_key_required required;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;  /* test-only */
#endif
};

#define BP_FIT_KEY_ADD_OPTS_INIT { .size = sizeof(struct bp_fit_key_add_opts) }

/*
 * Write @k's public key into the devicetree at @dtb_in as U-Boot reads it
 * (/signature/key-NAME: rsa,num-bits, rsa,modulus, rsa,exponent,
 * rsa,r-squared, rsa,n0-inverse or ecdsa,curve, ecdsa,x-point, ecdsa,y-point;
 * algo, key-name-hint, required), replacing a key node of the same name, and
 * write the result to @out_path (may equal @dtb_in).
 */
int bp_fit_key_add(const char *dtb_in, const struct bp_key *k, const struct bp_fit_key_add_opts *o,
		   const char *out_path, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
