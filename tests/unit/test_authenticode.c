// SPDX-License-Identifier: MIT
/*
 * Authenticode (lib/pe/authenticode*.c, win_cert.c, zboot_inner.c) against
 * independent oracles: images from pe_gen.c, digests computed here from the
 * Authenticode specification's steps (EDK2's HashPeImage) with OpenSSL,
 * keys and certificates made at test time with OpenSSL (never committed),
 * and tables built byte by byte for the hostile cases. Scratch files go to
 * a directory made under the working directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include <bootpack/authenticode.h>
#include <bootpack/sign.h>

#include "pe_gen.h"

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

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Two outputs must be the same bytes. */
static void assert_same_file(const char *a, const char *b)
{
	size_t al, bl;
	uint8_t *x = slurp(a, &al), *y = slurp(b, &bl);

	assert_int_equal(al, bl);
	assert_memory_equal(x, y, al);
	free(x);
	free(y);
}

/* Keys and certificates, made once. */
enum { KEY_A, KEY_B, KEY_EC, KEY_ROOT, KEY_MID, KEY_LEAF, N_KEYS };
static EVP_PKEY *keys[N_KEYS];
static X509 *certs[N_KEYS];
static const char *const key_names[N_KEYS] = { "a", "b", "ec", "root", "mid", "leaf" };

static X509 *make_cert(EVP_PKEY *k, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
		       long not_before, long not_after, long serial)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), not_before);
	X509_gmtime_adj(X509_getm_notAfter(x), not_after);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
				   (const unsigned char *)"bootpack tests", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "CA:FALSE");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, issuer_key ? issuer_key : k, EVP_sha256()) > 0);
	return x;
}

static void write_pem(const char *path, EVP_PKEY *k, X509 *x)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (k)
		assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	if (x)
		assert_true(PEM_write_X509(f, x));
	fclose(f);
}

/* Paths that stay valid (path_of() reuses its buffers): options keep pointing at them. */
static const char *key_path(int i)
{
	static char buf[N_KEYS][128];

	snprintf(buf[i], sizeof(buf[i]), "%s/%s.key", dir, key_names[i]);
	return buf[i];
}

static const char *cert_path(int i)
{
	static char buf[N_KEYS][128];

	snprintf(buf[i], sizeof(buf[i]), "%s/%s.crt", dir, key_names[i]);
	return buf[i];
}

static struct bp_key *open_key(int i)
{
	struct bp_key *k = NULL;
	struct bp_diag d;

	if (bp_key_open(key_path(i), NULL, &k, &d))
		fail_msg("bp_key_open: %s", d.msg);
	return k;
}

/* ---- images ---- */

struct image {
	uint8_t *data;
	size_t len;
	struct pe_gen_layout lay;
	struct pe_gen_opts o;
	struct bp_pe *pe;
};

static void make(struct image *im, const struct pe_gen_opts *o)
{
	struct bp_diag d;

	im->o = *o;
	assert_int_equal(pe_gen_build(o, &im->data, &im->len, &im->lay), 0);
	if (bp_pe_open_mem(im->data, im->len, "gen.efi", &im->pe, &d))
		fail_msg("bp_pe_open_mem: %s", d.msg);
}

static void drop(struct image *im)
{
	bp_pe_close(im->pe);
	free(im->data);
	im->pe = NULL;
	im->data = NULL;
}

static struct bp_pe *open_path(const char *path)
{
	struct bp_pe *pe;
	struct bp_diag d;

	if (bp_pe_open(path, &pe, &d))
		fail_msg("bp_pe_open %s: %s", path, d.msg);
	return pe;
}

static struct bp_pe *open_bytes(const uint8_t *p, size_t len)
{
	struct bp_pe *pe;
	struct bp_diag d;

	if (bp_pe_open_mem(p, len, "mem.efi", &pe, &d))
		fail_msg("bp_pe_open_mem: %s", d.msg);
	return pe;
}

static int sign(const struct bp_pe *pe, int key, int cert, enum bp_pe_sign_mode mode,
		const char *out, struct bp_diag *d)
{
	struct bp_pe_sign_opts o = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = open_key(key);
	int ret;

	o.cert = cert_path(cert);
	o.mode = mode;
	ret = bp_pe_sign(pe, k, &o, out, d);
	bp_key_close(k);
	return ret;
}

static void sign_ok(const struct bp_pe *pe, int key, enum bp_pe_sign_mode mode, const char *out)
{
	struct bp_diag d;

	if (sign(pe, key, key, mode, out, &d))
		fail_msg("bp_pe_sign: %s", d.msg);
}

/*
 * The Authenticode digest by the specification's steps (as EDK2's
 * HashPeImage takes them), from the generator's layout: headers without
 * CheckSum and the Security entry, sections by file offset, then from
 * SizeOfHeaders plus the raw sizes to the file size less the table size.
 */
static void expected_digest(const uint8_t *p, size_t len, const struct pe_gen_layout *lay,
			    bool pe32, uint32_t nrva, uint32_t table_size, const EVP_MD *md,
			    uint8_t *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint32_t ck = lay->checksum_offset, soh = lay->size_of_headers;
	uint32_t sec = lay->opt_offset + (pe32 ? 96 : 112) + 8 * 4;
	uint64_t sum = soh;

	assert_non_null(c);
	assert_true(EVP_DigestInit_ex(c, md, NULL));
	EVP_DigestUpdate(c, p, ck);
	if (nrva > 4) {
		EVP_DigestUpdate(c, p + ck + 4, sec - (ck + 4));
		EVP_DigestUpdate(c, p + sec + 8, soh - (sec + 8));
	} else {
		EVP_DigestUpdate(c, p + ck + 4, soh - (ck + 4));
	}
	for (size_t i = 0; i < lay->n_sections; i++) {
		if (!lay->sect_raw_size[i])
			continue;
		assert_true(i == 0 || lay->sect_raw_ptr[i] >= lay->sect_raw_ptr[i - 1]);
		EVP_DigestUpdate(c, p + lay->sect_raw_ptr[i], lay->sect_raw_size[i]);
		sum += lay->sect_raw_size[i];
	}
	if (len > sum + table_size)
		EVP_DigestUpdate(c, p + sum, len - table_size - sum);
	assert_true(EVP_DigestFinal_ex(c, out, NULL));
	EVP_MD_CTX_free(c);
}

static const struct {
	enum bp_hash_algo algo;
	const char *name;
} algos[] = {
	{ BP_HASH_SHA1, "SHA1" }, { BP_HASH_SHA256, "SHA256" },
	{ BP_HASH_SHA384, "SHA384" }, { BP_HASH_SHA512, "SHA512" },
};

/* The Security entry of a signed output: where its table is. */
static void table_of(const uint8_t *p, const struct pe_gen_layout *lay, bool pe32, uint32_t *at,
		     uint32_t *size)
{
	uint32_t sec = lay->opt_offset + (pe32 ? 96 : 112) + 8 * 4;

	*at = rd32(p + sec);
	*size = rd32(p + sec + 4);
}

