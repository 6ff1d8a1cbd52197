// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/sig: U-Boot algorithm names, keys (PEM files made
 * here at test time, never committed), signatures in U-Boot's value
 * format checked against OpenSSL directly and against published vectors
 * (RFC 6979), public key nodes written and read back, hostile key nodes.
 * Scratch files go to a directory made under the working directory.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* the test builds a few odd keys the old way */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <bootpack/sign.h>

#include "sig/sig.h"
#include "sig/sig_internal.h"

static char dir[64];

/* ---- helpers ---- */

static char *path_of(const char *name)
{
	static char buf[8][128];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path_of(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static EVP_PKEY *keys[4]; /* rsa2048, rsa3072, p256, p384: made once */

static void write_key(const char *name, EVP_PKEY *k, bool priv)
{
	FILE *f = fopen(path_of(name), "w");

	assert_non_null(f);
	if (priv)
		assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	else
		assert_true(PEM_write_PUBKEY(f, k));
	fclose(f);
}

static void write_cert(const char *name, EVP_PKEY *k)
{
	X509 *x = X509_new();
	FILE *f = fopen(path_of(name), "w");

	assert_non_null(x);
	assert_non_null(f);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"dev", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_true(PEM_write_X509(f, x));
	fclose(f);
	X509_free(x);
}

static struct bp_key *open_key(const char *name)
{
	struct bp_key *k = NULL;
	struct bp_diag d;
	int ret = bp_key_open(path_of(name), NULL, &k, &d);

	if (ret)
		fail_msg("bp_key_open %s: %s", name, d.msg);
	return k;
}

static struct bpi_sig_algo algo(const char *name, const char *padding)
{
	struct bpi_sig_algo a;
	struct bp_diag d;

	if (bpi_sig_algo_parse(name, padding, &a, &d))
		fail_msg("%s: %s", name, d.msg);
	return a;
}

static const char msg1[] = "the tree's regions", msg2[] = " and its strings";
static const struct bpi_region regions[] = { { msg1, sizeof(msg1) - 1 }, { msg2, sizeof(msg2) - 1 } };

/* A control devicetree with @k's node for @a, read back into @pub. */
static void *key_fdt(const struct bp_key *k, const struct bpi_sig_algo *a, enum bp_key_required req)
{
	void *fdt = malloc(16384);
	struct bp_diag d;

	assert_int_equal(fdt_create_empty_tree(fdt, 16384), 0);
	if (bpi_pubkey_write(fdt, k, NULL, a, req, &d))
		fail_msg("bpi_pubkey_write: %s", d.msg);
	return fdt;
}

static int key_node(const void *fdt, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/signature/key-%s", name);
	return fdt_path_offset(fdt, path);
}

static void read_pub(const void *fdt, const char *name, struct bpi_pubkey *pub)
{
	struct bp_diag d;
	int node = key_node(fdt, name);

	assert_true(node >= 0);
	if (bpi_pubkey_read(fdt, node, pub, &d))
		fail_msg("bpi_pubkey_read: %s", d.msg);
}

/* ---- algorithm names ---- */

static void test_algo_parse(void **state)
{
	static const struct {
		const char *name, *padding;
		int ret;
		unsigned int bits;
		size_t len;
	} v[] = {
		{ "sha256,rsa2048", NULL, 0, 2048, 256 },
		{ "sha1,rsa3072", "pkcs-1.5", 0, 3072, 384 },
		{ "sha512,rsa4096", "pss", 0, 4096, 512 },
		{ "sha256,ecdsa256", NULL, 0, 256, 64 },
		{ "sha384,ecdsa384", NULL, 0, 384, 96 },
		{ "sha256,ecdsa256", "pss", BP_ERR_UNSUPPORTED, 0, 0 },
		{ "sha256,rsa2048", "oaep", BP_ERR_UNSUPPORTED, 0, 0 },
		{ "sha256,rsa1024", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "md5,rsa2048", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "sha256", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "sha256,rsa2048,", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "sha256rsa2048", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "sha256,ecdsa521", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
		{ "SHA256,RSA2048", NULL, BP_ERR_UNSUPPORTED, 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bpi_sig_algo a;
		struct bp_diag d = { .msg = "" };
		int ret = bpi_sig_algo_parse(v[i].name, v[i].padding, &a, &d);

		if (ret != v[i].ret)
			fail_msg("%s/%s: %d (%s)", v[i].name, v[i].padding, ret, d.msg);
		if (ret) {
			assert_true(strlen(d.msg) > 10);
			continue;
		}
		assert_string_equal(a.name, v[i].name);
		assert_int_equal(a.bits, v[i].bits);
		assert_int_equal(bpi_sig_len(&a), v[i].len);
		assert_int_equal(a.pss, v[i].padding && !strcmp(v[i].padding, "pss"));
	}
	/* A control character in a name is escaped in the message. */
	{
		struct bpi_sig_algo a;
		struct bp_diag d;

		assert_int_equal(bpi_sig_algo_parse("sha256,\nrsa", NULL, &a, &d), BP_ERR_UNSUPPORTED);
		assert_null(strchr(d.msg, '\n'));
	}
}

/* ---- keys ---- */

static void test_key_open(void **state)
{
	struct bp_key *k;
	struct bp_diag d;
	char buf[32];

	(void)state;
	k = open_key("dev.key");
	assert_string_equal(bp_key_name(k), "dev");
	assert_int_equal(bp_key_algo(k, "sha256", buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "sha256,rsa2048");
	assert_int_equal(bp_key_algo(k, NULL, buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "sha256,rsa2048");
	assert_int_equal(bp_key_algo(k, "md5", buf, sizeof(buf), &d), BP_ERR_UNSUPPORTED);
	assert_int_equal(bp_key_algo(k, "sha256", buf, 8, &d), BP_ERR_INVALID);
	bp_key_close(k);

	k = open_key("ec384.pem");
	assert_string_equal(bp_key_name(k), "ec384");
	assert_int_equal(bp_key_algo(k, "sha384", buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "sha384,ecdsa384");
	bp_key_close(k);

	k = open_key("rsa3072");
	assert_string_equal(bp_key_name(k), "rsa3072");
	bp_key_close(k);
}

static void test_key_open_errors(void **state)
{
	static const struct {
		const char *file;
		int ret;
		const char *msg;
	} v[] = {
		{ "dev.crt", BP_ERR_FORMAT, "a certificate, not a private key" },
		{ "dev-pub.pem", BP_ERR_FORMAT, "a public key, not a private key" },
		{ "garbage.key", BP_ERR_FORMAT, "not a PEM private key" },
		{ "empty.key", BP_ERR_FORMAT, "not a PEM private key" },
		{ "enc.key", BP_ERR_FORMAT, "encrypted private key" },
		{ "ed25519.key", BP_ERR_UNSUPPORTED, "ED25519 key" },
		{ "p224.key", BP_ERR_UNSUPPORTED, "curve U-Boot does not verify" },
		{ "missing.key", BP_ERR_IO, "" },
		{ "", BP_ERR_IO, "directory" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bp_key *k = (struct bp_key *)1;
		struct bp_diag d;
		int ret = bp_key_open(path_of(v[i].file), NULL, &k, &d);

		if (ret != v[i].ret || !strstr(d.msg, v[i].msg))
			fail_msg("%s: %d '%s'", v[i].file, ret, d.msg);
		assert_null(k);
		assert_string_equal(d.path, path_of(v[i].file));
	}
	/* The public half opens from a certificate, a public key or a private key. */
	{
		static const char *const ok[] = { "dev.crt", "dev-pub.pem", "dev.key" };

		for (size_t i = 0; i < 3; i++) {
			struct bp_key *k;
			struct bp_diag d;
			char buf[32];

			if (bp_key_open_public(path_of(ok[i]), NULL, &k, &d))
				fail_msg("%s: %s", ok[i], d.msg);
			assert_int_equal(bp_key_algo(k, "sha256", buf, sizeof(buf), &d), 0);
			assert_string_equal(buf, "sha256,rsa2048");
			bp_key_close(k);
		}
	}
	/* The passphrase of an encrypted key is the PIN. */
	{
		struct bp_key *k;
		struct bp_diag d;

		assert_int_equal(bp_key_open(path_of("enc.key"), "secret", &k, &d), 0);
		bp_key_close(k);
		assert_int_equal(bp_key_open(path_of("enc.key"), "wrong", &k, &d), BP_ERR_FORMAT);
		assert_non_null(strstr(d.msg, "cannot decrypt"));
	}
}

/* ---- RSA ---- */

/* The same signature with OpenSSL's one-shot API: what mkimage does. */
static size_t openssl_sign(EVP_PKEY *k, const char *md, bool pss, int saltlen, uint8_t *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	size_t len = BPI_SIG_MAX_LEN;

	assert_true(EVP_DigestSignInit(c, &pc, EVP_get_digestbyname(md), NULL, k) > 0);
	if (pss) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
		if (saltlen != -99)
			assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, saltlen) > 0);
	}
	for (size_t i = 0; i < 2; i++)
		assert_true(EVP_DigestSignUpdate(c, regions[i].data, regions[i].size) > 0);
	assert_true(EVP_DigestSignFinal(c, out, &len) > 0);
	EVP_MD_CTX_free(c);
	return len;
}

static void test_rsa_sign_verify(void **state)
{
	static const struct {
		const char *algo, *padding, *md;
	} v[] = {
		{ "sha256,rsa2048", NULL, "sha256" },
		{ "sha1,rsa2048", "pkcs-1.5", "sha1" },
		{ "sha384,rsa2048", NULL, "sha384" },
		{ "sha512,rsa2048", "pss", "sha512" },
		{ "sha256,rsa2048", "pss", "sha256" },
	};
	struct bp_key *k = open_key("dev.key");

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bpi_sig_algo a = algo(v[i].algo, v[i].padding);
		uint8_t s1[BPI_SIG_MAX_LEN], s2[BPI_SIG_MAX_LEN], ref[BPI_SIG_MAX_LEN];
		struct bpi_pubkey pub;
		struct bp_diag d;
		void *fdt;

		assert_int_equal(bpi_sig_sign(k, &a, regions, 2, s1, &d), 0);
		assert_int_equal(bpi_sig_sign(k, &a, regions, 2, s2, &d), 0);
		assert_memory_equal(s1, s2, 256); /* reproducible, PSS included (zero salt) */
		if (!a.pss) {
			/* PKCS#1 v1.5 is deterministic: OpenSSL's own signature is the same bytes. */
			assert_int_equal(openssl_sign(keys[0], v[i].md, false, 0, ref), 256);
			assert_memory_equal(s1, ref, 256);
		} else {
			assert_int_equal(openssl_sign(keys[0], v[i].md, true, 0, ref), 256);
			assert_memory_equal(s1, ref, 256);
		}
		fdt = key_fdt(k, &a, BP_KEY_REQUIRED_NONE);
		read_pub(fdt, "dev", &pub);
		assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, s1, 256, &d), 0);
		if (a.pss) {
			/* mkimage signs PSS with OpenSSL's default salt: the longest. */
			assert_int_equal(openssl_sign(keys[0], v[i].md, true, -99, ref), 256);
			assert_memory_not_equal(ref, s1, 256);
			assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, ref, 256, &d), 0);
			assert_int_equal(openssl_sign(keys[0], v[i].md, true, 20, ref), 256);
			assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, ref, 256, &d), 0);
		}
		/* One flipped bit, in the value or the data, fails. */
		s1[100] ^= 0x10;
		assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, s1, 256, &d), BP_ERR_SIGNATURE);
		assert_non_null(strstr(d.msg, "does not verify"));
		s1[100] ^= 0x10;
		assert_int_equal(bpi_sig_verify(&pub, &a, regions, 1, s1, 256, &d), BP_ERR_SIGNATURE);
		/* Wrong length. */
		assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, s1, 255, &d), BP_ERR_SIGNATURE);
		assert_non_null(strstr(d.msg, "255 bytes"));
		/* The other padding does not verify. */
		{
			struct bpi_sig_algo other = algo(v[i].algo, a.pss ? "pkcs-1.5" : "pss");

			assert_int_equal(bpi_sig_verify(&pub, &other, regions, 2, s1, 256, &d),
					 BP_ERR_SIGNATURE);
		}
		bpi_pubkey_free(&pub);
		free(fdt);
	}
	bp_key_close(k);
}

