// SPDX-License-Identifier: MIT
/*
 * Public key nodes read from a control devicetree: untrusted input. Every
 * property U-Boot would use is checked, including the ones OpenSSL does not
 * need (n0-inverse, r-squared): a node U-Boot would compute garbage from is
 * refused here rather than verified by a different rule than U-Boot's.
 */
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "sig_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define FAIL(...) bp_diag_set(d, BP_ERR_FORMAT, NULL, __VA_ARGS__)

/* A string property: NULL when absent; BP_ERR_FORMAT in @err when not a string. */
static const char *get_string(const void *fdt, int node, const char *prop, const char *kname,
			      int *err, struct bp_diag *d)
{
	int len;
	const char *s = fdt_getprop(fdt, node, prop, &len);

	if (!s)
		return NULL;
	if (len < 1 || s[len - 1] || strlen(s) != (size_t)len - 1) {
		*err = FAIL("key node '%s': '%s' is not a string", kname, prop);
		return NULL;
	}
	return s;
}

/* Property @prop of exactly @want bytes; NULL (and FORMAT in @err) otherwise. */
static const uint8_t *get_fixed(const void *fdt, int node, const char *prop, int want,
				const char *kname, bool optional, int *err, struct bp_diag *d)
{
	int len;
	const uint8_t *p = fdt_getprop(fdt, node, prop, &len);

	if (!p) {
		if (!optional)
			*err = FAIL("key node '%s': no '%s'", kname, prop);
		return NULL;
	}
	if (len != want) {
		*err = FAIL("key node '%s': '%s' is %d bytes, expected %d", kname, prop, len, want);
		return NULL;
	}
	return p;
}

/* out->pkey: a public key of @type ("RSA", "EC") from @params. */
static int from_params(const char *type, OSSL_PARAM *params, struct bpi_pubkey *out,
		       struct bp_diag *d)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pk = NULL;
	int err = 0;

	if (!pc || EVP_PKEY_fromdata_init(pc) <= 0 ||
	    EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		err = bpi_sig_ssl_err(d, BP_ERR_FORMAT, NULL, "OpenSSL refuses the key");
	out->pkey = pk;
	EVP_PKEY_CTX_free(pc);
	return err;
}

static int rsa_read(const void *fdt, int node, const char *kname, struct bpi_pubkey *out,
		    struct bp_diag *d)
{
	const uint8_t *nb, *mod, *rr, *n0, *ep;
	BIGNUM *n = NULL, *e = NULL, *want_rr = NULL, *got_rr = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	uint32_t bits, n0inv;
	int err = 0;

	nb = get_fixed(fdt, node, "rsa,num-bits", 4, kname, false, &err, d);
	if (!nb)
		return err;
	bits = bpi_get_be32(nb);
	if (bits != 2048 && bits != 3072 && bits != 4096)
		return FAIL("key node '%s': rsa,num-bits is %u, expected 2048, 3072 or 4096", kname,
			    bits);
	if (out->has_algo && out->algo.bits != bits)
		return FAIL("key node '%s': algo '%s' does not match rsa,num-bits %u", kname,
			    out->algo.name, bits);
	mod = get_fixed(fdt, node, "rsa,modulus", (int)bits / 8, kname, false, &err, d);
	rr = mod ? get_fixed(fdt, node, "rsa,r-squared", (int)bits / 8, kname, false, &err, d) : NULL;
	n0 = rr ? get_fixed(fdt, node, "rsa,n0-inverse", 4, kname, false, &err, d) : NULL;
	if (!n0)
		return err;
	/* Absent: U-Boot's default, 65537 (keys written before the property existed). */
	ep = get_fixed(fdt, node, "rsa,exponent", 8, kname, true, &err, d);
	if (err)
		return err;

