// SPDX-License-Identifier: MIT
/*
 * Checking an image's Authenticode signatures the way UEFI firmware checks
 * them against its db: the signed digest must be the image's, the PKCS#7
 * signature must verify (messageDigest over the SpcIndirectDataContent's
 * content octets, then the signature over the authenticated attributes),
 * and the signer's certificate must chain, through the certificates the
 * PKCS#7 carries, to a trusted one, where any certificate of the chain may
 * be the trusted one (a db may hold the signer's own certificate: OpenSSL's
 * partial chains). Like EDK2's Pkcs7Verify, neither validity dates nor key
 * usage or extended key usage are checked: firmware has no trusted clock
 * and a db entry is trusted for whatever it signs.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "authenticode_internal.h"
#include "util/esc.h"
#include "util/util.h"

/* OpenSSL's reason for the last failure, or @fallback; the error queue is emptied. */
static const char *ssl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
}

/* The contentType attribute, when there are attributes, must name the content. */
static bool content_type_ok(PKCS7_SIGNER_INFO *si)
{
	const ASN1_TYPE *t = PKCS7_get_signed_attribute(si, NID_pkcs9_contentType);

	if (!sk_X509_ATTRIBUTE_num(si->auth_attr))
		return true;
	return t && t->type == V_ASN1_OBJECT && bpi_obj_is(t->value.object,
							    BPI_OID_SPC_INDIRECT_DATA);
}

const char *bpi_pe_sig_check_signature(const struct bpi_pe_sig *s, char *buf, size_t n)
{
	PKCS7_SIGNER_INFO *si;
	BIO *in;
	int ok;

	if (!s->signer)
		return "the PKCS#7 does not carry its signer's certificate";
	si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(s->p7), 0);
	if (!content_type_ok(si))
		return "its contentType attribute does not name SpcIndirectDataContent";
	if (s->content_len > INT_MAX)
		return "its SpcIndirectDataContent is too large";
	in = BIO_new_mem_buf(s->content, (int)s->content_len);
	/* Authenticode's content is both embedded and given: no PKCS7_NO_DUAL_CONTENT. */
	ok = in ? PKCS7_verify(s->p7, NULL, NULL, in, NULL,
			       PKCS7_NOVERIFY | PKCS7_NOCHAIN | PKCS7_BINARY) : 0;
	BIO_free(in);
	if (ok == 1) {
		ERR_clear_error();
		return NULL;
	}
	snprintf(buf, n, "the PKCS#7 signature does not verify (%s)",
		 ssl_reason("verification failed"));
	return buf;
}

/* NULL when @s's signer chains to @store, else why not. */
static const char *check_trust(X509_STORE *store, const struct bpi_pe_sig *s)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	const char *why = "out of memory";

	if (ctx && X509_STORE_CTX_init(ctx, store, s->signer, s->p7->d.sign->cert)) {
		/* UEFI db semantics: any certificate of the chain may be the anchor; no clock. */
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
		why = X509_verify_cert(ctx) == 1 ? NULL :
		      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return why;
}

static void judge(const struct bpi_pe_sigs *ss, size_t i, X509_STORE *store, size_t n_certs,
		  struct bp_pe_sig_check *c, char *msg, size_t n)
{
	const struct bpi_pe_sig *s = &ss->sig[i];
	const struct bp_pe_signature *g = &s->pub;
	const char *sig_why = NULL, *trust_why = NULL;
	char why[BP_DIAG_MSG_MAX];

	if (!g->parsed) {
		snprintf(msg, n, "not an Authenticode signature: %s", g->problem);
		return;
	}
	c->digest_ok = g->digest_matches;
	sig_why = bpi_pe_sig_check_signature(s, why, sizeof(why));
	c->signature_ok = !sig_why;
	trust_why = !s->signer ? "no signer certificate" : !n_certs ?
		    "no trusted certificates were given" : check_trust(store, s);
	c->trusted = c->signature_ok && !trust_why;
	if (!c->digest_ok && ss->digest_err[g->digest_algo])
		snprintf(msg, n, "%s", ss->digest_msg);
	else if (!c->digest_ok)
		snprintf(msg, n, "the image's %s digest is not the one signed: the image was "
			 "changed after signing", bp_hash_name(g->digest_algo));
	else if (sig_why)
		snprintf(msg, n, "%s", sig_why);
	else if (trust_why)
		snprintf(msg, n, "the signer's chain reaches no given certificate (%s)",
			 trust_why);
	else
		snprintf(msg, n, "good %s signature by '%s'", bp_hash_name(g->digest_algo),
			 BPI_ESC(g->signer));
}

static int load_store(const struct bp_pe_verify_opts *o, X509_STORE **out, struct bp_diag *d)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *sk = sk_X509_new_null();
	int ret = store && sk ? 0 : bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");

	for (size_t i = 0; !ret && i < o->n_certs; i++) {
		if (!o->certs || !o->certs[i])
			ret = bp_diag_set(d, BP_ERR_INVALID, NULL, "certificate file %zu is NULL", i);
		else
			ret = bpi_x509_load(o->certs[i], sk, d);
	}
	for (int i = 0; !ret && i < sk_X509_num(sk); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(sk, i)))
			ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "cannot add a trusted certificate: "
					  "%s", ssl_reason("out of memory"));
	sk_X509_pop_free(sk, X509_free);
	if (ret) {
		X509_STORE_free(store);
		return ret;
	}
	*out = store;
	return 0;
}

static const size_t verify_v1 = BPI_SIZE_V1(struct bp_pe_verify_opts, n_certs);

int bp_pe_verify(const struct bp_pe *pe, const struct bp_pe_verify_opts *opts,
		 bp_pe_sig_check_fn fn, void *ctx, size_t *n_good, struct bp_diag *d)
{
	struct bp_pe_verify_opts o;
	struct bpi_pe_sigs *ss;
	X509_STORE *store = NULL;
	size_t good = 0;
	int ret;

	bp_diag_clear(d);
	if (n_good)
		*n_good = 0;
	ret = BPI_STRUCT_IN(&o, verify_v1, opts, "bp_pe_verify_opts", d);
	if (!ret)
		ret = load_store(&o, &store, d);
	if (!ret)
		ret = bpi_pe_sigs_get(pe, &ss, d);
	for (size_t i = 0; !ret && i < ss->n; i++) {
		struct bp_pe_sig_check c = { .size = sizeof(c), .index = i };
		char msg[BP_DIAG_MSG_MAX];

		judge(ss, i, store, o.n_certs, &c, msg, sizeof(msg));
		c.msg = msg;
		good += c.digest_ok && c.signature_ok && c.trusted;
		if (fn)
			fn(ctx, &c);
	}
	X509_STORE_free(store);
	if (!ret && n_good)
		*n_good = good;
	return ret;
}
