// SPDX-License-Identifier: MIT
/*
 * Public key nodes in U-Boot's control devicetree, written as mkimage -K
 * writes them (tools/image-host.c, lib/rsa/rsa-sign.c): RSA with the
 * Montgomery constants U-Boot's verifier needs precomputed (n0-inverse,
 * r-squared), ECDSA as the affine point. Big numbers are big-endian and as
 * long as the key (mkimage's fdt_add_bignum).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>

#include "sig_internal.h"
#include "util/esc.h"
#include "util/util.h"

int bpi_rsa_uboot_params(const BIGNUM *n, uint32_t *n0inv, BIGNUM *rr)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *b32, *inv, *r;
	int ret = -1;

	if (!ctx)
		return -1;
	BN_CTX_start(ctx);
	b32 = BN_CTX_get(ctx);
	inv = BN_CTX_get(ctx);
	r = BN_CTX_get(ctx);
	/* n0inv = -1 / n mod 2^32; rr = (2^bits)^2 mod n. */
	if (r && BN_set_word(b32, 1) && BN_lshift(b32, b32, 32) &&
	    BN_mod_inverse(inv, n, b32, ctx) && BN_sub(inv, b32, inv) &&
	    BN_set_word(r, 1) && BN_lshift(r, r, 2 * BN_num_bits(n)) && BN_mod(rr, r, n, ctx)) {
		*n0inv = (uint32_t)BN_get_word(inv);
		ret = 0;
	}
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

/* Characters devicetree node names may hold ('@' would make a unit address). */
static bool valid_key_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 90)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(",._+-", *s))
			return false;
	return true;
}

struct prop {
	const char *name;
	const void *val;
	size_t len;
};

#define MAX_PROPS 8

static int fdt_err(int err, struct bp_diag *d)
{
	if (err == -FDT_ERR_NOSPACE)
		return bp_diag_set(d, BP_ERR_TOOBIG, NULL, "no room for the key node in the devicetree");
	return bp_diag_set(d, BP_ERR_FORMAT, NULL, "cannot write the key node: %s",
			   fdt_strerror(err));
}

/* /signature/@node holding exactly @p (in order), in place of what it held. */
static int write_node(void *fdt, const char *node, const struct prop *p, size_t n,
		      struct bp_diag *d)
{
	int sig, off, err;

	sig = fdt_subnode_offset(fdt, 0, "signature");
	if (sig == -FDT_ERR_NOTFOUND)
		sig = fdt_add_subnode(fdt, 0, "signature");
	if (sig < 0)
		return fdt_err(sig, d);
	off = fdt_subnode_offset(fdt, sig, node);
	if (off == -FDT_ERR_NOTFOUND)
		off = fdt_add_subnode(fdt, sig, node);
	if (off < 0)
		return fdt_err(off, d);
	/* Replacing: empty the node first so nothing of an older key stays. */
	for (int po; (po = fdt_first_property_offset(fdt, off)) >= 0;) {
		const char *pname;
		char buf[256];

		if (!fdt_getprop_by_offset(fdt, po, &pname, NULL) || !pname)
			return fdt_err(-FDT_ERR_BADSTRUCTURE, d);
		snprintf(buf, sizeof(buf), "%s", pname);
		err = fdt_delprop(fdt, off, buf);
		if (err)
			return fdt_err(err, d);
	}
	for (size_t i = 0; i < n; i++) {
		err = fdt_setprop(fdt, off, p[i].name, p[i].val, (int)p[i].len);
		if (err)
			return fdt_err(err, d);
	}
	return 0;
}

static int rsa_props(const EVP_PKEY *pub, unsigned int bits, struct prop *p, size_t *n,
		     uint8_t *mod, uint8_t *rr_out, uint8_t nbits[4], uint8_t n0[4], uint8_t e8[8],
		     struct bp_diag *d)
{
	BIGNUM *nn = NULL, *e = NULL, *rr = BN_new();
	uint32_t n0inv;
	int ret = 0;

