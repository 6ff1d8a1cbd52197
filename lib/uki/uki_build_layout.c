// SPDX-License-Identifier: MIT
/*
 * Where everything goes in a UKI. The stub's sections keep their virtual
 * addresses (its code refers to them); the added ones follow, each at the
 * previous end rounded up to SectionAlignment, raw data FileAlignment
 * aligned and back to back, so an Authenticode digest covers every byte.
 * When the section table has no room for the new headers, SizeOfHeaders
 * grows by whole FileAlignment steps and the stub's raw data moves down by
 * as much, with every file offset that names it (section headers, debug
 * directory entries), as long as the headers stay below the first section.
 */
#include <stdlib.h>
#include <string.h>

#include "uki_build_internal.h"
#include "util/esc.h"

#define COFF_NSECTIONS 2
#define COFF_SYMTAB 8
#define COFF_NSYMS 12
#define COFF_CHARACTERISTICS 18
#define COFF_LOCAL_SYMS_STRIPPED 0x0008
#define COFF_SYMBOL_SIZE 18
#define DEBUG_ENTRY_SIZE 28
#define DEBUG_ENTRY_PTR 24
#define SEC_VSIZE 8
#define SEC_RAW_PTR 20
#define AARCH64_NOP 0xd503201fu

struct plan {
	const struct bp_pe *pe;
	const struct bp_pe_info *in;
	struct bp_diag *d;
	uint64_t keep_end;          /* stub bytes kept: [0, keep_end) */
	uint64_t raw_end;           /* end of the stub's last section data */
	uint32_t table_end, delta;
	bool strip_symbols;
};

static uint64_t up(uint64_t x, uint32_t a)
{
	return BPI_ALIGN_UP(x, a ? (uint64_t)a : 1);
}

/* Messages with two numbers: most of this file's. */
static int fail(struct plan *p, int err, const char *fmt, uint64_t x, uint64_t y)
{
	return bp_diag_set(p->d, err, p->pe->name, fmt, (unsigned long long)x,
			   (unsigned long long)y);
}

/*
 * What of the stub is kept: its headers and sections; not a COFF symbol
 * table at its end (old stubs carry one; ukify strips it too), not the
 * certificate table (stripping was asked for), not an overlay.
 */
static int plan_stub_end(struct plan *p, bool strip)
{
	const struct bp_pe_info *in = p->in;
	uint64_t end = p->pe->file.len;

	if (in->has_certificates && !strip)
		return bp_diag_set(p->d, BP_ERR_UNSUPPORTED, p->pe->name, "the stub is signed "
				   "(certificate table of %u bytes); adding sections would "
				   "invalidate its signature, so strip it "
				   "(--strip-stub-signature) and sign the UKI",
				   in->dirs[BP_PE_DIR_SECURITY].size);
	if (in->has_certificates)
		end = p->pe->cert_offset;
	p->raw_end = in->size_of_headers;
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = &p->pe->sections[i];

		if (s->raw_size && (uint64_t)s->raw_offset + s->raw_size > p->raw_end)
			p->raw_end = (uint64_t)s->raw_offset + s->raw_size;
	}
	if (p->raw_end > end)
		return fail(p, BP_ERR_FORMAT, "the stub's section data ends at 0x%llx, past the "
			    "end of its image data (0x%llx)", p->raw_end, end);
	if (in->symbol_table && in->symbol_table >= p->raw_end)
		p->strip_symbols = true;
	else if (in->symbol_table)
		return fail(p, BP_ERR_UNSUPPORTED, "the stub's COFF symbol table (at 0x%llx) lies "
			    "inside its section data (ending at 0x%llx)", in->symbol_table,
			    p->raw_end);
	p->keep_end = p->raw_end;
	return 0;
}

/* The file offset of the debug directory entries and their count (none: 0). */
static uint32_t debug_entries(const struct plan *p, uint64_t *at)
{
	const struct bp_pe_dir *dir = &p->in->dirs[BP_PE_DIR_DEBUG];

	for (uint32_t i = 0; dir->size && i < p->in->n_sections; i++) {
		const struct bp_pe_section *s = &p->pe->sections[i];

		if (dir->address >= s->virtual_address &&
		    (uint64_t)dir->address - s->virtual_address + dir->size <= s->raw_size) {
			*at = s->raw_offset + (uint64_t)(dir->address - s->virtual_address);
			return dir->size / DEBUG_ENTRY_SIZE;
		}
	}
	return 0;
}

/*
 * Whether header byte @x is free for a section header: zero, or part of an
 * AArch64 NOP word (gnu-efi's hand-written arm64 PE header, systemd 252's
 * linuxaa64.efi.stub, pads up to its code with them; nothing runs there).
 */
static bool header_byte_free(const uint8_t *hdr, uint64_t len, uint64_t x)
{
	uint64_t w = x & ~(uint64_t)3;

	return !hdr[x] || (w + 4 <= len && bpi_get_le32(hdr + w) == AARCH64_NOP);
}

