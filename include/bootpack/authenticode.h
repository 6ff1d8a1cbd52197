/* SPDX-License-Identifier: MIT */
/*
 * Authenticode: signing and verifying PE/COFF EFI images the way UEFI
 * Secure Boot (EDK2's DxeImageVerificationLib) and the kernel's
 * kexec_file_load (crypto/asymmetric_keys/verify_pefile.c) check them.
 *
 * The digest covers the headers up to SizeOfHeaders without the CheckSum
 * field and the Security data directory entry, then every section's raw data
 * in file order, then the bytes after the last section up to the certificate
 * table. A signature is a PKCS#7 SignedData whose content is an
 * SpcIndirectDataContent holding that digest, signed by one signer, in a
 * WIN_CERTIFICATE (revision 0x0200, type PKCS_SIGNED_DATA) of the certificate
 * table appended at the 8-aligned end of the image; CheckSum is recomputed.
 *
 * Reproducible: a signature carries no signing time unless asked for one,
 * RSA PKCS#1 v1.5 is deterministic and ECDSA with a file key uses RFC 6979
 * nonces, so the same image, key and certificate give the same bytes.
 * (Keys are those of <bootpack/sign.h>: PEM files or PKCS#11 URIs; a
 * token's ECDSA is randomised.)
 *
 * Images whose sections' raw data does not lie back to back from
 * SizeOfHeaders are not hashed: firmware (EDK2, Linux) hashes the bytes
 * from SizeOfHeaders plus the raw sizes, not from the end of the last
 * section, so such an image has bytes no signature covers.
 *
 * The certificate table is parsed on the first call that needs it and kept
 * until bp_pe_close(); these functions may be called from several threads
 * on one struct bp_pe.
 *
 * Growth rules: those at the top of <bootpack/fit.h>.
 */
#ifndef BOOTPACK_AUTHENTICODE_H
#define BOOTPACK_AUTHENTICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>
#include <bootpack/hash.h>
#include <bootpack/pe.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_key;

/* WIN_CERTIFICATE values. */
#define BP_WIN_CERT_REVISION_2_0 0x0200
#define BP_WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002

/*
 * The Authenticode digest of @pe with @algo (BP_HASH_SHA1/256/384/512) into
 * @out (bp_hash_len(@algo) bytes), as pesign -h and sbsign compute it.
 * BP_ERR_FORMAT when the image cannot be hashed unambiguously: SizeOfHeaders
 * before the section table, raw data overlapping, leaving a gap or running
 * past the certificate table or the file, a certificate table that is not
 * at the end of the file or lies outside it. BP_ERR_INVALID for another @algo.
 */
int bp_pe_digest(const struct bp_pe *pe, enum bp_hash_algo algo, uint8_t out[BP_HASH_MAX_LEN],
		 struct bp_diag *d);

/* ---- What an image's certificate table holds (no trust decision) ---- */

