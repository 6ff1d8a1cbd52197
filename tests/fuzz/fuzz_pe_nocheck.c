// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the PE section editor and zboot extraction on any image the
 * reader opens, errors and all. meson.build links it with a copy of
 * lib/pe/pe_edit.c compiled with BPI_FUZZ_SKIP_CHECK_EDIT, which drops the
 * editor's refusals of invalid or unsafe images (check_edit()), so what
 * keeps it inside its buffers is the bounds gate alone. Outputs may be
 * nonsense; only crashes, sanitizer reports and leaks count, and every
 * failure must come with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/pe.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void edit(const struct bp_pe *pe, struct bp_pe_edit *e)
{
	struct bp_diag d;

	/* A character device is written in place: no temporary file per run. */
	if (bp_pe_edit(pe, e, "/dev/null", &d) && !d.msg[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t blob[700] = { 0x42 };
	const struct bp_pe_info *in;
	struct bp_pe *pe;
	struct bp_diag d;
	char name[9] = "";
	/* The last bytes pick the section, the data length and the flags. */
	uint32_t pick = size >= 4 ? (uint32_t)data[size - 1] | (uint32_t)data[size - 2] << 8 : 0;

	if (bp_pe_open_mem(data, size, "fuzz.efi", &pe, &d)) {
		if (!d.msg[0])
			abort();
		return 0;
	}
	in = bp_pe_get_info(pe);
	if (in->zboot.present && bp_zboot_extract(pe, "/dev/null", 1 << 20, NULL, NULL, &d) &&
	    !d.msg[0])
		abort();
	if (in->n_sections)
		memcpy(name, bp_pe_section_at(pe, pick % in->n_sections)->name, 8);
	edit(pe, &(struct bp_pe_edit){ .size = sizeof(struct bp_pe_edit),
				       .op = BP_PE_ADD_SECTION, .name = ".bpf", .data = blob,
				       .len = 1 + pick % sizeof(blob), .strip_signature = true,
				       .characteristics = size >= 3 ? (uint32_t)data[size - 3] << 24 : 0 });
	edit(pe, &(struct bp_pe_edit){ .size = sizeof(struct bp_pe_edit),
				       .op = BP_PE_REPLACE_SECTION, .name = name, .data = blob,
				       .len = 1 + (pick >> 4) % sizeof(blob),
				       .strip_signature = true });
	edit(pe, &(struct bp_pe_edit){ .size = sizeof(struct bp_pe_edit),
				       .op = BP_PE_REMOVE_SECTION, .name = name,
				       .strip_signature = true, .force = true });
	bp_pe_close(pe);
	return 0;
}