static size_t n_sigs(const struct bp_pe *pe)
{
	struct bp_diag d;
	size_t n = 0;

	if (bp_pe_signatures(pe, &n, &d))
		fail_msg("bp_pe_signatures: %s", d.msg);
	return n;
}

#define MAX_CHECKS 64

struct checks {
	size_t n;
	struct bp_pe_sig_check c[MAX_CHECKS];
	char msg[MAX_CHECKS][BP_DIAG_MSG_MAX];
};

static void collect(void *ctx, const struct bp_pe_sig_check *c)
{
	struct checks *k = ctx;

	assert_true(k->n < MAX_CHECKS);
	assert_true(c->size >= sizeof(*c));
	assert_int_equal(c->index, k->n);
	k->c[k->n] = *c;
	snprintf(k->msg[k->n], sizeof(k->msg[0]), "%s", c->msg);
	k->n++;
}

/* Verify against the certificates @trust (-1 ends); returns the number of good signatures. */
static size_t verify(const struct bp_pe *pe, struct checks *k, int t0, int t1)
{
	const char *files[2];
	struct bp_pe_verify_opts o = BP_PE_VERIFY_OPTS_INIT;
	struct bp_diag d;
	size_t good = 99;

	memset(k, 0, sizeof(*k));
	if (t0 >= 0)
		files[o.n_certs++] = cert_path(t0);
	if (t1 >= 0)
		files[o.n_certs++] = cert_path(t1);
	o.certs = files;
	if (bp_pe_verify(pe, &o, collect, k, &good, &d))
		fail_msg("bp_pe_verify: %s", d.msg);
	assert_int_equal(k->n, n_sigs(pe));
	return good;
}

/* ---- digest ---- */

static void test_digest_layouts(void **state)
{
	(void)state;
	for (int v = 0; v < 32; v++) {
		struct pe_gen_opts o;
		struct image im;
		uint8_t want[EVP_MAX_MD_SIZE], got[BP_HASH_MAX_LEN];
		struct bp_diag d;

		pe_gen_defaults(&o);
		o.pe32 = v & 1;
		o.overlay = v & 2 ? 77 : 0;
		o.debug_dir = v & 4;
		o.n_sections = v & 8 ? 4 : 2;
		if (v & 8)
			for (int i = 2; i < 4; i++)
				o.sections[i] = (struct pe_gen_section){ .vsize = 0x333 * (i + 1),
									 .raw_size = 0x333 * (i + 1),
									 .flags = PE_GEN_SCN_RODATA,
									 .fill = (uint8_t)(0x10 + i) };
		if (v & 8)
			strcpy(o.sections[2].name, ".rdata"), strcpy(o.sections[3].name, ".d3");
		o.cert_size = v & 16 ? 100 : 0;
		o.checksum = true;
		/* No Security entry at all: EDK2 then hashes the headers whole after CheckSum. */
		if (v == 2)
			o.n_rva_and_sizes = 4;
		make(&im, &o);
		for (size_t a = 0; a < sizeof(algos) / sizeof(algos[0]); a++) {
			expected_digest(im.data, im.len, &im.lay, o.pe32,
					o.n_rva_and_sizes ? o.n_rva_and_sizes : 16,
					im.lay.cert_table_size, EVP_get_digestbyname(algos[a].name),
					want);
			if (bp_pe_digest(im.pe, algos[a].algo, got, &d))
				fail_msg("variant %d %s: %s", v, algos[a].name, d.msg);
			assert_memory_equal(got, want, bp_hash_len(algos[a].algo));
		}
		drop(&im);
	}
}

static void test_digest_refusals(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	uint8_t md[BP_HASH_MAX_LEN], *p;
	struct bp_pe *pe;
	struct bp_diag d;
	uint32_t sec;

	(void)state;
	/* Raw data not back to back: firmware and "end of the last section" disagree. */
	pe_gen_defaults(&o);
	o.flat = true;
	make(&im, &o);
	assert_true(im.lay.sect_raw_ptr[1] > im.lay.sect_raw_ptr[0] + im.lay.sect_raw_size[0]);
	assert_int_equal(bp_pe_digest(im.pe, BP_HASH_SHA256, md, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "belong to no section"));
	assert_int_equal(bp_pe_digest(im.pe, BP_HASH_MD5, md, &d), BP_ERR_INVALID);
	drop(&im);

	/* A certificate table followed by more bytes. */
	pe_gen_defaults(&o);
	o.cert_size = 64;
	make(&im, &o);
	p = calloc(1, im.len + 8);
	assert_non_null(p);
	memcpy(p, im.data, im.len);
	pe = open_bytes(p, im.len + 8);
	assert_int_equal(bp_pe_digest(pe, BP_HASH_SHA256, md, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "is not at the end of the file"));
	bp_pe_close(pe);

	/* One that runs past the end of the file. */
	sec = im.lay.opt_offset + 112 + 8 * 4;
	memcpy(p, im.data, im.len);
	wr32(p + sec + 4, im.lay.cert_table_size + 8);
	pe = open_bytes(p, im.len);
	assert_int_equal(bp_pe_digest(pe, BP_HASH_SHA256, md, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "extends past the end of the file"));
	bp_pe_close(pe);
	/* One that ends the file but starts inside .data, and one inside the headers. */
	wr32(p + sec, im.lay.sect_raw_ptr[1]);
	wr32(p + sec + 4, (uint32_t)im.len - im.lay.sect_raw_ptr[1]);
	pe = open_bytes(p, im.len);
	assert_int_equal(bp_pe_digest(pe, BP_HASH_SHA256, md, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "section 1 '.data' (raw data 0x"));
	assert_non_null(strstr(d.msg, "runs past the start of the certificate table"));
	bp_pe_close(pe);
	wr32(p + sec, 0x100);
	wr32(p + sec + 4, (uint32_t)im.len - 0x100);
	pe = open_bytes(p, im.len);
	assert_int_equal(bp_pe_digest(pe, BP_HASH_SHA256, md, &d), BP_ERR_FORMAT);
	if (!strstr(d.msg, "is past the certificate table (0x100)"))
		fail_msg("%s", d.msg);
	bp_pe_close(pe);
	free(p);
	drop(&im);
}

