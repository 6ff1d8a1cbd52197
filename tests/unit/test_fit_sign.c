// SPDX-License-Identifier: MIT
/*
 * bp_fit_sign(), bp_fit_key_add() and keyed bp_fit_verify() against
 * Debian's mkimage 2023.01 (a test dependency; missing, the test fails):
 *
 * - a FIT mkimage built from an .its with signature nodes but no key,
 *   signed by bootpack as "mkimage" 2023.01, is byte for byte the FIT
 *   `mkimage -k` signs from the same .its (RSA PKCS#1 v1.5 is
 *   deterministic), so nodes, property order, hashed-nodes, hashed-strings
 *   and values are mkimage's;
 * - a mkimage-signed FIT signed again by bootpack carries the values
 *   `mkimage -F -k` gives it;
 * - bootpack adds hash and signature nodes to a FIT that has none, and
 *   refuses what U-Boot would refuse;
 * - keyed verification: mkimage's and bootpack's signatures verify against a
 *   control devicetree from `mkimage -K` and from bp_fit_key_add(); each
 *   tampering is a failure naming configuration, signature and key.
 *
 * Keys are generated here at test time; scratch files go to a directory
 * made under the working directory and removed at the end.
 */
#include <dirent.h>
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <bootpack/fit.h>
#include <bootpack/sign.h>

#include "util/util.h"

#define EPOCH 1700000000u

static char dir[64];