/* A key node's algo must be the signature's, as U-Boot's rsa_verify_with_keynode wants. */
static void test_rsa_algo_mismatch(void **state)
{
	struct bp_key *k = open_key("dev.key");
	struct bpi_sig_algo a256 = algo("sha256,rsa2048", NULL), a1 = algo("sha1,rsa2048", NULL);
	uint8_t s[BPI_SIG_MAX_LEN];
	struct bpi_pubkey pub;
	struct bp_diag d;
	void *fdt = key_fdt(k, &a256, BP_KEY_REQUIRED_CONF);

	(void)state;
	read_pub(fdt, "dev", &pub);
	assert_int_equal(pub.required, BP_KEY_REQUIRED_CONF);
	assert_true(pub.has_algo);
	assert_string_equal(pub.name, "dev");
	assert_string_equal(pub.node, "key-dev");
	assert_int_equal(bpi_sig_sign(k, &a1, regions, 2, s, &d), 0);
	assert_int_equal(bpi_sig_verify(&pub, &a1, regions, 2, s, 256, &d), BP_ERR_SIGNATURE);
	assert_non_null(strstr(d.msg, "is for 'sha256,rsa2048'"));
	bpi_pubkey_free(&pub);
	free(fdt);
	bp_key_close(k);
}

static void test_key_check(void **state)
{
	struct bp_key *rsa = open_key("dev.key"), *ec = open_key("ec256.pem"), *pub;
	struct bpi_sig_algo a = algo("sha256,rsa3072", NULL), e = algo("sha256,ecdsa256", NULL);
	struct bpi_sig_algo e384 = algo("sha256,ecdsa384", NULL);
	uint8_t s[BPI_SIG_MAX_LEN];
	struct bp_diag d;

	(void)state;
	assert_int_equal(bpi_sig_key_check(rsa, &a, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "is RSA-2048"));
	assert_non_null(strstr(d.msg, "needs RSA-3072"));
	assert_int_equal(bpi_sig_sign(rsa, &a, regions, 2, s, &d), BP_ERR_INVALID);
	assert_int_equal(bpi_sig_key_check(rsa, &e, &d), BP_ERR_INVALID);
	assert_int_equal(bpi_sig_key_check(ec, &e, &d), 0);
	assert_int_equal(bpi_sig_key_check(ec, &e384, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "needs EC P-384"));
	assert_int_equal(bp_key_open_public(path_of("dev.crt"), NULL, &pub, &d), 0);
	a = algo("sha256,rsa2048", NULL);
	assert_int_equal(bpi_sig_sign(pub, &a, regions, 2, s, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "signing needs the private key"));
	bp_key_close(pub);
	bp_key_close(rsa);
	bp_key_close(ec);
}