/* The CheckSum (summed in one pass, folded once) against the generator's word-by-word fold. */
static void test_checksum(void **state)
{
	static uint8_t buf[4099];
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (uint8_t)(x >> 16);
	}
	/* All 0xff words make the sum a multiple of 0xffff: the 0 / 0xffff edge. */
	memset(buf + 2048, 0xff, 1024);
	for (size_t len = 0; len < 80; len++)
		for (size_t off = 0; off < len + 6; off++)
			assert_int_equal(bp_pe_checksum(buf, len, off), pe_gen_checksum(buf, len, off));
	for (size_t off = 0; off < 12; off++) {
		assert_int_equal(bp_pe_checksum(buf, sizeof(buf), off * 333),
				 pe_gen_checksum(buf, sizeof(buf), off * 333));
		assert_int_equal(bp_pe_checksum(buf + 2048, 1024, off),
				 pe_gen_checksum(buf + 2048, 1024, off));
	}
	assert_int_equal(bp_pe_checksum(buf, 77, SIZE_MAX - 1), pe_gen_checksum(buf, 77, SIZE_MAX - 1));
}

/* ---- signing ---- */

static void test_sign_roundtrip(void **state)
{
	static const enum bp_hash_algo digests[] = { BP_HASH_SHA256, BP_HASH_SHA384,
						     BP_HASH_SHA512 };
	const EVP_MD *mds[] = { EVP_sha256(), EVP_sha384(), EVP_sha512() };

	(void)state;
	for (int v = 0; v < 6; v++) {
		struct pe_gen_opts o;
		struct image im;
		struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
		struct bp_key *k = open_key(KEY_A);
		const struct bp_pe_signature *s;
		uint8_t *out, want[EVP_MAX_MD_SIZE], md[BP_HASH_MAX_LEN];
		struct bp_pe *pe;
		struct checks ck;
		struct bp_diag d;
		uint32_t at, size;
		size_t len, data_end;

		pe_gen_defaults(&o);
		o.pe32 = v & 1;
		/* 13 bytes of overlay: the signer pads to 8, and hashes the padding. */
		o.overlay = v & 2 ? 13 : 0;
		make(&im, &o);
		so.cert = cert_path(KEY_A);
		so.digest = v < 4 ? 0 : digests[v - 3];
		if (bp_pe_sign(im.pe, k, &so, path_of("rt.efi"), &d))
			fail_msg("bp_pe_sign: %s", d.msg);
		bp_key_close(k);
		out = slurp(path_of("rt.efi"), &len);
		/* Image bytes unchanged but for CheckSum and the Security entry; then padding. */
		table_of(out, &im.lay, o.pe32, &at, &size);
		data_end = (im.len + 7) / 8 * 8;
		assert_int_equal(at, data_end);
		assert_int_equal(at + size, len);
		assert_int_equal(size % 8, 0);
		for (size_t i = im.len; i < data_end; i++)
			assert_int_equal(out[i], 0);
		assert_int_equal(rd32(out + at + 4), 0x00020200);
		assert_true(rd32(out + at) > 8 && rd32(out + at) <= size && size - rd32(out + at) < 8);
		assert_int_equal(rd32(out + im.lay.checksum_offset),
				 pe_gen_checksum(out, len, im.lay.checksum_offset));
		memcpy(out + im.lay.checksum_offset, im.data + im.lay.checksum_offset, 4);
		memcpy(out + im.lay.opt_offset + (o.pe32 ? 96 : 112) + 32,
		       im.data + im.lay.opt_offset + (o.pe32 ? 96 : 112) + 32, 8);
		assert_memory_equal(out, im.data, im.len);
		/* Listed, with the digest computed independently over the padded image. */
		pe = open_path(path_of("rt.efi"));
		assert_int_equal(bp_pe_get_info(pe)->n_errors, 0);
		assert_int_equal(n_sigs(pe), 1);
		s = bp_pe_signature_at(pe, 0);
		assert_non_null(s);
		assert_null(bp_pe_signature_at(pe, 1));
		assert_true(s->parsed);
		assert_null(s->problem);
		assert_int_equal(s->digest_algo, v < 4 ? BP_HASH_SHA256 : digests[v - 3]);
		expected_digest(out, len, &im.lay, o.pe32, 16, size,
				v < 4 ? EVP_sha256() : mds[v - 3], want);
		assert_memory_equal(s->digest, want, bp_hash_len(s->digest_algo));
		assert_int_equal(bp_pe_digest(pe, s->digest_algo, md, &d), 0);
		assert_memory_equal(md, want, bp_hash_len(s->digest_algo));
		assert_true(s->digest_matches);
		assert_string_equal(s->signer, "CN=a, O=bootpack tests");
		assert_string_equal(s->issuer, "CN=a, O=bootpack tests");
		assert_string_equal(s->serial, "0a");
		assert_int_equal(s->n_certs, 1);
		assert_false(s->has_signing_time);
		/* Trusted by its own certificate, not by another. */
		assert_int_equal(verify(pe, &ck, KEY_A, -1), 1);
		assert_true(ck.c[0].digest_ok && ck.c[0].signature_ok && ck.c[0].trusted);
		assert_non_null(strstr(ck.msg[0], "good"));
		assert_int_equal(verify(pe, &ck, KEY_B, -1), 0);
		assert_true(ck.c[0].digest_ok && ck.c[0].signature_ok && !ck.c[0].trusted);
		assert_non_null(strstr(ck.msg[0], "reaches no given certificate"));
		bp_pe_close(pe);
		free(out);
		drop(&im);
	}
}

/*
 * An image of several chunks, read through a file mapping (bp_pe_open): the
 * checksum, digest and output written a chunk at a time agree with the
 * whole-buffer oracles.
 */
static void test_large_mapped(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	uint8_t want[EVP_MAX_MD_SIZE], md[BP_HASH_MAX_LEN], *out;
	struct bp_pe *pe;
	struct checks ck;
	struct bp_diag d;
	uint32_t at, size;
	size_t len;

	(void)state;
	pe_gen_defaults(&o);
	o.sections[0].raw_size = o.sections[0].vsize = (9u << 20) + 0x1234;
	o.overlay = (4u << 20) + 3;
	o.checksum = true;
	make(&im, &o);
	{
		FILE *f = fopen(path_of("big.efi"), "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(im.data, 1, im.len, f), im.len);
		fclose(f);
	}
	pe = open_path(path_of("big.efi"));
	assert_int_equal(bp_pe_get_info(pe)->checksum_computed, im.lay.checksum);
	expected_digest(im.data, im.len, &im.lay, false, 16, 0, EVP_sha256(), want);
	assert_int_equal(bp_pe_digest(pe, BP_HASH_SHA256, md, &d), 0);
	assert_memory_equal(md, want, 32);
	sign_ok(pe, KEY_A, BP_PE_SIGN_NEW, path_of("big-signed.efi"));
	bp_pe_close(pe);
	out = slurp(path_of("big-signed.efi"), &len);
	table_of(out, &im.lay, false, &at, &size);
	assert_int_equal(rd32(out + im.lay.checksum_offset),
			 pe_gen_checksum(out, len, im.lay.checksum_offset));
	expected_digest(out, len, &im.lay, false, 16, size, EVP_sha256(), want);
	pe = open_path(path_of("big-signed.efi"));
	assert_int_equal(n_sigs(pe), 1);
	assert_memory_equal(bp_pe_signature_at(pe, 0)->digest, want, 32);
	assert_int_equal(verify(pe, &ck, KEY_A, -1), 1);
	bp_pe_close(pe);
	free(out);
	drop(&im);
}

static void test_sign_reproducible(void **state)
{
	const int keyset[] = { KEY_A, KEY_EC };
	struct pe_gen_opts o;
	struct image im;

	(void)state;
	pe_gen_defaults(&o);
	o.overlay = 5;
	make(&im, &o);
	for (size_t i = 0; i < 2; i++) {
		struct bp_pe *pe;
		struct checks ck;

		sign_ok(im.pe, keyset[i], BP_PE_SIGN_NEW, path_of("r1.efi"));
		sign_ok(im.pe, keyset[i], BP_PE_SIGN_NEW, path_of("r2.efi"));
		assert_same_file(path_of("r1.efi"), path_of("r2.efi"));
		pe = open_path(path_of("r1.efi"));
		assert_int_equal(verify(pe, &ck, keyset[i], -1), 1);
		bp_pe_close(pe);
	}
	drop(&im);
}

/* Whether @p holds the DER of the signingTime OID, 1.2.840.113549.1.9.5. */
static bool has_signing_time_oid(const uint8_t *p, size_t len)
{
	static const uint8_t oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
				       0x05 };

	return memmem(p, len, oid, sizeof(oid)) != NULL;
}