static char *path_of(const char *name)
{
	static char buf[16][400];
	static int i;

	i = (i + 1) % 16;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void write_file(const char *name, const void *p, size_t n)
{
	FILE *f = fopen(path_of(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void read_whole(const char *path, struct bp_buf *b)
{
	b->len = 0;
	assert_int_equal(bpi_read_file(path, 1u << 30, b, NULL), 0);
}

static void run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd)) {
		fprintf(stderr, "command failed: %s\n", cmd);
		fail();
	}
}

/* An RSA key and its self-signed certificate (mkimage -k wants NAME.key and NAME.crt). */
static void make_key(const char *name, unsigned int bits)
{
	EVP_PKEY *k = EVP_RSA_gen(bits);
	X509 *x = X509_new();
	char file[64];
	FILE *f;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	snprintf(file, sizeof(file), "%s.key", name);
	f = fopen(path_of(file), "w");
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	snprintf(file, sizeof(file), "%s.crt", name);
	f = fopen(path_of(file), "w");
	assert_non_null(f);
	assert_true(PEM_write_X509(f, x));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static const char its_head[] =
	"/dts-v1/;\n/ {\n\tdescription = \"test\";\n\ttimestamp = <1700000000>;\n"
	"\t#address-cells = <1>;\n\timages {\n"
	"\t\tkernel {\n\t\t\tdescription = \"k\";\n\t\t\tdata = /incbin/(\"k.bin\");\n"
	"\t\t\ttype = \"kernel\";\n\t\t\tarch = \"arm\";\n\t\t\tos = \"linux\";\n"
	"\t\t\tcompression = \"none\";\n\t\t\tload = <0x80000>;\n\t\t\tentry = <0x80000>;\n"
	"\t\t\thash-1 { algo = \"sha256\"; };\n\t\t};\n"
	"\t\tfdt-1 {\n\t\t\tdescription = \"f1\";\n\t\t\tdata = /incbin/(\"f1.bin\");\n"
	"\t\t\ttype = \"flat_dt\";\n\t\t\tarch = \"arm64\";\n\t\t\tcompression = \"none\";\n"
	"\t\t\thash-1 { algo = \"sha256\"; };\n\t\t\thash-2 { algo = \"sha1\"; };\n\t\t};\n"
	"\t\tfdt-2 {\n\t\t\tdescription = \"f2\";\n\t\t\tdata = /incbin/(\"f2.bin\");\n"
	"\t\t\ttype = \"flat_dt\";\n\t\t\tarch = \"arm64\";\n\t\t\tcompression = \"none\";\n"
	"\t\t\thash-1 { algo = \"sha256\"; };\n\t\t};\n"
	"\t};\n\tconfigurations {\n\t\tdefault = \"conf-1\";\n";

/*
 * The configurations: with signature nodes for key @key (NULL: none),
 * padding @pad, signing @images (a sign-images value).
 */
static void write_its_images(const char *name, const char *key, const char *algo,
			     const char *pad, const char *images)
{
	char buf[8192], sig[512] = "";
	int n;

	if (key)
		snprintf(sig, sizeof(sig), "\t\t\tsignature-1 { algo = \"%s\"; "
			 "key-name-hint = \"%s\";%s%s%s sign-images = %s; };\n",
			 algo, key, pad ? " padding = \"" : "", pad ? pad : "", pad ? "\";" : "",
			 images);
	n = snprintf(buf, sizeof(buf), "%s"
		     "\t\tconf-1 {\n\t\t\tdescription = \"c1\";\n\t\t\tkernel = \"kernel\";\n"
		     "\t\t\tfdt = \"fdt-1\";\n%s\t\t};\n"
		     "\t\tconf-2 {\n\t\t\tdescription = \"c2\";\n\t\t\tkernel = \"kernel\";\n"
		     "\t\t\tfdt = \"fdt-2\";\n%s\t\t};\n\t};\n};\n", its_head, sig, sig);
	write_file(name, buf, (size_t)n);
}

static void write_its(const char *name, const char *key, const char *algo, const char *pad)
{
	write_its_images(name, key, algo, pad, "\"fdt\", \"kernel\"");
}

static int setup(void **state)
{
	uint8_t data[3000];

	(void)state;
	snprintf(dir, sizeof(dir), "fit-sign-XXXXXX");
	assert_non_null(mkdtemp(dir));
	srand(7);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	write_file("k.bin", data, 3000);
	{
		static const char f1[] = "/dts-v1/;\n/ { model = \"one\"; compatible = \"a,one\"; };\n";
		static const char f2[] = "/dts-v1/;\n/ { model = \"two\"; compatible = \"a,two\"; };\n";

		write_file("f1.dts", f1, sizeof(f1) - 1);
		write_file("f2.dts", f2, sizeof(f2) - 1);
	}
	run("cd %s && dtc -q -o f1.dtb f1.dts && dtc -q -o f2.dtb f2.dts && "
	    "cp f1.dtb f1.bin && cp f2.dtb f2.bin", dir);
	make_key("dev", 2048);
	make_key("other", 2048);
	return 0;
}

static int teardown(void **state)
{
	DIR *dh = opendir(dir);
	struct dirent *e;

	(void)state;
	while (dh && (e = readdir(dh)))
		if (e->d_name[0] != '.')
			unlink(path_of(e->d_name));
	if (dh)
		closedir(dh);
	rmdir(dir);
	return 0;
}

static struct bp_key *open_key(const char *name)
{
	struct bp_key *k;
	struct bp_diag d;
	char file[64];

	snprintf(file, sizeof(file), "%s.key", name);
	if (bp_key_open(path_of(file), NULL, &k, &d))
		fprintf(stderr, "%s\n", d.msg);
	assert_non_null(k);
	return k;
}

static int sign(const char *in, const char *out, const struct bp_key *k,
		struct bp_fit_sign_opts *o, struct bp_fit_sign_stats *st, struct bp_diag *d)
{
	return bp_fit_sign(path_of(in), k, o, path_of(out), st, d);
}

/* bootpack signs mkimage's unsigned FIT into exactly the FIT mkimage signs. */
static void test_same_bytes_as_mkimage(void **state)
{
	static const struct { const char *algo, *pad; } cases[] = {
		{ "sha256,rsa2048", NULL }, { "sha384,rsa2048", NULL }, { "sha1,rsa2048", NULL },
		{ "sha256,rsa2048", "pkcs-1.5" },
	};
	struct bp_buf a = BP_BUF_INIT, b = BP_BUF_INIT;
	struct bp_key *k = open_key("dev");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
		struct bp_fit_sign_stats st = BP_FIT_SIGN_STATS_INIT;
		struct bp_diag d;
		int ret;

		write_its("s.its", "dev", cases[i].algo, cases[i].pad);
		run("cd %s && SOURCE_DATE_EPOCH=%u mkimage -f s.its -k . m.fit >/dev/null", dir,
		    EPOCH);
		run("cd %s && SOURCE_DATE_EPOCH=%u mkimage -f s.its n.fit >/dev/null", dir, EPOCH);
		o.signer_name = "mkimage";
		o.signer_version = "2023.01";
		o.has_timestamp = true;
		o.timestamp = EPOCH;
		o.jobs = 2;
		ret = sign("n.fit", "b.fit", k, &o, &st, &d);
		if (ret)
			fprintf(stderr, "%s: %s\n", d.path, d.msg);
		assert_int_equal(ret, 0);
		assert_int_equal(st.n_signed, 2);
		assert_int_equal(st.n_replaced, 2);
		assert_int_equal(st.n_hashes_added, 0);
		/*
		 * The same tree: mkimage leaves free space at its end (totalsize
		 * differs) and whatever was in memory in a property's padding,
		 * which no signature covers; fdtdump shows everything else.
		 */
		run("cd %s && fdtdump m.fit 2>/dev/null | grep -v totalsize > m.dump && "
		    "fdtdump b.fit 2>/dev/null | grep -v totalsize > b.dump && diff m.dump b.dump >&2", dir);
		read_whole(path_of("m.fit"), &a);
		read_whole(path_of("b.fit"), &b);
		assert_int_equal(fdt_size_dt_strings(a.data), fdt_size_dt_strings(b.data));
		assert_memory_equal(a.data + fdt_off_dt_strings(a.data),
				    b.data + fdt_off_dt_strings(b.data), fdt_size_dt_strings(a.data));
		assert_int_equal(fdt_size_dt_struct(a.data), fdt_size_dt_struct(b.data));
	}
	bp_buf_free(&a);
	bp_buf_free(&b);
	bp_key_close(k);
}

/* A mkimage-signed FIT signed again: the values `mkimage -F -k` writes. */
static void test_resign_like_mkimage(void **state)
{
	struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
	struct bp_buf a = BP_BUF_INIT, b = BP_BUF_INIT;
	struct bp_key *k = open_key("dev");
	struct bp_diag d;

	(void)state;
	write_its("s.its", "dev", "sha256,rsa2048", NULL);
	run("cd %s && SOURCE_DATE_EPOCH=%u mkimage -f s.its -k . m.fit >/dev/null", dir, EPOCH);
	run("cd %s && cp m.fit r.fit && SOURCE_DATE_EPOCH=%u mkimage -F -k . r.fit >/dev/null",
	    dir, EPOCH);
	o.signer_name = "mkimage";
	o.signer_version = "2023.01";
	assert_int_equal(sign("m.fit", "b.fit", k, &o, NULL, &d), 0);
	read_whole(path_of("r.fit"), &a);
	read_whole(path_of("b.fit"), &b);
	for (int c = 1; c <= 2; c++) {
		char path[64];
		int na, nb, la, lb;
		const void *va, *vb;

		snprintf(path, sizeof(path), "/configurations/conf-%d/signature-1", c);
		na = fdt_path_offset(a.data, path);
		nb = fdt_path_offset(b.data, path);
		assert_true(na >= 0 && nb >= 0);
		for (const char *const *p = (const char *const[]){ "value", "hashed-nodes",
								    "hashed-strings", NULL }; *p; p++) {
			va = fdt_getprop(a.data, na, *p, &la);
			vb = fdt_getprop(b.data, nb, *p, &lb);
			assert_non_null(va);
			assert_non_null(vb);
			assert_int_equal(la, lb);
			assert_memory_equal(va, vb, (size_t)la);
		}
	}
	bp_buf_free(&a);
	bp_buf_free(&b);
	bp_key_close(k);
}


/* ---- Keyed verification ---- */

struct findings {
	size_t fail, warn, ok;
	char text[8192];
};

static void collect(void *ctx, const struct bp_fit_check *c)
{
	struct findings *f = ctx;
	size_t at = strlen(f->text);

	f->fail += c->level == BP_FIT_CHECK_FAIL;
	f->warn += c->level == BP_FIT_CHECK_WARN;
	f->ok += c->level == BP_FIT_CHECK_OK;
	if (c->level != BP_FIT_CHECK_OK || c->signature)
		snprintf(f->text + at, sizeof(f->text) - at, "%s %s [%s|%s|%s]: %s\n",
			 c->level == BP_FIT_CHECK_FAIL ? "FAIL" : c->level ? "WARN" : "OK",
			 c->node, c->signature ? c->signature : "-", c->algo ? c->algo : "-",
			 c->key_name ? c->key_name : "-", c->msg);
}

/* Verify @fit against the keys in @ctl; the findings, and the stats in @st. */
static void verify(const char *fit, const char *ctl, struct findings *f,
		   struct bp_fit_verify_stats *st)
{
	struct bp_fit_verify_opts o = BP_FIT_VERIFY_OPTS_INIT;
	struct bp_buf keys = BP_BUF_INIT;
	struct bp_fit *h;
	struct bp_diag d;

	memset(f, 0, sizeof(*f));
	*st = (struct bp_fit_verify_stats)BP_FIT_VERIFY_STATS_INIT;
	read_whole(path_of(ctl), &keys);
	o.keys_fdt = keys.data;
	o.keys_fdt_len = keys.len;
	assert_int_equal(bp_fit_open(path_of(fit), &h, &d), 0);
	if (bp_fit_verify(h, &o, collect, f, st, &d))
		fprintf(stderr, "verify: %s\n", d.msg);
	bp_fit_close(h);
	bp_buf_free(&keys);
}

static bool has(const struct findings *f, const char *text)
{
	if (strstr(f->text, text))
		return true;
	fprintf(stderr, "no \"%s\" in:\n%s", text, f->text);
	return false;
}

static void make_control(const char *name)
{
	static const char dts[] = "/dts-v1/;\n/ {\n\tmodel = \"ctl\";\n};\n";

	write_file("ctl.dts", dts, sizeof(dts) - 1);
	run("cd %s && dtc -q -I dts -O dtb -o %s ctl.dts", dir, name);
}

static void key_add(const char *dtb, const char *key, enum bp_key_required req)
{
	struct bp_fit_key_add_opts o = BP_FIT_KEY_ADD_OPTS_INIT;
	struct bp_key *k = open_key(key);
	struct bp_diag d;

	o.required = req;
	if (bp_fit_key_add(path_of(dtb), k, &o, path_of(dtb), &d))
		fprintf(stderr, "%s\n", d.msg);
	bp_key_close(k);
}

/* mkimage -K and bp_fit_key_add() write the same key node. */
static void test_key_add_like_mkimage(void **state)
{
	(void)state;
	write_its("s.its", "dev", "sha256,rsa2048", NULL);
	make_control("mk.dtb");
	make_control("bp.dtb");
	run("cd %s && mkimage -f s.its -k . -K mk.dtb -r m.fit >/dev/null", dir);
	key_add("bp.dtb", "dev", BP_KEY_REQUIRED_CONF);
	run("cd %s && fdtdump mk.dtb 2>/dev/null | sed -n '/signature {/,$p' > mk.keys && "
	    "fdtdump bp.dtb 2>/dev/null | sed -n '/signature {/,$p' > bp.keys && diff mk.keys bp.keys >&2",
	    dir);
}

/* mkimage's signatures and bootpack's verify with either control devicetree. */
static void test_verify_both_ways(void **state)
{
	struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
	struct bp_fit_verify_stats st;
	struct findings f;
	struct bp_key *k = open_key("dev");
	struct bp_diag d;

	(void)state;
	write_its("s.its", "dev", "sha256,rsa2048", NULL);
	make_control("mk.dtb");
	make_control("bp.dtb");
	run("cd %s && mkimage -f s.its -k . -K mk.dtb -r m.fit >/dev/null", dir);
	key_add("bp.dtb", "dev", BP_KEY_REQUIRED_CONF);
	verify("m.fit", "bp.dtb", &f, &st);
	assert_int_equal(f.fail, 0);
	assert_int_equal(st.n_signatures_ok, 2);
	assert_int_equal(st.n_signatures_bad, 0);
	assert_true(has(&f, "OK conf-1 [signature-1|sha256,rsa2048|dev]: signature-1: "
			"sha256,rsa2048 verified with key 'dev'"));
	/* A FIT with no signature node: bootpack adds hash and signature nodes. */
	write_its("u.its", NULL, NULL, NULL);
	run("cd %s && mkimage -f u.its u.fit >/dev/null", dir);
	verify("u.fit", "mk.dtb", &f, &st);
	assert_int_equal(f.fail, 2);
	assert_true(has(&f, "FAIL conf-2 [-|-|dev]: not signed, and key 'dev' is required"));
	assert_int_equal(sign("u.fit", "b.fit", k, &o, NULL, &d), 0);
	verify("b.fit", "mk.dtb", &f, &st);
	assert_int_equal(f.fail, 0);
	assert_int_equal(st.n_signatures_ok, 2);
	bp_key_close(k);
}

/* Each tampering is a failure naming the configuration, signature and key. */
static void test_tampering(void **state)
{
	struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
	struct bp_fit_verify_stats st;
	struct findings f;
	struct bp_key *other = open_key("other");
	struct bp_buf b = BP_BUF_INIT;
	struct bp_diag d;
	int node;

	(void)state;
	write_its("s.its", "dev", "sha256,rsa2048", NULL);
	make_control("mk.dtb");
	run("cd %s && mkimage -f s.its -k . -K mk.dtb -r m.fit >/dev/null", dir);

	/* A configuration property changed after signing. */
	read_whole(path_of("m.fit"), &b);
	node = fdt_path_offset(b.data, "/configurations/conf-1");
	assert_int_equal(fdt_setprop_inplace(b.data, node, "description", "c9", 3), 0);
	write_file("t.fit", b.data, b.len);
	verify("t.fit", "mk.dtb", &f, &st);
	assert_int_equal(st.n_signatures_bad, 1);
	assert_true(has(&f, "FAIL conf-1 [signature-1|sha256,rsa2048|dev]: signature-1: "
			"sha256,rsa2048 signature does not verify with key 'dev'"));
	assert_true(has(&f, "FAIL conf-1 [-|-|dev]: not signed by required key 'dev'"));

	/* Another image swapped into a signed configuration. */
	read_whole(path_of("m.fit"), &b);
	node = fdt_path_offset(b.data, "/configurations/conf-1");
	assert_int_equal(fdt_setprop_inplace(b.data, node, "fdt", "fdt-2", 6), 0);
	write_file("t.fit", b.data, b.len);
	verify("t.fit", "mk.dtb", &f, &st);
	assert_true(has(&f, "FAIL conf-1 [signature-1|sha256,rsa2048|dev]"));

	/* One flipped payload byte: the signed hash no longer matches. */
	read_whole(path_of("m.fit"), &b);
	node = fdt_path_offset(b.data, "/images/kernel");
	{
		int len;
		uint8_t *data = fdt_getprop_w(b.data, node, "data", &len);

		data[len / 2] ^= 1;
	}
	write_file("t.fit", b.data, b.len);
	verify("t.fit", "mk.dtb", &f, &st);
	assert_true(has(&f, "FAIL kernel [-|-|-]: hash-1: sha256 hash does not match"));
	assert_int_equal(st.n_signatures_bad, 0);

	/* Signed again by another key of the same name. */
	o.key_name = "dev";
	assert_int_equal(sign("m.fit", "t.fit", other, &o, NULL, &d), 0);
	verify("t.fit", "mk.dtb", &f, &st);
	assert_int_equal(st.n_signatures_bad, 2);
	assert_true(has(&f, "FAIL conf-2 [signature-1|sha256,rsa2048|dev]: signature-1: "
			"sha256,rsa2048 signature does not verify with key 'dev'"));

	/* Signed by a key the control devicetree does not have. */
	o.key_name = "other";
	write_its("u.its", NULL, NULL, NULL);
	run("cd %s && mkimage -f u.its u.fit >/dev/null", dir);
	assert_int_equal(sign("u.fit", "t.fit", other, &o, NULL, &d), 0);
	verify("t.fit", "mk.dtb", &f, &st);
	assert_true(has(&f, "FAIL conf-1 [signature-1|sha256,rsa2048|other]: signature-1: "
			"sha256,rsa2048 signature by key 'other', which is not in the control "
			"devicetree"));
	bp_buf_free(&b);
	bp_key_close(other);
}

/* Hostile signature nodes: each one clear failure, nothing crashes. */
/* A signature whose hashed-nodes leaves out an image the configuration boots. */
static void test_coverage(void **state)
{
	struct bp_fit_verify_stats st;
	struct findings f;

	(void)state;
	write_its_images("s.its", "dev", "sha256,rsa2048", NULL, "\"kernel\"");
	make_control("mk.dtb");
	run("cd %s && mkimage -f s.its -k . -K mk.dtb -r m.fit >/dev/null", dir);
	verify("m.fit", "mk.dtb", &f, &st);
	assert_int_equal(f.fail, 2);
	assert_true(has(&f, "FAIL conf-1 [signature-1|sha256,rsa2048|dev]: signature-1: "
			"verified with key 'dev', but its 'hashed-nodes' leaves out fdt image "
			"'fdt-1': its contents are not signed"));
}

static void test_hostile_sig_nodes(void **state)
{
	static const struct {
		const char *prop;
		const char *val;
		int len;
		const char *want;
	} cases[] = {
		{ "hashed-nodes", "/\0/configurations/conf-1\0/images/nope\0", 39,
		  "names '/images/nope', which is not in the FIT" },
		{ "hashed-nodes", "/\0/configurations/conf-1\0/\0", 27, "names '/' twice" },
		{ "hashed-nodes", "/\0/images/kernel\0", 17, "does not list the configuration" },
		{ "hashed-nodes", "/\0/configurations/conf-1", 24, "not NUL-terminated" },
		{ "hashed-strings", "\0\0\0\0\0\1\0\0", 8, "runs past the strings block" },
		{ "hashed-strings", "\0\0\0\0", 4, "is 4 bytes, not two cells" },
		{ "algo", "sha256,rsa1024", 15, "sha256,rsa1024" },
		{ "value", "\1\2\3", 3, "does not verify with key 'dev'" },
	};
	struct bp_fit_verify_stats st;
	struct findings f;
	struct bp_buf b = BP_BUF_INIT;

	(void)state;
	write_its("s.its", "dev", "sha256,rsa2048", NULL);
	make_control("mk.dtb");
	run("cd %s && mkimage -f s.its -k . -K mk.dtb -r m.fit >/dev/null", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *t;
		int node;

		read_whole(path_of("m.fit"), &b);
		t = malloc(b.len + 4096);
		assert_non_null(t);
		assert_int_equal(fdt_open_into(b.data, t, (int)b.len + 4096), 0);
		node = fdt_path_offset(t, "/configurations/conf-1/signature-1");
		assert_int_equal(fdt_setprop(t, node, cases[i].prop, cases[i].val, cases[i].len), 0);
		write_file("t.fit", t, fdt_totalsize(t));
		free(t);
		verify("t.fit", "mk.dtb", &f, &st);
		assert_true(f.fail >= 1);
		assert_true(has(&f, cases[i].want));
	}
	bp_buf_free(&b);
}

/* bp_fit_build() with a key: hash nodes added, every configuration signed, verifiable. */
static void test_build_signed(void **state)
{
	struct bp_fit_build_opts o = BP_FIT_BUILD_OPTS_INIT;
	struct bp_fit_build_stats bst = BP_FIT_BUILD_STATS_INIT;
	struct bp_fit_verify_stats st;
	const char *dtbs[2];
	struct findings f;
	struct bp_key *k = open_key("dev");
	struct bp_buf b = BP_BUF_INIT;
	struct bp_diag d;
	char kpath[400];

	(void)state;
	make_control("mk.dtb");
	key_add("mk.dtb", "dev", BP_KEY_REQUIRED_CONF);
	snprintf(kpath, sizeof(kpath), "%s", path_of("k.bin"));
	dtbs[0] = path_of("f1.dtb");
	dtbs[1] = path_of("f2.dtb");
	o.name = "Linux";
	o.arch = "arm";
	o.os = "linux";
	o.kernel = kpath;
	o.dtbs = dtbs;
	o.n_dtbs = 2;
	o.sign_key = k;
	for (int external = 0; external <= 1; external++) {
		o.external = external;
		if (bp_fit_build(&o, path_of("bs.fit"), &bst, &d))
			fprintf(stderr, "%s: %s\n", d.path, d.msg);
		read_whole(path_of("bs.fit"), &b);
		assert_int_equal(bst.fit_size, b.len);
		assert_int_equal(bst.fdt_size, fdt_totalsize(b.data));
		assert_true(fdt_path_offset(b.data, "/images/fdt-2/hash-1") >= 0);
		verify("bs.fit", "mk.dtb", &f, &st);
		assert_int_equal(f.fail, 0);
		assert_int_equal(st.n_signatures_ok, 2);
		assert_int_equal(st.n_hashes, 3);
	}
	bp_buf_free(&b);
	bp_key_close(k);
}

static void make_ec_key(const char *name)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	char file[64];
	FILE *f;

	assert_non_null(k);
	snprintf(file, sizeof(file), "%s.key", name);
	f = fopen(path_of(file), "w");
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	EVP_PKEY_free(k);
}

