// SPDX-License-Identifier: MIT
/*
 * Synthetic PE/COFF images; see pe_gen.h for the layout and conventions.
 * Field offsets follow the Microsoft PE/COFF specification ("PE Format"):
 * COFF file header, optional header standard fields (BaseOfData only in
 * PE32), Windows-specific fields (ImageBase and the four stack/heap sizes
 * are 4 bytes in PE32, 8 in PE32+), data directories, section table.
 */
#include "pe_gen.h"

#include <stdlib.h>
#include <string.h>

#define DOS_LFANEW_OFF 0x3cu
#define DOS_HDR_SIZE 0x40u
#define ZBOOT_COMP_OFF 0x18u
#define LINUX_PE_MAGIC_OFF 0x38u

#define FILE_EXECUTABLE_IMAGE 0x0002u
#define FILE_LINE_NUMS_STRIPPED 0x0004u
#define FILE_LARGE_ADDRESS_AWARE 0x0020u
#define FILE_32BIT_MACHINE 0x0100u
#define FILE_DEBUG_STRIPPED 0x0200u
#define SUBSYSTEM_EFI_APPLICATION 10u
#define DLLCHAR_NX_COMPAT 0x0100u

#define CV_RECORD_SIZE (4u + 16u + 4u + sizeof(PE_GEN_CV_PDB_NAME)) /* sig, GUID, age, name+NUL */
#define MAX_IMAGE 0x40000000u /* 1 GiB: plenty for tests, far from 32-bit overflow */

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void pe_gen_defaults(struct pe_gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->machine = PE_GEN_MACHINE_ARM64;
	o->file_align = 0x200;
	o->section_align = 0x1000;
	o->n_rva_and_sizes = 16;
	o->spare_headers = 2;
	o->n_sections = 2;
	/* Sizes that are not alignment multiples, so rounding shows. */
	o->sections[0] = (struct pe_gen_section){ ".text", 0x1234, 0x1234, PE_GEN_SCN_TEXT, 0xcc };
	o->sections[1] = (struct pe_gen_section){ ".data", 0x456, 0x456, PE_GEN_SCN_DATA, 0xdd };
}

uint32_t pe_gen_checksum(const uint8_t *p, size_t len, size_t checksum_offset)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i += 2) {
		uint32_t lo = p[i], hi = i + 1 < len ? p[i + 1] : 0;

		/* The CheckSum field itself counts as zero (any alignment). */
		if (i >= checksum_offset && i - checksum_offset < 4)
			lo = 0;
		if (i + 1 >= checksum_offset && i + 1 - checksum_offset < 4)
			hi = 0;
		sum += lo | hi << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)(sum + len);
}

static size_t opt_header_size(const struct pe_gen_opts *o)
{
	/* Standard fields 28/24 + Windows fields 68/88, then the directories. */
	return (o->pe32 ? 96u : 112u) + 8u * o->n_rva_and_sizes;
}

static int check_opts(const struct pe_gen_opts *o)
{
	if (o->n_sections < 1 || o->n_sections > PE_GEN_MAX_SECTIONS)
		return -1;
	/* 8-byte minimum keeps every header size a multiple of the alignment unit
	 * used for tight headers and the certificate table. */
	if (!is_pow2(o->file_align) || o->file_align < 8 || o->file_align > 0x10000)
		return -1;
	if (!is_pow2(o->section_align) || o->section_align < o->file_align)
		return -1;
	if (o->n_rva_and_sizes > 16 || o->spare_headers > 1024)
		return -1;
	if (o->cert_size && (o->cert_size < 8 || o->cert_size > MAX_IMAGE ||
			     o->n_rva_and_sizes <= PE_GEN_DIR_CERT))
		return -1;
	if (o->debug_dir && o->n_rva_and_sizes <= PE_GEN_DIR_DEBUG)
		return -1;
	if (o->zboot_comp && strlen(o->zboot_comp) > PE_GEN_ZBOOT_COMP_MAX)
		return -1;
	if (o->payload_len && !o->payload)
		return -1;
	if (o->overlay > MAX_IMAGE || o->payload_len > MAX_IMAGE)
		return -1;
	for (size_t i = 0; i < o->n_sections; i++) {
		const struct pe_gen_section *s = &o->sections[i];
		if (memchr(s->name, '\0', sizeof(s->name)) == NULL)
			return -1;
		if (s->vsize > MAX_IMAGE || s->raw_size > MAX_IMAGE)
			return -1;
		if (s->vsize == 0 && s->raw_size == 0)
			return -1;
	}
	return 0;
}

