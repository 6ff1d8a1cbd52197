// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the certificate table and Authenticode signature parser.
 * The input is a certificate table (WIN_CERTIFICATE entries, their PKCS#7
 * data); it is appended at the 8-aligned end of a fixed valid image made by
 * pe_gen, the Security directory pointed at it, and the image listed,
 * hashed and its signatures checked (no certificate is trusted, so a
 * verdict must never say trusted). Mutations land in the
 * entries and the DER rather than in the headers, which fuzz_pe covers.
 * The seeds are tables from a bootpack signature and an sbsign one (public
 * data only: a certificate and a signature).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/authenticode.h>

#include "../unit/pe_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TABLE (1u << 20)

static uint8_t *image;
static size_t image_len, data_end;
static uint32_t secdir;

static void make_image(void)
{
	struct pe_gen_opts o;
	struct pe_gen_layout lay;

	pe_gen_defaults(&o);
	o.overlay = 5;
	if (pe_gen_build(&o, &image, &image_len, &lay))
		abort();
	secdir = lay.opt_offset + 112 + 8 * 4;
	data_end = (image_len + 7) / 8 * 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void on_check(void *ctx, const struct bp_pe_sig_check *c)
{
	(void)ctx;
	if (!c->msg || !c->msg[0] || c->trusted)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bp_pe_verify_opts o = BP_PE_VERIFY_OPTS_INIT;
	uint8_t md[BP_HASH_MAX_LEN], *buf;
	struct bp_pe *pe;
	struct bp_diag d;
	size_t n = 0, good = 0;

	if (!image)
		make_image();
	if (size > MAX_TABLE)
		return 0;
	buf = calloc(1, data_end + size + 1);
	if (!buf)
		abort();
	memcpy(buf, image, image_len);
	memcpy(buf + data_end, data, size);
	put32(buf + secdir, (uint32_t)data_end);
	put32(buf + secdir + 4, (uint32_t)size);
	if (bp_pe_open_mem(buf, data_end + size, "fuzz.efi", &pe, &d))
		abort();
	if (bp_pe_signatures(pe, &n, &d)) {
		if (!d.msg[0] || bp_pe_signature_at(pe, 0))
			abort();
	}
	for (size_t i = 0; i < n; i++) {
		const struct bp_pe_signature *s = bp_pe_signature_at(pe, i);

		if (!s || s->offset < data_end || s->offset + s->length > data_end + size)
			abort();
		if (s->parsed && (s->problem || s->n_certs > size))
			abort();
	}
	if (bp_pe_digest(pe, BP_HASH_SHA256, md, &d) && !d.msg[0])
		abort();
	if (bp_pe_verify(pe, &o, on_check, NULL, &good, &d) && !d.msg[0])
		abort();
	if (good)
		abort();
	bp_pe_close(pe);
	free(buf);
	return 0;
}
