// SPDX-License-Identifier: MIT
/*
 * bp_pe_edit(): add, replace or remove one section of a PE image.
 *
 * Virtual addresses of existing sections never change (code refers to
 * them), so an added section goes after the last one and a replaced one may
 * grow only into free virtual space. File data is copied in file order as
 * runs of bytes; every run remembers where it came from, so anything that
 * holds a file offset (section headers, debug directory entries, the COFF
 * symbol table pointer, the zboot header) is moved with the bytes it names.
 */
#include <stdlib.h>
#include <string.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "pe_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define MAX_RUNS_EXTRA 8

/* A run of output bytes copied from [old, old + len) of the input. */
struct run {
	uint64_t old, len, new;
};

struct edit {
	const struct bp_pe *pe;
	const struct bp_pe_info *in;
	const struct bp_pe_edit *e;
	struct bp_diag *d;
	int target;                 /* section index (replace, remove), -1 for add */
	uint32_t new_soh;
	uint32_t table_end;         /* end of the input's section table */
	uint32_t add_va;
	struct bp_buf out;
	struct run *runs;
	size_t n_runs, cap_runs;
	uint32_t *new_off;          /* per input section: new PointerToRawData */
	uint32_t add_off;
};

static int fail(struct edit *ed, int err, const char *msg)
{
	return bp_diag_set(ed->d, err, ed->pe->name, "%s", msg);
}

/*
 * Rounding up to an alignment from the file. The reader flags one that is
 * not a power of two, but the editor must not divide by zero on its own.
 */
static uint64_t align_up(uint64_t x, uint32_t a)
{
	return BPI_ALIGN_UP(x, a ? (uint64_t)a : 1);
}

/*
 * The output's counterpart of bpi_pe_bytes(): fields are patched in the
 * edited image only where it holds them, whatever the input's headers said.
 */
static uint8_t *out_bytes(struct edit *ed, uint64_t off, uint64_t len, const char *what)
{
	if (ed->out.data && bpi_range_ok(ed->out.len, off, len))
		return ed->out.data + off;
	bp_diag_set(ed->d, BP_ERR_RANGE, ed->pe->name, "%s at offset 0x%llx (%llu bytes) lies "
		    "outside the edited image (size %zu)", what, (unsigned long long)off,
		    (unsigned long long)len, ed->out.len);
	return NULL;
}

/* The section whose virtual range holds [rva, rva + size), or -1. */
static int section_of_rva(const struct edit *ed, uint32_t rva, uint32_t size)
{
	for (uint32_t i = 0; i < ed->in->n_sections; i++) {
		const struct bp_pe_section *s = &ed->pe->sections[i];
		uint32_t span = s->virtual_size > s->raw_size ? s->virtual_size : s->raw_size;

		if (rva >= s->virtual_address &&
		    (uint64_t)rva + size <= (uint64_t)s->virtual_address + span)
			return (int)i;
	}
	return -1;
}

/* Whether [rva, rva + size) touches any part of section @idx's virtual range. */
static bool overlaps_section(const struct edit *ed, int idx, uint32_t rva, uint32_t size)
{
	const struct bp_pe_section *s = &ed->pe->sections[idx];
	uint32_t span = s->virtual_size > s->raw_size ? s->virtual_size : s->raw_size;

	return rva < (uint64_t)s->virtual_address + span &&
	       s->virtual_address < (uint64_t)rva + size;
}

static uint64_t image_end(const struct edit *ed, int skip)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < ed->in->n_sections; i++) {
		const struct bp_pe_section *s = &ed->pe->sections[i];
		uint64_t e = (uint64_t)s->virtual_address + s->virtual_size;

		if ((int)i != skip && e > end)
			end = e;
	}
	return end;
}

/*
 * SizeOfImage after replacing or removing section @idx: only the last
 * section (by address) decides it; 0 when it does not change.
 */
static uint64_t new_size_of_image(const struct edit *ed, int idx)
{
	const struct bp_pe_edit *e = ed->e;
	const struct bp_pe_section *s = &ed->pe->sections[idx];

	if ((uint64_t)s->virtual_address < image_end(ed, idx))
		return 0;
	if (e->op == BP_PE_REMOVE_SECTION)
		return s->virtual_address;
	return align_up((uint64_t)s->virtual_address + e->len, ed->in->section_alignment);
}

