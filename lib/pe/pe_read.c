// SPDX-License-Identifier: MIT
/*
 * Reading a PE/COFF image: locate the headers (refusing the file only when
 * they cannot be found), then record everything EDK2's PE loader would
 * refuse, and the zboot header Linux puts in the DOS stub. Every offset
 * and size comes from the file, so each is checked against the file size
 * in 64-bit arithmetic before it is used.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_impl.h"
#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/escape.h>

#include "pe_internal.h"
#include "util/util.h"

static struct bp_pe_problem *new_problem(struct bp_pe *pe)
{
	struct bp_pe_problem *p;

	if (pe->info.n_problems == pe->cap_problems) {
		size_t cap = pe->cap_problems ? 2 * pe->cap_problems : 16;

		p = realloc(pe->problems, cap * sizeof(*p));
		if (!p)
			return NULL;
		pe->problems = p;
		pe->cap_problems = cap;
	}
	pe->problems[pe->info.n_problems].size = sizeof(*p);
	return &pe->problems[pe->info.n_problems++];
}

/*
 * Errors are always counted, so an edit refuses the image even when the
 * list is full (65535 sections can each be wrong several times over) or
 * memory ran out; the list itself is advisory.
 */
static void add_problem(struct bp_pe *pe, enum bp_pe_severity sev, const char *msg)
{
	struct bp_pe_problem *p = NULL;

	if (sev == BP_PE_ERROR)
		pe->info.n_errors++;
	if (pe->info.n_problems < PE_PROBLEMS_MAX)
		p = new_problem(pe);
	if (!p) {
		pe->dropped++;
		pe->dropped_error |= sev == BP_PE_ERROR;
		return;
	}
	p->severity = sev;
	snprintf(p->msg, sizeof(p->msg), "%s", msg);
}

static void __attribute__((format(printf, 5, 0)))
vproblem(struct bp_pe *pe, enum bp_pe_severity sev, char *esc, size_t n, const char *fmt,
	 va_list ap)
{
	char raw[BP_DIAG_MSG_MAX];

	/* Section and compression names come from the file: one line of text. */
	vsnprintf(raw, sizeof(raw), fmt, ap);
	bp_escape(esc, n, raw, strlen(raw), BP_ESC_TEXT);
	add_problem(pe, sev, esc);
}

static void __attribute__((format(printf, 3, 4)))
problem(struct bp_pe *pe, enum bp_pe_severity sev, const char *fmt, ...)
{
	char esc[sizeof(pe->problems->msg)];
	va_list ap;

	va_start(ap, fmt);
	vproblem(pe, sev, esc, sizeof(esc), fmt, ap);
	va_end(ap);
}

/* An error in the zboot header: listed, and the first kept for bp_zboot_extract(). */
static void __attribute__((format(printf, 3, 4)))
zboot_problem(struct bp_pe *pe, int err, const char *fmt, ...)
{
	char esc[sizeof(pe->zboot_msg)];
	va_list ap;

	va_start(ap, fmt);
	vproblem(pe, BP_PE_ERROR, esc, sizeof(esc), fmt, ap);
	va_end(ap);
	if (!pe->zboot_err) {
		pe->zboot_err = err;
		memcpy(pe->zboot_msg, esc, sizeof(esc));
	}
}

/* What was left out of a full list: one closing line, not counted again. */
static void summarize_dropped(struct bp_pe *pe)
{
	struct bp_pe_problem *p;

	if (!pe->dropped || !(p = new_problem(pe)))
		return;
	p->severity = pe->dropped_error ? BP_PE_ERROR : BP_PE_WARNING;
	snprintf(p->msg, sizeof(p->msg), "%zu more problems not listed", pe->dropped);
}