static void test_signing_time(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = open_key(KEY_A);
	struct bp_pe *pe;
	struct bp_diag d;
	uint8_t *out;
	size_t len;

	(void)state;
	pe_gen_defaults(&o);
	make(&im, &o);
	so.cert = cert_path(KEY_A);
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("t0.efi"), &d), 0);
	out = slurp(path_of("t0.efi"), &len);
	assert_false(has_signing_time_oid(out + im.len, len - im.len));
	free(out);
	pe = open_path(path_of("t0.efi"));
	assert_int_equal(n_sigs(pe), 1);
	assert_false(bp_pe_signature_at(pe, 0)->has_signing_time);
	bp_pe_close(pe);
	/* 2023-11-14T22:13:20Z, and one past 2049 (a GeneralizedTime). */
	for (int i = 0; i < 2; i++) {
		so.has_signing_time = true;
		so.signing_time = i ? 2600000000LL : 1700000000LL;
		if (bp_pe_sign(im.pe, k, &so, path_of("t1.efi"), &d))
			fail_msg("bp_pe_sign: %s", d.msg);
		out = slurp(path_of("t1.efi"), &len);
		assert_true(has_signing_time_oid(out + im.len, len - im.len));
		free(out);
		pe = open_path(path_of("t1.efi"));
		assert_true(bp_pe_signature_at(pe, 0) == NULL);
		assert_int_equal(n_sigs(pe), 1);
		assert_true(bp_pe_signature_at(pe, 0)->has_signing_time);
		assert_true(bp_pe_signature_at(pe, 0)->signing_time == so.signing_time);
		assert_true(bp_pe_signature_at(pe, 0)->digest_matches);
		bp_pe_close(pe);
	}
	bp_key_close(k);
	drop(&im);
}

static void test_append_replace(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe *one, *two, *pe;
	struct checks ck;
	struct bp_diag d;
	uint8_t *x, *y;
	size_t xl, yl;

	(void)state;
	pe_gen_defaults(&o);
	o.overlay = 3;
	make(&im, &o);
	sign_ok(im.pe, KEY_A, BP_PE_SIGN_NEW, path_of("one.efi"));
	one = open_path(path_of("one.efi"));
	/* A signed image is refused unless appending or replacing; nothing is written. */
	unlink(path_of("no.efi"));
	assert_int_equal(sign(one, KEY_B, KEY_B, BP_PE_SIGN_NEW, path_of("no.efi"), &d),
			 BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "already signed"));
	assert_int_equal(access(path_of("no.efi"), F_OK), -1);

	sign_ok(one, KEY_B, BP_PE_SIGN_APPEND, path_of("two.efi"));
	two = open_path(path_of("two.efi"));
	assert_int_equal(bp_pe_get_info(two)->n_errors, 0);
	assert_int_equal(n_sigs(two), 2);
	assert_string_equal(bp_pe_signature_at(two, 0)->signer, "CN=a, O=bootpack tests");
	assert_string_equal(bp_pe_signature_at(two, 1)->signer, "CN=b, O=bootpack tests");
	assert_true(bp_pe_signature_at(two, 0)->digest_matches);
	assert_true(bp_pe_signature_at(two, 1)->digest_matches);
	assert_int_equal(bp_pe_signature_at(two, 1)->offset % 8, 0);
	assert_int_equal(verify(two, &ck, KEY_A, KEY_B), 2);
	assert_int_equal(verify(two, &ck, KEY_B, -1), 1);
	assert_false(ck.c[0].trusted);
	assert_true(ck.c[1].trusted);
	/* The first entry's bytes are kept as they were. */
	x = slurp(path_of("one.efi"), &xl);
	y = slurp(path_of("two.efi"), &yl);
	assert_memory_equal(y + bp_pe_signature_at(two, 0)->offset,
			    x + bp_pe_signature_at(two, 0)->offset, bp_pe_signature_at(two, 0)->length);
	free(x);
	free(y);

	/* Replacing both with B gives exactly what signing the unsigned image with B gives. */
	sign_ok(two, KEY_B, BP_PE_SIGN_REPLACE, path_of("rep.efi"));
	sign_ok(im.pe, KEY_B, BP_PE_SIGN_NEW, path_of("b.efi"));
	assert_same_file(path_of("rep.efi"), path_of("b.efi"));
	pe = open_path(path_of("rep.efi"));
	assert_int_equal(n_sigs(pe), 1);
	assert_string_equal(bp_pe_signature_at(pe, 0)->signer, "CN=b, O=bootpack tests");
	bp_pe_close(pe);
	bp_pe_close(two);
	bp_pe_close(one);
	drop(&im);
}