/*
 * A smaller SizeOfImage must still hold the entry point and every data
 * directory, which may lie outside all sections: the result would be an
 * image EDK2 refuses.
 */
static int check_shrink(struct edit *ed, int idx)
{
	const struct bp_pe_info *in = ed->in;
	uint64_t size = new_size_of_image(ed, idx);
	const char *verb = ed->e->op == BP_PE_REMOVE_SECTION ? "removing" : "replacing";

	if (!size || size >= in->size_of_image)
		return 0;
	if (in->entry_point >= size)
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "%s section '%s' would "
				   "shrink SizeOfImage to 0x%llx, leaving the entry point 0x%x "
				   "outside the image", verb, BPI_ESC(ed->e->name),
				   (unsigned long long)size,
				   in->entry_point);
	for (int i = 0; i < BP_PE_MAX_DIRS; i++) {
		const struct bp_pe_dir *dir = &in->dirs[i];

		if (i != BP_PE_DIR_SECURITY && dir->size &&
		    (uint64_t)dir->address + dir->size > size)
			return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "%s section "
					   "'%s' would shrink SizeOfImage to 0x%llx, leaving data "
					   "directory %d (RVA 0x%x, 0x%x bytes) outside the image",
					   verb, BPI_ESC(ed->e->name), (unsigned long long)size, i,
					   dir->address, dir->size);
	}
	return 0;
}

/* An image the reader found errors in is not edited at all. */
static int check_valid(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;

	for (size_t i = 0; i < in->n_problems; i++)
		if (bp_pe_problem_at(ed->pe, i)->severity == BP_PE_ERROR)
			return bp_diag_set(ed->d, BP_ERR_FORMAT, ed->pe->name, "refusing to edit an "
					   "invalid image: %s", bp_pe_problem_at(ed->pe, i)->msg);
	/* Counted but not listed (the reader ran out of memory for the list). */
	if (in->n_errors)
		return bp_diag_set(ed->d, BP_ERR_FORMAT, ed->pe->name, "refusing to edit an invalid "
				   "image: it has %zu errors", in->n_errors);
	return 0;
}

/*
 * The request itself: a name that fits, a section to work on (its index
 * goes to ed->target), data within limits, and padding the editor can
 * afford. The rest of the editor needs these on any image.
 */
static int check_request(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	const struct bp_pe_edit *e = ed->e;
	size_t n = strlen(e->name);
	int idx = bp_pe_find_section(ed->pe, e->name);

	if (!n || n > 8)
		return bp_diag_set(ed->d, BP_ERR_INVALID, ed->pe->name, "section name '%s' must be "
				   "1 to 8 bytes (PE section headers hold 8)", BPI_ESC(e->name));
	if (e->op == BP_PE_ADD_SECTION && idx >= 0)
		return bp_diag_set(ed->d, BP_ERR_INVALID, ed->pe->name, "a section named '%s' "
				   "already exists", BPI_ESC(e->name));
	if (e->op != BP_PE_ADD_SECTION && idx < 0)
		return bp_diag_set(ed->d, BP_ERR_NOTFOUND, ed->pe->name, "no section named '%s'",
				   BPI_ESC(e->name));
	if (e->op != BP_PE_REMOVE_SECTION && (!e->data || !e->len))
		return bp_diag_set(ed->d, BP_ERR_INVALID, ed->pe->name, "section '%s': no data "
				   "given", BPI_ESC(e->name));
	if (e->op != BP_PE_REMOVE_SECTION && e->len > UINT32_MAX / 2)
		return bp_diag_set(ed->d, BP_ERR_TOOBIG, ed->pe->name, "section '%s': %zu bytes is "
				   "too large for a PE section", BPI_ESC(e->name), e->len);
	if (in->has_certificates && !e->strip_signature)
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "the image is signed "
				   "(certificate table of %u bytes); an edit would invalidate the "
				   "signature, so strip it (--strip-signature) and sign again",
				   in->dirs[BP_PE_DIR_SECURITY].size);
	/* Padding to it is done in memory; the PE format itself stops at 64 KiB. */
	if (e->op != BP_PE_REMOVE_SECTION && in->file_alignment > PE_FILE_ALIGN_MAX)
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "FileAlignment 0x%x is "
				   "larger than 64 KiB, the most the PE format allows; refusing to "
				   "pad section data to it", in->file_alignment);
	ed->target = idx;
	return 0;
}