/*
 * mkimage -f fit.its -k keys -K ctrl.dtb -r with one configuration signed by
 * keys/@key with @algo; ctrl.dtb starts as @ctrl_dts. Returns ctrl.dtb.
 */
static void *mkimage_ctrl(const char *algo_name, const char *key, const char *ctrl_dts)
{
	char its[1024], cmd[1024];
	void *ctrl = malloc(65536);
	FILE *f;
	size_t len;

	snprintf(its, sizeof(its),
		 "/dts-v1/;\n/ {\n description = \"t\";\n #address-cells = <1>;\n"
		 " images {\n  k {\n   data = \"kernel\";\n   type = \"kernel\";\n"
		 "   arch = \"arm64\";\n   os = \"linux\";\n   compression = \"none\";\n"
		 "   load = <0>;\n   entry = <0>;\n   hash-1 { algo = \"sha256\"; };\n  };\n };\n"
		 " configurations {\n  default = \"c\";\n  c {\n   kernel = \"k\";\n"
		 "   signature-1 {\n    algo = \"%s\";\n    key-name-hint = \"%s\";\n"
		 "    sign-images = \"kernel\";\n   };\n  };\n };\n};\n", algo_name, key);
	write_file("fit.its", its);
	write_file("ctrl.dts", ctrl_dts);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && dtc -q -I dts -O dtb -o ctrl.dtb ctrl.dts && "
		 "mkimage -f fit.its -k keys -K ctrl.dtb -r fit.itb >mkimage.log 2>&1 || "
		 "{ cat mkimage.log; exit 1; }", dir);
	if (system(cmd))
		fail_msg("mkimage (u-boot-tools) and dtc are needed: %s", cmd);
	f = fopen(path_of("ctrl.dtb"), "rb");
	assert_non_null(f);
	len = fread(ctrl, 1, 65536, f);
	fclose(f);
	assert_true(len > 0 && fdt_check_full(ctrl, len) == 0);
	return ctrl;
}

/* The properties of @node in @fdt, in file order, are @props. */
static void assert_props(const void *fdt, int node, const char *const *props, int n)
{
	int po, i = 0;

	fdt_for_each_property_offset(po, fdt, node) {
		const char *name;

		fdt_getprop_by_offset(fdt, po, &name, NULL);
		assert_true(i < n);
		assert_string_equal(name, props[i++]);
	}
	assert_int_equal(i, n);
}

/* Each of @props has the same bytes in both nodes. */
static void assert_same_values(const void *f1, int n1, const void *f2, int n2,
			       const char *const *props, int n)
{
	for (int i = 0; i < n; i++) {
		int l1, l2;
		const void *v1 = fdt_getprop(f1, n1, props[i], &l1);
		const void *v2 = fdt_getprop(f2, n2, props[i], &l2);

		if (!v1 || !v2)
			fail_msg("%s missing", props[i]);
		assert_int_equal(l1, l2);
		assert_memory_equal(v1, v2, (size_t)l1);
	}
}

/*
 * The RSA key node is the one mkimage -K -r writes (Debian's mkimage, the
 * U-Boot the suite targets): same properties, same order, same bytes.
 */
static void test_rsa_node_matches_mkimage(void **state)
{
	/* libfdt puts a new property first: the file order is the reverse of the writes. */
	static const char *const props[] = { "required", "algo", "rsa,r-squared", "rsa,modulus",
					     "rsa,exponent", "rsa,n0-inverse", "rsa,num-bits",
					     "key-name-hint" };
	struct bp_key *k = open_key("keys/dev.key");
	struct bpi_sig_algo a = algo("sha256,rsa2048", NULL);
	void *ctrl = mkimage_ctrl("sha256,rsa2048", "dev", "/dts-v1/;\n/ {\n};\n");
	void *ours = key_fdt(k, &a, BP_KEY_REQUIRED_CONF);

	(void)state;
	assert_props(ctrl, key_node(ctrl, "dev"), props, 8);
	assert_props(ours, key_node(ours, "dev"), props, 8);
	assert_same_values(ctrl, key_node(ctrl, "dev"), ours, key_node(ours, "dev"), props, 8);
	/* Writing again over mkimage's node changes nothing. */
	{
		struct bp_diag d;

		assert_int_equal(fdt_open_into(ctrl, ctrl, 65536), 0);
		assert_int_equal(bpi_pubkey_write(ctrl, k, "dev", &a, BP_KEY_REQUIRED_CONF, &d), 0);
		assert_props(ctrl, key_node(ctrl, "dev"), props, 8);
		assert_same_values(ctrl, key_node(ctrl, "dev"), ours, key_node(ours, "dev"), props, 8);
	}
	free(ctrl);
	free(ours);
	bp_key_close(k);
}

/*
 * mkimage 2023.01 writes an ECDSA key as /signature/NAME (no "key-"), with
 * only the curve and the point, into an existing /signature node. Ours has
 * the same point bytes (plus algo, key-name-hint and required, like RSA's),
 * and mkimage's node reads as a key without algo that verifies our signatures.
 */
static void test_ec_node_matches_mkimage(void **state)
{
	static const char *const mk_props[] = { "ecdsa,y-point", "ecdsa,x-point", "ecdsa,curve" };
	static const char *const our_props[] = { "required", "algo", "ecdsa,y-point",
						 "ecdsa,x-point", "ecdsa,curve", "key-name-hint" };
	struct bp_key *k = open_key("keys/ec.pem");
	struct bpi_sig_algo a = algo("sha256,ecdsa256", NULL);
	void *ctrl = mkimage_ctrl("sha256,ecdsa256", "ec", "/dts-v1/;\n/ {\n signature {\n };\n};\n");
	void *ours = key_fdt(k, &a, BP_KEY_REQUIRED_CONF);
	int mk = fdt_path_offset(ctrl, "/signature/ec");
	struct bpi_pubkey pub;
	struct bp_diag d;
	uint8_t s[64];

	(void)state;
	assert_true(mk >= 0);
	assert_props(ctrl, mk, mk_props, 3);
	assert_props(ours, key_node(ours, "ec"), our_props, 6);
	assert_same_values(ctrl, mk, ours, key_node(ours, "ec"), mk_props, 3);
	assert_int_equal(bpi_pubkey_read(ctrl, mk, &pub, &d), 0);
	assert_string_equal(pub.name, "ec");
	assert_false(pub.has_algo);
	assert_int_equal(pub.required, BP_KEY_REQUIRED_NONE);
	assert_int_equal(bpi_sig_sign(k, &a, regions, 2, s, &d), 0);
	assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, s, 64, &d), 0);
	bpi_pubkey_free(&pub);
	free(ctrl);
	free(ours);
	bp_key_close(k);
}