static void test_sign_refusals(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = open_key(KEY_A), *pub;
	struct bp_diag d;

	(void)state;
	pe_gen_defaults(&o);
	make(&im, &o);
	unlink(path_of("x.efi"));
	/* A certificate that is not the key's. */
	assert_int_equal(sign(im.pe, KEY_A, KEY_B, BP_PE_SIGN_NEW, path_of("x.efi"), &d),
			 BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "does not hold the public key of key"));
	/* sha1 is for verifying others' signatures only. */
	so.cert = cert_path(KEY_A);
	so.digest = BP_HASH_SHA1;
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_INVALID);
	so.digest = 0;
	so.mode = (enum bp_pe_sign_mode)7;
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_INVALID);
	so.mode = BP_PE_SIGN_NEW;
	so.cert = path_of("missing.crt");
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_IO);
	so.cert = key_path(KEY_A);
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "no X.509 certificate"));
	/* A public key cannot sign. */
	assert_int_equal(bp_key_open_public(cert_path(KEY_A), NULL, &pub, &d), 0);
	so.cert = cert_path(KEY_A);
	assert_int_equal(bp_pe_sign(im.pe, pub, &so, path_of("x.efi"), &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "public key"));
	bp_key_close(pub);
	assert_int_equal(access(path_of("x.efi"), F_OK), -1);
	drop(&im);

	/* No Security directory entry to point at the table. */
	pe_gen_defaults(&o);
	o.n_rva_and_sizes = 4;
	make(&im, &o);
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "no Security directory entry"));
	drop(&im);
	/* An image the reader found errors in, or that cannot be hashed unambiguously. */
	pe_gen_defaults(&o);
	o.flat = true;
	make(&im, &o);
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_FORMAT);
	drop(&im);
	pe_gen_defaults(&o);
	make(&im, &o);
	wr32(im.data + im.lay.opt_offset + 16, 0x7fffffff); /* entry point outside the image */
	bp_pe_close(im.pe);
	im.pe = open_bytes(im.data, im.len);
	assert_int_equal(bp_pe_sign(im.pe, k, &so, path_of("x.efi"), &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "refusing to sign an invalid image"));
	assert_int_equal(access(path_of("x.efi"), F_OK), -1);
	drop(&im);
	bp_key_close(k);
}

/* Root -> intermediate -> leaf: the chain the PKCS#7 carries decides. */
static void test_chain_trust(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = open_key(KEY_LEAF);
	struct bp_pe *pe;
	struct checks ck;
	struct bp_diag d;

	(void)state;
	pe_gen_defaults(&o);
	make(&im, &o);
	so.cert = cert_path(KEY_LEAF);
	so.chain = cert_path(KEY_MID);
	if (bp_pe_sign(im.pe, k, &so, path_of("c.efi"), &d))
		fail_msg("bp_pe_sign: %s", d.msg);
	pe = open_path(path_of("c.efi"));
	assert_int_equal(n_sigs(pe), 1);
	assert_int_equal(bp_pe_signature_at(pe, 0)->n_certs, 2);
	assert_string_equal(bp_pe_signature_at(pe, 0)->issuer, "CN=mid, O=bootpack tests");
	/* The leaf's certificate has expired: firmware has no clock, neither does this. */
	assert_int_equal(verify(pe, &ck, KEY_ROOT, -1), 1);
	assert_int_equal(verify(pe, &ck, KEY_MID, -1), 1);
	assert_int_equal(verify(pe, &ck, KEY_LEAF, -1), 1);
	assert_int_equal(verify(pe, &ck, KEY_A, -1), 0);
	assert_non_null(strstr(ck.msg[0], "reaches no given certificate"));
	/* No trust given at all: valid, not trusted, said so. */
	assert_int_equal(verify(pe, &ck, -1, -1), 0);
	assert_true(ck.c[0].signature_ok && !ck.c[0].trusted);
	assert_non_null(strstr(ck.msg[0], "no trusted certificates were given"));
	bp_pe_close(pe);
	/* Without the intermediate, the root cannot be reached. */
	so.chain = NULL;
	if (bp_pe_sign(im.pe, k, &so, path_of("c.efi"), &d))
		fail_msg("bp_pe_sign: %s", d.msg);
	pe = open_path(path_of("c.efi"));
	assert_int_equal(bp_pe_signature_at(pe, n_sigs(pe) - 1)->n_certs, 1);
	assert_int_equal(verify(pe, &ck, KEY_ROOT, -1), 0);
	assert_non_null(strstr(ck.msg[0], "issuer certificate"));
	assert_int_equal(verify(pe, &ck, KEY_ROOT, KEY_MID), 1);
	bp_pe_close(pe);
	bp_key_close(k);
	drop(&im);
}

/* One flipped byte in each hashed range fails the digest; in CheckSum it does not. */
static void test_tamper(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	uint8_t *out;
	size_t len;
	uint32_t at, size;
	struct checks ck;

	(void)state;
	pe_gen_defaults(&o);
	o.overlay = 11;
	o.debug_dir = true;
	make(&im, &o);
	sign_ok(im.pe, KEY_A, BP_PE_SIGN_NEW, path_of("s.efi"));
	out = slurp(path_of("s.efi"), &len);
	table_of(out, &im.lay, false, &at, &size);
	{
		const uint64_t sec = im.lay.opt_offset + 112 + 32;
		const uint64_t hashed[] = {
			2, im.lay.checksum_offset - 1, im.lay.checksum_offset + 4, sec - 1, sec + 8,
			im.lay.sect_table_offset + 1, im.lay.size_of_headers - 1,
			im.lay.sect_raw_ptr[0], im.lay.sect_raw_ptr[0] + im.lay.sect_raw_size[0] - 1,
			im.lay.sect_raw_ptr[1] + 5, im.lay.overlay_offset, im.len - 1,
			/* the signer's zero padding before the table */
			at - 1,
		};

		for (size_t i = 0; i < sizeof(hashed) / sizeof(hashed[0]); i++) {
			struct bp_pe *pe;

			out[hashed[i]] ^= 0x01;
			pe = open_bytes(out, len);
			if (verify(pe, &ck, KEY_A, -1) != 0 || ck.c[0].digest_ok)
				fail_msg("a flipped byte at 0x%llx verifies",
					 (unsigned long long)hashed[i]);
			assert_true(ck.c[0].signature_ok);
			bp_pe_close(pe);
			out[hashed[i]] ^= 0x01;
		}
		for (int i = 0; i < 4; i++) {
			struct bp_pe *pe;

			out[im.lay.checksum_offset + i] ^= 0x5a;
			pe = open_bytes(out, len);
			assert_int_equal(verify(pe, &ck, KEY_A, -1), 1);
			bp_pe_close(pe);
			out[im.lay.checksum_offset + i] ^= 0x5a;
		}
	}
	/* The signature's own last byte: the digest still matches, the signature does not. */
	{
		struct bp_pe *pe;

		out[at + rd32(out + at) - 1] ^= 0x01;
		pe = open_bytes(out, len);
		assert_int_equal(verify(pe, &ck, KEY_A, -1), 0);
		assert_true(ck.c[0].digest_ok);
		assert_false(ck.c[0].signature_ok);
		assert_non_null(strstr(ck.msg[0], "does not verify"));
		bp_pe_close(pe);
	}
	free(out);
	drop(&im);
}

/* ---- hostile certificate tables ---- */

