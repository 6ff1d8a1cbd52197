// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the PE/COFF reader, the section editor, zboot extraction and
 * the Authenticode reader. Each input is parsed; its certificate table is
 * listed, its digest computed and its signatures checked (against no
 * certificate); a zboot image's kernel is extracted (capped); an image
 * without errors is then edited (add, and replace or remove of its last
 * section) and every result must parse again without errors, with the
 * zboot payload still inside one section.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootpack/authenticode.h>
#include <bootpack/pe.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_output(const char *path, bool zboot)
{
	const struct bp_pe_info *in;
	struct bp_pe *pe;
	struct bp_diag d;

	if (bp_pe_open(path, &pe, &d))
		abort();
	in = bp_pe_get_info(pe);
	if (in->n_errors || (zboot && in->zboot.payload_section < 0))
		abort();
	bp_pe_close(pe);
}

static void on_check(void *ctx, const struct bp_pe_sig_check *c)
{
	(void)ctx;
	/* Nothing is trusted without a certificate; every verdict says why. */
	if (!c->msg || !c->msg[0] || c->trusted)
		abort();
}

/* Listing, digest and verdicts must agree with each other, whatever the table holds. */
static void check_signatures(const struct bp_pe *pe)
{
	uint8_t md[BP_HASH_MAX_LEN];
	struct bp_diag d;
	size_t n = 0, good = 1;
	int ret = bp_pe_signatures(pe, &n, &d);

	if (ret && (!d.msg[0] || n))
		abort();
	for (size_t i = 0; !ret && i < n; i++) {
		const struct bp_pe_signature *s = bp_pe_signature_at(pe, i);

		if (!s || s->parsed == !!s->problem || s->length < 8)
			abort();
		if (s->parsed && s->digest_matches &&
		    (bp_pe_digest(pe, s->digest_algo, md, &d) ||
		     memcmp(md, s->digest, bp_hash_len(s->digest_algo))))
			abort();
		if (s->signer)
			(void)strlen(s->signer);
	}
	if (!ret && bp_pe_signature_at(pe, n))
		abort();
	if (bp_pe_digest(pe, BP_HASH_SHA256, md, &d) && !d.msg[0])
		abort();
	if (bp_pe_verify(pe, NULL, on_check, NULL, &good, &d) != ret || good)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t blob[300] = { 0x42 };
	char dir[] = "/tmp/bp-fuzzpe-XXXXXX", out[64];
	const struct bp_pe_info *in;
	struct bp_pe *pe;
	struct bp_diag d;

	if (bp_pe_open_mem(data, size, "fuzz.efi", &pe, &d)) {
		if (!d.msg[0])
			abort();
		return 0;
	}
	in = bp_pe_get_info(pe);
	check_signatures(pe);
	if (!mkdtemp(dir))
		abort();
	snprintf(out, sizeof(out), "%s/out.efi", dir);
	if (in->zboot.present) {
		if (bp_zboot_extract(pe, out, 1 << 20, NULL, NULL, &d) && !d.msg[0])
			abort();
		unlink(out);
	}
	struct bp_pe_edit edits[] = {
		{ .size = sizeof(struct bp_pe_edit), .op = BP_PE_ADD_SECTION, .name = ".bpf", .data = blob, .len = sizeof(blob),
		  .strip_signature = true },
		{ .size = sizeof(struct bp_pe_edit), .op = BP_PE_REPLACE_SECTION, .data = blob, .len = size & 1 ? 1 : sizeof(blob),
		  .strip_signature = true },
		{ .size = sizeof(struct bp_pe_edit), .op = BP_PE_REMOVE_SECTION, .strip_signature = true, .force = true },
	};
	char last[9] = "";

	if (in->n_sections)
		memcpy(last, bp_pe_section_at(pe, in->n_sections - 1u)->name, 8);
	edits[1].name = edits[2].name = last;
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		if (!bp_pe_edit(pe, &edits[i], out, &d))
			check_output(out, in->zboot.present);
		else if (!d.msg[0])
			abort();
		unlink(out);
	}
	rmdir(dir);
	bp_pe_close(pe);
	return 0;
}