int bpi_pe_range_error(const struct bp_pe *pe, struct bp_diag *d, const char *what, uint64_t off,
		       uint64_t len)
{
	return bp_diag_set(d, BP_ERR_RANGE, pe->name, "%s at offset 0x%llx (%llu bytes) lies "
			   "outside the file (size %llu)", what, (unsigned long long)off,
			   (unsigned long long)len, (unsigned long long)pe->file.len);
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* DOS header, PE signature and COFF file header. */
static int read_file_header(struct bp_pe *pe, struct bp_diag *d)
{
	const uint8_t *p = bpi_pe_bytes(pe, 0, PE_DOS_SIZE), *sig;
	uint64_t len = pe->file.len;
	struct bp_pe_info *in = &pe->info;
	uint32_t coff;

	if (!p)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "not a PE image: file is %llu bytes, "
				   "shorter than the 64-byte DOS header", (unsigned long long)len);
	if (p[0] != 'M' || p[1] != 'Z')
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name,
				   "not a PE image: no \"MZ\" signature at offset 0");
	in->pe_offset = bpi_get_le32(p + PE_DOS_LFANEW);
	if (in->pe_offset < PE_DOS_SIZE)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "e_lfanew 0x%x points inside the "
				   "64-byte DOS header", in->pe_offset);
	if (!bpi_pe_bytes(pe, in->pe_offset, 0))
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "e_lfanew 0x%x is past the end of "
				   "the file (0x%llx)", in->pe_offset, (unsigned long long)len);
	sig = bpi_pe_bytes(pe, in->pe_offset, 4);
	if (!sig)
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "PE signature (4 bytes at e_lfanew "
				   "0x%x) extends past the end of the file (0x%llx)", in->pe_offset,
				   (unsigned long long)len);
	if (memcmp(sig, "PE\0\0", 4))
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "no \"PE\\0\\0\" signature at "
				   "e_lfanew 0x%x (found %02x %02x %02x %02x)", in->pe_offset, sig[0],
				   sig[1], sig[2], sig[3]);
	/* No overflow: e_lfanew is within the file, itself below BP_PE_READ_MAX. */
	coff = in->pe_offset + 4;
	p = bpi_pe_bytes(pe, coff, PE_COFF_SIZE);
	if (!p)
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "COFF file header (%d bytes at 0x%x) "
				   "extends past the end of the file (0x%llx)", PE_COFF_SIZE, coff,
				   (unsigned long long)len);
	in->machine = bpi_get_le16(p);
	in->n_sections = bpi_get_le16(p + 2);
	in->timestamp = bpi_get_le32(p + 4);
	in->symbol_table = bpi_get_le32(p + 8);
	in->n_symbols = bpi_get_le32(p + 12);
	in->size_of_optional_header = bpi_get_le16(p + 16);
	in->characteristics = bpi_get_le16(p + 18);
	pe->opt_offset = coff + PE_COFF_SIZE;
	return 0;
}

/* The part of an optional header (PE32+ with @plus) in which @avail bytes of it end. */
static const char *opt_part(bool plus, uint64_t avail)
{
	if (avail < 2)
		return "standard fields";
	if (avail < (plus ? PE32PLUS_OPT_STANDARD_END : PE32_OPT_STANDARD_END))
		return "standard fields";
	if (avail < (plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA) + 4)
		return "Windows-specific fields";
	return "data directories";
}

/*
 * The optional header and the section table: both must be in the file,
 * anything else about them is a problem, not a failure. Sizes are checked
 * by subtraction from what the file has left at each offset.
 */
static int read_optional_and_table(struct bp_pe *pe, struct bp_diag *d)
{
	/* The COFF header ended at opt_offset, inside the file. */
	uint64_t len = pe->file.len, avail = len - pe->opt_offset, room, need;
	struct bp_pe_info *in = &pe->info;
	uint32_t size = in->size_of_optional_header;

	if (size < 2)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "SizeOfOptionalHeader %u is too small "
				   "for an optional header (%d bytes for PE32, %d for PE32+, without "
				   "data directories)", size, PE32_OPT_NRVA + 4, PE32PLUS_OPT_NRVA + 4);
	if (bpi_pe_le16(pe, pe->opt_offset, &in->magic)) {
		if (in->magic != 0x10b && in->magic != 0x20b)
			return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "unknown optional header "
					   "magic 0x%x (expected 0x10b for PE32 or 0x20b for PE32+)",
					   in->magic);
		in->pe32plus = in->magic == 0x20b;
		need = in->pe32plus ? PE32PLUS_OPT_NRVA + 4 : PE32_OPT_NRVA + 4;
		if (size < need)
			return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "SizeOfOptionalHeader %u is "
					   "smaller than the %llu bytes of a %s optional header", size,
					   (unsigned long long)need, in->pe32plus ? "PE32+" : "PE32");
	}
	if (!bpi_pe_bytes(pe, pe->opt_offset, size))
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "optional header (%u bytes at 0x%x) "
				   "extends past the end of the file (0x%llx): the file ends in its %s",
				   size, pe->opt_offset, (unsigned long long)len,
				   opt_part(in->pe32plus, avail));
	pe->section_table = pe->opt_offset + size;
	room = (len - pe->section_table) / PE_SECTION_SIZE;
	if (!bpi_pe_bytes(pe, pe->section_table, (uint64_t)in->n_sections * PE_SECTION_SIZE))
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "section table (%u entries of %d "
				   "bytes at 0x%x) extends past the end of the file (0x%llx): it "
				   "holds only %llu of them", in->n_sections, PE_SECTION_SIZE,
				   pe->section_table, (unsigned long long)len,
				   (unsigned long long)room);
	return 0;
}

void bpi_pe_release(const struct bp_pe *pe, uint64_t off, uint64_t len)
{
	if (pe->mapped && bpi_range_ok(pe->file.len, off, len))
		bpi_drop_mapped(pe->file.data + off, (size_t)len);
}

