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

#include "pe_internal.h"
#include "util/util.h"

static void __attribute__((format(printf, 3, 4)))
problem(struct bp_pe *pe, enum bp_pe_severity sev, const char *fmt, ...)
{
	struct bp_pe_problem *p;
	va_list ap;

	if (pe->info.n_problems == pe->cap_problems) {
		size_t cap = pe->cap_problems ? 2 * pe->cap_problems : 16;

		p = realloc(pe->problems, cap * sizeof(*p));
		if (!p)
			return;     /* the list is advisory; running out of memory drops a line */
		pe->problems = p;
		pe->cap_problems = cap;
	}
	p = &pe->problems[pe->info.n_problems++];
	p->severity = sev;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	if (sev == BP_PE_ERROR)
		pe->info.n_errors++;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* The headers that must be readable at all; anything else is a problem, not a failure. */
static int read_headers(struct bp_pe *pe, struct bp_diag *d)
{
	const uint8_t *p = pe->file.data;
	uint64_t len = pe->file.len, opt, need;
	struct bp_pe_info *in = &pe->info;

	if (len < PE_DOS_SIZE)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "not a PE image: file is %llu bytes, "
				   "shorter than the 64-byte DOS header", (unsigned long long)len);
	if (p[0] != 'M' || p[1] != 'Z')
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name,
				   "not a PE image: no \"MZ\" signature at offset 0");
	in->pe_offset = bpi_get_le32(p + PE_DOS_LFANEW);
	if (in->pe_offset < PE_DOS_SIZE)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "e_lfanew 0x%x points inside the "
				   "64-byte DOS header", in->pe_offset);
	if ((uint64_t)in->pe_offset + 4 + PE_COFF_SIZE > len)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "e_lfanew 0x%x: the PE header lies "
				   "past the end of the file (%llu bytes)", in->pe_offset,
				   (unsigned long long)len);
	if (memcmp(p + in->pe_offset, "PE\0\0", 4))
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "no \"PE\\0\\0\" signature at "
				   "e_lfanew 0x%x", in->pe_offset);
	p += in->pe_offset + 4;
	in->machine = bpi_get_le16(p);
	in->n_sections = bpi_get_le16(p + 2);
	in->timestamp = bpi_get_le32(p + 4);
	in->symbol_table = bpi_get_le32(p + 8);
	in->n_symbols = bpi_get_le32(p + 12);
	in->size_of_optional_header = bpi_get_le16(p + 16);
	in->characteristics = bpi_get_le16(p + 18);
	opt = (uint64_t)in->pe_offset + 4 + PE_COFF_SIZE;
	pe->opt_offset = (uint32_t)opt;
	if (in->size_of_optional_header < 2 || opt + in->size_of_optional_header > len)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "optional header (%u bytes at 0x%llx) "
				   "is missing or extends past the end of the file",
				   in->size_of_optional_header, (unsigned long long)opt);
	in->magic = bpi_get_le16(pe->file.data + opt);
	if (in->magic != 0x10b && in->magic != 0x20b)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "unknown optional header magic 0x%x "
				   "(expected 0x10b for PE32 or 0x20b for PE32+)", in->magic);
	in->pe32plus = in->magic == 0x20b;
	need = in->pe32plus ? PE32PLUS_OPT_NRVA + 4 : PE32_OPT_NRVA + 4;
	if (in->size_of_optional_header < need)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "SizeOfOptionalHeader %u is smaller "
				   "than the %llu bytes of a %s optional header",
				   in->size_of_optional_header, (unsigned long long)need,
				   in->pe32plus ? "PE32+" : "PE32");
	pe->section_table = (uint32_t)(opt + in->size_of_optional_header);
	if ((uint64_t)pe->section_table + (uint64_t)in->n_sections * PE_SECTION_SIZE > len)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "section table (%u entries at 0x%x) "
				   "extends past the end of the file (%llu bytes)", in->n_sections,
				   pe->section_table, (unsigned long long)len);
	return 0;
}

static void read_optional(struct bp_pe *pe)
{
	const uint8_t *o = pe->file.data + pe->opt_offset;
	struct bp_pe_info *in = &pe->info;
	uint32_t nrva_at = in->pe32plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA;
	uint32_t room;

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
	for (uint32_t i = 0; i < BP_PE_MAX_DIRS && i < in->n_rva_and_sizes && i < room; i++) {
		in->dirs[i].address = bpi_get_le32(o + nrva_at + 4 + 8 * i);
		in->dirs[i].size = bpi_get_le32(o + nrva_at + 8 + 8 * i);
	}
	in->checksum_computed = bp_pe_checksum(pe->file.data, pe->file.len,
					       pe->opt_offset + PE_OPT_CHECKSUM);
}