	if (!rr || !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &nn) ||
	    !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e)) {
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "cannot read the RSA public key");
		goto out;
	}
	if (BN_num_bits(e) > 64) {
		ret = bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
				  "RSA exponent of %d bits: U-Boot takes 64 at most", BN_num_bits(e));
		goto out;
	}
	if (bpi_rsa_uboot_params(nn, &n0inv, rr)) {
		ret = bp_diag_set(d, BP_ERR_CODEC, NULL, "RSA parameter computation failed");
		goto out;
	}
	bpi_put_be32(nbits, bits);
	bpi_put_be32(n0, n0inv);
	BN_bn2binpad(e, e8, 8);
	BN_bn2binpad(nn, mod, (int)(bits / 8));
	BN_bn2binpad(rr, rr_out, (int)(bits / 8));
	p[(*n)++] = (struct prop){ "rsa,num-bits", nbits, 4 };
	p[(*n)++] = (struct prop){ "rsa,n0-inverse", n0, 4 };
	p[(*n)++] = (struct prop){ "rsa,exponent", e8, 8 };
	p[(*n)++] = (struct prop){ "rsa,modulus", mod, bits / 8 };
	p[(*n)++] = (struct prop){ "rsa,r-squared", rr_out, bits / 8 };
out:
	BN_free(nn);
	BN_free(e);
	BN_free(rr);
	return ret;
}

static int ec_props(const EVP_PKEY *pub, unsigned int bits, struct prop *p, size_t *n,
		    uint8_t *x, uint8_t *y, struct bp_diag *d)
{
	BIGNUM *bx = NULL, *by = NULL;
	int ret = 0;

	if (!EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_EC_PUB_X, &bx) ||
	    !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_EC_PUB_Y, &by)) {
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "cannot read the EC public key");
	} else {
		BN_bn2binpad(bx, x, (int)(bits / 8));
		BN_bn2binpad(by, y, (int)(bits / 8));
		p[(*n)++] = (struct prop){ "ecdsa,curve", bits == 256 ? "prime256v1" : "secp384r1",
					   bits == 256 ? 11 : 10 };
		p[(*n)++] = (struct prop){ "ecdsa,x-point", x, bits / 8 };
		p[(*n)++] = (struct prop){ "ecdsa,y-point", y, bits / 8 };
	}
	BN_free(bx);
	BN_free(by);
	return ret;
}

int bpi_pubkey_write(void *fdt, const struct bp_key *k, const char *name,
		     const struct bpi_sig_algo *a, enum bp_key_required req, struct bp_diag *d)
{
	uint8_t big1[BPI_SIG_MAX_LEN], big2[BPI_SIG_MAX_LEN], nbits[4], n0[4], e8[8];
	struct prop p[MAX_PROPS];
	char node[100];
	size_t n = 0;
	int ret;

	if (!name)
		name = bp_key_name(k);
	if (!name || !valid_key_name(name))
		return bp_diag_set(d, BP_ERR_INVALID, NULL,
				   "key name '%s' cannot name a devicetree node (letters, digits "
				   "and ,._+- only)", BPI_ESC(name));
	ret = bpi_sig_key_check(k, a, d);
	if (ret)
		return ret;
	snprintf(node, sizeof(node), "key-%s", name);
	p[n++] = (struct prop){ "key-name-hint", name, strlen(name) + 1 };
	if (a->kind == BPI_SIG_RSA)
		ret = rsa_props(k->pub, a->bits, p, &n, big1, big2, nbits, n0, e8, d);
	else
		ret = ec_props(k->pub, a->bits, p, &n, big1, big2, d);
	if (ret)
		return ret;
	p[n++] = (struct prop){ "algo", a->name, strlen(a->name) + 1 };
	if (req == BP_KEY_REQUIRED_CONF)
		p[n++] = (struct prop){ "required", "conf", 5 };
	else if (req == BP_KEY_REQUIRED_IMAGE)
		p[n++] = (struct prop){ "required", "image", 6 };
	return write_node(fdt, node, p, n, d);
}