/* What would make this edit break a valid image, checked before any byte is written. */
static int check_image(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	const struct bp_pe_edit *e = ed->e;
	int idx = ed->target, ret;

	if (e->op == BP_PE_ADD_SECTION)
		return 0;
	if (in->zboot.present && in->zboot.payload_section == idx)
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "section '%s' holds the "
				   "zboot payload; changing it would orphan the zboot header",
				   BPI_ESC(e->name));
	if (in->entry_point && overlaps_section(ed, idx, in->entry_point, 1))
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "section '%s' holds the "
				   "entry point", BPI_ESC(e->name));
	for (int i = 0; i < BP_PE_MAX_DIRS; i++) {
		const struct bp_pe_dir *dir = &in->dirs[i];

		if (i != BP_PE_DIR_SECURITY && dir->size &&
		    overlaps_section(ed, idx, dir->address, dir->size))
			return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "section '%s' "
					   "holds data directory %d; changing it would leave the "
					   "directory pointing at other bytes", BPI_ESC(e->name), i);
	}
	if (e->op == BP_PE_REMOVE_SECTION && in->n_sections == 1)
		return bp_diag_set(ed->d, BP_ERR_INVALID, ed->pe->name, "cannot remove the only "
				   "section");
	ret = check_shrink(ed, idx);
	if (ret)
		return ret;
	/* Code and writable data are the program's own; its code still addresses them. */
	if (e->op == BP_PE_REMOVE_SECTION && !e->force &&
	    (ed->pe->sections[idx].characteristics & (BP_PE_SCN_CNT_CODE | BP_PE_SCN_MEM_EXECUTE |
						   BP_PE_SCN_MEM_WRITE)))
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "section '%s' is %s; "
				   "the program's code refers to it, so removing it would break "
				   "the image (--force removes it anyway)", BPI_ESC(e->name),
				   ed->pe->sections[idx].characteristics & BP_PE_SCN_MEM_WRITE
				   ? "writable data" : "code");
	if (e->op == BP_PE_REPLACE_SECTION) {
		const struct bp_pe_section *s = &ed->pe->sections[idx];
		uint64_t limit = UINT32_MAX;

		if (!s->raw_size)
			return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "section '%s' has "
					   "no file data (it is zero-filled at load time); it cannot "
					   "be given contents", BPI_ESC(e->name));

		/* Later sections keep their addresses: the new contents must fit before them. */
		for (uint32_t i = 0; i < in->n_sections; i++)
			if (ed->pe->sections[i].virtual_address > s->virtual_address &&
			    ed->pe->sections[i].virtual_address < limit)
				limit = ed->pe->sections[i].virtual_address;
		if (limit != UINT32_MAX &&
		    align_up((uint64_t)s->virtual_address + e->len, in->section_alignment) > limit)
			return bp_diag_set(ed->d, BP_ERR_TOOBIG, ed->pe->name, "section '%s': %zu bytes "
					   "do not fit before the next section at RVA 0x%llx (room for "
					   "%llu); only the last section can grow", BPI_ESC(e->name),
					   e->len,
					   (unsigned long long)limit,
					   (unsigned long long)(limit - s->virtual_address));
	}
	return 0;
}

/*
 * A fuzz build with BPI_FUZZ_SKIP_CHECK_EDIT (tests/fuzz, target pe_nocheck)
 * keeps only check_request(), so the editor meets images full of errors:
 * what keeps it inside its buffers then is the bounds gate, not this.
 */
#ifdef BPI_FUZZ_SKIP_CHECK_EDIT
#define SKIP_IMAGE_CHECKS 1
#else
#define SKIP_IMAGE_CHECKS 0
#endif

static int check_edit(struct edit *ed)
{
	int ret = SKIP_IMAGE_CHECKS ? 0 : check_valid(ed);

	if (!ret)
		ret = check_request(ed);
	if (!ret && !SKIP_IMAGE_CHECKS)
		ret = check_image(ed);
	return ret;
}

/*
 * The section holding the debug directory's entries in its file data, or -1
 * when there are none (or they lie elsewhere); @at gets their input file
 * offset and @n their count.
 */
