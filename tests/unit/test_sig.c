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
	char cmd[1024], *ctrl = malloc(65536);
	void *ours = key_fdt(k, &a, BP_KEY_REQUIRED_CONF);
	int theirs_node, ours_node, po, n = 0;
	FILE *f;
	size_t len;

	(void)state;
	write_file("fit.its",
		   "/dts-v1/;\n/ {\n description = \"t\";\n #address-cells = <1>;\n"
		   " images {\n  k {\n   data = \"kernel\";\n   type = \"kernel\";\n"
		   "   arch = \"arm64\";\n   os = \"linux\";\n   compression = \"none\";\n"
		   "   load = <0>;\n   entry = <0>;\n   hash-1 { algo = \"sha256\"; };\n  };\n };\n"
		   " configurations {\n  default = \"c\";\n  c {\n   kernel = \"k\";\n"
		   "   signature-1 {\n    algo = \"sha256,rsa2048\";\n    key-name-hint = \"dev\";\n"
		   "    sign-images = \"kernel\";\n   };\n  };\n };\n};\n");
	write_file("ctrl.dts", "/dts-v1/;\n/ {\n};\n");
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
	theirs_node = key_node(ctrl, "dev");
	ours_node = key_node(ours, "dev");
	assert_true(theirs_node >= 0 && ours_node >= 0);
	fdt_for_each_property_offset(po, ctrl, theirs_node) {
		const char *name;
		int l1, l2;
		const void *v1 = fdt_getprop_by_offset(ctrl, po, &name, &l1);
		const void *v2 = fdt_getprop(ours, ours_node, name, &l2);

		assert_true(n < 8);
		assert_string_equal(name, props[n++]);
		if (!v2)
			fail_msg("%s missing from our node", name);
		assert_int_equal(l1, l2);
		assert_memory_equal(v1, v2, (size_t)l1);
	}
	assert_int_equal(n, 8);
	n = 0;
	fdt_for_each_property_offset(po, ours, ours_node) {
		const char *name;

		fdt_getprop_by_offset(ours, po, &name, NULL);
		assert_string_equal(name, props[n++]);
	}
	assert_int_equal(n, 8);
	free(ctrl);
	free(ours);
	bp_key_close(k);
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
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
