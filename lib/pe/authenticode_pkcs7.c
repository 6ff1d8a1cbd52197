// SPDX-License-Identifier: MIT
/*
 * Building an Authenticode SignedData with OpenSSL's PKCS#7 API.
 *
 * The SignerInfo is assembled and signed here, not by PKCS7_dataFinal():
 * that function adds a signingTime attribute of the wall clock by itself,
 * which would make every signature different. The authenticated attributes
 * are exactly contentType (SpcIndirectDataContent), SpcSpOpusInfo (empty,
 * as sbsign writes it; Linux's PKCS#7 parser expects one in Authenticode),
 * messageDigest (over the SpcIndirectDataContent's content octets, without
 * its SEQUENCE header, as Authenticode defines it) and, only when asked,
 * signingTime. They are DER-encoded as the sorted SET OF that is signed
 * (PKCS7_ATTR_SIGN, which also puts the stored list in that order) and
 * signed through lib/sig: RSA PKCS#1 v1.5 (deterministic), or ECDSA with
 * RFC 6979 nonces for file keys, so the same inputs give the same bytes.
 * Token keys sign on the token, under the key's lock (their ECDSA is
 * randomised).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "authenticode_internal.h"
#include "sig/sig_internal.h"

static int ssl_fail(struct bp_diag *d, const char *what)
{
	return bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, what);
}

/* The content: an SpcIndirectDataContent, and the digest of its content octets. */
static int set_content(PKCS7 *p7, const struct bpi_p7_req *r, uint8_t *md, unsigned int *md_len,
		       struct bp_diag *d)
{
	PKCS7 *inner = PKCS7_new();
	ASN1_STRING *s = ASN1_STRING_new();
	uint8_t *spc = NULL;
	const uint8_t *p;
	long n;
	int len = 0, tag, cls;

	if (!inner || !s || bpi_spc_encode(r->algo, r->digest, &spc, &len))
		goto fail;
	p = spc;
	if (ASN1_get_object(&p, &n, &tag, &cls, len) & 0x80 ||
	    !EVP_Digest(p, (size_t)n, md, md_len, bpi_sig_md(r->algo), NULL))
		goto fail;
	ASN1_STRING_set0(s, spc, len);
	spc = NULL;
	inner->type = OBJ_txt2obj(BPI_OID_SPC_INDIRECT_DATA, 1);
	if (!inner->type || !(inner->d.other = ASN1_TYPE_new()))
		goto fail;
	ASN1_TYPE_set(inner->d.other, V_ASN1_SEQUENCE, s);
	s = NULL;
	if (!PKCS7_set_content(p7, inner))
		goto fail;
	return 0;
fail:
	OPENSSL_free(spc);
	ASN1_STRING_free(s);
	PKCS7_free(inner);
	return ssl_fail(d, "cannot build the SpcIndirectDataContent");
}

static int add_certs(PKCS7 *p7, const struct bpi_p7_req *r, struct bp_diag *d)
{
	if (!PKCS7_add_certificate(p7, r->cert))
		return ssl_fail(d, "cannot add the certificate");
	for (int i = 0; r->extra && i < sk_X509_num(r->extra); i++) {
		X509 *x = sk_X509_value(r->extra, i);

		if (!X509_cmp(x, r->cert))
			continue;
		if (!PKCS7_add_certificate(p7, x))
			return ssl_fail(d, "cannot add a chain certificate");
	}
	return 0;
}

static int sig_algorithms(PKCS7_SIGNER_INFO *si, const struct bpi_p7_req *r, bool ec)
{
	static const int ec_nids[BP_HASH_COUNT] = {
		[BP_HASH_SHA256] = NID_ecdsa_with_SHA256,
		[BP_HASH_SHA384] = NID_ecdsa_with_SHA384,
		[BP_HASH_SHA512] = NID_ecdsa_with_SHA512,
	};

	if (!X509_ALGOR_set0(si->digest_alg, OBJ_nid2obj(EVP_MD_get_type(bpi_sig_md(r->algo))),
			     V_ASN1_NULL, NULL))
		return -1;
	if (ec)
		return X509_ALGOR_set0(si->digest_enc_alg, OBJ_nid2obj(ec_nids[r->algo]),
				       V_ASN1_UNDEF, NULL) ? 0 : -1;
	return X509_ALGOR_set0(si->digest_enc_alg, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL,
			       NULL) ? 0 : -1;
}

/* Signer identification, algorithms and authenticated attributes. */
static int fill_signer(PKCS7_SIGNER_INFO *si, const struct bpi_p7_req *r, bool ec,
		       const uint8_t *md, unsigned int md_len)
{
	static const uint8_t empty_seq[] = { 0x30, 0x00 };
	PKCS7_ISSUER_AND_SERIAL *ias = si->issuer_and_serial;
	ASN1_OBJECT *type = OBJ_txt2obj(BPI_OID_SPC_INDIRECT_DATA, 1);
	ASN1_OBJECT *opus = OBJ_txt2obj(BPI_OID_SPC_SP_OPUS_INFO, 1);
	ASN1_TIME *t = NULL;
	int ok;

	ok = type && opus && ASN1_INTEGER_set(si->version, 1) &&
	     X509_NAME_set(&ias->issuer, X509_get_issuer_name(r->cert)) &&
	     ASN1_STRING_copy(ias->serial, X509_get0_serialNumber(r->cert)) &&
	     !sig_algorithms(si, r, ec) &&
	     PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, type);
	if (ok)
		type = NULL;
	ok = ok && X509at_add1_attr_by_OBJ(&si->auth_attr, opus, V_ASN1_SEQUENCE, empty_seq,
					   sizeof(empty_seq)) &&
	     PKCS7_add1_attrib_digest(si, md, (int)md_len);
	if (ok && r->has_signing_time) {
		/*
		 * UTCTime up to 2049, GeneralizedTime after (RFC 5652), and tagged as
		 * what it is: PKCS7_add0_attrib_signing_time() tags any time UTCTime.
		 */
		t = ASN1_TIME_set(NULL, (time_t)r->signing_time);
		ok = t && PKCS7_add_signed_attribute(si, NID_pkcs9_signingTime,
						     ASN1_STRING_type(t), t);
		if (!ok)
			ASN1_TIME_free(t);
	}
	ASN1_OBJECT_free(type);
	ASN1_OBJECT_free(opus);
	return ok ? 0 : -1;
}

