// SPDX-License-Identifier: MIT
/*
 * bp_pe_sign(): append an Authenticode signature to a PE image.
 *
 * The output is the image data up to its certificate table (or its end),
 * zero padding to an 8-byte boundary (hashed: it is image data now), then
 * the certificate table: the entries kept (append) and a WIN_CERTIFICATE
 * whose dwLength counts its header and the PKCS#7, zero-padded to 8 bytes
 * inside the table, as EDK2 walks it. The Security directory points at the
 * table and CheckSum covers the result. Only the header copy is patched;
 * the rest of the image is written from the input as it is, and the
 * checksum is summed over the pieces in order, so a large image is not
 * copied in memory. Nothing is written until the signature exists and has
 * been checked, and then atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "authenticode_internal.h"
#include "sig/sig_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define MAX_PIECES 8

struct signer {
	const struct bp_pe *pe;
	const struct bp_key *k;
	struct bp_pe_sign_opts o;
	struct bp_diag *d;
	X509 *cert;
	STACK_OF(X509) *extra;
	struct bpi_pe_hash_plan plan;
	uint64_t pad;               /* zeros after the image data */
	uint64_t keep;              /* bytes of the old table kept (append), padded to 8 */
	uint8_t *der;               /* the new PKCS#7 */
	size_t der_len;
	uint8_t *hdr;               /* SizeOfHeaders bytes, patched */
	struct bpi_region piece[MAX_PIECES];
	size_t n_pieces;
};

static const size_t sign_v1 = BPI_SIZE_V1(struct bp_pe_sign_opts, signing_time);

static int check_opts(struct signer *s, const struct bp_pe_sign_opts *o, const char *out_path)
{
	const char *name = s->pe->name;
	int ret = BPI_STRUCT_IN(&s->o, sign_v1, o, "bp_pe_sign_opts", s->d);

	if (ret)
		return ret;
	if (!s->o.digest)
		s->o.digest = BP_HASH_SHA256;
	if (!out_path || !s->k || !s->o.cert)
		return bp_diag_set(s->d, BP_ERR_INVALID, name, "signing needs a key, a certificate "
				   "and an output path");
	if (s->o.digest != BP_HASH_SHA256 && s->o.digest != BP_HASH_SHA384 &&
	    s->o.digest != BP_HASH_SHA512)
		return bp_diag_set(s->d, BP_ERR_INVALID, name, "Authenticode signatures are made "
				   "with sha256, sha384 or sha512, not '%s'",
				   bp_hash_name(s->o.digest) ? bp_hash_name(s->o.digest) : "unknown");
	if (s->o.mode != BP_PE_SIGN_NEW && s->o.mode != BP_PE_SIGN_APPEND &&
	    s->o.mode != BP_PE_SIGN_REPLACE)
		return bp_diag_set(s->d, BP_ERR_INVALID, name, "unknown signing mode %d",
				   (int)s->o.mode);
	return 0;
}

/* What the reader found wrong, the Security entry, and the mode against a signed image. */
static int check_image(struct signer *s)
{
	const struct bp_pe *pe = s->pe;
	const struct bp_pe_info *in = &pe->info;

	for (size_t i = 0; i < in->n_problems; i++)
		if (bp_pe_problem_at(pe, i)->severity == BP_PE_ERROR)
			return bp_diag_set(s->d, BP_ERR_FORMAT, pe->name, "refusing to sign an "
					   "invalid image: %s", bp_pe_problem_at(pe, i)->msg);
	if (in->n_errors)
		return bp_diag_set(s->d, BP_ERR_FORMAT, pe->name, "refusing to sign an invalid "
				   "image: it has %zu errors", in->n_errors);
	if (in->n_rva_and_sizes <= BP_PE_DIR_SECURITY)
		return bp_diag_set(s->d, BP_ERR_UNSUPPORTED, pe->name, "the image has no Security "
				   "directory entry (NumberOfRvaAndSizes is %u) to point at a "
				   "signature", in->n_rva_and_sizes);
	if (in->has_certificates && s->o.mode == BP_PE_SIGN_NEW)
		return bp_diag_set(s->d, BP_ERR_UNSUPPORTED, pe->name, "the image is already signed "
				   "(certificate table of %u bytes); append a signature or replace "
				   "the existing ones", in->dirs[BP_PE_DIR_SECURITY].size);
	return 0;
}