/* PSS, ECDSA and image signatures: signed by bootpack, verified by bootpack. */
static void test_algorithms_and_images(void **state)
{
	static const struct {
		const char *key, *padding;
		enum bp_fit_sign_what what;
		enum bp_key_required req;
	} cases[] = {
		{ "dev", "pss", BP_FIT_SIGN_CONFIGS, BP_KEY_REQUIRED_CONF },
		{ "ec", NULL, BP_FIT_SIGN_CONFIGS, BP_KEY_REQUIRED_CONF },
		{ "dev", NULL, BP_FIT_SIGN_IMAGES, BP_KEY_REQUIRED_IMAGE },
		{ "ec", NULL, BP_FIT_SIGN_IMAGES, BP_KEY_REQUIRED_IMAGE },
	};
	struct bp_fit_verify_stats st;
	struct findings f;
	struct bp_buf b = BP_BUF_INIT;

	(void)state;
	make_ec_key("ec");
	write_its("u.its", NULL, NULL, NULL);
	run("cd %s && mkimage -f u.its u.fit >/dev/null", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
		struct bp_fit_sign_stats sst = BP_FIT_SIGN_STATS_INIT;
		struct bp_key *k = open_key(cases[i].key);
		struct bp_diag d;
		size_t want = cases[i].what == BP_FIT_SIGN_IMAGES ? 3 : 2;

		o.padding = cases[i].padding;
		o.what = cases[i].what;
		make_control("c.dtb");
		key_add("c.dtb", cases[i].key, cases[i].req);
		if (sign("u.fit", "b.fit", k, &o, &sst, &d))
			fprintf(stderr, "%s\n", d.msg);
		assert_int_equal(sst.n_signed, want);
		verify("b.fit", "c.dtb", &f, &st);
		if (f.fail)
			fprintf(stderr, "%s", f.text);
		assert_int_equal(f.fail, 0);
		assert_int_equal(st.n_signatures_ok, want);
		/*
		 * Signing again replaces the signatures. The first signing added
		 * strings a second one signs too (as mkimage -F would), so from the
		 * second on the file stays the same: deterministic signatures.
		 */
		assert_int_equal(sign("b.fit", "b2.fit", k, &o, &sst, &d), 0);
		assert_int_equal(sst.n_replaced, want);
		assert_int_equal(sign("b2.fit", "b3.fit", k, &o, &sst, &d), 0);
		if (!cases[i].padding) {
			struct bp_buf b2 = BP_BUF_INIT;

			read_whole(path_of("b3.fit"), &b);
			read_whole(path_of("b2.fit"), &b2);
			assert_int_equal(b.len, b2.len);
			assert_memory_equal(b.data, b2.data, b.len);
			bp_buf_free(&b2);
		}
		/* The image key policy: an unsigned image under a required image key fails. */
		if (cases[i].what == BP_FIT_SIGN_IMAGES) {
			verify("u.fit", "c.dtb", &f, &st);
			assert_true(has(&f, "FAIL fdt-2 [-|-|-]: not signed, but the control "
					"devicetree requires image signatures"));
		}
		bp_key_close(k);
	}
	bp_buf_free(&b);
}