/* @im's bytes, padded to 8, then @table as its certificate table at @at_delta past that. */
static struct bp_pe *with_table(const struct image *im, const uint8_t *table, size_t n,
				uint32_t declared, int at_delta, size_t extra, uint8_t **buf,
				size_t *len)
{
	size_t at = (im->len + 7) / 8 * 8;
	uint32_t sec = im->lay.opt_offset + (im->o.pe32 ? 96 : 112) + 32;

	*len = at + n + extra;
	*buf = calloc(1, *len);
	assert_non_null(*buf);
	memcpy(*buf, im->data, im->len);
	memcpy(*buf + at, table, n);
	wr32(*buf + sec, (uint32_t)((int)at + at_delta));
	wr32(*buf + sec + 4, declared);
	return open_bytes(*buf, *len);
}

static size_t entry(uint8_t *p, uint32_t len, uint16_t rev, uint16_t type, const void *data,
		    size_t n)
{
	wr32(p, len);
	p[4] = (uint8_t)rev;
	p[5] = (uint8_t)(rev >> 8);
	p[6] = (uint8_t)type;
	p[7] = (uint8_t)(type >> 8);
	if (data)
		memcpy(p + 8, data, n);
	return (8 + n + 7) / 8 * 8;
}

static void expect_walk_error(const struct image *im, const uint8_t *t, size_t n, uint32_t declared,
			      int at_delta, int err, const char *msg)
{
	struct bp_pe_verify_opts o = BP_PE_VERIFY_OPTS_INIT;
	uint8_t *buf;
	size_t len, count = 7;
	struct bp_pe *pe = with_table(im, t, n, declared, at_delta, 0, &buf, &len);
	struct bp_diag d;

	assert_int_equal(bp_pe_signatures(pe, &count, &d), err);
	if (!strstr(d.msg, msg))
		fail_msg("'%s' does not say '%s'", d.msg, msg);
	assert_int_equal(count, 0);
	assert_null(bp_pe_signature_at(pe, 0));
	assert_int_equal(bp_pe_verify(pe, &o, NULL, NULL, NULL, &d), err);
	bp_pe_close(pe);
	free(buf);
}

/* A PKCS#7 SignedData whose content is plain data, not an SpcIndirectDataContent. */
static size_t other_pkcs7(uint8_t **der)
{
	BIO *in = BIO_new_mem_buf("hello", 5);
	PKCS7 *p7 = PKCS7_sign(certs[KEY_A], keys[KEY_A], NULL, in, PKCS7_BINARY);
	int n;

	assert_non_null(p7);
	*der = NULL;
	n = i2d_PKCS7(p7, der);
	assert_true(n > 0);
	PKCS7_free(p7);
	BIO_free(in);
	return (size_t)n;
}

static void test_hostile_tables(void **state)
{
	static const uint8_t garbage[40] = { 0x30, 0x82, 0xff, 0xff, 0x5a };
	struct pe_gen_opts o;
	struct image im;
	uint8_t t[2048] = { 0 }, *buf, *der, nest[400];
	size_t n, len, count;
	struct bp_pe *pe;
	struct checks ck;
	struct bp_diag d;

	(void)state;
	pe_gen_defaults(&o);
	make(&im, &o);
	/* Lengths that cannot be walked. */
	entry(t, 0, 0x200, 2, NULL, 0);
	expect_walk_error(&im, t, 16, 16, 0, BP_ERR_FORMAT, "dwLength 0 is below its own");
	entry(t, 7, 0x200, 2, NULL, 0);
	expect_walk_error(&im, t, 16, 16, 0, BP_ERR_FORMAT, "dwLength 7 is below its own");
	entry(t, 4000, 0x200, 2, NULL, 0);
	expect_walk_error(&im, t, 16, 16, 0, BP_ERR_FORMAT, "runs past the table");
	entry(t, 16, 0x200, 2, NULL, 8);
	expect_walk_error(&im, t, 24, 20, 0, BP_ERR_FORMAT, "too few for a WIN_CERTIFICATE");
	expect_walk_error(&im, t, 16, 1 << 20, 0, BP_ERR_RANGE, "extends past the end of the file");
	/* Unaligned: the entry starts 4 bytes into the padding the firmware expects. */
	memset(t, 0, sizeof(t));
	entry(t + 4, 16, 0x200, 2, NULL, 8);
	expect_walk_error(&im, t, 24, 20, 4, BP_ERR_FORMAT, "not 8-byte aligned");
	/* Where EDK2's walk stops, refusing the image: no data, an unpadded last entry. */
	memset(t, 0, sizeof(t));
	entry(t, 8, 0x200, 2, NULL, 0);
	entry(t + 8, 16, 0x200, 1, garbage, 8);
	expect_walk_error(&im, t, 24, 24, 0, BP_ERR_FORMAT, "entry 1 at 0x");
	expect_walk_error(&im, t, 24, 24, 0, BP_ERR_FORMAT, "dwLength 8 leaves no data");
	entry(t, 16, 0x200, 1, garbage, 8);
	entry(t + 16, 12, 0x200, 1, garbage, 4);
	expect_walk_error(&im, t, 28, 28, 0, BP_ERR_FORMAT, "entry 2 at 0x");
	expect_walk_error(&im, t, 28, 28, 0, BP_ERR_FORMAT, "refuses an unpadded last entry");
	entry(t + 16, 8, 0x200, 1, NULL, 0);
	expect_walk_error(&im, t, 24, 24, 0, BP_ERR_FORMAT, "ends with 8 bytes");
	entry(t + 16, 24, 0x200, 0x0ef1, garbage, 16);
	expect_walk_error(&im, t, 40, 40, 0, BP_ERR_FORMAT, "dwLength 24 leaves no data");
	/* Huge counts: 64 foreign entries are listed, 65 are refused. */
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 65; i++)
		entry(t + 16 * i, 16, 0x200, 1, garbage, 8);
	pe = with_table(&im, t, 16 * 64, 16 * 64, 0, 0, &buf, &len);
	assert_int_equal(bp_pe_signatures(pe, &count, &d), 0);
	assert_int_equal(count, 64);
	assert_string_equal(bp_pe_signature_at(pe, 63)->problem,
			    "WIN_CERTIFICATE type 0x0001, not PKCS_SIGNED_DATA (0x0002)");
	assert_int_equal(verify(pe, &ck, KEY_A, -1), 0);
	bp_pe_close(pe);
	free(buf);
	expect_walk_error(&im, t, 16 * 65, 16 * 65, 0, BP_ERR_FORMAT, "more than 64 entries");

	/* Entries listed with their problem. */
	memset(t, 0, sizeof(t));
	n = entry(t, 8 + sizeof(garbage), 0x200, 2, garbage, sizeof(garbage));
	n += entry(t + n, 8 + 8, 0x100, 2, garbage, 8);
	n += entry(t + n, 8 + 8, 0x200, 1, garbage, 8);
	memset(nest, 0, sizeof(nest));
	for (size_t i = 0; i < 190; i++) {
		nest[2 * i] = 0x30;
		nest[2 * i + 1] = (uint8_t)(0x80); /* indefinite, nested 190 deep */
	}
	n += entry(t + n, 8 + sizeof(nest), 0x200, 2, nest, sizeof(nest));
	pe = with_table(&im, t, n, (uint32_t)n, 0, 0, &buf, &len);
	assert_int_equal(bp_pe_signatures(pe, &count, &d), 0);
	assert_int_equal(count, 4);
	assert_string_equal(bp_pe_signature_at(pe, 0)->problem,
			    "its data is not a DER PKCS#7 structure");
	assert_non_null(strstr(bp_pe_signature_at(pe, 1)->problem, "revision 0x0100"));
	assert_non_null(strstr(bp_pe_signature_at(pe, 2)->problem, "type 0x0001"));
	assert_string_equal(bp_pe_signature_at(pe, 3)->problem,
			    "its data is not a DER PKCS#7 structure");
	for (size_t i = 0; i < 4; i++)
		assert_false(bp_pe_signature_at(pe, i)->parsed);
	assert_int_equal(verify(pe, &ck, KEY_A, -1), 0);
	assert_non_null(strstr(ck.msg[0], "not an Authenticode signature"));
	bp_pe_close(pe);
	free(buf);

	/* A real SignedData of other content; and one whose padding the table lacks. */
	len = other_pkcs7(&der);
	assert_true(len + 16 < sizeof(t));
	memset(t, 0, sizeof(t));
	n = entry(t, (uint32_t)(8 + len), 0x200, 2, der, len);
	OPENSSL_free(der);
	pe = with_table(&im, t, n, (uint32_t)n, 0, 0, &buf, &len);
	assert_int_equal(bp_pe_signatures(pe, &count, &d), 0);
	assert_int_equal(count, 1);
	assert_non_null(strstr(bp_pe_signature_at(pe, 0)->problem,
			       "not an SpcIndirectDataContent"));
	bp_pe_close(pe);
	free(buf);

	/* A signed image with bytes after its table: listed, but the digest is refused. */
	sign_ok(im.pe, KEY_A, BP_PE_SIGN_NEW, path_of("h.efi"));
	der = slurp(path_of("h.efi"), &len);
	buf = calloc(1, len + 16);
	assert_non_null(buf);
	memcpy(buf, der, len);
	pe = open_bytes(buf, len + 16);
	assert_int_equal(n_sigs(pe), 1);
	assert_false(bp_pe_signature_at(pe, 0)->digest_matches);
	assert_int_equal(verify(pe, &ck, KEY_A, -1), 0);
	assert_non_null(strstr(ck.msg[0], "is not at the end of the file"));
	bp_pe_close(pe);
	free(buf);
	free(der);
	drop(&im);
}

