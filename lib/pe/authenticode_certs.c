// SPDX-License-Identifier: MIT
/* X.509 certificates for Authenticode: reading them from files, naming them. */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "authenticode_internal.h"
#include "util/util.h"

/* A certificate file is small; a chain of a few dozen fits easily. */
#define CERT_FILE_MAX (16u << 20)

static int push_der(STACK_OF(X509) *sk, const struct bp_buf *b)
{
	const uint8_t *p = b->data;
	X509 *x = d2i_X509(NULL, &p, (long)b->len);

	if (!x)
		return 0;
	if (!sk_X509_push(sk, x)) {
		X509_free(x);
		return -1;
	}
	return 1;
}

int bpi_x509_load(const char *path, STACK_OF(X509) *sk, struct bp_diag *d)
{
	struct bp_buf b = BP_BUF_INIT;
	BIO *bio;
	X509 *x;
	int n = 0, ret = bpi_read_file(path, CERT_FILE_MAX, &b, d);

	if (ret)
		return ret;
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			n = -1;
			break;
		}
		n++;
	}
	BIO_free(bio);
	/* The PEM reader stops with "no start line": expected at the end. */
	ERR_clear_error();
	if (!n && b.len)
		n = push_der(sk, &b);
	ERR_clear_error();
	bp_buf_free(&b);
	if (n < 0 || !bio)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	if (!n)
		return bp_diag_set(d, BP_ERR_FORMAT, path, "no X.509 certificate in the file "
				   "(PEM or DER expected)");
	return 0;
}

char *bpi_x509_name(const X509_NAME *name)
{
	/* RFC 2253 order and escapes, but UTF-8 kept: the caller escapes for terminals. */
	unsigned long flags = (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) |
			      XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_DN_REV | XN_FLAG_FN_SN |
			      XN_FLAG_DUMP_UNKNOWN_FIELDS;
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	long n;

	if (bio && X509_NAME_print_ex(bio, name, 0, flags) >= 0) {
		n = BIO_get_mem_data(bio, &p);
		out = n >= 0 ? strndup(p ? p : "", (size_t)n) : NULL;
	}
	BIO_free(bio);
	ERR_clear_error();
	return out;
}