/* The signer's certificate (the file's first), what else it and the chain file hold. */
static int load_certs(struct signer *s)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	int ret = sk ? bpi_x509_load(s->o.cert, sk, s->d) :
		  bp_diag_set(s->d, BP_ERR_NOMEM, NULL, "out of memory");

	if (!ret && s->o.chain)
		ret = bpi_x509_load(s->o.chain, sk, s->d);
	if (ret) {
		sk_X509_pop_free(sk, X509_free);
		return ret;
	}
	s->cert = sk_X509_shift(sk);
	s->extra = sk;
	return 0;
}

static int check_key(struct signer *s)
{
	const struct bp_key *k = s->k;
	unsigned int bits;
	enum bpi_key_type t = k->pub ? bpi_key_type(k->pub, &bits) : BPI_KEY_OTHER;
	EVP_PKEY *cpub = X509_get0_pubkey(s->cert);
	char *subject = bpi_x509_name(X509_get_subject_name(s->cert));
	int ret = 0;

	if (!k->priv || !k->pkey)
		ret = bp_diag_set(s->d, BP_ERR_INVALID, NULL, "key '%s' is a public key: signing "
				  "needs the private key", BPI_ESC(k->name));
	else if (!(t == BPI_KEY_RSA && (bits == 2048 || bits == 3072 || bits == 4096)) &&
		 !(t == BPI_KEY_EC && (bits == 256 || bits == 384)))
		ret = bp_diag_set(s->d, BP_ERR_UNSUPPORTED, NULL, "key '%s' cannot make an "
				  "Authenticode signature here: RSA 2048, 3072 or 4096 bits or EC "
				  "P-256/P-384 keys can", BPI_ESC(k->name));
	else if (!cpub || EVP_PKEY_eq(cpub, k->pub) != 1)
		ret = bp_diag_set(s->d, BP_ERR_INVALID, s->o.cert, "the certificate ('%s') does "
				  "not hold the public key of key '%s'", BPI_ESC(subject),
				  BPI_ESC(k->name));
	free(subject);
	ERR_clear_error();
	return ret;
}

/* Where the image data ends, what of the old table stays, and the padding between. */
static int plan(struct signer *s)
{
	struct bpi_pe_sigs *ss;
	uint64_t table;
	int ret = bpi_pe_hash_plan(s->pe, &s->plan, s->d);

	if (ret)
		return ret;
	table = s->pe->file.len - s->plan.data_end;
	if (s->o.mode == BP_PE_SIGN_APPEND && table) {
		/* The entries kept must be ones the firmware can walk past. */
		ret = bpi_pe_sigs_get(s->pe, &ss, s->d);
		if (ret)
			return bp_diag_set(s->d, ret, s->pe->name, "cannot append a signature: %s",
					   ss ? ss->msg : "out of memory");
		s->keep = BPI_ALIGN_UP(table, 8);
	}
	s->pad = BPI_ALIGN_UP(s->plan.data_end, 8) - s->plan.data_end;
	return 0;
}

static int make_signature(struct signer *s)
{
	uint8_t digest[BP_HASH_MAX_LEN];
	struct bpi_p7_req r = {
		.key = s->k, .cert = s->cert, .extra = s->extra, .algo = s->o.digest,
		.digest = digest, .has_signing_time = s->o.has_signing_time,
		.signing_time = s->o.signing_time,
	};
	int ret = bpi_pe_hash(s->pe, &s->plan, s->pad, s->o.digest, digest, s->d);

	if (!ret)
		ret = bpi_p7_sign(&r, &s->der, &s->der_len, s->d);
	return ret;
}

/*
 * Call @fn on piece @i a chunk at a time; a chunk of the (mapped) input is
 * let go of once used, so signing a large image does not hold all of it.
 */
static int for_each_chunk(struct signer *s, size_t i,
			  int (*fn)(void *ctx, const uint8_t *p, size_t n, struct bp_diag *d),
			  void *ctx)
{
	const uint8_t *p = s->piece[i].data;
	uintptr_t at = (uintptr_t)p, file = (uintptr_t)s->pe->file.data;
	bool input = file && at >= file && at - file < s->pe->file.len;
	size_t n = s->piece[i].size;
	int ret = 0;

	for (size_t off = 0; off < n && !ret; off += BPI_PE_CHUNK) {
		size_t k = n - off < BPI_PE_CHUNK ? n - off : BPI_PE_CHUNK;

		ret = fn(ctx, p + off, k, s->d);
		if (input)
			bpi_pe_release(s->pe, at - file + off, k);
	}
	return ret;
}