static int debug_entries(const struct edit *ed, uint64_t *at, uint32_t *n)
{
	const struct bp_pe_info *in = ed->in;
	const struct bp_pe_dir *dir = &in->dirs[BP_PE_DIR_DEBUG];
	int sec = dir->size ? section_of_rva(ed, dir->address, dir->size) : -1;
	const struct bp_pe_section *s;

	*at = 0;
	*n = 0;
	if (sec < 0)
		return -1;
	s = &ed->pe->sections[sec];
	if (!s->raw_size || dir->address - s->virtual_address + (uint64_t)dir->size > s->raw_size)
		return -1;
	*n = dir->size / 28;
	*at = s->raw_offset + (uint64_t)(dir->address - s->virtual_address);
	return sec;
}

/*
 * Whether every non-zero byte of @hdr in [from, to) belongs to data a debug
 * entry names (1, else 0, or a negative code): only then may it move (the
 * entry is fixed); other bytes there could be referenced from anywhere.
 */
static int tail_is_debug_data(struct edit *ed, const uint8_t *hdr, uint64_t from, uint64_t to)
{
	const uint8_t *ents;
	uint32_t n;
	uint64_t at;

	debug_entries(ed, &at, &n);
	ents = bpi_pe_bytes(ed->pe, at, 28 * (uint64_t)n);
	if (!ents)
		return bpi_pe_range_error(ed->pe, ed->d, "the debug directory entries", at,
					  28 * (uint64_t)n);
	for (uint64_t x = from; x < to; x++) {
		bool covered = false;

		if (!hdr[x])
			continue;
		for (uint32_t i = 0; i < n && !covered; i++) {
			uint32_t size = bpi_get_le32(ents + 28 * i + 16);
			uint32_t ptr = bpi_get_le32(ents + 28 * i + 24);

			covered = x >= ptr && x < (uint64_t)ptr + size;
		}
		if (!covered)
			return 0;
	}
	return 1;
}

/*
 * SizeOfHeaders for the new section count: grown at FileAlignment, never
 * shrunk. Data after the section table (Linux 6.12 puts its CodeView record
 * there) moves down by one header to make room.
 */
static int plan_headers(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	/* Every edit copies the headers: all SizeOfHeaders bytes must be there. */
	const uint8_t *hdr = bpi_pe_bytes(ed->pe, 0, in->size_of_headers);
	uint64_t table_end = ed->pe->section_table + (uint64_t)in->n_sections * PE_SECTION_SIZE;
	uint64_t used = table_end, need, first_va = UINT32_MAX;
	int ret;

	if (!hdr)
		return bpi_pe_range_error(ed->pe, ed->d, "the headers (SizeOfHeaders)", 0,
					  in->size_of_headers);
	ed->new_soh = in->size_of_headers;
	ed->table_end = (uint32_t)table_end;
	if (ed->e->op != BP_PE_ADD_SECTION)
		return 0;
	for (uint64_t x = table_end; x < in->size_of_headers; x++)
		if (hdr[x])
			used = x + 1;
	ret = tail_is_debug_data(ed, hdr, table_end, used);
	if (ret < 0)
		return ret;
	if (!ret)
		return fail(ed, BP_ERR_UNSUPPORTED, "no room for another section header: the bytes "
			    "after the section table are in use");
	need = used + PE_SECTION_SIZE;
	if (need <= in->size_of_headers)
		return 0;
	for (uint32_t i = 0; i < in->n_sections; i++)
		if (ed->pe->sections[i].virtual_address < first_va)
			first_va = ed->pe->sections[i].virtual_address;
	need = align_up(need, in->file_alignment);
	if (need > first_va)
		return bp_diag_set(ed->d, BP_ERR_UNSUPPORTED, ed->pe->name, "no room for another "
				   "section header: the headers would need 0x%llx bytes but the "
				   "first section starts at RVA 0x%llx", (unsigned long long)need,
				   (unsigned long long)first_va);
	ed->new_soh = (uint32_t)need;
	return 0;
}

/*
 * SizeOfImage is 32 bits: an added section, or a last section that grows,
 * must still end below 4 GiB once rounded up to SectionAlignment, or the
 * field would wrap to a small value.
 */