/* bp_pe_checksum() of the file, a piece at a time, each let go of once summed. */
static uint32_t file_checksum(const struct bp_pe *pe)
{
	struct bpi_pe_csum c = { 0, 0 };
	size_t at = pe->opt_offset + PE_OPT_CHECKSUM;

	for (uint64_t off = 0; off < pe->file.len; off += BPI_PE_CHUNK) {
		uint64_t n = pe->file.len - off < BPI_PE_CHUNK ? pe->file.len - off : BPI_PE_CHUNK;

		bpi_pe_csum_add(&c, pe->file.data + off, (size_t)n);
		bpi_pe_release(pe, off, n);
	}
	/* The CheckSum field counts as zero (the reader checked it lies in the file). */
	for (size_t k = at; k < pe->file.len && k - at < 4; k++)
		c.sum -= (uint64_t)pe->file.data[k] << (8 * (k & 1));
	return bpi_pe_csum_final(&c);
}

/* The fields up to NumberOfRvaAndSizes, then the directories it declares that fit. */
static int read_optional(struct bp_pe *pe, struct bp_diag *d)
{
	struct bp_pe_info *in = &pe->info;
	uint32_t nrva_at = in->pe32plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA;
	/* read_optional_and_table() made sure SizeOfOptionalHeader holds these. */
	const uint8_t *o = bpi_pe_bytes(pe, pe->opt_offset, nrva_at + 4), *dirs;
	uint32_t room;

	if (!o)
		return bpi_pe_range_error(pe, d, "the optional header", pe->opt_offset, nrva_at + 4);
	in->linker_major = o[2];
	in->linker_minor = o[3];
	in->size_of_code = bpi_get_le32(o + PE_OPT_SIZE_OF_CODE);
	in->size_of_initialized_data = bpi_get_le32(o + PE_OPT_SIZE_OF_INIT);
	in->size_of_uninitialized_data = bpi_get_le32(o + PE_OPT_SIZE_OF_UNINIT);
	in->entry_point = bpi_get_le32(o + 16);
	in->base_of_code = bpi_get_le32(o + 20);
	in->image_base = in->pe32plus ? bpi_get_le64(o + 24) : bpi_get_le32(o + 28);
	in->section_alignment = bpi_get_le32(o + 32);
	in->file_alignment = bpi_get_le32(o + 36);
	in->size_of_image = bpi_get_le32(o + PE_OPT_SIZE_OF_IMAGE);
	in->size_of_headers = bpi_get_le32(o + PE_OPT_SIZE_OF_HEADERS);
	in->checksum = bpi_get_le32(o + PE_OPT_CHECKSUM);
	in->subsystem = bpi_get_le16(o + 68);
	in->dll_characteristics = bpi_get_le16(o + 70);
	in->n_rva_and_sizes = bpi_get_le32(o + nrva_at);
	/* Read only the directories that are both declared and inside the header. */
	room = (in->size_of_optional_header - (nrva_at + 4)) / 8;
	if (room > BP_PE_MAX_DIRS)
		room = BP_PE_MAX_DIRS;
	if (room > in->n_rva_and_sizes)
		room = in->n_rva_and_sizes;
	dirs = bpi_pe_bytes(pe, pe->opt_offset + nrva_at + 4, 8 * (uint64_t)room);
	if (!dirs)
		return bpi_pe_range_error(pe, d, "the data directories", pe->opt_offset + nrva_at + 4,
					  8 * (uint64_t)room);
	for (uint32_t i = 0; i < room; i++) {
		in->dirs[i].address = bpi_get_le32(dirs + 8 * i);
		in->dirs[i].size = bpi_get_le32(dirs + 8 * i + 4);
	}
	if (!pe->unsummed)
		in->checksum_computed = file_checksum(pe);
	return 0;
}

static int read_sections(struct bp_pe *pe, struct bp_diag *d)
{
	struct bp_pe_info *in = &pe->info;
	uint64_t size = (uint64_t)in->n_sections * PE_SECTION_SIZE;
	const uint8_t *table = bpi_pe_bytes(pe, pe->section_table, size);

	if (!table)
		return bpi_pe_range_error(pe, d, "the section table", pe->section_table, size);
	pe->sections = calloc(in->n_sections ? in->n_sections : 1, sizeof(*pe->sections));
	if (!pe->sections)
		return bp_diag_set(d, BP_ERR_NOMEM, pe->name, "out of memory");
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const uint8_t *h = table + PE_SECTION_SIZE * i;
		struct bp_pe_section *s = &pe->sections[i];

		s->size = sizeof(*s);
		memcpy(s->name, h, 8);
		s->virtual_size = bpi_get_le32(h + 8);
		s->virtual_address = bpi_get_le32(h + 12);
		s->raw_size = bpi_get_le32(h + 16);
		s->raw_offset = bpi_get_le32(h + 20);
		s->characteristics = bpi_get_le32(h + 36);
		s->header_offset = pe->section_table + PE_SECTION_SIZE * i;
	}
	return 0;
}