static int sum_chunk(void *ctx, const uint8_t *p, size_t n, struct bp_diag *d)
{
	(void)d;
	bpi_pe_csum_add(ctx, p, n);
	return 0;
}

static void add_piece(struct signer *s, const void *p, uint64_t n)
{
	s->piece[s->n_pieces++] = (struct bpi_region){ p, (size_t)n };
}

/* The output as pieces: patched headers, image data, padding, table. */
static int lay_out(struct signer *s, uint8_t entry_hdr[8])
{
	static const uint8_t zeros[8];
	const struct bp_pe *pe = s->pe;
	uint64_t soh = pe->info.size_of_headers, table_off = s->plan.data_end + s->pad;
	uint64_t entry = BPI_WIN_CERT_HDR + (uint64_t)s->der_len;
	uint64_t table_size = s->keep + BPI_ALIGN_UP(entry, 8);
	struct bpi_pe_csum c = { 0, 0 };

	if (table_off + table_size > UINT32_MAX)
		return bp_diag_set(s->d, BP_ERR_TOOBIG, pe->name, "the signed image would exceed "
				   "the 4 GiB a Security directory can address");
	s->hdr = malloc(soh);
	if (!s->hdr)
		return bp_diag_set(s->d, BP_ERR_NOMEM, pe->name, "out of memory");
	memcpy(s->hdr, pe->file.data, soh);
	bpi_put_le32(s->hdr + s->plan.secdir_at, (uint32_t)table_off);
	bpi_put_le32(s->hdr + s->plan.secdir_at + 4, (uint32_t)table_size);
	bpi_put_le32(s->hdr + s->plan.checksum_at, 0);
	bpi_put_le32(entry_hdr, (uint32_t)entry);
	bpi_put_le16(entry_hdr + 4, BP_WIN_CERT_REVISION_2_0);
	bpi_put_le16(entry_hdr + 6, BP_WIN_CERT_TYPE_PKCS_SIGNED_DATA);
	add_piece(s, s->hdr, soh);
	add_piece(s, pe->file.data + soh, s->plan.data_end - soh);
	add_piece(s, zeros, s->pad);
	if (s->keep) {
		add_piece(s, pe->file.data + s->plan.data_end, pe->file.len - s->plan.data_end);
		add_piece(s, zeros, s->keep - (pe->file.len - s->plan.data_end));
	}
	add_piece(s, entry_hdr, BPI_WIN_CERT_HDR);
	add_piece(s, s->der, s->der_len);
	add_piece(s, zeros, BPI_ALIGN_UP(entry, 8) - entry);
	for (size_t i = 0; i < s->n_pieces; i++)
		for_each_chunk(s, i, sum_chunk, &c);
	bpi_put_le32(s->hdr + s->plan.checksum_at, bpi_pe_csum_final(&c));
	return 0;
}

static int write_chunk(void *ctx, const uint8_t *p, size_t n, struct bp_diag *d)
{
	return bpi_output_write(ctx, p, n, d);
}

static int write_out(struct signer *s, const char *out_path)
{
	struct bpi_output out;
	int ret = bpi_output_open(&out, out_path, s->d);

	for (size_t i = 0; !ret && i < s->n_pieces; i++)
		ret = for_each_chunk(s, i, write_chunk, &out);
	if (ret) {
		bpi_output_abort(&out);
		return ret;
	}
	return bpi_output_commit(&out, s->d);
}