/* ---- ECDSA ---- */

static void unhex(uint8_t *out, const char *h)
{
	for (size_t i = 0; h[2 * i]; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
}

/* An EC key file holding the private scalar @xhex on @curve. */
static void write_ec_key(const char *name, const char *curve, const char *xhex)
{
	EC_KEY *ec = EC_KEY_new_by_curve_name(OBJ_sn2nid(curve));
	BIGNUM *x = NULL;
	EC_POINT *pub;
	EVP_PKEY *k = EVP_PKEY_new();

	assert_non_null(ec);
	assert_true(BN_hex2bn(&x, xhex) > 0);
	pub = EC_POINT_new(EC_KEY_get0_group(ec));
	assert_true(EC_POINT_mul(EC_KEY_get0_group(ec), pub, x, NULL, NULL, NULL));
	assert_true(EC_KEY_set_private_key(ec, x) && EC_KEY_set_public_key(ec, pub));
	assert_true(EVP_PKEY_assign_EC_KEY(k, ec));
	write_key(name, k, true);
	EVP_PKEY_free(k);
	EC_POINT_free(pub);
	BN_free(x);
}

#define P256_X "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"
#define P384_X "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D8" \
	       "96D5724E4C70A825F872C9EA60D2EDF5"

/* RFC 6979 appendix A.2.5 and A.2.6: the nonces themselves. */
static void test_rfc6979_nonce(void **state)
{
	static const struct {
		const char *curve, *x, *md, *msg, *k;
	} v[] = {
		{ "prime256v1", P256_X, "sha256", "sample",
		  "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60" },
		{ "prime256v1", P256_X, "sha256", "test",
		  "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0" },
		{ "prime256v1", P256_X, "sha512", "sample",
		  "5FA81C63109BADB88C1F367B47DA606DA28CAD69AA22C4FE6AD7DF73A7173AA5" },
		{ "secp384r1", P384_X, "sha384", "sample",
		  "94ED910D1A099DAD3254E9242AE85ABDE4BA15168EAF0CA87A555FD56D10FBCA"
		  "2907E3E83BA95368623B8C4686915CF9" },
		{ "secp384r1", P384_X, "sha384", "test",
		  "015EE46A5BF88773ED9123A5AB0807962D193719503C527B031B4C2D225092AD"
		  "A71F4A459BC0DA98ADB95837DB8312EA" },
		{ "secp384r1", P384_X, "sha256", "sample",
		  "180AE9F9AEC5438A44BC159A1FCB277C7BE54FA20E7CF404B490650A8ACC414E"
		  "375572342863C899F9F2EDF9747A9B60" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(v[i].curve));
		const EVP_MD *md = EVP_get_digestbyname(v[i].md);
		BIGNUM *x = NULL, *want = NULL, *k = BN_new(), *k2 = BN_new();
		uint8_t h[EVP_MAX_MD_SIZE];
		unsigned int hlen;

		assert_non_null(g);
		assert_true(EVP_Digest(v[i].msg, strlen(v[i].msg), h, &hlen, md, NULL));
		assert_true(BN_hex2bn(&x, v[i].x) && BN_hex2bn(&want, v[i].k));
		assert_int_equal(bpi_rfc6979_k(EC_GROUP_get0_order(g), x, md, h, hlen, 0, k), 0);
		if (BN_cmp(k, want))
			fail_msg("case %zu: k = %s", i, BN_bn2hex(k));
		/* The next candidate (for r or s = 0) is another valid nonce. */
		assert_int_equal(bpi_rfc6979_k(EC_GROUP_get0_order(g), x, md, h, hlen, 1, k2), 0);
		assert_true(BN_cmp(k, k2) != 0);
		assert_true(BN_cmp(k2, EC_GROUP_get0_order(g)) < 0 && !BN_is_zero(k2));
		BN_free(x);
		BN_free(want);
		BN_free(k);
		BN_free(k2);
		EC_GROUP_free(g);
	}
}

/* The whole signature path reproduces the RFC's (r, s), as r || s. */
static void test_ecdsa_rfc6979_signatures(void **state)
{
	static const struct {
		const char *file, *algo, *r, *s;
	} v[] = {
		{ "rfc-p256.pem", "sha256,ecdsa256",
		  "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
		  "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8" },
		{ "rfc-p256.pem", "sha512,ecdsa256",
		  "8496A60B5E9B47C825488827E0495B0E3FA109EC4568FD3F8D1097678EB97F00",
		  "2362AB1ADBE2B8ADF9CB9EDAB740EA6049C028114F2460F96554F61FAE3302FE" },
		{ "rfc-p384.pem", "sha384,ecdsa384",
		  "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C"
		  "81A648152E44ACF96E36DD1E80FABE46",
		  "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F"
		  "A329C145786E679E7B82C71A38628AC8" },
		{ "rfc-p384.pem", "sha256,ecdsa384",
		  "21B13D1E013C7FA1392D03C5F99AF8B30C570C6F98D4EA8E354B63A21D3DAA33"
		  "BDE1E888E63355D92FA2B3C36D8FB2CD",
		  "F3AA443FB107745BF4BD77CB3891674632068A10CA67E3D45DB2266FA7D1FEEB"
		  "EFDC63ECCD1AC42EC0CB8668A4FA0AB0" },
	};
	static const struct bpi_region sample[] = { { "sam", 3 }, { "ple", 3 } };
	(void)state;
	write_ec_key("rfc-p256.pem", "prime256v1", P256_X);
	write_ec_key("rfc-p384.pem", "secp384r1", P384_X);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bp_key *k = open_key(v[i].file);
		struct bpi_sig_algo a = algo(v[i].algo, NULL);
		uint8_t want[96], got[96];
		size_t half = a.bits / 8;
		struct bpi_pubkey pub;
		struct bp_diag d;
		void *fdt;

		unhex(want, v[i].r);
		unhex(want + half, v[i].s);
		assert_int_equal(bpi_sig_sign(k, &a, sample, 2, got, &d), 0);
		assert_memory_equal(got, want, 2 * half);
		fdt = key_fdt(k, &a, BP_KEY_REQUIRED_IMAGE);
		read_pub(fdt, bp_key_name(k), &pub);
		assert_int_equal(pub.required, BP_KEY_REQUIRED_IMAGE);
		assert_int_equal(bpi_sig_verify(&pub, &a, sample, 2, got, 2 * half, &d), 0);
		got[2 * half - 1] ^= 1; /* s off by one */
		assert_int_equal(bpi_sig_verify(&pub, &a, sample, 2, got, 2 * half, &d),
				 BP_ERR_SIGNATURE);
		assert_int_equal(bpi_sig_verify(&pub, &a, sample, 1, want, 2 * half, &d),
				 BP_ERR_SIGNATURE);
		assert_int_equal(bpi_sig_verify(&pub, &a, sample, 2, want, 2 * half - 1, &d),
				 BP_ERR_SIGNATURE);
		memset(got, 0, sizeof(got)); /* r = s = 0 */
		assert_int_equal(bpi_sig_verify(&pub, &a, sample, 2, got, 2 * half, &d),
				 BP_ERR_SIGNATURE);
		bpi_pubkey_free(&pub);
		free(fdt);
		bp_key_close(k);
	}
}