/*
 * Whether SizeOfOptionalHeader is exactly the header of the PE32 (or, with
 * @plus, PE32+) layout with the NumberOfRvaAndSizes read at that layout's
 * offset; *@nrva gets that count.
 */
static bool opt_layout_fits(const struct bp_pe *pe, bool plus, uint32_t *nrva)
{
	uint32_t at = plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA;
	uint32_t size = pe->info.size_of_optional_header;

	if (size < at + 4 || !bpi_pe_le32(pe, (uint64_t)pe->opt_offset + at, nrva))
		return false;
	return *nrva <= BP_PE_MAX_DIRS && size == at + 4 + 8 * *nrva;
}

static void check_optional(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;
	uint32_t base = in->pe32plus ? PE32PLUS_OPT_NRVA + 4 : PE32_OPT_NRVA + 4, nrva;
	uint64_t table_end = (uint64_t)pe->section_table + (uint64_t)in->n_sections * PE_SECTION_SIZE;

	/* A PE32+ header labelled PE32 (or the reverse) is read at the wrong offsets. */
	if (!opt_layout_fits(pe, in->pe32plus, &nrva) && opt_layout_fits(pe, !in->pe32plus, &nrva))
		problem(pe, BP_PE_ERROR, "optional header magic 0x%x (%s) does not match "
			"SizeOfOptionalHeader %u: that is the size of a %s optional header with %u "
			"data directories", in->magic, in->pe32plus ? "PE32+" : "PE32",
			in->size_of_optional_header, in->pe32plus ? "PE32" : "PE32+", nrva);
	else if (in->n_rva_and_sizes > BP_PE_MAX_DIRS)
		problem(pe, BP_PE_ERROR, "NumberOfRvaAndSizes is %u; EDK2 accepts at most 16",
			in->n_rva_and_sizes);
	else if (in->size_of_optional_header != base + 8 * in->n_rva_and_sizes)
		problem(pe, BP_PE_ERROR, "SizeOfOptionalHeader %u does not match "
			"NumberOfRvaAndSizes %u (expected %u)", in->size_of_optional_header,
			in->n_rva_and_sizes, base + 8 * in->n_rva_and_sizes);
	if (!in->n_sections)
		problem(pe, BP_PE_ERROR, "NumberOfSections is 0: the image has no sections");
	if (!is_pow2(in->file_alignment) || !is_pow2(in->section_alignment))
		problem(pe, BP_PE_ERROR, "FileAlignment 0x%x and SectionAlignment 0x%x must be "
			"powers of two", in->file_alignment, in->section_alignment);
	else if (in->section_alignment < in->file_alignment)
		problem(pe, BP_PE_WARNING, "SectionAlignment 0x%x is smaller than FileAlignment 0x%x",
			in->section_alignment, in->file_alignment);
	if (in->size_of_headers < table_end)
		problem(pe, BP_PE_ERROR, "SizeOfHeaders 0x%x ends before the section table does "
			"(0x%llx)", in->size_of_headers, (unsigned long long)table_end);
	if (in->size_of_headers > in->file_size)
		problem(pe, BP_PE_ERROR, "SizeOfHeaders 0x%x is past the end of the file (0x%llx)",
			in->size_of_headers, (unsigned long long)in->file_size);
	if (in->size_of_headers >= in->size_of_image)
		problem(pe, BP_PE_ERROR, "SizeOfHeaders 0x%x is not below SizeOfImage 0x%x",
			in->size_of_headers, in->size_of_image);
	if (is_pow2(in->section_alignment) && in->size_of_image % in->section_alignment)
		problem(pe, BP_PE_WARNING, "SizeOfImage 0x%x is not a multiple of SectionAlignment",
			in->size_of_image);
	if (in->entry_point >= in->size_of_image)
		problem(pe, BP_PE_ERROR, "entry point 0x%x is outside the image (SizeOfImage 0x%x)",
			in->entry_point, in->size_of_image);
	else if (in->entry_point && in->entry_point < in->size_of_headers)
		problem(pe, BP_PE_ERROR, "entry point 0x%x lies in the headers", in->entry_point);
	if (in->subsystem < 10 || in->subsystem > 13)
		problem(pe, BP_PE_WARNING, "subsystem %u is not an EFI subsystem (10 to 13)",
			in->subsystem);
	if (in->checksum && !pe->unsummed && in->checksum != in->checksum_computed)
		problem(pe, BP_PE_WARNING, "CheckSum 0x%08x does not match the computed 0x%08x",
			in->checksum, in->checksum_computed);
}