static int read_sections(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;

	pe->sections = calloc(in->n_sections ? in->n_sections : 1, sizeof(*pe->sections));
	if (!pe->sections)
		return BP_ERR_NOMEM;
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const uint8_t *h = pe->file.data + pe->section_table + PE_SECTION_SIZE * i;
		struct bp_pe_section *s = &pe->sections[i];

		memcpy(s->name, h, 8);
		s->virtual_size = bpi_get_le32(h + 8);
		s->virtual_address = bpi_get_le32(h + 12);
		s->raw_size = bpi_get_le32(h + 16);
		s->raw_offset = bpi_get_le32(h + 20);
		s->characteristics = bpi_get_le32(h + 36);
		s->header_offset = pe->section_table + PE_SECTION_SIZE * i;
	}
	in->sections = pe->sections;
	return 0;
}

static void check_optional(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;
	uint32_t base = in->pe32plus ? PE32PLUS_OPT_NRVA + 4 : PE32_OPT_NRVA + 4;
	uint64_t table_end = (uint64_t)pe->section_table + (uint64_t)in->n_sections * PE_SECTION_SIZE;

	if (in->n_rva_and_sizes > BP_PE_MAX_DIRS)
		problem(pe, BP_PE_ERROR, "NumberOfRvaAndSizes is %u; EDK2 accepts at most 16",
			in->n_rva_and_sizes);
	else if (in->size_of_optional_header != base + 8 * in->n_rva_and_sizes)
		problem(pe, BP_PE_ERROR, "SizeOfOptionalHeader %u does not match "
			"NumberOfRvaAndSizes %u (expected %u)", in->size_of_optional_header,
			in->n_rva_and_sizes, base + 8 * in->n_rva_and_sizes);
	if (!in->n_sections)
		problem(pe, BP_PE_ERROR, "the image has no sections");
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
	if (in->checksum && in->checksum != in->checksum_computed)
		problem(pe, BP_PE_WARNING, "CheckSum 0x%08x does not match the computed 0x%08x",
			in->checksum, in->checksum_computed);
}

static void check_sections(struct bp_pe *pe)
{
	struct bp_pe_info *in = &pe->info;
	bool entry_found = !in->entry_point;

	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = &pe->sections[i];
		uint64_t vend = (uint64_t)s->virtual_address + s->virtual_size;
		uint64_t rend = (uint64_t)s->raw_offset + s->raw_size;

		if (s->virtual_address < in->size_of_headers)
			problem(pe, BP_PE_ERROR, "section %u '%.8s': virtual address 0x%x is below "
				"SizeOfHeaders 0x%x", i, s->name, s->virtual_address,
				in->size_of_headers);
		if (vend > in->size_of_image)
			problem(pe, BP_PE_ERROR, "section %u '%.8s': ends at RVA 0x%llx, past "
				"SizeOfImage 0x%x", i, s->name, (unsigned long long)vend,
				in->size_of_image);
		if (is_pow2(in->section_alignment) && s->virtual_address % in->section_alignment)
			problem(pe, BP_PE_WARNING, "section %u '%.8s': virtual address 0x%x is not "
				"SectionAlignment-aligned", i, s->name, s->virtual_address);
		if (i && s->virtual_address < (uint64_t)pe->sections[i - 1].virtual_address +
					      pe->sections[i - 1].virtual_size)
			problem(pe, BP_PE_ERROR, "section %u '%.8s': virtual address 0x%x overlaps "
				"or precedes the section before it", i, s->name, s->virtual_address);
		if (in->entry_point >= s->virtual_address && in->entry_point < vend)
			entry_found = true;
		if (!s->raw_size)
			continue;
		if (s->raw_offset < in->size_of_headers)
			problem(pe, BP_PE_ERROR, "section %u '%.8s': raw data at 0x%x lies inside the "
				"headers (SizeOfHeaders 0x%x)", i, s->name, s->raw_offset,
				in->size_of_headers);
		if (rend > in->file_size)
			problem(pe, BP_PE_ERROR, "section %u '%.8s': raw data (0x%x bytes at 0x%x) "
				"extends past the end of the file (0x%llx)", i, s->name, s->raw_size,
				s->raw_offset, (unsigned long long)in->file_size);
		if (is_pow2(in->file_alignment) && (s->raw_offset % in->file_alignment ||
						    s->raw_size % in->file_alignment))
			problem(pe, BP_PE_WARNING, "section %u '%.8s': raw offset 0x%x or size 0x%x "
				"is not FileAlignment-aligned", i, s->name, s->raw_offset,
				s->raw_size);
		for (uint32_t j = 0; j < i; j++) {
			const struct bp_pe_section *t = &pe->sections[j];

			if (t->raw_size && s->raw_offset < (uint64_t)t->raw_offset + t->raw_size &&
			    t->raw_offset < rend)
				problem(pe, BP_PE_ERROR, "section %u '%.8s': raw data overlaps that of "
					"section %u '%.8s'", i, s->name, j, t->name);
		}
	}
	if (!entry_found && in->entry_point < in->size_of_image)
		problem(pe, BP_PE_WARNING, "entry point 0x%x is in no section", in->entry_point);
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
	if ((uint64_t)cert->address + cert->size > in->file_size)
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