struct bp_pe_signature {
	size_t size;                /* set by the library */
	uint64_t offset;            /* file offset of its WIN_CERTIFICATE */
	uint32_t length;            /* dwLength, header included */
	uint16_t revision, type;    /* wRevision, wCertificateType */
	/*
	 * Set when the entry is an Authenticode PKCS#7 SignedData that UEFI
	 * firmware can read; else @problem says why not. The strings here live
	 * until bp_pe_close().
	 */
	bool parsed;
	const char *problem;        /* NULL when parsed */
	enum bp_hash_algo digest_algo;
	uint8_t digest[BP_HASH_MAX_LEN];  /* the image digest it signs */
	bool digest_matches;        /* equals bp_pe_digest() of this image */
	/*
	 * The signer certificate's subject, one line in RFC 2253 order ("CN=...,
	 * O=..."), UTF-8 with control characters escaped (escape it for a
	 * terminal all the same); NULL when the PKCS#7 does not carry it.
	 */
	const char *signer;
	const char *issuer;         /* its issuer, as the SignerInfo names it */
	const char *serial;         /* its serial number, lower-case hex bytes ("0a") */
	size_t n_certs;             /* certificates carried in the PKCS#7 */
	bool has_signing_time;
	int64_t signing_time;       /* Unix time, when has_signing_time */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

/*
 * Parse the certificate table of @pe (bounded, hostile input safe): the
 * number of WIN_CERTIFICATE entries in @n and each one through
 * bp_pe_signature_at() until bp_pe_close(). An image without a table has 0.
 * Fails only when the table itself cannot be walked: BP_ERR_RANGE when it
 * lies outside the file, BP_ERR_FORMAT when it overlaps the headers or a
 * section's raw data, its offset is not 8-aligned, an entry's length is
 * below 8 or (padded to 8) past the table, a PKCS_SIGNED_DATA or EFI_GUID
 * entry holds no data, 8 bytes or fewer are left for an entry, or it has
 * more than 64 entries: where UEFI firmware (EDK2) stops walking a table,
 * it refuses the image. An entry that is not an Authenticode signature is
 * listed with its problem. bp_pe_signature_at() is NULL past the end, and
 * before bp_pe_signatures() was called.
 */
int bp_pe_signatures(const struct bp_pe *pe, size_t *n, struct bp_diag *d);
const struct bp_pe_signature *bp_pe_signature_at(const struct bp_pe *pe, size_t i);

/* ---- Verification against certificates ---- */

struct bp_pe_verify_opts {
	size_t size;                /* BP_PE_VERIFY_OPTS_INIT */
	/*
	 * Trusted certificates, as files (PEM, several per file, or DER): a
	 * signature is trusted when its signer's chain, built from the
	 * certificates the PKCS#7 carries, reaches one of them (the signer's
	 * own certificate counts, as in a UEFI db). Expiry, key usage and
	 * extended key usage are not checked (firmware does not either). None
	 * given: nothing is trusted, the rest is still checked.
	 */
	const char *const *certs;
	size_t n_certs;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_PE_VERIFY_OPTS_INIT { .size = sizeof(struct bp_pe_verify_opts) }

/* The verdict on one signature. */
struct bp_pe_sig_check {
	size_t size;                /* set by the library */
	size_t index;               /* bp_pe_signature_at(index) */
	bool digest_ok;             /* the signed digest equals the image's */
	bool signature_ok;          /* the PKCS#7 signature verifies with its signer certificate */
	bool trusted;               /* and the signer chains to a given certificate */
	const char *msg;            /* one line: what verified, or why not (valid during the call) */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

typedef void (*bp_pe_sig_check_fn)(void *ctx, const struct bp_pe_sig_check *c);

/*
 * Check every signature of @pe against @o's certificates, calling @fn (may
 * be NULL) once per signature in table order. *@n_good (may be NULL) is the
 * number with digest_ok, signature_ok and trusted all true. Returns 0 when
 * the checks ran (whatever their verdicts), or an error (unreadable
 * certificate file: BP_ERR_IO/BP_ERR_FORMAT, unwalkable table...).
 */
int bp_pe_verify(const struct bp_pe *pe, const struct bp_pe_verify_opts *o, bp_pe_sig_check_fn fn,
		 void *ctx, size_t *n_good, struct bp_diag *d);

/* ---- Signing ---- */

enum bp_pe_sign_mode {
	BP_PE_SIGN_NEW = 0,         /* refuse an image that is already signed */
	BP_PE_SIGN_APPEND,          /* add a WIN_CERTIFICATE after the existing ones (sbsign's way) */
	BP_PE_SIGN_REPLACE,         /* drop the existing signatures, then sign */
};

struct bp_pe_sign_opts {
	size_t size;                /* BP_PE_SIGN_OPTS_INIT */
	/* Signer certificate file (PEM or DER); required. More PEM certificates in it are carried too. */
	const char *cert;
	const char *chain;          /* further certificates to carry (PEM file), or NULL */
	enum bp_hash_algo digest;   /* 0 (CRC32) means BP_HASH_SHA256; SHA384/512 selectable */
	enum bp_pe_sign_mode mode;
	bool has_signing_time;      /* add a signingTime attribute of @signing_time */
	int64_t signing_time;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_PE_SIGN_OPTS_INIT { .size = sizeof(struct bp_pe_sign_opts) }

/*
 * Sign @pe with @k (its certificate in @o->cert must hold @k's public key:
 * RSA 2048, 3072 or 4096 bits, EC P-256 or P-384) and write the image to
 * @out_path atomically (may be the input's path). The image must have no
 * errors and a Security directory entry; the signature goes at the 8-aligned
 * end of the image data (zero padding added and hashed), the Security
 * directory points at the table, CheckSum is recomputed. Nothing is written
 * on failure. BP_ERR_UNSUPPORTED for a signed image in BP_PE_SIGN_NEW mode,
 * BP_ERR_INVALID for a key the certificate does not match, BP_ERR_TOOBIG
 * for a signature (with its chain) over the 64 KiB EDK2 can read.
 */
int bp_pe_sign(const struct bp_pe *pe, const struct bp_key *k, const struct bp_pe_sign_opts *o,
	       const char *out_path, struct bp_diag *d);

/*
 * bp_pe_edit() and sign the result in one step (strip the old signature,
 * edit, sign; one atomic write): @e->strip_signature is implied and
 * @o->mode is ignored (the edit invalidates every signature there was).
 */
int bp_pe_edit_sign(const struct bp_pe *pe, const struct bp_pe_edit *e, const struct bp_key *k,
		    const struct bp_pe_sign_opts *o, const char *out_path, struct bp_diag *d);

/* ---- zboot: is the inner kernel Image signed? ---- */

enum bp_zboot_inner_sig {
	BP_ZBOOT_INNER_UNKNOWN = 0, /* the payload could not be decompressed */
	BP_ZBOOT_INNER_UNSIGNED,    /* the inner Image is a PE without a certificate table */
	BP_ZBOOT_INNER_SIGNED,      /* it has one (not verified) */
	BP_ZBOOT_INNER_NOT_PE,      /* the inner Image has no PE header */
};

/* What bp_zboot_inner() found; the caller sets size (BP_ZBOOT_INNER_INIT), like a stats struct. */
struct bp_zboot_inner {
	size_t size;
	enum bp_zboot_inner_sig sig;
	char version[65];           /* "6.1.0-13-arm64" from the Image's "Linux version " banner, or "" */
	unsigned int major, minor;  /* of @version; 0 when unknown */
	/*
	 * Its decompressor (same kernel tree) hands the inner Image to the
	 * firmware's LoadImage(), which Secure Boot checks too: an image signed
	 * outside with an unsigned inner Image is refused. True for releases
	 * before BP_ZBOOT_LOADIMAGE_FIXED, and when the version is unknown.
	 */
	bool loads_inner_image;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_ZBOOT_INNER_INIT { .size = sizeof(struct bp_zboot_inner) }

/*
 * For a zboot image (BP_ERR_FORMAT if @pe is not one): decompress the
 * payload in memory (bounded by @max, 0 = BP_ZBOOT_MAX_DEFAULT) and say
 * whether the inner Image carries a signature and which kernel it is.
 * When the payload cannot be decompressed, *@out is still filled (sig
 * BP_ZBOOT_INNER_UNKNOWN, loads_inner_image true) and the error returned,
 * with bp_zboot_extract()'s reason in @d.
 */
int bp_zboot_inner(const struct bp_pe *pe, uint64_t max, struct bp_zboot_inner *out,
		   struct bp_diag *d);

/*
 * The first Linux release (major * 100 + minor) whose zboot decompressor
 * starts the inner kernel itself instead of through LoadImage(): 6.2, with
 * commit c51e97e7f129 "efi: libstub: Merge zboot decompressor with the
 * ordinary stub" (see lib/pe/zboot_inner.c).
 */
#define BP_ZBOOT_LOADIMAGE_FIXED 602

#ifdef __cplusplus
}
#endif

#endif