static void check_section_va(struct bp_pe *pe, uint32_t i)
{
	const struct bp_pe_info *in = &pe->info;
	const struct bp_pe_section *s = &pe->sections[i], *t = i ? s - 1 : NULL;
	uint64_t vend = (uint64_t)s->virtual_address + s->virtual_size;

	if (s->virtual_address < in->size_of_headers)
		problem(pe, BP_PE_ERROR, "section %u '%.8s': virtual address 0x%x is below "
			"SizeOfHeaders 0x%x", i, s->name, s->virtual_address, in->size_of_headers);
	if (vend > in->size_of_image)
		problem(pe, BP_PE_ERROR, "section %u '%.8s': VirtualAddress 0x%x + VirtualSize "
			"0x%x = 0x%llx is past SizeOfImage 0x%x", i, s->name, s->virtual_address,
			s->virtual_size, (unsigned long long)vend, in->size_of_image);
	if (is_pow2(in->section_alignment) && s->virtual_address % in->section_alignment)
		problem(pe, BP_PE_WARNING, "section %u '%.8s': virtual address 0x%x is not "
			"SectionAlignment-aligned", i, s->name, s->virtual_address);
	if (t && s->virtual_address < t->virtual_address)
		problem(pe, BP_PE_ERROR, "section %u '%.8s': VirtualAddress 0x%x is below that of "
			"section %u '%.8s' (0x%x); sections must be in ascending address order", i,
			s->name, s->virtual_address, i - 1, t->name, t->virtual_address);
	else if (t && s->virtual_address < (uint64_t)t->virtual_address + t->virtual_size)
		problem(pe, BP_PE_ERROR, "section %u '%.8s': VirtualAddress 0x%x overlaps section "
			"%u '%.8s' (RVA 0x%x..0x%llx)", i, s->name, s->virtual_address, i - 1, t->name,
			t->virtual_address, (unsigned long long)t->virtual_address + t->virtual_size);
}

static void check_section_raw(struct bp_pe *pe, uint32_t i)
{
	const struct bp_pe_info *in = &pe->info;
	const struct bp_pe_section *s = &pe->sections[i];
	uint64_t rend = (uint64_t)s->raw_offset + s->raw_size;

	if (!s->raw_size)
		return;
	if (s->raw_offset < in->size_of_headers)
		problem(pe, BP_PE_ERROR, "section %u '%.8s': raw data at 0x%x lies inside the "
			"headers (SizeOfHeaders 0x%x)", i, s->name, s->raw_offset,
			in->size_of_headers);
	if (rend > UINT32_MAX)
		problem(pe, BP_PE_ERROR, "section %u '%.8s': PointerToRawData 0x%x + SizeOfRawData "
			"0x%x = 0x%llx overflows 32 bits", i, s->name, s->raw_offset, s->raw_size,
			(unsigned long long)rend);
	else if (!bpi_pe_bytes(pe, s->raw_offset, s->raw_size))
		problem(pe, BP_PE_ERROR, "section %u '%.8s': PointerToRawData 0x%x + SizeOfRawData "
			"0x%x = 0x%llx is past the end of the file (0x%llx)", i, s->name,
			s->raw_offset, s->raw_size, (unsigned long long)rend,
			(unsigned long long)in->file_size);
	if (is_pow2(in->file_alignment) && (s->raw_offset % in->file_alignment ||
					    s->raw_size % in->file_alignment))
		problem(pe, BP_PE_WARNING, "section %u '%.8s': raw offset 0x%x or size 0x%x "
			"is not FileAlignment-aligned", i, s->name, s->raw_offset, s->raw_size);
}

int bpi_pe_cmp_raw_offset(const void *a, const void *b, void *ctx)
{
	const struct bp_pe_section *s = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (s[i].raw_offset != s[j].raw_offset)
		return s[i].raw_offset < s[j].raw_offset ? -1 : 1;
	return i < j ? -1 : i > j;
}

/*
 * Sorted by file offset, a section's raw data overlaps an earlier one's
 * exactly when it starts before the furthest end seen so far: n log n
 * rather than comparing all pairs of up to 65535 sections.
 */
static int check_raw_overlaps(struct bp_pe *pe)
{
	const struct bp_pe_section *sec = pe->sections;
	uint32_t *order = calloc(pe->info.n_sections ? pe->info.n_sections : 1, sizeof(*order));
	uint32_t n = 0, far = 0;
	uint64_t far_end = 0;

	if (!order)
		return BP_ERR_NOMEM;
	for (uint32_t i = 0; i < pe->info.n_sections; i++)
		if (sec[i].raw_size)
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), bpi_pe_cmp_raw_offset, (void *)sec);
	for (uint32_t k = 0; k < n; k++) {
		const struct bp_pe_section *s = &sec[order[k]], *t = &sec[far];
		uint64_t end = (uint64_t)s->raw_offset + s->raw_size;

		if (k && s->raw_offset < far_end)
			problem(pe, BP_PE_ERROR, "section %u '%.8s': raw data 0x%x..0x%llx overlaps "
				"section %u '%.8s' (0x%x..0x%llx)", order[k], s->name, s->raw_offset,
				(unsigned long long)end, far, t->name, t->raw_offset,
				(unsigned long long)far_end);
		if (end > far_end) {
			far_end = end;
			far = order[k];
		}
	}
	free(order);
	return 0;
}

