/* SPDX-License-Identifier: MIT */
/* Shared by the Authenticode files of lib/pe/ only (bpi_: not exported). */
#ifndef BP_AUTHENTICODE_INTERNAL_H
#define BP_AUTHENTICODE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <bootpack/authenticode.h>

#include "pe_internal.h"

/* Certificate table entries listed per image; a longer table is refused. */
#define BPI_WIN_CERT_MAX 64
#define BPI_WIN_CERT_HDR 8
/* WIN_CERT_TYPE_EFI_GUID: a WIN_CERTIFICATE_UEFI_GUID, the header and a CertType GUID. */
#define BPI_WIN_CERT_TYPE_EFI_GUID 0x0ef1
#define BPI_WIN_CERT_GUID_HDR 24

/*
 * What the Authenticode digest covers, found by bpi_pe_hash_plan(): with
 * the sections' raw data contiguous from SizeOfHeaders in file order (the
 * only layout hashed, see authenticode_digest.c), the digest is the bytes
 * [0, data_end) less the CheckSum field and the Security directory entry.
 */
struct bpi_pe_hash_plan {
	uint64_t checksum_at;       /* file offset of CheckSum */
	uint64_t secdir_at;         /* of the Security entry; 0 when there is none */
	uint64_t sections_end;      /* SizeOfHeaders + every SizeOfRawData */
	uint64_t data_end;          /* the certificate table's offset, or the file size */
};

/*
 * Check that @pe can be hashed unambiguously and say how (BP_ERR_FORMAT
 * with the reason otherwise).
 */
int bpi_pe_hash_plan(const struct bp_pe *pe, struct bpi_pe_hash_plan *p, struct bp_diag *d);

/*
 * The digest by @p of @pe's bytes, followed by @pad zero bytes (the
 * signer's padding to 8).
 */
int bpi_pe_hash(const struct bp_pe *pe, const struct bpi_pe_hash_plan *p, uint64_t pad,
		enum bp_hash_algo algo, uint8_t out[BP_HASH_MAX_LEN], struct bp_diag *d);

/* ---- SpcIndirectDataContent (authenticode_asn1.c) ---- */

#define BPI_OID_SPC_INDIRECT_DATA "1.3.6.1.4.1.311.2.1.4"
#define BPI_OID_SPC_PE_IMAGE_DATA "1.3.6.1.4.1.311.2.1.15"
#define BPI_OID_SPC_SP_OPUS_INFO "1.3.6.1.4.1.311.2.1.12"
/* What pesign puts in place of SPC_PE_IMAGE_DATA (Linux accepts both). */
#define BPI_OID_SPC_INDIVIDUAL_SP_KEY_PURPOSE "1.3.6.1.4.1.311.2.1.21"

/* The DER of an SpcIndirectDataContent for a PE image with digest @md (caller frees). */
int bpi_spc_encode(enum bp_hash_algo algo, const uint8_t *md, uint8_t **der, int *len);

/*
 * Read the SpcIndirectDataContent DER at @der: the digest algorithm and
 * value it holds. NULL, or a static message saying what is wrong.
 */
const char *bpi_spc_decode(const uint8_t *der, long len, enum bp_hash_algo *algo,
			   uint8_t md[BP_HASH_MAX_LEN]);

/* BP_HASH_SHA1..SHA512 for an AlgorithmIdentifier's OID, else BP_HASH_COUNT. */
enum bp_hash_algo bpi_hash_of_obj(const ASN1_OBJECT *o);

/*
 * NULL when EDK2's DxeImageVerificationLib can read the SignedData @der of
 * digest algorithm @algo (it takes the algorithm from fixed offset 32, so
 * the outer lengths must be two-byte encoded), else why not.
 */
const char *bpi_edk2_readable(const uint8_t *der, size_t len, enum bp_hash_algo algo);

/* Whether @o is the object @oid (dotted text). */
bool bpi_obj_is(const ASN1_OBJECT *o, const char *oid);