/* lib/sig's r || s as the DER ECDSA-Sig-Value that CMS carries. */
static int ecdsa_der(const uint8_t *value, size_t len, uint8_t **der)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(value, (int)len / 2, NULL);
	BIGNUM *s = BN_bin2bn(value + len / 2, (int)len / 2, NULL);
	int n = -1;

	if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(sig, der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return n;
}

/* Sign the DER of the attributes (a SET OF, sorted) with the key. */
static int sign_attrs(PKCS7_SIGNER_INFO *si, const struct bpi_p7_req *r, struct bp_diag *d)
{
	uint8_t *attrs = NULL, value[BPI_SIG_MAX_LEN], *der = NULL;
	struct bpi_sig_algo a;
	char name[32];
	unsigned int bits;
	enum bpi_key_type t = bpi_key_type(r->key->pub, &bits);
	int alen, n, ret;

	snprintf(name, sizeof(name), "%s,%s%u", bp_hash_name(r->algo),
		 t == BPI_KEY_EC ? "ecdsa" : "rsa", bits);
	ret = bpi_sig_algo_parse(name, NULL, &a, d);
	if (ret)
		return ret;
	alen = ASN1_item_i2d((ASN1_VALUE *)si->auth_attr, &attrs, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	if (alen <= 0)
		return ssl_fail(d, "cannot encode the authenticated attributes");
	ret = bpi_sig_sign(r->key, &a, &(struct bpi_region){ attrs, (size_t)alen }, 1, value, d);
	OPENSSL_free(attrs);
	if (ret)
		return ret;
	if (a.kind == BPI_SIG_RSA) {
		ret = ASN1_STRING_set(si->enc_digest, value, (int)bpi_sig_len(&a)) ? 0 : -1;
	} else {
		n = ecdsa_der(value, bpi_sig_len(&a), &der);
		ret = n > 0 && ASN1_STRING_set(si->enc_digest, der, n) ? 0 : -1;
		OPENSSL_free(der);
	}
	return ret ? ssl_fail(d, "cannot store the signature") : 0;
}

static int build(PKCS7 *p7, const struct bpi_p7_req *r, struct bp_diag *d)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0, bits;
	PKCS7_SIGNER_INFO *si;
	bool ec = bpi_key_type(r->key->pub, &bits) == BPI_KEY_EC;
	int ret;

	if (!PKCS7_set_type(p7, NID_pkcs7_signed))
		return ssl_fail(d, "cannot create the SignedData");
	ret = set_content(p7, r, md, &md_len, d);
	if (!ret)
		ret = add_certs(p7, r, d);
	if (ret)
		return ret;
	si = PKCS7_SIGNER_INFO_new();
	if (!si || fill_signer(si, r, ec, md, md_len) || !PKCS7_add_signer(p7, si)) {
		PKCS7_SIGNER_INFO_free(si);
		return ssl_fail(d, "cannot build the SignerInfo");
	}
	return sign_attrs(si, r, d);
}

/* Read the result back as a verifier would: every property asked for, nothing else. */
static int check_back(const struct bpi_p7_req *r, const uint8_t *der, size_t len,
		      struct bp_diag *d)
{
	struct bpi_pe_sig s = { .pub.size = sizeof(s.pub) };
	char buf[BP_DIAG_MSG_MAX];
	const char *why;

	bpi_pe_sig_parse(&s, der, len);
	why = s.pub.parsed ? bpi_pe_sig_check_signature(&s, buf, sizeof(buf)) : s.pub.problem;
	if (!why && (s.pub.digest_algo != r->algo ||
		     memcmp(s.pub.digest, r->digest, bp_hash_len(r->algo))))
		why = "it does not hold the image digest";
	if (!why && s.pub.has_signing_time != r->has_signing_time)
		why = "its signingTime attribute is not as asked";
	if (why)
		bp_diag_set(d, BP_ERR_CODEC, NULL, "the signature made does not check: %s", why);
	bpi_pe_sig_clear(&s);
	return why ? BP_ERR_CODEC : 0;
}

int bpi_p7_sign(const struct bpi_p7_req *r, uint8_t **der, size_t *len, struct bp_diag *d)
{
	PKCS7 *p7 = PKCS7_new();
	int n, ret;

	*der = NULL;
	if (!p7)
		return ssl_fail(d, "out of memory");
	ret = build(p7, r, d);
	if (!ret) {
		n = i2d_PKCS7(p7, der);
		ret = n > 0 ? 0 : ssl_fail(d, "cannot encode the SignedData");
		*len = n > 0 ? (size_t)n : 0;
	}
	PKCS7_free(p7);
	/* A long chain can make it too large for EDK2, which reads two-byte lengths only. */
	if (!ret && bpi_edk2_readable(*der, *len, r->algo))
		ret = bp_diag_set(d, BP_ERR_TOOBIG, NULL, "the signature would be %zu bytes: %s; "
				  "carry fewer chain certificates", *len,
				  bpi_edk2_readable(*der, *len, r->algo));
	if (!ret)
		ret = check_back(r, *der, *len, d);
	if (ret) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	return ret;
}