/* Random keys: sign, verify with OpenSSL directly (DER), and through a key node. */
static void test_ecdsa_sign_verify(void **state)
{
	static const struct {
		const char *file, *algo;
		int key;
	} v[] = {
		{ "ec256.pem", "sha256,ecdsa256", 2 },
		{ "ec256.pem", "sha1,ecdsa256", 2 },
		{ "ec384.pem", "sha384,ecdsa384", 3 },
		{ "ec384.pem", "sha512,ecdsa384", 3 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bp_key *k = open_key(v[i].file);
		struct bpi_sig_algo a = algo(v[i].algo, NULL);
		size_t half = a.bits / 8, hl = bp_hash_len(a.hash);
		uint8_t s1[96], s2[96], h[64], *der = NULL;
		ECDSA_SIG *sig = ECDSA_SIG_new();
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(keys[v[i].key], NULL);
		struct bp_diag d;
		int dlen;

		assert_int_equal(bpi_sig_sign(k, &a, regions, 2, s1, &d), 0);
		assert_int_equal(bpi_sig_sign(k, &a, regions, 2, s2, &d), 0);
		assert_memory_equal(s1, s2, 2 * half);
		assert_int_equal(bpi_sig_digest(a.hash, regions, 2, h, &d), 0);
		ECDSA_SIG_set0(sig, BN_bin2bn(s1, (int)half, NULL), BN_bin2bn(s1 + half, (int)half, NULL));
		dlen = i2d_ECDSA_SIG(sig, &der);
		assert_true(dlen > 0);
		assert_true(EVP_PKEY_verify_init(c) > 0);
		assert_int_equal(EVP_PKEY_verify(c, der, (size_t)dlen, h, hl), 1);
		OPENSSL_free(der);
		ECDSA_SIG_free(sig);
		EVP_PKEY_CTX_free(c);
		bp_key_close(k);
	}
}

/* ---- writing key nodes ---- */

static void test_pubkey_write(void **state)
{
	struct bp_key *rsa = open_key("dev.key"), *r3 = open_key("rsa3072"), *ec = open_key("ec384.pem");
	struct bpi_sig_algo a = algo("sha256,rsa2048", NULL), a3 = algo("sha512,rsa3072", "pss");
	struct bpi_sig_algo e = algo("sha384,ecdsa384", NULL);
	char *fdt = malloc(16384), *small = malloc(16384);
	struct bpi_pubkey pub;
	struct bp_diag d;
	int len;

	(void)state;
	assert_int_equal(fdt_create_empty_tree(fdt, 16384), 0);
	/* Names that cannot be node names. */
	assert_int_equal(bpi_pubkey_write(fdt, rsa, "a@b", &a, 0, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "cannot name a devicetree node"));
	assert_int_equal(bpi_pubkey_write(fdt, rsa, "", &a, 0, &d), BP_ERR_INVALID);
	assert_int_equal(bpi_pubkey_write(fdt, rsa, "a/b", &a, 0, &d), BP_ERR_INVALID);
	assert_int_equal(bpi_pubkey_write(fdt, rsa, "x\n", &a, 0, &d), BP_ERR_INVALID);
	assert_null(strchr(d.msg, '\n'));
	/* Key and algorithm must agree. */
	assert_int_equal(bpi_pubkey_write(fdt, rsa, "k", &e, 0, &d), BP_ERR_INVALID);
	assert_int_equal(bpi_pubkey_write(fdt, rsa, "k", &a3, 0, &d), BP_ERR_INVALID);
	assert_int_equal(fdt_path_offset(fdt, "/signature/key-k"), -FDT_ERR_NOTFOUND);

	/* RSA-3072 (the "algo" never carries the padding, as mkimage writes it). */
	assert_int_equal(bpi_pubkey_write(fdt, r3, "k", &a3, BP_KEY_REQUIRED_IMAGE, &d), 0);
	read_pub(fdt, "k", &pub);
	assert_string_equal(fdt_getprop(fdt, key_node(fdt, "k"), "algo", NULL), "sha512,rsa3072");
	assert_int_equal(fdt_getprop(fdt, key_node(fdt, "k"), "rsa,modulus", &len) != NULL, 1);
	assert_int_equal(len, 384);
	assert_int_equal(pub.required, BP_KEY_REQUIRED_IMAGE);
	bpi_pubkey_free(&pub);
	/* Replaced by an EC key of the same name: nothing of the RSA key stays. */
	assert_int_equal(bpi_pubkey_write(fdt, ec, "k", &e, BP_KEY_REQUIRED_NONE, &d), 0);
	assert_null(fdt_getprop(fdt, key_node(fdt, "k"), "rsa,modulus", NULL));
	assert_null(fdt_getprop(fdt, key_node(fdt, "k"), "required", NULL));
	read_pub(fdt, "k", &pub);
	assert_int_equal(pub.algo.bits, 384);
	bpi_pubkey_free(&pub);

	/* No room: BP_ERR_TOOBIG; after growing, the same result as with room. */
	assert_int_equal(fdt_create_empty_tree(small, 200), 0);
	assert_int_equal(bpi_pubkey_write(small, rsa, "dev", &a, BP_KEY_REQUIRED_CONF, &d),
			 BP_ERR_TOOBIG);
	assert_int_equal(fdt_open_into(small, small, 16384), 0);
	assert_int_equal(bpi_pubkey_write(small, rsa, "dev", &a, BP_KEY_REQUIRED_CONF, &d), 0);
	assert_int_equal(fdt_pack(small), 0);
	{
		char *ref = key_fdt(rsa, &a, BP_KEY_REQUIRED_CONF);

		assert_int_equal(fdt_pack(ref), 0);
		assert_int_equal(fdt_totalsize(ref), fdt_totalsize(small));
		assert_memory_equal(ref, small, fdt_totalsize(ref));
		free(ref);
	}
	free(fdt);
	free(small);
	bp_key_close(rsa);
	bp_key_close(r3);
	bp_key_close(ec);
}

/* ---- threads ---- */

struct thread_arg {
	struct bp_key *k;
	struct bpi_sig_algo a;
	const uint8_t *want;
	int bad;
};

static void *sign_many(void *p)
{
	struct thread_arg *t = p;

	for (int i = 0; i < 25; i++) {
		uint8_t s[BPI_SIG_MAX_LEN];

		if (bpi_sig_sign(t->k, &t->a, regions, 2, s, NULL) ||
		    memcmp(s, t->want, bpi_sig_len(&t->a)))
			t->bad++;
	}
	return NULL;
}

/* One key shared by threads signs the same bytes as one thread does. */
static void test_threads(void **state)
{
	static const char *const files[] = { "dev.key", "ec256.pem" };
	static const char *const algos[] = { "sha256,rsa2048", "sha256,ecdsa256" };

	(void)state;
	for (int f = 0; f < 2; f++) {
		struct bp_key *k = open_key(files[f]);
		struct thread_arg t[4];
		pthread_t th[4];
		uint8_t want[BPI_SIG_MAX_LEN];

		t[0] = (struct thread_arg){ k, algo(algos[f], NULL), want, 0 };
		assert_int_equal(bpi_sig_sign(k, &t[0].a, regions, 2, want, NULL), 0);
		for (int i = 0; i < 4; i++) {
			t[i] = t[0];
			assert_int_equal(pthread_create(&th[i], NULL, sign_many, &t[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(t[i].bad, 0);
		}
		bp_key_close(k);
	}
}

/* ---- PKCS#11 (SoftHSM2 token made by tests/cli/softhsm.py) ---- */

static bool token_ready;

/* The token under DIR/hsm, its environment set in this process. */
static void make_token(void)
{
	const char *src = getenv("BOOTPACK_SRC");
	char cmd[1024], line[512];
	FILE *p;

	if (token_ready)
		return;
	if (!src)
		fail_msg("BOOTPACK_SRC is not set (run through meson test)");
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/cli/softhsm.py' '%s/hsm'", src, dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		assert_non_null(eq);
		*eq = '\0';
		assert_int_equal(setenv(line, eq + 1, 1), 0);
	}
	if (pclose(p))
		fail_msg("%s failed", cmd);
	token_ready = true;
}

static struct bp_key *open_token(const char *uri, const char *pin)
{
	struct bp_key *k = NULL;
	struct bp_diag d;

	if (bp_key_open(uri, pin, &k, &d))
		fail_msg("bp_key_open %s: %s: %s", uri, d.path, d.msg);
	return k;
}

static void test_pkcs11_rsa(void **state)
{
	struct bp_key *tok, *file;
	struct bpi_sig_algo a = algo("sha256,rsa2048", NULL), pss = algo("sha256,rsa2048", "pss");
	uint8_t s1[256], s2[256];
	struct bpi_pubkey pub;
	struct bp_diag d;
	void *fdt;

	(void)state;
	make_token();
	tok = open_token("pkcs11:token=bootpack;object=dev", "1234");
	assert_string_equal(bp_key_name(tok), "dev");
	/* PKCS#1 v1.5 is deterministic: the token signs the bytes the PEM key signs. */
	snprintf((char *)s1, sizeof(s1), "%s/hsm/dev.key", dir);
	assert_int_equal(bp_key_open((char *)s1, NULL, &file, &d), 0);
	assert_int_equal(bpi_sig_sign(tok, &a, regions, 2, s1, &d), 0);
	assert_int_equal(bpi_sig_sign(file, &a, regions, 2, s2, &d), 0);
	assert_memory_equal(s1, s2, 256);
	/* PSS through the token verifies against the node written from the file key. */
	fdt = key_fdt(file, &a, BP_KEY_REQUIRED_CONF);
	read_pub(fdt, "dev", &pub);
	if (bpi_sig_sign(tok, &pss, regions, 2, s1, &d))
		fail_msg("token PSS: %s", d.msg);
	assert_int_equal(bpi_sig_verify(&pub, &pss, regions, 2, s1, 256, &d), 0);
	bpi_pubkey_free(&pub);
	free(fdt);
	/* The node written from the token key is the file key's. */
	{
		void *f2 = key_fdt(tok, &a, BP_KEY_REQUIRED_CONF), *f1 = key_fdt(file, &a, BP_KEY_REQUIRED_CONF);

		assert_memory_equal(f1, f2, fdt_totalsize(f1));
		free(f1);
		free(f2);
	}
	/* Threads share the token key (its session is locked around each signature). */
	{
		struct thread_arg t[3];
		pthread_t th[3];

		for (int i = 0; i < 3; i++) {
			t[i] = (struct thread_arg){ tok, a, s2, 0 };
			assert_int_equal(pthread_create(&th[i], NULL, sign_many, &t[i]), 0);
		}
		for (int i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(t[i].bad, 0);
		}
	}
	bp_key_close(tok);
	bp_key_close(file);
}

static void test_pkcs11_ec(void **state)
{
	static const char *const names[] = { "ec", "ec384" };
	static const char *const algos[] = { "sha256,ecdsa256", "sha384,ecdsa384" };

	(void)state;
	make_token();
	for (int i = 0; i < 2; i++) {
		char uri[128];
		struct bp_key *tok, *pubk;
		struct bpi_sig_algo a = algo(algos[i], NULL);
		uint8_t s[96];
		struct bpi_pubkey pub;
		struct bp_diag d;
		void *fdt;

		/* The PIN in the URI this time, and the public half from the token. */
		snprintf(uri, sizeof(uri), "pkcs11:token=bootpack;object=%s;pin-value=1234", names[i]);
		tok = open_token(uri, NULL);
		assert_int_equal(bp_key_open_public(uri, NULL, &pubk, &d), 0);
		fdt = key_fdt(pubk, &a, BP_KEY_REQUIRED_NONE);
		read_pub(fdt, names[i], &pub);
		if (bpi_sig_sign(tok, &a, regions, 2, s, &d))
			fail_msg("token ECDSA: %s", d.msg);
		assert_int_equal(bpi_sig_verify(&pub, &a, regions, 2, s, 2 * a.bits / 8, &d), 0);
		bpi_pubkey_free(&pub);
		free(fdt);
		bp_key_close(pubk);
		bp_key_close(tok);
	}
}

static void test_pkcs11_errors(void **state)
{
	static const struct {
		const char *uri, *pin;
		int ret;
		const char *msg, *path;
	} v[] = {
		{ "pkcs11:token=bootpack;object=nope", "1234", BP_ERR_NOTFOUND,
		  "no private key found", "pkcs11:token=bootpack;object=nope" },
		{ "pkcs11:token=other;object=dev", "1234", BP_ERR_NOTFOUND, "no private key found",
		  "pkcs11:token=other;object=dev" },
		{ "pkcs11:token=bootpack;object=dev;pin-value=9999", NULL, BP_ERR_NOTFOUND,
		  "no private key found", "pkcs11:token=bootpack;object=dev;pin-value=..." },
		/* No PIN at all: refused, never prompted for. */
		{ "pkcs11:token=bootpack;object=dev", NULL, BP_ERR_NOTFOUND, "no private key found",
		  "pkcs11:token=bootpack;object=dev" },
		/* A URI naming no key would sign with whichever comes first. */
		{ "pkcs11:", "1234", BP_ERR_INVALID, "names no key", "pkcs11:" },
		{ "pkcs11:token=bootpack;pin-value=1234", NULL, BP_ERR_INVALID, "names no key",
		  "pkcs11:token=bootpack;pin-value=..." },
		{ "pkcs11:token=bootpack;object=", "1234", BP_ERR_INVALID, "names no key",
		  "pkcs11:token=bootpack;object=" },
		{ "pkcs11:pin-value=;pin-value=;pin-value=", NULL, BP_ERR_INVALID, "names no key",
		  "pkcs11:pin-value=...;pin-value=...;pin-value=..." },
	};
	(void)state;
	make_token();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bp_key *k = (struct bp_key *)1;
		struct bp_diag d;
		int ret = bp_key_open(v[i].uri, v[i].pin, &k, &d);

		if (ret != v[i].ret || !strstr(d.msg, v[i].msg) || strcmp(d.path, v[i].path))
			fail_msg("%s: %d '%s' '%s'", v[i].uri, ret, d.path, d.msg);
		assert_null(k);
		assert_null(strstr(d.msg, "9999"));
		assert_null(strstr(d.msg, "1234"));
	}
	/* A module that is not there is named, not reported as a missing key. */
	{
		char *saved = strdup(getenv("PKCS11_MODULE_PATH"));
		struct bp_key *k;
		struct bp_diag d;

		setenv("PKCS11_MODULE_PATH", "/nonexistent/libp11mod.so", 1);
		assert_int_equal(bp_key_open("pkcs11:token=bootpack;object=dev", "1234", &k, &d),
				 BP_ERR_IO);
		assert_non_null(strstr(d.msg, "PKCS11_MODULE_PATH '/nonexistent/libp11mod.so'"));
		setenv("PKCS11_MODULE_PATH", saved, 1);
		free(saved);
	}
	/* An id instead of an object name: the key is named by its id. */
	{
		struct bp_key *k = open_token("pkcs11:token=bootpack;id=%01", "1234");

		assert_string_equal(bp_key_name(k), "01");
		bp_key_close(k);
	}
}

/* ---- hostile key nodes ---- */

struct mutation {
	const char *prop;
	const char *val;   /* NULL: delete the property */
	int len;           /* -1: strlen(val) + 1 */
	const char *msg;   /* in the message; NULL: the node must read fine */
};

#define BE32(v) (const char[]){ (char)((v) >> 24), (char)((v) >> 16), (char)((v) >> 8), (char)(v) }
#define BE64(hi, lo) (const char[]){ (char)((hi) >> 24), (char)((hi) >> 16), (char)((hi) >> 8), \
				     (char)(hi), (char)((lo) >> 24), (char)((lo) >> 16),           \
				     (char)((lo) >> 8), (char)(lo) }

/* Each mutation of a valid node written for @key/@a is read as @m says. */
static void run_mutations(const char *key, const char *algo_name, const struct mutation *m,
			  size_t n)
{
	struct bp_key *k = open_key(key);
	struct bpi_sig_algo a = algo(algo_name, NULL);
	void *good = key_fdt(k, &a, BP_KEY_REQUIRED_CONF);

	for (size_t i = 0; i < n; i++) {
		char *fdt = malloc(16384), buf[512];
		int node, ret;
		struct bpi_pubkey pub;
		struct bp_diag d = { .msg = "" };

		memcpy(fdt, good, 16384);
		node = key_node(fdt, bp_key_name(k));
		if (m[i].val && !strncmp(m[i].val, "@copy:", 6)) {
			/* The value of another property, e.g. a modulus with one byte changed. */
			int l;
			const char *v = fdt_getprop(fdt, node, m[i].val + 6, &l);

			assert_non_null(v);
			memcpy(buf, v, (size_t)l);
			buf[m[i].len] ^= m[i].len ? 0x01 : 0x80; /* byte 0: the top bit */
			assert_int_equal(fdt_setprop(fdt, node, m[i].prop, buf, l), 0);
		} else if (m[i].val) {
			int len = m[i].len < 0 ? (int)strlen(m[i].val) + 1 : m[i].len;

			assert_int_equal(fdt_setprop(fdt, node, m[i].prop, m[i].val, len), 0);
		} else {
			assert_int_equal(fdt_delprop(fdt, node, m[i].prop), 0);
		}
		node = key_node(fdt, bp_key_name(k));
		ret = bpi_pubkey_read(fdt, node, &pub, &d);
		if (!m[i].msg) {
			if (ret)
				fail_msg("%s case %zu (%s): %s", key, i, m[i].prop, d.msg);
			bpi_pubkey_free(&pub);
		} else if (ret != BP_ERR_FORMAT || !strstr(d.msg, m[i].msg) ||
			   !strstr(d.msg, "key node 'key-")) {
			fail_msg("%s case %zu (%s): %d '%s', expected '%s'", key, i, m[i].prop, ret,
				 d.msg, m[i].msg);
		} else {
			assert_null(pub.pkey);
		}
		free(fdt);
	}
	free(good);
	bp_key_close(k);
}

static void test_hostile_rsa_nodes(void **state)
{
	static const char big[600] = { 0 };
	const struct mutation m[] = {
		{ "rsa,num-bits", "\0\0\x08\0\0", 5, "'rsa,num-bits' is 5 bytes, expected 4" },
		{ "rsa,num-bits", BE32(0), 4, "rsa,num-bits is 0," },
		{ "rsa,num-bits", BE32(0xffffffffu), 4, "rsa,num-bits is 4294967295" },
		{ "rsa,num-bits", BE32(1024), 4, "expected 2048, 3072 or 4096" },
		{ "rsa,num-bits", BE32(2049), 4, "rsa,num-bits is 2049" },
		{ "rsa,num-bits", BE32(4096), 4, "does not match rsa,num-bits 4096" },
		{ "rsa,num-bits", NULL, 0, "no 'rsa,num-bits'" },
		{ "rsa,modulus", NULL, 0, "no 'rsa,modulus'" },
		{ "rsa,modulus", big, 255, "'rsa,modulus' is 255 bytes, expected 256" },
		{ "rsa,modulus", big, 512, "'rsa,modulus' is 512 bytes, expected 256" },
		{ "rsa,modulus", big, 256, "rsa,modulus has 0 significant bits" },
		{ "rsa,modulus", "@copy:rsa,modulus", 255, "rsa,modulus is even" },
		{ "rsa,modulus", "@copy:rsa,modulus", 0, "significant bits" },
		/* n0-inverse depends on the low 32 bits only; r-squared on all. */
		{ "rsa,modulus", "@copy:rsa,modulus", 253, "rsa,n0-inverse does not match" },
		{ "rsa,modulus", "@copy:rsa,modulus", 100, "rsa,r-squared does not match" },
		{ "rsa,exponent", BE64(0, 0), 8, "rsa,exponent 0 is not an odd number above 1" },
		{ "rsa,exponent", BE64(0, 1), 8, "rsa,exponent 1 is not" },
		{ "rsa,exponent", BE64(0, 65536), 8, "(even) is not" },
		{ "rsa,exponent", BE32(65537), 4, "'rsa,exponent' is 4 bytes, expected 8" },
		{ "rsa,exponent", NULL, 0, NULL }, /* U-Boot's default 65537 */
		{ "rsa,exponent", BE64(0, 3), 8, NULL },
		{ "rsa,r-squared", NULL, 0, "no 'rsa,r-squared'" },
		{ "rsa,r-squared", big, 128, "'rsa,r-squared' is 128 bytes" },
		{ "rsa,r-squared", "@copy:rsa,r-squared", 200, "rsa,r-squared does not match" },
		{ "rsa,n0-inverse", NULL, 0, "no 'rsa,n0-inverse'" },
		{ "rsa,n0-inverse", BE32(12345), 4, "rsa,n0-inverse does not match" },
		{ "rsa,n0-inverse", big, 8, "'rsa,n0-inverse' is 8 bytes" },
		{ "algo", "sha256,rsa1024", -1, "unknown signature algorithm 'sha256,rsa1024'" },
		{ "algo", "sha256,rsa4096", -1, "algo 'sha256,rsa4096' does not match rsa,num-bits 2048" },
		{ "algo", "sha256,ecdsa256", -1, "algo 'sha256,ecdsa256' but rsa,* properties" },
		{ "algo", "sha256,rsa2048", 14, "'algo' is not a string" },
		{ "algo", "", -1, "unknown signature algorithm ''" },
		{ "algo", NULL, 0, NULL },
		{ "required", "yes", -1, "required is 'yes' (expected conf or image)" },
		{ "required", "conf\0image", 11, "'required' is not a string" },
		{ "key-name-hint", "dev", 3, "'key-name-hint' is not a string" },
		{ "ecdsa,curve", "prime256v1", -1, "both rsa,* and ecdsa,* properties" },
	};
	(void)state;
	run_mutations("dev.key", "sha256,rsa2048", m, sizeof(m) / sizeof(m[0]));
}

static void test_hostile_ec_nodes(void **state)
{
	static const char ff[64] = { [0 ... 63] = (char)0xff };
	const struct mutation m[] = {
		{ "ecdsa,curve", "secp521r1", -1, "unknown ecdsa,curve 'secp521r1'" },
		{ "ecdsa,curve", "prime256v1\n", -1, "unknown ecdsa,curve 'prime256v1\\x0a'" },
		{ "ecdsa,curve", "secp384r1", -1, "algo 'sha256,ecdsa256' does not match ecdsa,curve" },
		{ "ecdsa,curve", "prime256v1", 10, "'ecdsa,curve' is not a string" },
		{ "ecdsa,curve", NULL, 0, "neither rsa,modulus nor ecdsa,curve" },
		{ "ecdsa,x-point", NULL, 0, "no 'ecdsa,x-point'" },
		{ "ecdsa,y-point", NULL, 0, "no 'ecdsa,y-point'" },
		{ "ecdsa,x-point", ff, 48, "'ecdsa,x-point' is 48 bytes, expected 32" },
		{ "ecdsa,y-point", ff, 31, "'ecdsa,y-point' is 31 bytes, expected 32" },
		{ "ecdsa,y-point", "@copy:ecdsa,y-point", 31, "is not a point on prime256v1" },
		{ "ecdsa,x-point", "@copy:ecdsa,x-point", 7, "is not a point on prime256v1" },
		{ "ecdsa,x-point", ff, 32, "is not a point on prime256v1" },
		{ "ecdsa,y-point", ff, 32, "is not a point on prime256v1" },
		{ "ecdsa,x-point", (const char[32]){ 0 }, 32, "is not a point on prime256v1" },
		{ "algo", "sha256,rsa2048", -1, "algo 'sha256,rsa2048' but ecdsa,* properties" },
		{ "algo", "sha256,ecdsa384", -1, "does not match ecdsa,curve prime256v1" },
		{ "algo", NULL, 0, NULL },
		{ "rsa,num-bits", BE32(2048), 4, "both rsa,* and ecdsa,* properties" },
	};
	(void)state;
	run_mutations("ec256.pem", "sha256,ecdsa256", m, sizeof(m) / sizeof(m[0]));
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	EVP_PKEY *ed, *p224;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "test-sig-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	keys[0] = EVP_RSA_gen(2048);
	keys[1] = EVP_RSA_gen(3072);
	keys[2] = EVP_EC_gen("P-256");
	keys[3] = EVP_EC_gen("P-384");
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	p224 = EVP_EC_gen("P-224");
	if (!keys[0] || !keys[1] || !keys[2] || !keys[3] || !ed || !p224)
		return -1;
	write_key("dev.key", keys[0], true);
	if (mkdir(path_of("keys"), 0700))
		return -1;
	write_key("keys/dev.key", keys[0], true);
	write_cert("keys/dev.crt", keys[0]);
	write_key("keys/ec.pem", keys[2], true);
	write_key("dev-pub.pem", keys[0], false);
	write_cert("dev.crt", keys[0]);
	write_key("rsa3072", keys[1], true);
	write_key("ec256.pem", keys[2], true);
	write_key("ec384.pem", keys[3], true);
	write_key("ed25519.key", ed, true);
	write_key("p224.key", p224, true);
	f = fopen(path_of("enc.key"), "w");
	if (!f || !PEM_write_PrivateKey(f, keys[0], EVP_aes_128_cbc(), (unsigned char *)"secret", 6,
					NULL, NULL))
		return -1;
	fclose(f);
	write_file("garbage.key", "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
				  "-----END PRIVATE KEY-----\n");
	write_file("empty.key", "");
	EVP_PKEY_free(ed);
	EVP_PKEY_free(p224);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(keys[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_algo_parse),
		cmocka_unit_test(test_key_open),
		cmocka_unit_test(test_key_open_errors),
		cmocka_unit_test(test_key_check),
		cmocka_unit_test(test_rsa_sign_verify),
		cmocka_unit_test(test_rsa_algo_mismatch),
		cmocka_unit_test(test_rsa_node_matches_mkimage),
		cmocka_unit_test(test_ec_node_matches_mkimage),
		cmocka_unit_test(test_rfc6979_nonce),
		cmocka_unit_test(test_ecdsa_rfc6979_signatures),
		cmocka_unit_test(test_ecdsa_sign_verify),
		cmocka_unit_test(test_pubkey_write),
		cmocka_unit_test(test_threads),
		/* Errors first: a PKCS#11 login lasts as long as the process (the
		 * module stays loaded), so a wrong PIN after a right one logs in. */
		cmocka_unit_test(test_pkcs11_errors),
		cmocka_unit_test(test_pkcs11_rsa),
		cmocka_unit_test(test_pkcs11_ec),
		cmocka_unit_test(test_hostile_rsa_nodes),
		cmocka_unit_test(test_hostile_ec_nodes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