/* ---- Certificate table (win_cert.c) ---- */

/* One entry, as listed, with what the verifier needs kept alongside. */
struct bpi_pe_sig {
	struct bp_pe_signature pub;
	PKCS7 *p7;                  /* the SignedData, when parsed */
	X509 *signer;               /* its signer's certificate in @p7, or NULL */
	/* What messageDigest covers: SpcIndirectDataContent's content octets (in @p7). */
	const uint8_t *content;
	long content_len;
	char *problem, *subject, *issuer, *serial;  /* what @pub points to, owned */
};

struct bpi_pe_sigs {
	bool done;
	int err;                    /* the walk's result, and its message */
	char msg[BP_DIAG_MSG_MAX];
	size_t n;
	struct bpi_pe_sig *sig;
	/* The image digest per algorithm, computed once for digest_matches. */
	bool have_digest[BP_HASH_COUNT];
	int digest_err[BP_HASH_COUNT];
	uint8_t digest[BP_HASH_COUNT][BP_HASH_MAX_LEN];
	char digest_msg[BP_DIAG_MSG_MAX];
};

/* Parse the table once (locked); 0 or the walk's error, with its message in @d. */
int bpi_pe_sigs_get(const struct bp_pe *pe, struct bpi_pe_sigs **out, struct bp_diag *d);
void bpi_pe_sigs_free(struct bpi_pe_sigs *s);

/* Parse one entry's payload (after the 8-byte header) into @s. */
void bpi_pe_sig_parse(struct bpi_pe_sig *s, const uint8_t *p, size_t len);
/* Free what @s owns and zero it. */
void bpi_pe_sig_clear(struct bpi_pe_sig *s);

/*
 * NULL when the PKCS#7 signature of the parsed @s verifies with its signer's
 * certificate over its content, else why not (static, or written to @buf).
 */
const char *bpi_pe_sig_check_signature(const struct bpi_pe_sig *s, char *buf, size_t n);

/* ---- Signing (authenticode_pkcs7.c) ---- */

struct bp_key;

struct bpi_p7_req {
	const struct bp_key *key;
	X509 *cert;                 /* the signer's */
	STACK_OF(X509) *extra;      /* further certificates to carry (may be NULL) */
	enum bp_hash_algo algo;
	const uint8_t *digest;      /* the image's Authenticode digest */
	bool has_signing_time;
	int64_t signing_time;
};

/*
 * The DER of an Authenticode SignedData for @r (caller frees with
 * OPENSSL_free), checked by parsing and verifying it back.
 */
int bpi_p7_sign(const struct bpi_p7_req *r, uint8_t **der, size_t *len, struct bp_diag *d);

/*
 * Signing a digest computed elsewhere (authenticode_sign.c): open checks
 * @o, loads the certificates and checks @k as bp_pe_sign() does (@name is
 * the image in messages); sign makes the PKCS#7 DER for @digest (of
 * bpi_pe_signer_algo(); OPENSSL_free it).
 */
struct bpi_pe_signer;
int bpi_pe_signer_open(const struct bp_key *k, const struct bp_pe_sign_opts *o, const char *name,
		       struct bpi_pe_signer **out, struct bp_diag *d);
enum bp_hash_algo bpi_pe_signer_algo(const struct bpi_pe_signer *sg);
int bpi_pe_signer_sign(struct bpi_pe_signer *sg, const uint8_t *digest, uint8_t **der,
		       size_t *len, struct bp_diag *d);
void bpi_pe_signer_close(struct bpi_pe_signer *sg);

/* ---- Certificates (authenticode_certs.c) ---- */

/* Every certificate in @path (PEM, several, or one DER) pushed on @sk. */
int bpi_x509_load(const char *path, STACK_OF(X509) *sk, struct bp_diag *d);

/* @name as one line "CN=..., O=..." (RFC 2253 order, UTF-8, controls escaped); caller frees. */
char *bpi_x509_name(const X509_NAME *name);

#endif