/* What U-Boot would refuse is refused, and nothing is written. */
static void test_refusals(void **state)
{
	struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
	struct bp_key *k = open_key("dev");
	struct bp_buf b = BP_BUF_INIT;
	struct bp_diag d;
	const char *nope[] = { "conf-9" };
	struct stat sb;
	uint8_t *t;
	int node;

	(void)state;
	write_its("u.its", NULL, NULL, NULL);
	run("cd %s && mkimage -f u.its u.fit >/dev/null && rm -f r.fit", dir);
	read_whole(path_of("u.fit"), &b);
	t = malloc(b.len + 4096);
	assert_non_null(t);
	assert_int_equal(fdt_open_into(b.data, t, (int)b.len + 4096), 0);
	node = fdt_path_offset(t, "/images/fdt-2");
	assert_int_equal(fdt_set_name(t, node, "fdt@2"), 0);
	write_file("at.fit", t, fdt_totalsize(t));
	assert_int_equal(sign("at.fit", "r.fit", k, &o, NULL, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "node 'fdt@2' has a unit address ('@')"));
	assert_int_equal(stat(path_of("r.fit"), &sb), -1);

	assert_int_equal(fdt_open_into(b.data, t, (int)b.len + 4096), 0);
	node = fdt_path_offset(t, "/configurations/conf-2");
	assert_int_equal(fdt_setprop_string(t, node, "fdt", "fdt-7"), 0);
	write_file("bad.fit", t, fdt_totalsize(t));
	assert_int_equal(sign("bad.fit", "r.fit", k, &o, NULL, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "configuration 'conf-2': fdt 'fdt-7' is not an image"));
	assert_int_equal(stat(path_of("r.fit"), &sb), -1);

	o.configs = nope;
	o.n_configs = 1;
	assert_int_equal(sign("u.fit", "r.fit", k, &o, NULL, &d), BP_ERR_NOTFOUND);
	assert_int_equal(stat(path_of("r.fit"), &sb), -1);
	o.configs = NULL;
	o.n_configs = 0;
	o.algo = "sha256,rsa4096";
	assert_int_equal(sign("u.fit", "r.fit", k, &o, NULL, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "RSA-2048"));
	assert_int_equal(stat(path_of("r.fit"), &sb), -1);
	free(t);
	bp_buf_free(&b);
	bp_key_close(k);
}