static int check_sections(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;
	bool entry_found = !in->entry_point;

	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = &pe->sections[i];

		check_section_va(pe, i);
		check_section_raw(pe, i);
		if (in->entry_point >= s->virtual_address &&
		    in->entry_point < (uint64_t)s->virtual_address + s->virtual_size)
			entry_found = true;
	}
	if (!entry_found && in->entry_point < in->size_of_image)
		problem(pe, BP_PE_WARNING, "entry point 0x%x is in no section", in->entry_point);
	return check_raw_overlaps(pe);
}

static void check_dirs(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;
	const struct bp_pe_dir *cert = &in->dirs[BP_PE_DIR_SECURITY];

	for (int i = 0; i < BP_PE_MAX_DIRS; i++) {
		const struct bp_pe_dir *dir = &in->dirs[i];

		if (i == BP_PE_DIR_SECURITY || !dir->size)
			continue;
		if ((uint64_t)dir->address + dir->size > in->size_of_image)
			problem(pe, BP_PE_ERROR, "data directory %d (RVA 0x%x, 0x%x bytes) extends "
				"past SizeOfImage 0x%x", i, dir->address, dir->size, in->size_of_image);
	}
	if (!cert->size)
		return;
	pe->cert_offset = cert->address;
	pe->cert_size = cert->size;
	in->has_certificates = true;
	if (!bpi_pe_bytes(pe, cert->address, cert->size))
		problem(pe, BP_PE_ERROR, "certificate table (0x%x bytes at 0x%x) extends past the "
			"end of the file", cert->size, cert->address);
	else if ((uint64_t)cert->address + cert->size != in->file_size)
		problem(pe, BP_PE_ERROR, "certificate table (0x%x bytes at 0x%x) is not at the end "
			"of the file", cert->size, cert->address);
	if (cert->address % 8)
		problem(pe, BP_PE_WARNING, "certificate table offset 0x%x is not 8-byte aligned",
			cert->address);
}

static void find_overlay(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;
	uint64_t end = in->size_of_headers, stop = in->file_size;

	for (uint32_t i = 0; i < in->n_sections; i++) {
		uint64_t rend = (uint64_t)pe->sections[i].raw_offset + pe->sections[i].raw_size;

		if (pe->sections[i].raw_size && rend > end)
			end = rend;
	}
	if (in->has_certificates && pe->cert_offset >= end && pe->cert_offset < stop)
		stop = pe->cert_offset;
	if (end < stop) {
		in->overlay_offset = end;
		in->overlay_size = stop - end;
	}
}

/* The section whose raw data holds the whole payload, or why there is none. */
static void find_payload(struct bp_pe *pe)
{
	struct bp_pe_zboot *z = &pe->info.zboot;
	uint64_t end = (uint64_t)z->payload_offset + z->payload_size;
	int start = -1;

	if (!z->payload_size) {
		zboot_problem(pe, BP_ERR_FORMAT, "zboot: payload size is 0 (payload offset 0x%x)",
			      z->payload_offset);
		return;
	}
	if (!bpi_pe_bytes(pe, z->payload_offset, z->payload_size)) {
		zboot_problem(pe, BP_ERR_RANGE, "zboot: payload (0x%x bytes at 0x%x) extends past "
			      "the end of the file (0x%llx)", z->payload_size, z->payload_offset,
			      (unsigned long long)pe->info.file_size);
		return;
	}
	z->payload_in_file = true;
	for (uint32_t i = 0; i < pe->info.n_sections; i++) {
		const struct bp_pe_section *s = &pe->sections[i];
		uint64_t rend = (uint64_t)s->raw_offset + s->raw_size;

		if (!s->raw_size || z->payload_offset < s->raw_offset || z->payload_offset >= rend)
			continue;
		if (end <= rend)
			z->payload_section = (int)i;
		else if (start < 0)
			start = (int)i;
	}
	if (z->payload_section >= 0)
		return;
	if (start < 0) {
		zboot_problem(pe, BP_ERR_RANGE, "zboot: payload (0x%x bytes at 0x%x) lies in no "
			      "section's raw data", z->payload_size, z->payload_offset);
		return;
	}
	zboot_problem(pe, BP_ERR_RANGE, "zboot: payload (0x%x bytes at 0x%x) runs past the end of "
		      "section %d '%.8s' (raw data 0x%x..0x%llx)", z->payload_size, z->payload_offset,
		      start, pe->sections[start].name, pe->sections[start].raw_offset,
		      (unsigned long long)pe->sections[start].raw_offset +
		      pe->sections[start].raw_size);
}