/* SizeOfHeaders for @n_new more section headers, and how far the stub's data moves. */
static int plan_headers(struct plan *p, size_t n_new)
{
	const struct bp_pe_info *in = p->in;
	const uint8_t *hdr = bpi_pe_bytes(p->pe, 0, in->size_of_headers);
	uint64_t table_end = p->pe->section_table + (uint64_t)in->n_sections * PE_SECTION_SIZE;
	uint64_t need = table_end + (uint64_t)n_new * PE_SECTION_SIZE, first_va = UINT32_MAX, soh;

	if (!hdr || table_end > in->size_of_headers)
		return bpi_pe_range_error(p->pe, p->d, "the headers (SizeOfHeaders)", 0,
					  in->size_of_headers);
	p->table_end = (uint32_t)table_end;
	for (uint64_t x = table_end; x < in->size_of_headers && x < need; x++)
		if (!header_byte_free(hdr, in->size_of_headers, x))
			return fail(p, BP_ERR_TOOBIG, "no room for %llu more section headers: the "
				    "bytes after the section table (at 0x%llx) are in use",
				    n_new, x);
	if (need <= in->size_of_headers)
		return 0;
	for (uint32_t i = 0; i < in->n_sections; i++)
		if (p->pe->sections[i].virtual_address < first_va)
			first_va = p->pe->sections[i].virtual_address;
	soh = in->size_of_headers + up(need - in->size_of_headers, in->file_alignment);
	if (soh > first_va)
		return fail(p, BP_ERR_TOOBIG, "no room for the section headers: the headers would "
			    "need 0x%llx bytes but the first section starts at RVA 0x%llx",
			    soh, first_va);
	p->delta = (uint32_t)(soh - in->size_of_headers);
	return 0;
}

/* Place the added sections after the stub's, virtually and in the file. */
static int place(struct plan *p, struct bpi_uki_sec *secs, size_t n, uint64_t *image_end,
		 uint64_t *file_end)
{
	const struct bp_pe_info *in = p->in;
	uint64_t va = 0, raw = up(p->raw_end + p->delta, in->file_alignment);

	*image_end = in->size_of_image;

	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = &p->pe->sections[i];

		if ((uint64_t)s->virtual_address + s->virtual_size > va)
			va = (uint64_t)s->virtual_address + s->virtual_size;
	}
	va = up(va, in->section_alignment);
	for (size_t i = 0; i < n; i++) {
		struct bpi_uki_sec *s = &secs[i];
		uint64_t rsize = up(s->size, in->file_alignment);

		if (va + s->size > UINT32_MAX || raw + rsize > BP_PE_READ_MAX)
			return bp_diag_set(p->d, BP_ERR_TOOBIG, p->pe->name, "section '%s' (%llu "
					   "bytes) would end past what a PE image can hold (2 GiB "
					   "of file, 4 GiB of address space)", BPI_ESC(s->name),
					   (unsigned long long)s->size);
		s->va = (uint32_t)va;
		s->raw_off = (uint32_t)raw;
		s->raw_size = (uint32_t)rsize;
		*image_end = va + s->size;
		va = up(va + s->size, in->section_alignment);
		raw += rsize;
	}
	*file_end = raw;
	return 0;
}

/* The stub's data after its headers, moved by p->delta: debug entries follow it. */
static int copy_body(struct plan *p, struct bpi_uki_layout *l)
{
	uint64_t at = 0, soh = p->in->size_of_headers;
	uint32_t n = debug_entries(p, &at);

	l->body_len = (uint32_t)(p->keep_end - soh);
	l->body = malloc(l->body_len ? l->body_len : 1);
	if (!l->body)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->pe->name, "out of memory");
	memcpy(l->body, p->pe->file.data + soh, l->body_len);
	for (uint32_t i = 0; p->delta && i < n; i++) {
		uint64_t e = at + (uint64_t)i * DEBUG_ENTRY_SIZE + DEBUG_ENTRY_PTR;
		uint32_t ptr;

		if (e < soh || e + 4 > p->keep_end)
			continue;
		ptr = bpi_get_le32(l->body + (e - soh));
		if (ptr >= p->raw_end)
			return fail(p, BP_ERR_UNSUPPORTED, "debug data at 0x%llx lies past the "
				    "stub's sections (ending at 0x%llx), where it cannot be kept", ptr, p->raw_end);
		if (ptr >= soh)
			bpi_put_le32(l->body + (e - soh), ptr + p->delta);
	}
	return 0;
}

/* Replace the stub's .sbat contents in place: it must fit its raw data and virtual room. */
static int put_sbat(struct plan *p, struct bpi_uki_layout *l, const uint8_t *sbat, size_t len)
{
	int idx = bp_pe_find_section(p->pe, ".sbat");
	const struct bp_pe_section *s;
	uint64_t room;

	if (idx < 0 || !sbat)
		return 0;
	s = &p->pe->sections[idx];
	room = s->raw_size;
	for (uint32_t i = 0; i < p->in->n_sections; i++) {
		uint32_t va = p->pe->sections[i].virtual_address;

		if (va > s->virtual_address && va - s->virtual_address < room)
			room = va - s->virtual_address;
	}
	if (len > room || s->raw_offset < p->in->size_of_headers)
		return fail(p, BP_ERR_TOOBIG, "the merged SBAT data (%llu bytes) does not fit "
			    "the stub's .sbat section (room for %llu)", len, room);
	memset(l->body + (s->raw_offset - p->in->size_of_headers), 0, s->raw_size);
	memcpy(l->body + (s->raw_offset - p->in->size_of_headers), sbat, len);
	bpi_put_le32(l->hdr + s->header_offset + SEC_VSIZE, (uint32_t)len);
	return 0;
}