/* External data, at data-offset or data-position: it moves with the tree and still verifies. */
static void test_external(void **state)
{
	struct bp_fit_sign_opts o = BP_FIT_SIGN_OPTS_INIT;
	struct bp_fit_verify_stats st;
	struct findings f;
	struct bp_key *k = open_key("dev");
	const char *only[] = { "conf-2" };
	struct bp_diag d;

	(void)state;
	write_its("u.its", NULL, NULL, NULL);
	make_control("c.dtb");
	key_add("c.dtb", "dev", BP_KEY_REQUIRED_CONF);
	run("cd %s && mkimage -E -f u.its e.fit >/dev/null && mkimage -E -p 0x1000 -f u.its "
	    "p.fit >/dev/null", dir);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sign(i ? "p.fit" : "e.fit", "b.fit", k, &o, NULL, &d), 0);
		verify("b.fit", "c.dtb", &f, &st);
		if (f.fail)
			fprintf(stderr, "%s", f.text);
		assert_int_equal(f.fail, 0);
		assert_int_equal(st.n_hashes, 4);
		assert_int_equal(st.n_signatures_ok, 2);
	}
	/* Only the configuration asked for. */
	o.configs = only;
	o.n_configs = 1;
	assert_int_equal(sign("e.fit", "b.fit", k, &o, NULL, &d), 0);
	verify("b.fit", "c.dtb", &f, &st);
	assert_int_equal(st.n_signatures_ok, 1);
	assert_true(has(&f, "FAIL conf-1 [-|-|dev]: not signed, and key 'dev' is required"));
	bp_key_close(k);
}