static int plan_address(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	uint64_t va, end = image_end(ed, -1);

	if (ed->e->op == BP_PE_REMOVE_SECTION)
		return 0;
	if (ed->e->op == BP_PE_ADD_SECTION) {
		va = align_up(end > in->size_of_image ? end : in->size_of_image,
				  in->section_alignment);
	} else {
		va = ed->pe->sections[ed->target].virtual_address;
		/* Not the last: check_edit() kept it below the next section. */
		if (va < image_end(ed, ed->target))
			return 0;
	}
	end = align_up(va + ed->e->len, in->section_alignment);
	if (end > UINT32_MAX)
		return bp_diag_set(ed->d, BP_ERR_TOOBIG, ed->pe->name, "section '%s' (%zu bytes at "
				   "RVA 0x%llx) would end at 0x%llx (SectionAlignment 0x%x), past the "
				   "4 GiB that SizeOfImage can describe", BPI_ESC(ed->e->name),
				   ed->e->len,
				   (unsigned long long)va, (unsigned long long)end,
				   in->section_alignment);
	if (ed->e->op == BP_PE_ADD_SECTION)
		ed->add_va = (uint32_t)va;
	return 0;
}

static int emit(struct edit *ed, const void *p, uint64_t n)
{
	if (bp_buf_append(&ed->out, p, (size_t)n))
		return fail(ed, BP_ERR_NOMEM, "out of memory");
	return 0;
}

static int emit_zero(struct edit *ed, uint64_t n)
{
	if (bp_buf_reserve(&ed->out, (size_t)n))
		return fail(ed, BP_ERR_NOMEM, "out of memory");
	memset(ed->out.data + ed->out.len, 0, (size_t)n);
	ed->out.len += (size_t)n;
	return 0;
}

/* Copy input bytes [from, to) and remember where they went. */
static int copy_run(struct edit *ed, uint64_t from, uint64_t to)
{
	const uint8_t *p;

	if (to <= from)
		return 0;
	p = bpi_pe_bytes(ed->pe, from, to - from);
	if (!p)
		return bpi_pe_range_error(ed->pe, ed->d, "the input bytes to copy", from, to - from);
	/* Overlapping sections (an image with errors) are copied once each. */
	if (to - from > UINT32_MAX - ed->out.len)
		return fail(ed, BP_ERR_TOOBIG, "the edited image would exceed 4 GiB");
	/* Two per section (the gap before it, its data) and a few more, by construction. */
	if (ed->n_runs == ed->cap_runs)
		return fail(ed, BP_ERR_UNSUPPORTED, "too many pieces to copy");
	ed->runs[ed->n_runs++] = (struct run){ from, to - from, ed->out.len };
	return emit(ed, p, to - from);
}

static int cmp_raw(const void *a, const void *b, void *ctx)
{
	const struct bp_pe_section *s = ctx;
	uint32_t x = s[*(const uint32_t *)a].raw_offset, y = s[*(const uint32_t *)b].raw_offset;

	return x < y ? -1 : x > y;
}

static int pad_to_file_alignment(struct edit *ed)
{
	uint64_t to = align_up((uint64_t)ed->out.len, ed->in->file_alignment);

	return emit_zero(ed, to - ed->out.len);
}

/* The headers, with a free slot after the section table when adding. */
static int emit_headers(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	uint64_t keep;
	int ret;

	if (ed->e->op != BP_PE_ADD_SECTION) {
		ret = copy_run(ed, 0, in->size_of_headers);
		return ret ? ret : emit_zero(ed, ed->new_soh - in->size_of_headers);
	}
	/* What follows the table moves down one header; trailing zeros absorb it. */
	keep = ed->new_soh - PE_SECTION_SIZE < in->size_of_headers
		? ed->new_soh - PE_SECTION_SIZE : in->size_of_headers;
	ret = copy_run(ed, 0, ed->table_end);
	if (!ret)
		ret = emit_zero(ed, PE_SECTION_SIZE);
	if (!ret)
		ret = copy_run(ed, ed->table_end, keep);
	return ret ? ret : emit_zero(ed, ed->new_soh - ed->out.len);
}