/* Linux up to 6.12 writes the first six; later kernels name their zstd payload "zstd". */
static const char *const zboot_names[] = { "gzip", "lz4", "lzma", "lzo", "xzkern", "zstd22",
					   "zstd" };

static void read_zboot(struct bp_pe *pe)
{
	const uint8_t *p = pe->file.data;
	struct bp_pe_zboot *z = &pe->info.zboot;
	uint64_t end;
	bool known = false;

	z->payload_section = -1;
	z->linux_pe_magic = bpi_get_le32(p + LINUX_PE_MAGIC_OFFSET);
	if (memcmp(p + ZBOOT_MAGIC_OFFSET, "zimg", 4))
		return;
	z->present = true;
	z->payload_offset = bpi_get_le32(p + ZBOOT_PAYLOAD_OFFSET);
	z->payload_size = bpi_get_le32(p + ZBOOT_PAYLOAD_SIZE);
	/* The name field runs up to 0x38 at most; stop at the first NUL. */
	for (size_t i = 0; i < ZBOOT_COMP_NAME_MAX && ZBOOT_COMP_NAME + i < LINUX_PE_MAGIC_OFFSET &&
	     p[ZBOOT_COMP_NAME + i]; i++)
		z->compression[i] = (char)p[ZBOOT_COMP_NAME + i];
	for (size_t i = 0; i < sizeof(zboot_names) / sizeof(zboot_names[0]); i++)
		known |= !strcmp(z->compression, zboot_names[i]);
	if (!known)
		problem(pe, BP_PE_ERROR, "zboot: unknown compression '%s' (Linux writes gzip, lz4, "
			"lzma, lzo, xzkern, zstd22 or zstd)", z->compression);
	end = (uint64_t)z->payload_offset + z->payload_size;
	z->payload_in_file = z->payload_size && end <= pe->info.file_size;
	if (!z->payload_in_file) {
		problem(pe, BP_PE_ERROR, "zboot: payload (0x%x bytes at 0x%x) is not inside the "
			"file (0x%llx bytes)", z->payload_size, z->payload_offset,
			(unsigned long long)pe->info.file_size);
		return;
	}
	for (uint32_t i = 0; i < pe->info.n_sections; i++) {
		const struct bp_pe_section *s = &pe->sections[i];

		if (s->raw_size && z->payload_offset >= s->raw_offset &&
		    end <= (uint64_t)s->raw_offset + s->raw_size)
			z->payload_section = (int)i;
	}
	if (z->payload_section < 0)
		problem(pe, BP_PE_ERROR, "zboot: payload (0x%x bytes at 0x%x) does not lie inside "
			"one section", z->payload_size, z->payload_offset);
}

static int parse(struct bp_pe *pe, struct bp_diag *d)
{
	int ret;

	pe->info.file_size = pe->file.len;
	ret = read_headers(pe, d);
	if (ret)
		return ret;
	read_optional(pe);
	if (read_sections(pe))
		return bp_diag_set(d, BP_ERR_NOMEM, pe->name, "out of memory");
	check_optional(pe);
	check_sections(pe);
	check_dirs(pe);
	find_overlay(pe);
	read_zboot(pe);
	pe->info.problems = pe->problems;
	return 0;
}

static int finish_open(struct bp_pe *pe, const char *name, struct bp_pe **out,
		       struct bp_diag *d)
{
	int ret;

	pe->name = strdup(name);
	ret = pe->name ? parse(pe, d) : bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	if (ret) {
		bp_pe_close(pe);
		return ret;
	}
	*out = pe;
	return 0;
}

int bp_pe_open(const char *path, struct bp_pe **out, struct bp_diag *d)
{
	struct bp_pe *pe = calloc(1, sizeof(*pe));
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!pe)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	ret = bpi_read_file(path, BP_PE_READ_MAX, &pe->file, d);
	if (ret) {
		bp_pe_close(pe);
		return ret;
	}
	return finish_open(pe, path, out, d);
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

void bp_pe_close(struct bp_pe *pe)
{
	if (!pe)
		return;
	free(pe->sections);
	free(pe->problems);
	bp_buf_free(&pe->file);
	free(pe->name);
	free(pe);
}

const struct bp_pe_info *bp_pe_get_info(const struct bp_pe *pe)
{
	return &pe->info;
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

uint32_t bp_pe_checksum(const uint8_t *p, size_t len, size_t checksum_offset)
{
	uint64_t sum = 0;

	/* 16-bit words, carries folded back in, the CheckSum field as zero; then + length. */
	for (size_t i = 0; i < len; i += 2) {
		uint32_t lo = p[i], hi = i + 1 < len ? p[i + 1] : 0;

		/* Byte by byte, so an odd e_lfanew still blanks exactly the field. */
		if (i - checksum_offset < 4)
			lo = 0;
		if (i + 1 - checksum_offset < 4)
			hi = 0;
		sum += lo | hi << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)(sum + len);
}