/* required-mode: "all" (the default) wants every required key, "any" one of them. */
static void test_required_mode(void **state)
{
	struct bp_fit_verify_stats st;
	struct findings f;

	(void)state;
	write_its("s.its", "dev", "sha256,rsa2048", NULL);
	run("cd %s && mkimage -f s.its -k . m.fit >/dev/null", dir);
	make_control("c.dtb");
	key_add("c.dtb", "dev", BP_KEY_REQUIRED_CONF);
	key_add("c.dtb", "other", BP_KEY_REQUIRED_CONF);
	verify("m.fit", "c.dtb", &f, &st);
	assert_int_equal(f.fail, 2);
	assert_true(has(&f, "FAIL conf-1 [-|-|other]: not signed by required key 'other'"));
	run("cd %s && fdtput -t s c.dtb /signature required-mode any", dir);
	verify("m.fit", "c.dtb", &f, &st);
	assert_int_equal(f.fail, 0);
	assert_int_equal(st.n_signatures_ok, 2);
	/* Not signed by either: one failure naming both. */
	write_its("u.its", NULL, NULL, NULL);
	run("cd %s && mkimage -f u.its u.fit >/dev/null", dir);
	verify("u.fit", "c.dtb", &f, &st);
	assert_true(has(&f, "FAIL conf-2 [-|-|-]: not signed, and one of the required keys "
			"is needed (required-mode \"any\"): 'other', 'dev'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_as_mkimage),
		cmocka_unit_test(test_resign_like_mkimage),
		cmocka_unit_test(test_key_add_like_mkimage),
		cmocka_unit_test(test_verify_both_ways),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_coverage),
		cmocka_unit_test(test_build_signed),
		cmocka_unit_test(test_algorithms_and_images),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_external),
		cmocka_unit_test(test_required_mode),
		cmocka_unit_test(test_hostile_sig_nodes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