/* Lay the body out in file order: gaps and sections as runs, new data where it belongs. */
static int copy_body(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	uint64_t cursor = in->size_of_headers;
	uint64_t body_end = in->has_certificates ? ed->pe->cert_offset : in->file_size;
	uint32_t *order = calloc(in->n_sections ? in->n_sections : 1, sizeof(*order));
	size_t n = 0;
	int ret = 0;

	if (!order)
		return fail(ed, BP_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < in->n_sections; i++)
		if (ed->pe->sections[i].raw_size)
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), cmp_raw, (void *)ed->pe->sections);
	for (size_t k = 0; k < n && !ret; k++) {
		const struct bp_pe_section *s = &ed->pe->sections[order[k]];

		ret = copy_run(ed, cursor, s->raw_offset);
		ed->new_off[order[k]] = (uint32_t)ed->out.len;
		if (!ret && (int)order[k] == ed->target && ed->e->op == BP_PE_REPLACE_SECTION) {
			/* Pad the data itself: an unaligned raw offset stays as it was. */
			ret = emit(ed, ed->e->data, ed->e->len);
			if (!ret)
				ret = emit_zero(ed, align_up((uint64_t)ed->e->len,
								 in->file_alignment) - ed->e->len);
		} else if (!ret && (int)order[k] != ed->target) {
			ret = copy_run(ed, s->raw_offset, (uint64_t)s->raw_offset + s->raw_size);
		}
		cursor = (uint64_t)s->raw_offset + s->raw_size;
	}
	free(order);
	/* The overlay stays after the last section's data, so the new data goes before it. */
	if (!ret && ed->e->op == BP_PE_ADD_SECTION) {
		ret = pad_to_file_alignment(ed);
		ed->add_off = (uint32_t)ed->out.len;
		if (!ret)
			ret = emit(ed, ed->e->data, ed->e->len);
		if (!ret)
			ret = emit_zero(ed, align_up((uint64_t)ed->e->len, in->file_alignment) -
					    ed->e->len);
	}
	if (!ret && body_end > cursor)
		ret = copy_run(ed, cursor, body_end);
	if (!ret && ed->out.len > UINT32_MAX)
		ret = fail(ed, BP_ERR_TOOBIG, "the edited image would exceed 4 GiB");
	return ret;
}

/* Where input file offset @old ended up; false when its bytes were dropped. */
static bool map_offset(const struct edit *ed, uint64_t old, uint32_t *out)
{
	for (size_t i = 0; i < ed->n_runs; i++) {
		if (old >= ed->runs[i].old && old < ed->runs[i].old + ed->runs[i].len) {
			*out = (uint32_t)(ed->runs[i].new + (old - ed->runs[i].old));
			return true;
		}
	}
	return false;
}

static void write_section_header(uint8_t *h, const char *name, uint32_t vsize, uint32_t va,
				 uint32_t raw_size, uint32_t raw_off, uint32_t flags)
{
	memset(h, 0, PE_SECTION_SIZE);
	memcpy(h, name, strlen(name));
	bpi_put_le32(h + 8, vsize);
	bpi_put_le32(h + 12, va);
	bpi_put_le32(h + 16, raw_size);
	bpi_put_le32(h + 20, raw_off);
	bpi_put_le32(h + 36, flags);
}

