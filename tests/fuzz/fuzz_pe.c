// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the PE/COFF reader, the section editor and zboot extraction.
 * Each input is parsed; a zboot image's kernel is extracted (capped); an
 * image without errors is then edited (add, and replace or remove of its
 * last section) and every result must parse again without errors, with the
 * zboot payload still inside one section.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