/* ---- edit and sign in one step ---- */

static void test_edit_sign(void **state)
{
	static const char blob[] = "kexec bpf section bytes";
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe_edit e = BP_PE_EDIT_INIT;
	struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = open_key(KEY_B);
	struct bp_pe *signed_pe, *out, *stripped;
	struct checks ck;
	struct bp_diag d;

	(void)state;
	pe_gen_defaults(&o);
	o.overlay = 9;
	make(&im, &o);
	sign_ok(im.pe, KEY_A, BP_PE_SIGN_NEW, path_of("in.efi"));
	signed_pe = open_path(path_of("in.efi"));
	e.op = BP_PE_ADD_SECTION;
	e.name = ".bpf";
	e.data = blob;
	e.len = sizeof(blob);
	so.cert = cert_path(KEY_B);
	/* Refused edits and keys leave nothing behind. */
	assert_int_equal(bp_pe_edit_sign(signed_pe, &e, k, &(struct bp_pe_sign_opts){
		.size = sizeof(so), .cert = cert_path(KEY_A) }, path_of("es.efi"), &d),
		BP_ERR_INVALID);
	assert_int_equal(access(path_of("es.efi"), F_OK), -1);
	if (bp_pe_edit_sign(signed_pe, &e, k, &so, path_of("es.efi"), &d))
		fail_msg("bp_pe_edit_sign: %s", d.msg);
	out = open_path(path_of("es.efi"));
	assert_int_equal(bp_pe_get_info(out)->n_errors, 0);
	assert_true(bp_pe_find_section(out, ".bpf") >= 0);
	assert_int_equal(n_sigs(out), 1);
	assert_string_equal(bp_pe_signature_at(out, 0)->signer, "CN=b, O=bootpack tests");
	assert_int_equal(verify(out, &ck, KEY_B, -1), 1);
	/* The same as stripping and editing, then signing: two steps, same bytes. */
	e.strip_signature = true;
	if (bp_pe_edit(signed_pe, &e, path_of("ed.efi"), &d))
		fail_msg("bp_pe_edit: %s", d.msg);
	stripped = open_path(path_of("ed.efi"));
	assert_int_equal(bp_pe_sign(stripped, k, &so, path_of("two-step.efi"), &d), 0);
	assert_same_file(path_of("es.efi"), path_of("two-step.efi"));
	bp_pe_close(stripped);
	bp_pe_close(out);
	bp_pe_close(signed_pe);
	bp_key_close(k);
	drop(&im);
}

/* ---- keys on a PKCS#11 token (SoftHSM2, made by tests/cli/softhsm.py) ---- */

static void make_token(void)
{
	const char *src = getenv("BOOTPACK_SRC");
	char cmd[1024], line[512];
	FILE *p;

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
}