/* Sums the linker wrote, moved by the size of what changed (never below zero). */
static void adjust_size_field(uint8_t *opt, int field, uint32_t flags, uint32_t flag,
			      int64_t delta)
{
	int64_t v = (int64_t)bpi_get_le32(opt + field) + ((flags & flag) ? delta : 0);

	bpi_put_le32(opt + field, v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
}

static void adjust_sizes(uint8_t *opt, uint32_t flags, int64_t delta)
{
	adjust_size_field(opt, PE_OPT_SIZE_OF_CODE, flags, BP_PE_SCN_CNT_CODE, delta);
	adjust_size_field(opt, PE_OPT_SIZE_OF_INIT, flags, BP_PE_SCN_CNT_INITIALIZED_DATA, delta);
	adjust_size_field(opt, PE_OPT_SIZE_OF_UNINIT, flags, BP_PE_SCN_CNT_UNINITIALIZED_DATA,
			  delta);
}

/* @opt and @coff: the output's optional and COFF file headers. */
static int rewrite_section_table(struct edit *ed, uint8_t *opt, uint8_t *coff)
{
	const struct bp_pe_info *in = ed->in;
	uint64_t size = (uint64_t)in->n_sections * PE_SECTION_SIZE;
	const uint8_t *orig = bpi_pe_bytes(ed->pe, ed->pe->section_table, size);
	uint8_t *table, *h;
	uint32_t fa = in->file_alignment, k = 0;

	if (!orig)
		return bpi_pe_range_error(ed->pe, ed->d, "the section table", ed->pe->section_table,
					  size);
	/* Adding writes one entry more (emit_headers() made room for it). */
	table = out_bytes(ed, ed->pe->section_table, size + (ed->e->op == BP_PE_ADD_SECTION ?
							    PE_SECTION_SIZE : 0), "the section table");
	if (!table)
		return BP_ERR_RANGE;
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = &ed->pe->sections[i];
		uint32_t ptr;

		if ((int)i == ed->target && ed->e->op == BP_PE_REMOVE_SECTION) {
			adjust_sizes(opt, s->characteristics, -(int64_t)s->raw_size);
			continue;
		}
		h = table + PE_SECTION_SIZE * k++;
		memcpy(h, orig + PE_SECTION_SIZE * i, PE_SECTION_SIZE);
		if (s->raw_size)
			bpi_put_le32(h + 20, ed->new_off[i]);
		/* Relocation and line-number pointers are file offsets too (0 in images). */
		for (int f = 24; f <= 28; f += 4) {
			ptr = bpi_get_le32(h + f);
			if (ptr && !map_offset(ed, ptr, &ptr))
				return fail(ed, BP_ERR_UNSUPPORTED, "a section's relocation or line "
					    "number table points at bytes the edit removes");
			bpi_put_le32(h + f, ptr);
		}
		if ((int)i == ed->target) {
			uint32_t raw = (uint32_t)align_up((uint64_t)ed->e->len, fa);

			bpi_put_le32(h + 8, (uint32_t)ed->e->len);
			bpi_put_le32(h + 16, raw);
			bpi_put_le32(h + 20, ed->new_off[i]);
			adjust_sizes(opt, s->characteristics, (int64_t)raw - s->raw_size);
		}
	}
	if (ed->e->op == BP_PE_ADD_SECTION) {
		uint32_t flags = ed->e->characteristics ? ed->e->characteristics
							: BP_PE_ADD_DEFAULT_FLAGS;
		uint32_t raw = (uint32_t)align_up((uint64_t)ed->e->len, fa);

		write_section_header(table + PE_SECTION_SIZE * k++, ed->e->name, (uint32_t)ed->e->len,
				     ed->add_va, raw, ed->add_off, flags);
		adjust_sizes(opt, flags, raw);
	} else if (ed->e->op == BP_PE_REMOVE_SECTION) {
		memset(table + PE_SECTION_SIZE * k, 0, PE_SECTION_SIZE);
	}
	bpi_put_le16(coff + 2, (uint16_t)k);
	return 0;
}

/* Debug directory entries hold PointerToRawData, a file offset, at byte 24 of each 28. */
static int fix_debug_entries(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	uint64_t in_at, at;
	uint8_t *ents;
	uint32_t n;
	int sec;

	if (!in->dirs[BP_PE_DIR_DEBUG].size)
		return 0;
	sec = debug_entries(ed, &in_at, &n);
	if (sec < 0)
		return fail(ed, BP_ERR_UNSUPPORTED, "the debug directory does not lie in a section's "
			    "file data; cannot move it");
	/* Its section moved as a whole (sections holding directories are never replaced). */
	at = ed->new_off[sec] + (in_at - ed->pe->sections[sec].raw_offset);
	ents = out_bytes(ed, at, 28 * (uint64_t)n, "the debug directory entries");
	if (!ents)
		return BP_ERR_RANGE;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *ent = ents + 28 * (uint64_t)i;
		uint32_t old = bpi_get_le32(ent + 24), ptr = old, rva = bpi_get_le32(ent + 20);

		if (ptr && !map_offset(ed, ptr, &ptr))
			return fail(ed, BP_ERR_UNSUPPORTED, "a debug directory entry points at bytes "
				    "the edit removes");
		bpi_put_le32(ent + 24, ptr);
		/* Headers load at RVA 0, so data moved inside them moves its RVA too. */
		if (rva && rva == old && old < in->size_of_headers)
			bpi_put_le32(ent + 20, ptr);
	}
	return 0;
}