static void read_zboot(struct bp_pe *pe)
{
	/* read_file_header() refused files shorter than the DOS header this lies in. */
	const uint8_t *p = bpi_pe_bytes(pe, 0, PE_DOS_SIZE);
	struct bp_pe_zboot *z = &pe->info.zboot;
	char names[BPI_ZBOOT_NAMES_MAX];
	size_t name_len;

	z->payload_section = -1;
	if (!p)
		return;
	z->linux_pe_magic = bpi_get_le32(p + LINUX_PE_MAGIC_OFFSET);
	if (memcmp(p + ZBOOT_MAGIC_OFFSET, "zimg", 4))
		return;
	z->present = true;
	z->payload_offset = bpi_get_le32(p + ZBOOT_PAYLOAD_OFFSET);
	z->payload_size = bpi_get_le32(p + ZBOOT_PAYLOAD_SIZE);
	/* zboot-header.S: .asciz at 0x18, then .org 0x38 for LINUX_PE_MAGIC. */
	name_len = strnlen((const char *)p + ZBOOT_COMP_NAME, ZBOOT_COMP_NAME_MAX);
	memcpy(z->compression, p + ZBOOT_COMP_NAME, name_len);
	if (name_len == ZBOOT_COMP_NAME_MAX)
		zboot_problem(pe, BP_ERR_FORMAT, "zboot: the compression name at 0x%x has no NUL "
			      "before 0x%x", ZBOOT_COMP_NAME, LINUX_PE_MAGIC_OFFSET);
	else if (!bpi_zboot_codec(z->compression))
		zboot_problem(pe, BP_ERR_FORMAT, "zboot: unknown compression '%s' (Linux writes "
			      "%s)", z->compression, bpi_zboot_names(names));
	find_payload(pe);
}

static int parse(struct bp_pe *pe, struct bp_diag *d)
{
	int ret;

	pe->info.file_size = pe->file.len;
	ret = read_file_header(pe, d);
	if (!ret)
		ret = read_optional_and_table(pe, d);
	if (ret)
		return ret;
	ret = read_optional(pe, d);
	if (!ret)
		ret = read_sections(pe, d);
	if (ret)
		return ret;
	check_optional(pe);
	if (check_sections(pe))
		return bp_diag_set(d, BP_ERR_NOMEM, pe->name, "out of memory");
	check_dirs(pe);
	find_overlay(pe);
	read_zboot(pe);
	summarize_dropped(pe);
	pe->info.size = sizeof(pe->info);
	return 0;
}

static int finish_open(struct bp_pe *pe, const char *name, struct bp_pe **out,
		       struct bp_diag *d)
{
	int ret;

	pe->sigs_lock_ready = !pthread_mutex_init(&pe->sigs_lock, NULL);
	pe->name = strdup(name);
	if (pe->sigs_lock_ready && pe->name)
		ret = parse(pe, d);
	else
		ret = bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	if (ret) {
		bp_pe_close(pe);
		return ret;
	}
	*out = pe;
	return 0;
}

static int open_path(const char *path, bool unsummed, struct bp_pe **out, struct bp_diag *d)
{
	struct bp_pe *pe = calloc(1, sizeof(*pe));
	const uint8_t *map = NULL;
	size_t map_len = 0;
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!pe)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	pe->unsummed = unsummed;
	/*
	 * A regular file is mapped, not read: copying a 30 MiB kernel into fresh
	 * memory costs more than parsing, hashing and signing it. What cannot be
	 * mapped (a pipe, an empty file) is read.
	 */
	ret = bpi_map_file(path, BP_PE_READ_MAX, &map, &map_len, d);
	if (!ret) {
		pe->file.data = (uint8_t *)map;
		pe->file.len = map_len;
		pe->mapped = true;
	} else if (ret == BP_ERR_UNSUPPORTED) {
		ret = bpi_read_file(path, BP_PE_READ_MAX, &pe->file, d);
	}
	if (ret) {
		bp_pe_close(pe);
		return ret;
	}
	return finish_open(pe, path, out, d);
}

int bp_pe_open(const char *path, struct bp_pe **out, struct bp_diag *d)
{
	return open_path(path, false, out, d);
}

int bpi_pe_open_unsummed(const char *path, struct bp_pe **out, struct bp_diag *d)
{
	return open_path(path, true, out, d);
}

int bp_pe_open_fd(int fd, const char *name, struct bp_pe **out, struct bp_diag *d)
{
	struct bp_pe *pe = calloc(1, sizeof(*pe));
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!name)
		name = "input";
	if (!pe)
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	ret = bpi_read_fd(fd, name, BP_PE_READ_MAX, &pe->file, d);
	if (ret) {
		bp_pe_close(pe);
		return ret;
	}
	return finish_open(pe, name, out, d);
}

int bp_pe_open_mem(const void *data, size_t len, const char *name, struct bp_pe **out,
		   struct bp_diag *d)
{
	struct bp_pe *pe = calloc(1, sizeof(*pe));