int pe_gen_build(const struct pe_gen_opts *o, uint8_t **out, size_t *len, struct pe_gen_layout *lay)
{
	struct pe_gen_layout L;
	struct pe_gen_section s[PE_GEN_MAX_SECTIONS];
	uint64_t need[PE_GEN_MAX_SECTIONS] = { 0 };
	const uint32_t fa = o->file_align, sa = o->section_align;
	const size_t n = o->n_sections;
	size_t ci = SIZE_MAX, di = SIZE_MAX;
	uint64_t dbg_off = 0, cv_off = 0, end;
	bool want_payload = o->zboot_comp != NULL || o->payload_len > 0;

	if (check_opts(o) != 0)
		return -1;
	memset(&L, 0, sizeof(L));
	memcpy(s, o->sections, n * sizeof(s[0]));

	/* Hosts for the payload (first code section) and the debug data (first
	 * initialized non-code section with raw data, else the code section). */
	for (size_t i = 0; i < n; i++) {
		if (s[i].vsize == 0)
			s[i].vsize = s[i].raw_size;
		if (ci == SIZE_MAX && (s[i].flags & PE_GEN_SCN_CNT_CODE))
			ci = i;
		if (di == SIZE_MAX && !(s[i].flags & (PE_GEN_SCN_CNT_CODE | PE_GEN_SCN_CNT_UNINITIALIZED_DATA)) &&
		    s[i].raw_size > 0)
			di = i;
	}
	if (want_payload && ci == SIZE_MAX)
		return -1;
	if (want_payload)
		need[ci] = PE_GEN_PAYLOAD_OFF + (uint64_t)o->payload_len;
	if (o->debug_dir) {
		if (di == SIZE_MAX)
			di = ci;
		if (di == SIZE_MAX)
			return -1;
		dbg_off = align_up(need[di], 8);
		cv_off = dbg_off + PE_GEN_DEBUG_DIR_SIZE; /* 28: already 4-aligned */
		need[di] = cv_off + CV_RECORD_SIZE;
	}
	for (size_t i = 0; i < n; i++) {
		s[i].raw_size = (uint32_t)max64(s[i].raw_size, need[i]);
		s[i].vsize = (uint32_t)max64(s[i].vsize, need[i]);
		s[i].raw_size = (uint32_t)align_up(s[i].raw_size, fa);
	}

	/* Headers. */
	L.opt_size = (uint32_t)opt_header_size(o);
	L.pe_offset = DOS_HDR_SIZE;
	for (;;) {
		L.coff_offset = L.pe_offset + 4;
		L.opt_offset = L.coff_offset + PE_GEN_COFF_HDR_SIZE;
		L.sect_table_offset = L.opt_offset + L.opt_size;
		L.sect_table_end = L.sect_table_offset + (uint32_t)n * PE_GEN_SECT_HDR_SIZE;
		if (!o->tight_headers) {
			L.size_of_headers = (uint32_t)align_up(
				L.sect_table_end + (uint64_t)o->spare_headers * PE_GEN_SECT_HDR_SIZE, fa);
			if (o->flat)
				L.size_of_headers = (uint32_t)align_up(L.size_of_headers, sa);
			break;
		}
		L.size_of_headers = (uint32_t)align_up(L.sect_table_end, fa);
		if (L.size_of_headers - L.sect_table_end < PE_GEN_SECT_HDR_SIZE)
			break;
		/* Slide the PE header forward (8-aligned) just enough that the
		 * slack drops below one section header; SizeOfHeaders stays. */
		L.pe_offset += (uint32_t)align_up(L.size_of_headers - L.sect_table_end -
						  (PE_GEN_SECT_HDR_SIZE - 1), 8);
	}
	L.headers_free = L.size_of_headers - L.sect_table_end;
	L.checksum_offset = L.opt_offset + PE_GEN_OPT_CHECKSUM_OFF;

	/* Sections: VAs, then raw data. */
	uint64_t va = align_up(L.size_of_headers, sa), off = L.size_of_headers;
	for (size_t i = 0; i < n; i++) {
		L.sect_va[i] = (uint32_t)va;
		L.sect_vsize[i] = s[i].vsize;
		L.sect_raw_size[i] = s[i].raw_size;
		va = align_up(va + max64(s[i].vsize, s[i].raw_size), sa);
		if (va > MAX_IMAGE)
			return -1;
		if (s[i].raw_size == 0)
			continue;
		L.sect_raw_ptr[i] = (uint32_t)(o->flat ? L.sect_va[i] : off);
		off = (uint64_t)L.sect_raw_ptr[i] + s[i].raw_size;
		if (s[i].flags & PE_GEN_SCN_CNT_CODE)
			L.size_of_code += s[i].raw_size;
		if (s[i].flags & PE_GEN_SCN_CNT_INITIALIZED_DATA)
			L.size_of_init_data += s[i].raw_size;
	}
	for (size_t i = 0; i < n; i++)
		if (s[i].flags & PE_GEN_SCN_CNT_UNINITIALIZED_DATA)
			L.size_of_uninit_data += (uint32_t)align_up(s[i].vsize, fa);
	L.size_of_image = (uint32_t)va;
	L.n_sections = n;
	L.image_base = o->pe32 ? 0x10000000u : 0x140000000ull;
	if (ci != SIZE_MAX)
		L.entry_rva = L.sect_va[ci];

	/* Tail: overlay, then the certificate table at an 8-byte boundary. */
	L.overlay_offset = (uint32_t)off;
	end = off + o->overlay;
	if (o->cert_size) {
		L.cert_offset = (uint32_t)align_up(end, 8);
		L.cert_table_size = (uint32_t)align_up(o->cert_size, 8);
		end = (uint64_t)L.cert_offset + L.cert_table_size;
	}
	if (end > MAX_IMAGE)
		return -1;
	L.file_len = (size_t)end;

	uint8_t *p = calloc(1, L.file_len);
	if (!p)
		return -1;

	/* DOS header (or the zboot one, as zboot-header.S lays it out). */
	p[0] = 'M';
	p[1] = 'Z';
	if (want_payload) {
		L.payload_rva = L.sect_va[ci] + PE_GEN_PAYLOAD_OFF;
		L.zboot_payload_offset = L.sect_raw_ptr[ci] + PE_GEN_PAYLOAD_OFF;
	}
	if (o->zboot_comp) {
		memcpy(p + 4, "zimg", 4);
		le32(p + 8, L.zboot_payload_offset);
		le32(p + 0x0c, (uint32_t)o->payload_len);
		memcpy(p + ZBOOT_COMP_OFF, o->zboot_comp, strlen(o->zboot_comp) + 1);
	}
	if (o->linux_pe_magic)
		le32(p + LINUX_PE_MAGIC_OFF, o->linux_pe_magic);
	le32(p + DOS_LFANEW_OFF, L.pe_offset);

	/* PE signature and COFF file header. */
	memcpy(p + L.pe_offset, "PE\0\0", 4);
	uint8_t *c = p + L.coff_offset;
	le16(c + 0, o->machine);
	le16(c + 2, (uint16_t)n);
	/* TimeDateStamp, PointerToSymbolTable, NumberOfSymbols stay 0. */
	le16(c + 16, (uint16_t)L.opt_size);
	le16(c + 18, (uint16_t)(FILE_EXECUTABLE_IMAGE | FILE_LINE_NUMS_STRIPPED |
				(o->debug_dir ? 0 : FILE_DEBUG_STRIPPED) |
				(o->pe32 ? FILE_32BIT_MACHINE : FILE_LARGE_ADDRESS_AWARE)));

	/* Optional header: standard fields. */
	uint8_t *h = p + L.opt_offset;
	uint32_t base_of_code = 0, base_of_data = 0;
	for (size_t i = n; i-- > 0;) {
		if (s[i].flags & PE_GEN_SCN_CNT_CODE)
			base_of_code = L.sect_va[i];
		else
			base_of_data = L.sect_va[i];
	}
	le16(h + 0, o->pe32 ? 0x10b : 0x20b);
	le32(h + 4, L.size_of_code);
	le32(h + 8, L.size_of_init_data);
	le32(h + 12, L.size_of_uninit_data);
	le32(h + 16, L.entry_rva);
	le32(h + 20, base_of_code);
	/* Windows fields: the first (ImageBase) and the stack/heap group differ in width. */
	uint8_t *w;
	if (o->pe32) {
		le32(h + 24, base_of_data);
		le32(h + 28, (uint32_t)L.image_base);
	} else {
		le64(h + 24, L.image_base);
	}
	le32(h + 32, sa);
	le32(h + 36, fa);
	/* Major/MinorOperatingSystemVersion, Image and Subsystem versions,
	 * Win32VersionValue: 0. */
	le32(h + 56, L.size_of_image);
	le32(h + 60, L.size_of_headers);
	/* CheckSum at h + 64: last. */
	le16(h + 68, SUBSYSTEM_EFI_APPLICATION);
	le16(h + 70, DLLCHAR_NX_COMPAT);
	static const uint64_t stack_heap[4] = { 0x100000, 0x1000, 0x100000, 0x1000 };
	if (o->pe32) {
		for (int i = 0; i < 4; i++)
			le32(h + 72 + 4 * i, (uint32_t)stack_heap[i]);
		w = h + 88;
	} else {
		for (int i = 0; i < 4; i++)
			le64(h + 72 + 8 * i, stack_heap[i]);
		w = h + 104;
	}
	/* w: LoaderFlags (0), NumberOfRvaAndSizes, then the directories. */
	le32(w + 4, o->n_rva_and_sizes);
	uint8_t *dirs = w + 8;

	/* Section table and contents. */
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = p + L.sect_table_offset + i * PE_GEN_SECT_HDR_SIZE;
		memcpy(e, s[i].name, strlen(s[i].name));
		le32(e + 8, s[i].vsize);
		le32(e + 12, L.sect_va[i]);
		le32(e + 16, s[i].raw_size);
		le32(e + 20, L.sect_raw_ptr[i]);
		/* Relocation and line-number pointers and counts: 0 in images. */
		le32(e + 36, s[i].flags);
		if (s[i].raw_size)
			memset(p + L.sect_raw_ptr[i], s[i].fill,
			       s[i].vsize < s[i].raw_size ? s[i].vsize : s[i].raw_size);
	}
	if (o->payload_len)
		memcpy(p + L.zboot_payload_offset, o->payload, o->payload_len);

	if (o->debug_dir) {
		uint8_t *d = p + L.sect_raw_ptr[di] + dbg_off;
		uint8_t *cv = p + L.sect_raw_ptr[di] + cv_off;
		static const uint8_t guid[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
						  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

		L.debug_dir_rva = L.sect_va[di] + (uint32_t)dbg_off;
		L.debug_dir_file_offset = L.sect_raw_ptr[di] + (uint32_t)dbg_off;
		L.debug_data_rva = L.sect_va[di] + (uint32_t)cv_off;
		L.debug_data_file_offset = L.sect_raw_ptr[di] + (uint32_t)cv_off;
		L.debug_data_size = CV_RECORD_SIZE;
		memset(d, 0, PE_GEN_DEBUG_DIR_SIZE);
		/* Characteristics, TimeDateStamp, Major/MinorVersion: 0. */
		le32(d + 12, PE_GEN_DEBUG_TYPE_CODEVIEW);
		le32(d + 16, L.debug_data_size);
		le32(d + 20, L.debug_data_rva);          /* AddressOfRawData: RVA */
		le32(d + 24, L.debug_data_file_offset);  /* PointerToRawData: file offset */
		memcpy(cv, "RSDS", 4);
		memcpy(cv + 4, guid, sizeof(guid));
		le32(cv + 20, 1); /* Age */
		memcpy(cv + 24, PE_GEN_CV_PDB_NAME, sizeof(PE_GEN_CV_PDB_NAME));
		le32(dirs + 8 * PE_GEN_DIR_DEBUG, L.debug_dir_rva);
		le32(dirs + 8 * PE_GEN_DIR_DEBUG + 4, PE_GEN_DEBUG_DIR_SIZE);
	}

	memset(p + L.overlay_offset, 0x4f, o->overlay);

	if (o->cert_size) {
		uint8_t *ct = p + L.cert_offset;
		le32(ct, (uint32_t)o->cert_size);   /* dwLength: without the 8-byte padding */
		le16(ct + 4, 0x0200);               /* WIN_CERT_REVISION_2_0 */
		le16(ct + 6, 0x0002);               /* WIN_CERT_TYPE_PKCS_SIGNED_DATA */
		memset(ct + 8, 0x5a, o->cert_size - 8);
		/* The one directory entry that holds a file offset, not an RVA. */
		le32(dirs + 8 * PE_GEN_DIR_CERT, L.cert_offset);
		le32(dirs + 8 * PE_GEN_DIR_CERT + 4, L.cert_table_size);
	}

	/* Last, so that it covers every other byte, the certificate included. */
	if (o->checksum) {
		L.checksum = pe_gen_checksum(p, L.file_len, L.checksum_offset);
		le32(p + L.checksum_offset, L.checksum);
	}

	*out = p;
	*len = L.file_len;
	if (lay)
		*lay = L;
	return 0;
}