static int fix_headers(struct edit *ed)
{
	const struct bp_pe_info *in = ed->in;
	uint8_t *opt = out_bytes(ed, ed->pe->opt_offset, in->size_of_optional_header,
				 "the optional header");
	uint8_t *coff = out_bytes(ed, in->pe_offset + 4, PE_COFF_SIZE, "the COFF file header");
	uint8_t *zboot;
	uint32_t nrva_at = in->pe32plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA, ptr;
	int ret;

	/* The reader made the optional header big enough for every field patched here. */
	if (!opt || !coff)
		return BP_ERR_RANGE;
	ret = rewrite_section_table(ed, opt, coff);
	if (ret)
		return ret;
	bpi_put_le32(opt + PE_OPT_SIZE_OF_HEADERS, ed->new_soh);
	if (ed->e->op == BP_PE_ADD_SECTION) {
		bpi_put_le32(opt + PE_OPT_SIZE_OF_IMAGE, (uint32_t)align_up(
			(uint64_t)ed->add_va + ed->e->len, in->section_alignment));
	} else {
		uint64_t end = new_size_of_image(ed, ed->target);

		if (end)
			bpi_put_le32(opt + PE_OPT_SIZE_OF_IMAGE, (uint32_t)end);
	}
	if (in->has_certificates)
		memset(opt + nrva_at + 4 + 8 * BP_PE_DIR_SECURITY, 0, 8);
	ptr = in->symbol_table;
	if (ptr) {
		if (!map_offset(ed, ptr, &ptr))
			return fail(ed, BP_ERR_UNSUPPORTED, "the COFF symbol table lies in bytes the "
				    "edit removes");
		bpi_put_le32(coff + 8, ptr);
	}
	if (in->zboot.present) {
		if (!map_offset(ed, in->zboot.payload_offset, &ptr))
			return fail(ed, BP_ERR_UNSUPPORTED, "the zboot payload lies in bytes the edit "
				    "removes");
		zboot = out_bytes(ed, ZBOOT_PAYLOAD_OFFSET, 4, "the zboot payload offset");
		if (!zboot)
			return BP_ERR_RANGE;
		bpi_put_le32(zboot, ptr);
	}
	ret = fix_debug_entries(ed);
	if (!ret && in->checksum)
		bpi_put_le32(opt + PE_OPT_CHECKSUM,
			     bp_pe_checksum(ed->out.data, ed->out.len,
					    ed->pe->opt_offset + PE_OPT_CHECKSUM));
	return ret;
}

/*
 * Room for the output, so it is not reallocated as it grows: the input, the
 * new data padded twice and the grown headers. Removing pads nothing, and
 * its FileAlignment may be anything.
 */
static size_t out_estimate(const struct edit *ed)
{
	uint64_t add = 2 * (uint64_t)ed->in->file_alignment + ed->e->len;

	return ed->pe->file.len + ed->new_soh + (ed->e->op == BP_PE_REMOVE_SECTION ? 0 : add);
}

static const size_t edit_v1 = BPI_SIZE_V1(struct bp_pe_edit, force);

int bp_pe_edit_to(const struct bp_pe *pe, const struct bp_pe_edit *edit,
		  const struct bp_sink *out, struct bp_diag *d)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);
	struct bp_pe_edit e;
	struct edit ed = { .pe = pe, .in = in, .e = &e, .d = d, .target = -1 };
	int ret;

	bp_diag_clear(d);
	if (!edit || !out)
		return bp_diag_set(d, BP_ERR_INVALID, pe->name, "no edit given");
	ret = BPI_STRUCT_IN(&e, edit_v1, edit, "bp_pe_edit", d);
	if (ret)
		return ret;
	if (!e.name)
		return bp_diag_set(d, BP_ERR_INVALID, pe->name, "no edit given");
	ret = check_edit(&ed);
	if (!ret)
		ret = plan_headers(&ed);
	if (!ret)
		ret = plan_address(&ed);
	if (ret)
		return ret;
	ed.cap_runs = 2 * (size_t)in->n_sections + MAX_RUNS_EXTRA;
	ed.runs = calloc(ed.cap_runs, sizeof(*ed.runs));
	ed.new_off = calloc(in->n_sections ? in->n_sections : 1, sizeof(*ed.new_off));
	if (!ed.runs || !ed.new_off || bp_buf_reserve(&ed.out, out_estimate(&ed))) {
		ret = fail(&ed, BP_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Headers first; the section table is rewritten in place afterwards. */
	ret = emit_headers(&ed);
	if (!ret)
		ret = copy_body(&ed);
	if (!ret)
		ret = fix_headers(&ed);
	if (!ret)
		ret = bpi_output_to(out, ed.out.data, ed.out.len, d);
out:
	free(ed.runs);
	free(ed.new_off);
	bp_buf_free(&ed.out);
	return ret;
}

int bp_pe_edit(const struct bp_pe *pe, const struct bp_pe_edit *e, const char *out_path,
	       struct bp_diag *d)
{
	struct bp_sink s = BP_SINK_PATH_INIT(out_path);

	if (!out_path) {
		bp_diag_clear(d);
		return bp_diag_set(d, BP_ERR_INVALID, pe->name, "no edit given");
	}
	return bp_pe_edit_to(pe, e, &s, d);
}