/* A certificate for the token's key @name, from the PEM copy the token was loaded from. */
static void token_cert(const char *name, const char *out)
{
	FILE *f = fopen(path_of(name), "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	X509 *x;

	assert_non_null(k);
	fclose(f);
	x = make_cert(k, "token", NULL, NULL, false, 0, 3600, 77);
	f = fopen(out, "w");
	assert_non_null(f);
	assert_true(PEM_write_X509(f, x));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_pkcs11(void **state)
{
	static const char *const names[] = { "dev", "ec" };
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
	char crt[128], uri[128];
	struct bp_key *tok, *file;
	struct bp_pe *pe;
	struct checks ck;
	struct bp_diag d;

	(void)state;
	make_token();
	pe_gen_defaults(&o);
	make(&im, &o);
	for (int i = 0; i < 2; i++) {
		snprintf(crt, sizeof(crt), "%s/token-%s.crt", dir, names[i]);
		snprintf(uri, sizeof(uri), "pkcs11:token=bootpack;object=%s", names[i]);
		token_cert(i ? "hsm/ec.key" : "hsm/dev.key", crt);
		if (bp_key_open(uri, "1234", &tok, &d))
			fail_msg("bp_key_open %s: %s", uri, d.msg);
		so.cert = crt;
		if (bp_pe_sign(im.pe, tok, &so, path_of("tok.efi"), &d))
			fail_msg("bp_pe_sign with %s: %s", uri, d.msg);
		bp_key_close(tok);
		pe = open_path(path_of("tok.efi"));
		memset(&ck, 0, sizeof(ck));
		{
			const char *files[] = { crt };
			struct bp_pe_verify_opts vo = BP_PE_VERIFY_OPTS_INIT;
			size_t good = 0;

			vo.certs = files;
			vo.n_certs = 1;
			assert_int_equal(bp_pe_verify(pe, &vo, collect, &ck, &good, &d), 0);
			assert_int_equal(good, 1);
		}
		bp_pe_close(pe);
	}
	/* RSA PKCS#1 v1.5 on the token gives the bytes the same key in a file gives. */
	assert_int_equal(bp_key_open(path_of("hsm/dev.key"), NULL, &file, &d), 0);
	snprintf(crt, sizeof(crt), "%s/token-dev.crt", dir);
	so.cert = crt;
	assert_int_equal(bp_pe_sign(im.pe, file, &so, path_of("file.efi"), &d), 0);
	assert_int_equal(bp_key_open("pkcs11:token=bootpack;object=dev", "1234", &tok, &d), 0);
	assert_int_equal(bp_pe_sign(im.pe, tok, &so, path_of("tok.efi"), &d), 0);
	assert_same_file(path_of("file.efi"), path_of("tok.efi"));
	bp_key_close(tok);
	bp_key_close(file);
	drop(&im);
}

/* ---- zboot: the inner Image ---- */

static size_t gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };
	size_t len;

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	len = z.total_out;
	deflateEnd(&z);
	return len;
}

static void zboot_case(const uint8_t *inner, size_t n, struct bp_zboot_inner *z)
{
	static uint8_t packed[1 << 16];
	struct pe_gen_opts o;
	struct image im;
	struct bp_diag d;

	pe_gen_defaults(&o);
	o.zboot_comp = "gzip";
	o.payload = packed;
	o.payload_len = gzip(inner, n, packed, sizeof(packed));
	make(&im, &o);
	*z = (struct bp_zboot_inner)BP_ZBOOT_INNER_INIT;
	if (bp_zboot_inner(im.pe, 0, z, &d))
		fail_msg("bp_zboot_inner: %s", d.msg);
	drop(&im);
}

static void test_zboot_inner(void **state)
{
	static const char ver[] = "Linux version 6.1.0-13-arm64 (debian-kernel@lists.debian.org)";
	static const char ver612[] = "Linux version 6.12.5 (builder) #1 SMP";
	static uint8_t kernel[8192];
	struct pe_gen_opts o;
	struct image im, pe_inner;
	struct bp_zboot_inner z;
	struct bp_diag d;

	(void)state;
	/* An arm64 Image without an EFI stub; a decoy "Linux version" first. */
	memset(kernel, 0, sizeof(kernel));
	memcpy(kernel + 0x38, "ARM\x64", 4);
	memcpy(kernel + 0x100, "Linux version %s", 16);
	memcpy(kernel + 0x400, ver, sizeof(ver));
	zboot_case(kernel, sizeof(kernel), &z);
	assert_int_equal(z.sig, BP_ZBOOT_INNER_NOT_PE);
	assert_string_equal(z.version, "6.1.0-13-arm64");
	assert_int_equal(z.major, 6);
	assert_int_equal(z.minor, 1);
	assert_true(z.loads_inner_image);
	/* No banner at all: unknown, so assumed to be an old decompressor. */
	memset(kernel + 0x400, 0, sizeof(ver));
	zboot_case(kernel, sizeof(kernel), &z);
	assert_string_equal(z.version, "");
	assert_int_equal(z.major, 0);
	assert_true(z.loads_inner_image);

	/* A PE Image (LoongArch-style header), unsigned then signed, of Linux 6.12. */
	for (int signed_inner = 0; signed_inner < 2; signed_inner++) {
		pe_gen_defaults(&o);
		o.linux_pe_magic = PE_GEN_LINUX_PE_MAGIC;
		o.cert_size = signed_inner ? 40 : 0;
		make(&pe_inner, &o);
		memcpy(pe_inner.data + pe_inner.lay.sect_raw_ptr[1] + 16, ver612, sizeof(ver612));
		zboot_case(pe_inner.data, pe_inner.len, &z);
		assert_int_equal(z.sig, signed_inner ? BP_ZBOOT_INNER_SIGNED :
				 BP_ZBOOT_INNER_UNSIGNED);
		assert_string_equal(z.version, "6.12.5");
		assert_int_equal(z.major * 100 + z.minor, 612);
		assert_false(z.loads_inner_image);
		drop(&pe_inner);
	}
	assert_int_equal(BP_ZBOOT_LOADIMAGE_FIXED, 602);
	/* Not a zboot image. */
	pe_gen_defaults(&o);
	make(&im, &o);
	z = (struct bp_zboot_inner)BP_ZBOOT_INNER_INIT;
	assert_int_equal(bp_zboot_inner(im.pe, 0, &z, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "not a zboot image"));
	drop(&im);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "test-authenticode-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < N_KEYS; i++) {
		keys[i] = i == KEY_EC ? EVP_EC_gen("P-256") : EVP_RSA_gen(i == KEY_B ? 3072 : 2048);
		if (!keys[i])
			return -1;
	}
	certs[KEY_A] = make_cert(keys[KEY_A], "a", NULL, NULL, false, 0, 3600, 10);
	certs[KEY_B] = make_cert(keys[KEY_B], "b", NULL, NULL, false, 0, 3600, 11);
	certs[KEY_EC] = make_cert(keys[KEY_EC], "ec", NULL, NULL, false, 0, 3600, 12);
	certs[KEY_ROOT] = make_cert(keys[KEY_ROOT], "root", NULL, NULL, true, 0, 3600, 1);
	certs[KEY_MID] = make_cert(keys[KEY_MID], "mid", certs[KEY_ROOT], keys[KEY_ROOT], true, 0,
				   3600, 2);
	/* Expired a day ago. */
	certs[KEY_LEAF] = make_cert(keys[KEY_LEAF], "leaf", certs[KEY_MID], keys[KEY_MID], false,
				    -7 * 86400, -86400, 3);
	for (int i = 0; i < N_KEYS; i++) {
		write_pem(key_path(i), keys[i], NULL);
		write_pem(cert_path(i), NULL, certs[i]);
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	for (int i = 0; i < N_KEYS; i++) {
		EVP_PKEY_free(keys[i]);
		X509_free(certs[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_layouts),
		cmocka_unit_test(test_digest_refusals),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_large_mapped),
		cmocka_unit_test(test_sign_reproducible),
		cmocka_unit_test(test_signing_time),
		cmocka_unit_test(test_append_replace),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_chain_trust),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_hostile_tables),
		cmocka_unit_test(test_edit_sign),
		cmocka_unit_test(test_pkcs11),
		cmocka_unit_test(test_zboot_inner),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