/* The new headers: the stub's, patched, and one section header per added section. */
static int make_headers(struct plan *p, const struct bpi_uki_sec *secs, size_t n,
			uint64_t image_end, bool strip, struct bpi_uki_layout *l)
{
	const struct bp_pe_info *in = p->in;
	uint8_t *h, *opt;
	uint32_t code = in->size_of_code, init = in->size_of_initialized_data;

	l->soh = in->size_of_headers + p->delta;
	h = l->hdr = calloc(1, l->soh);
	if (!h)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->pe->name, "out of memory");
	memcpy(h, p->pe->file.data, in->size_of_headers);
	opt = h + p->pe->opt_offset;
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = &p->pe->sections[i];

		if (s->raw_size && s->raw_offset >= in->size_of_headers)
			bpi_put_le32(h + s->header_offset + SEC_RAW_PTR, s->raw_offset + p->delta);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *sh = h + p->table_end + i * PE_SECTION_SIZE;

		memset(sh, 0, PE_SECTION_SIZE);
		memcpy(sh, secs[i].name, strlen(secs[i].name));
		bpi_put_le32(sh + SEC_VSIZE, (uint32_t)secs[i].size);
		bpi_put_le32(sh + 12, secs[i].va);
		bpi_put_le32(sh + 16, secs[i].raw_size);
		bpi_put_le32(sh + SEC_RAW_PTR, secs[i].raw_off);
		bpi_put_le32(sh + 36, secs[i].flags);
		/* What a linker counts: raw sizes, code apart from initialized data. */
		if (secs[i].flags & BP_PE_SCN_CNT_CODE)
			code += secs[i].raw_size;
		else
			init += secs[i].raw_size;
	}
	bpi_put_le16(h + p->pe->info.pe_offset + 4 + COFF_NSECTIONS,
		     (uint16_t)(in->n_sections + n));
	if (p->strip_symbols) {
		bpi_put_le32(h + in->pe_offset + 4 + COFF_SYMTAB, 0);
		bpi_put_le32(h + in->pe_offset + 4 + COFF_NSYMS, 0);
		bpi_put_le16(h + in->pe_offset + 4 + COFF_CHARACTERISTICS,
			     in->characteristics | COFF_LOCAL_SYMS_STRIPPED);
	}
	bpi_put_le32(opt + PE_OPT_SIZE_OF_CODE, code);
	bpi_put_le32(opt + PE_OPT_SIZE_OF_INIT, init);
	bpi_put_le32(opt + PE_OPT_SIZE_OF_IMAGE, (uint32_t)up(image_end, in->section_alignment));
	bpi_put_le32(opt + PE_OPT_SIZE_OF_HEADERS, l->soh);
	bpi_put_le32(opt + PE_OPT_CHECKSUM, 0);
	if (strip && in->n_rva_and_sizes > BP_PE_DIR_SECURITY) {
		uint32_t at = (in->pe32plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA) + 4 +
			      8 * BP_PE_DIR_SECURITY;

		bpi_put_le32(opt + at, 0);
		bpi_put_le32(opt + at + 4, 0);
	}
	l->checksum_at = p->pe->opt_offset + PE_OPT_CHECKSUM;
	return 0;
}

int bpi_uki_layout(const struct bp_pe *stub, struct bpi_uki_sec *secs, size_t n,
		   const uint8_t *sbat, size_t sbat_len, bool strip, struct bpi_uki_layout *out,
		   struct bp_diag *d)
{
	struct plan p = { .pe = stub, .in = &stub->info, .d = d };
	uint64_t image_end = 0, file_end = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = plan_stub_end(&p, strip);
	if (!ret)
		ret = plan_headers(&p, n);
	if (!ret)
		ret = place(&p, secs, n, &image_end, &file_end);
	if (!ret && image_end + p.in->section_alignment > UINT32_MAX)
		ret = fail(&p, BP_ERR_TOOBIG, "the image would need 0x%llx bytes of address "
			   "space, more than SizeOfImage (at most 0x%llx) holds", image_end,
			   UINT32_MAX);
	if (!ret)
		ret = copy_body(&p, out);
	if (!ret)
		ret = make_headers(&p, secs, n, image_end, strip, out);
	if (!ret)
		ret = put_sbat(&p, out, sbat, sbat_len);
	if (ret) {
		bpi_uki_layout_free(out);
		return ret;
	}
	out->file_size = file_end;
	return 0;
}

void bpi_uki_layout_free(struct bpi_uki_layout *l)
{
	free(l->hdr);
	free(l->body);
	l->hdr = l->body = NULL;
}