	bp_diag_clear(d);
	*out = NULL;
	if (!pe || bp_buf_append(&pe->file, data, len)) {
		bp_pe_close(pe);
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	}
	return finish_open(pe, name, out, d);
}

int bpi_pe_open_buf(struct bp_buf *b, const char *name, struct bp_pe **out, struct bp_diag *d)
{
	struct bp_pe *pe = calloc(1, sizeof(*pe));

	*out = NULL;
	if (!pe)
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	pe->file = *b;
	*b = (struct bp_buf)BP_BUF_INIT;
	return finish_open(pe, name, out, d);
}

void bp_pe_close(struct bp_pe *pe)
{
	if (!pe)
		return;
	bpi_pe_sigs_free(pe->sigs);
	if (pe->sigs_lock_ready)
		pthread_mutex_destroy(&pe->sigs_lock);
	free(pe->sections);
	free(pe->problems);
	if (pe->mapped)
		bpi_unmap(pe->file.data, pe->file.len);
	else
		bp_buf_free(&pe->file);
	free(pe->name);
	free(pe);
}

const struct bp_pe_info *bp_pe_get_info(const struct bp_pe *pe)
{
	return &pe->info;
}

const struct bp_pe_section *bp_pe_section_at(const struct bp_pe *pe, size_t i)
{
	return i < pe->info.n_sections ? &pe->sections[i] : NULL;
}

const struct bp_pe_problem *bp_pe_problem_at(const struct bp_pe *pe, size_t i)
{
	return i < pe->info.n_problems ? &pe->problems[i] : NULL;
}

const uint8_t *bp_pe_data(const struct bp_pe *pe, size_t *len)
{
	*len = pe->file.len;
	return pe->file.data;
}

int bp_pe_find_section(const struct bp_pe *pe, const char *name)
{
	for (uint32_t i = 0; i < pe->info.n_sections; i++)
		if (!strncmp(pe->sections[i].name, name, 8) && strlen(name) <= 8)
			return (int)i;
	return BP_ERR_NOTFOUND;
}

/* 16-bit halves 0 and 2 of a 64-bit word, each in a 32-bit lane. */
#define CSUM_LANES 0x0000ffff0000ffffull
/* Steps a lane takes before it could overflow: two of them summed stay below 2^32. */
#define CSUM_STEPS 32767

void bpi_pe_csum_add(struct bpi_pe_csum *c, const uint8_t *p, size_t n)
{
	uint64_t sum = c->sum;
	size_t i = 0;

	/* A piece that starts at an odd offset starts with the high half of a word. */
	if (n && (c->len & 1)) {
		sum += (uint32_t)p[0] << 8;
		i = 1;
	}
	/*
	 * The exact sum of the 16-bit words, found faster than one word at a
	 * time: two 64-bit loads per step, their halves 0/2 and 1/3 masked into
	 * 32-bit lanes of four accumulators, the lanes added up before they can
	 * overflow. The sum is a local because a store to c->sum could alias
	 * p's bytes, which kept it in memory.
	 */
	while (n - i >= 16) {
		size_t steps = (n - i) / 16 < CSUM_STEPS ? (n - i) / 16 : CSUM_STEPS;
		uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;

		for (size_t j = 0; j < steps; j++, i += 16) {
			uint64_t w0 = bpi_get_le64(p + i), w1 = bpi_get_le64(p + i + 8);

			a0 += w0 & CSUM_LANES;
			b0 += w0 >> 16 & CSUM_LANES;
			a1 += w1 & CSUM_LANES;
			b1 += w1 >> 16 & CSUM_LANES;
		}
		a0 += a1;
		b0 += b1;
		sum += (a0 & 0xffffffff) + (a0 >> 32) + (b0 & 0xffffffff) + (b0 >> 32);
	}
	for (; i + 1 < n; i += 2)
		sum += p[i] | (uint32_t)p[i + 1] << 8;
	if (i < n)
		sum += p[i];
	c->sum = sum;
	c->len += n;
}

uint32_t bpi_pe_csum_final(const struct bpi_pe_csum *c)
{
	uint64_t sum = c->sum;

	/*
	 * Folding the carries back in once at the end gives what folding after
	 * every word gives: the one value in 1..0xffff congruent to the sum
	 * modulo 0xffff (0 only for a zero sum). Then + length.
	 */
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)(sum + c->len);
}

uint32_t bp_pe_checksum(const uint8_t *p, size_t len, size_t checksum_offset)
{
	struct bpi_pe_csum c = { 0, 0 };

	bpi_pe_csum_add(&c, p, len);
	/* The CheckSum field counts as zero: its bytes come out again, each from its half-word. */
	for (size_t k = checksum_offset; k < len && k - checksum_offset < 4; k++)
		c.sum -= (uint64_t)p[k] << (8 * (k & 1));
	return bpi_pe_csum_final(&c);
}
