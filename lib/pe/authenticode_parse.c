// SPDX-License-Identifier: MIT
/*
 * One WIN_CERTIFICATE's data read as an Authenticode signature: a DER
 * PKCS#7 SignedData whose content is an SpcIndirectDataContent, with one
 * signer. What the firmware could not use is said in the entry's problem;
 * nothing here decides trust (authenticode_verify.c does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "authenticode_internal.h"

static void fail(struct bpi_pe_sig *s, const char *why)
{
	PKCS7_free(s->p7);
	s->p7 = NULL;
	s->signer = NULL;
	s->pub.parsed = false;
	/* A copy: @why may be a caller's buffer. */
	free(s->problem);
	s->problem = strdup(why);
	s->pub.problem = s->problem ? s->problem : "out of memory";
}

/* The digest algorithm @o names, as bootpack names it, else its OID (in @buf). */
static const char *algo_text(const ASN1_OBJECT *o, char *buf, size_t n)
{
	enum bp_hash_algo a = bpi_hash_of_obj(o);

	if (a != BP_HASH_COUNT)
		return bp_hash_name(a);
	if (!o || OBJ_obj2txt(buf, (int)n, o, 1) <= 0)
		snprintf(buf, n, "unknown");
	return buf;
}

/* The SpcIndirectDataContent DER, and its content octets (what messageDigest covers). */
static const char *content_of(struct bpi_pe_sig *s, const uint8_t **der, long *len)
{
	PKCS7 *c = s->p7->d.sign ? s->p7->d.sign->contents : NULL;
	const ASN1_STRING *seq;
	const uint8_t *p;
	long n;
	int tag, cls;

	if (!c || !bpi_obj_is(c->type, BPI_OID_SPC_INDIRECT_DATA))
		return "its content is not an SpcIndirectDataContent (1.3.6.1.4.1.311.2.1.4)";
	if (!c->d.other || c->d.other->type != V_ASN1_SEQUENCE || !(seq = c->d.other->value.sequence))
		return "its SpcIndirectDataContent is missing or not a SEQUENCE";
	*der = p = ASN1_STRING_get0_data(seq);
	*len = ASN1_STRING_length(seq);
	if (ASN1_get_object(&p, &n, &tag, &cls, *len) & 0x80 || tag != V_ASN1_SEQUENCE) {
		ERR_clear_error();
		return "its SpcIndirectDataContent is malformed";
	}
	s->content = p;
	s->content_len = n;
	return NULL;
}

static char *hex_serial(const ASN1_INTEGER *i)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(i, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL, *out = hex ? strdup(hex) : NULL;

	for (char *c = out; c && *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	OPENSSL_free(hex);
	BN_free(bn);
	return out;
}

static void signing_time(struct bpi_pe_sig *s, PKCS7_SIGNER_INFO *si)
{
	const ASN1_TYPE *t = PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime);
	struct tm tm;

	if (!t || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    !ASN1_TIME_to_tm(t->value.utctime, &tm)) {
		ERR_clear_error();
		return;
	}
	s->pub.has_signing_time = true;
	s->pub.signing_time = (int64_t)timegm(&tm);
}

/* Who signed: from the SignerInfo, and the certificate it names when the PKCS#7 carries it. */
static void signer_of(struct bpi_pe_sig *s, PKCS7_SIGNER_INFO *si)
{
	STACK_OF(X509) *certs = s->p7->d.sign->cert;
	PKCS7_ISSUER_AND_SERIAL *ias = si->issuer_and_serial;

	s->pub.n_certs = certs ? (size_t)sk_X509_num(certs) : 0;
	s->signer = certs ? X509_find_by_issuer_and_serial(certs, ias->issuer, ias->serial) : NULL;
	s->issuer = bpi_x509_name(ias->issuer);
	s->serial = hex_serial(ias->serial);
	if (s->signer)
		s->subject = bpi_x509_name(X509_get_subject_name(s->signer));
	s->pub.signer = s->subject;
	s->pub.issuer = s->issuer;
	s->pub.serial = s->serial;
}

static const char *check_signed_data(struct bpi_pe_sig *s, const uint8_t *der, size_t der_len,
				     PKCS7_SIGNER_INFO **out, char *buf, size_t n)
{
	STACK_OF(PKCS7_SIGNER_INFO) *sis;
	const uint8_t *spc;
	long spc_len;
	const char *why;
	char oid[64];

	if (!PKCS7_type_is_signed(s->p7) || !s->p7->d.sign)
		return "it is a PKCS#7 structure, but not SignedData";
	why = content_of(s, &spc, &spc_len);
	if (!why)
		why = bpi_spc_decode(spc, spc_len, &s->pub.digest_algo, s->pub.digest);
	if (why)
		return why;
	sis = PKCS7_get_signer_info(s->p7);
	if (!sis || sk_PKCS7_SIGNER_INFO_num(sis) != 1)
		return "its SignedData does not have exactly one SignerInfo, as Authenticode "
		       "requires";
	*out = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	if (bpi_hash_of_obj((*out)->digest_alg->algorithm) != s->pub.digest_algo) {
		snprintf(buf, n, "its SignerInfo's digest algorithm (%s) is not that of the image "
			 "digest it signs (%s)", algo_text((*out)->digest_alg->algorithm, oid,
							   sizeof(oid)),
			 bp_hash_name(s->pub.digest_algo));
		ERR_clear_error();
		return buf;
	}
	return bpi_edk2_readable(der, der_len, s->pub.digest_algo);
}

void bpi_pe_sig_parse(struct bpi_pe_sig *s, const uint8_t *p, size_t len)
{
	const uint8_t *q = p;
	PKCS7_SIGNER_INFO *si = NULL;
	const char *why;
	char buf[160];

	s->p7 = len <= LONG_MAX ? d2i_PKCS7(NULL, &q, (long)len) : NULL;
	ERR_clear_error();
	if (!s->p7) {
		fail(s, "its data is not a DER PKCS#7 structure");
		return;
	}
	why = check_signed_data(s, p, (size_t)(q - p), &si, buf, sizeof(buf));
	if (why) {
		fail(s, why);
		return;
	}
	signer_of(s, si);
	signing_time(s, si);
	s->pub.parsed = true;
	s->pub.problem = NULL;
}
