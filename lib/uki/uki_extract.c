// SPDX-License-Identifier: MIT
/*
 * bp_uki_extract(): one section's bytes as systemd-stub reads them
 * (min(VirtualSize, SizeOfRawData) from PointerToRawData), written
 * atomically. Any section name is accepted, so the stub's own sections and
 * those a builder added (.pcrsig, .ucode) come out the same way.
 */
#include <inttypes.h>
#include <string.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/uki.h>

#include "pe/pe_internal.h"
#include "util/esc.h"
#include "util/util.h"

/* The one section called @name: a second one would make the choice arbitrary. */
static int find_once(const struct bp_pe *pe, const char *name, const struct bp_pe_section **out,
		     struct bp_diag *d)
{
	const struct bp_pe_section *found = NULL;
	uint32_t first = 0;

	for (uint32_t i = 0; i < pe->info.n_sections; i++) {
		if (strcmp(pe->sections[i].name, name))
			continue;
		if (found)
			return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "section '%s' appears more "
					   "than once (sections %u and %u)", BPI_ESC(name), first, i);
		found = &pe->sections[i];
		first = i;
	}
	if (!found)
		return bp_diag_set(d, BP_ERR_NOTFOUND, pe->name, "no section '%s'", BPI_ESC(name));
	*out = found;
	return 0;
}

int bp_uki_extract_to(const struct bp_pe *pe, const char *name, const struct bp_sink *out,
		      uint64_t *written, struct bp_diag *d)
{
	const struct bp_pe_section *s = NULL;
	uint64_t len, size;
	int ret;

	bp_diag_clear(d);
	if (!pe || !name || !out)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "bp_uki_extract: no image, section "
				   "name or output given");
	if (!name[0] || strlen(name) > 8)
		return bp_diag_set(d, BP_ERR_INVALID, pe->name, "section name '%s' is not 1 to 8 "
				   "bytes long", BPI_ESC(name));
	ret = find_once(pe, name, &s, d);
	if (ret)
		return ret;
	len = s->virtual_size < s->raw_size ? s->virtual_size : s->raw_size;
	size = pe->file.len;
	if (s->raw_offset > size || len > size - s->raw_offset)
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "section '%s': data (%#" PRIx64
				   " bytes at %#x) extends past the end of the file (%#" PRIx64 ")",
				   BPI_ESC(name), len, s->raw_offset, size);
	ret = bpi_output_to(out, pe->file.data + s->raw_offset, (size_t)len, d);
	if (!ret && written)
		*written = len;
	return ret;
}

int bp_uki_extract(const struct bp_pe *pe, const char *name, const char *out_path,
		   uint64_t *written, struct bp_diag *d)
{
	struct bp_sink s = BP_SINK_PATH_INIT(out_path);

	return bp_uki_extract_to(pe, name, &s, written, d);
}