int bp_pe_sign(const struct bp_pe *pe, const struct bp_key *k, const struct bp_pe_sign_opts *o,
	       const char *out_path, struct bp_diag *d)
{
	struct signer s = { .pe = pe, .k = k, .d = d };
	uint8_t entry_hdr[BPI_WIN_CERT_HDR];
	int ret;

	bp_diag_clear(d);
	ret = check_opts(&s, o, out_path);
	if (!ret)
		ret = check_image(&s);
	if (!ret)
		ret = load_certs(&s);
	if (!ret)
		ret = check_key(&s);
	if (!ret)
		ret = plan(&s);
	if (!ret)
		ret = make_signature(&s);
	if (!ret)
		ret = lay_out(&s, entry_hdr);
	if (!ret)
		ret = write_out(&s, out_path);
	/* lib/sig names no file: the image is what the message is about. */
	if (ret && d && !d->path[0])
		snprintf(d->path, sizeof(d->path), "%s", pe->name);
	X509_free(s.cert);
	sk_X509_pop_free(s.extra, X509_free);
	OPENSSL_free(s.der);
	free(s.hdr);
	return ret;
}

/*
 * Signing a digest found elsewhere (bp_uki_build() hashes the image while
 * it writes it): the same checks of options, certificates and key as
 * bp_pe_sign(), made before the caller hashes anything.
 */
struct bpi_pe_signer {
	struct signer s;
	struct bp_pe named;         /* only its name: messages say which image */
};

int bpi_pe_signer_open(const struct bp_key *k, const struct bp_pe_sign_opts *o, const char *name,
		       struct bpi_pe_signer **out, struct bp_diag *d)
{
	struct bpi_pe_signer *sg = calloc(1, sizeof(*sg));
	int ret;

	*out = NULL;
	if (!sg)
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	sg->named.name = (char *)name;
	sg->s.pe = &sg->named;
	sg->s.k = k;
	sg->s.d = d;
	/* No output path here: the caller writes; any non-NULL one passes the check. */
	ret = check_opts(&sg->s, o, "");
	if (!ret)
		ret = load_certs(&sg->s);
	if (!ret)
		ret = check_key(&sg->s);
	if (ret) {
		bpi_pe_signer_close(sg);
		return ret;
	}
	*out = sg;
	return 0;
}

enum bp_hash_algo bpi_pe_signer_algo(const struct bpi_pe_signer *sg)
{
	return sg->s.o.digest;
}

int bpi_pe_signer_sign(struct bpi_pe_signer *sg, const uint8_t *digest, uint8_t **der,
		       size_t *len, struct bp_diag *d)
{
	struct bpi_p7_req r = {
		.key = sg->s.k, .cert = sg->s.cert, .extra = sg->s.extra, .algo = sg->s.o.digest,
		.digest = digest, .has_signing_time = sg->s.o.has_signing_time,
		.signing_time = sg->s.o.signing_time,
	};
	int ret = bpi_p7_sign(&r, der, len, d);

	if (ret && d && !d->path[0])
		snprintf(d->path, sizeof(d->path), "%s", sg->named.name);
	return ret;
}

void bpi_pe_signer_close(struct bpi_pe_signer *sg)
{
	if (!sg)
		return;
	X509_free(sg->s.cert);
	sk_X509_pop_free(sg->s.extra, X509_free);
	free(sg);
}

static const size_t edit_v1 = BPI_SIZE_V1(struct bp_pe_edit, force);

int bp_pe_edit_sign(const struct bp_pe *pe, const struct bp_pe_edit *e, const struct bp_key *k,
		    const struct bp_pe_sign_opts *o, const char *out_path, struct bp_diag *d)
{
	struct bp_pe_sign_opts so;
	struct bp_pe_edit ec;
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink sink = BP_SINK_BUF_INIT(&buf, pe->name);
	struct bp_pe *edited = NULL;
	int ret;

	bp_diag_clear(d);
	ret = BPI_STRUCT_IN(&so, sign_v1, o, "bp_pe_sign_opts", d);
	if (!ret)
		ret = e ? BPI_STRUCT_IN(&ec, edit_v1, e, "bp_pe_edit", d) :
		      bp_diag_set(d, BP_ERR_INVALID, pe->name, "no edit given");
	if (ret)
		return ret;
	/* The edit invalidates every signature: they go, and one new signature is made. */
	ec.size = sizeof(ec);
	ec.strip_signature = true;
	so.size = sizeof(so);
	so.mode = BP_PE_SIGN_REPLACE;
	ret = bp_pe_edit_to(pe, &ec, &sink, d);
	if (!ret)
		ret = bpi_pe_open_buf(&buf, pe->name, &edited, d);
	if (!ret)
		ret = bp_pe_sign(edited, k, &so, out_path, d);
	bp_pe_close(edited);
	bp_buf_free(&buf);
	return ret;
}