	n = BN_bin2bn(mod, (int)bits / 8, NULL);
	e = ep ? BN_bin2bn(ep, 8, NULL) : BN_new();
	want_rr = BN_new();
	got_rr = BN_bin2bn(rr, (int)bits / 8, NULL);
	if (!n || !e || !want_rr || !got_rr || (!ep && !BN_set_word(e, 65537))) {
		err = bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if ((unsigned int)BN_num_bits(n) != bits) {
		err = FAIL("key node '%s': rsa,modulus has %d significant bits, rsa,num-bits says %u",
			   kname, BN_num_bits(n), bits);
		goto out;
	}
	if (!BN_is_odd(n)) {
		err = FAIL("key node '%s': rsa,modulus is even", kname);
		goto out;
	}
	if (BN_is_zero(e) || BN_is_one(e) || !BN_is_odd(e)) {
		err = FAIL("key node '%s': rsa,exponent %s is not an odd number above 1", kname,
			   BN_is_zero(e) ? "0" : BN_is_one(e) ? "1" : "(even)");
		goto out;
	}
	if (bpi_rsa_uboot_params(n, &n0inv, want_rr)) {
		err = FAIL("key node '%s': rsa,modulus is not usable", kname);
		goto out;
	}
	if (n0inv != bpi_get_be32(n0)) {
		err = FAIL("key node '%s': rsa,n0-inverse does not match rsa,modulus", kname);
		goto out;
	}
	if (BN_cmp(want_rr, got_rr)) {
		err = FAIL("key node '%s': rsa,r-squared does not match rsa,modulus", kname);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		err = bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	else
		err = from_params("RSA", params, out, d);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	BN_free(want_rr);
	BN_free(got_rr);
	return err;
}

static int ec_read(const void *fdt, int node, const char *kname, struct bpi_pubkey *out,
		   struct bp_diag *d)
{
	const char *curve;
	const uint8_t *x, *y;
	uint8_t pub[1 + 2 * 48];
	unsigned int bits;
	int nid, err = 0;
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;
	BIGNUM *bx = NULL, *by = NULL, *p = NULL;
	OSSL_PARAM params[3];

	curve = get_string(fdt, node, "ecdsa,curve", kname, &err, d);
	if (err)
		return err;
	if (!curve)
		return FAIL("key node '%s': no 'ecdsa,curve'", kname);
	if (!strcmp(curve, "prime256v1")) {
		bits = 256;
		nid = NID_X9_62_prime256v1;
	} else if (!strcmp(curve, "secp384r1")) {
		bits = 384;
		nid = NID_secp384r1;
	} else {
		return FAIL("key node '%s': unknown ecdsa,curve '%s' (expected prime256v1 or "
			    "secp384r1)", kname, BPI_ESC(curve));
	}
	if (out->has_algo && out->algo.bits != bits)
		return FAIL("key node '%s': algo '%s' does not match ecdsa,curve %s", kname,
			    out->algo.name, curve);
	x = get_fixed(fdt, node, "ecdsa,x-point", (int)bits / 8, kname, false, &err, d);
	y = x ? get_fixed(fdt, node, "ecdsa,y-point", (int)bits / 8, kname, false, &err, d) : NULL;
	if (!y)
		return err;

	g = EC_GROUP_new_by_curve_name(nid);
	pt = g ? EC_POINT_new(g) : NULL;
	bx = BN_bin2bn(x, (int)bits / 8, NULL);
	by = BN_bin2bn(y, (int)bits / 8, NULL);
	p = BN_new();
	if (!pt || !bx || !by || !p || !EC_GROUP_get_curve(g, p, NULL, NULL, NULL)) {
		err = bpi_sig_ssl_err(d, BP_ERR_NOMEM, NULL, "cannot set up the EC key");
		goto out;
	}
	/* set_affine_coordinates refuses points off the curve; coordinates must also be < p. */
	if (BN_cmp(bx, p) >= 0 || BN_cmp(by, p) >= 0 ||
	    !EC_POINT_set_affine_coordinates(g, pt, bx, by, NULL)) {
		ERR_clear_error();
		err = FAIL("key node '%s': (ecdsa,x-point, ecdsa,y-point) is not a point on %s",
			   kname, curve);
		goto out;
	}
	pub[0] = 4;
	memcpy(pub + 1, x, bits / 8);
	memcpy(pub + 1 + bits / 8, y, bits / 8);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub,
						      1 + 2 * (bits / 8));
	params[2] = OSSL_PARAM_construct_end();
	err = from_params("EC", params, out, d);
out:
	BN_free(bx);
	BN_free(by);
	BN_free(p);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return err;
}

int bpi_pubkey_read(const void *fdt, int node, struct bpi_pubkey *out, struct bp_diag *d)
{
	const char *algo, *req, *hint;
	char kname[BPI_ESC_MAX];
	bool rsa, ec;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->node = fdt_get_name(fdt, node, NULL);
	if (!out->node)
		return FAIL("key node at offset %d: not a node", node);
	bpi_esc(kname, sizeof(kname), out->node);

	hint = get_string(fdt, node, "key-name-hint", kname, &err, d);
	algo = err ? NULL : get_string(fdt, node, "algo", kname, &err, d);
	req = err ? NULL : get_string(fdt, node, "required", kname, &err, d);
	if (err)
		return err;
	out->name = hint ? hint : !strncmp(out->node, "key-", 4) ? out->node + 4 : out->node;
	if (req && !strcmp(req, "conf"))
		out->required = BP_KEY_REQUIRED_CONF;
	else if (req && !strcmp(req, "image"))
		out->required = BP_KEY_REQUIRED_IMAGE;
	else if (req)
		return FAIL("key node '%s': required is '%s' (expected conf or image)", kname,
			    BPI_ESC(req));
	if (algo) {
		struct bp_diag why;

		if (bpi_sig_algo_parse(algo, NULL, &out->algo, &why))
			return FAIL("key node '%s': %s", kname, why.msg);
		out->has_algo = true;
	}

	rsa = fdt_getprop(fdt, node, "rsa,modulus", NULL) || fdt_getprop(fdt, node, "rsa,num-bits", NULL);
	ec = fdt_getprop(fdt, node, "ecdsa,curve", NULL) != NULL;
	if (rsa == ec)
		return FAIL(rsa ? "key node '%s': both rsa,* and ecdsa,* properties"
				: "key node '%s': neither rsa,modulus nor ecdsa,curve", kname);
	if (out->has_algo && (out->algo.kind == BPI_SIG_RSA) != rsa)
		return FAIL("key node '%s': algo '%s' but %s properties", kname, out->algo.name,
			    rsa ? "rsa,*" : "ecdsa,*");
	err = rsa ? rsa_read(fdt, node, kname, out, d) : ec_read(fdt, node, kname, out, d);
	if (err)
		bpi_pubkey_free(out);
	return err;
}

void bpi_pubkey_free(struct bpi_pubkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}
