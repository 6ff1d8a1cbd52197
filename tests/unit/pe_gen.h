/* SPDX-License-Identifier: MIT */
/*
 * pe_gen: synthetic PE/COFF images for unit tests, pytest and fuzz seeds.
 *
 * Deliberately independent of lib/pe: every field is computed here from the
 * Microsoft PE/COFF specification (and, for the zboot header, from Linux's
 * drivers/firmware/efi/libstub/zboot-header.S), so the images and the
 * layout report can serve as an oracle for the library under test.
 *
 * What an image looks like (offsets ascending):
 *
 *   0x00        DOS header: "MZ", e_lfanew at 0x3c. With zboot_comp set,
 *               the Linux zboot header instead: "MZ\0\0", "zimg" at 4,
 *               le32 payload file offset at 8, le32 payload size at 0x0c,
 *               8 zero bytes at 0x10, NUL-terminated compression name at
 *               0x18 (at most PE_GEN_ZBOOT_COMP_MAX chars, it must end
 *               before 0x38).
 *   0x38        linux_pe_magic (le32) when non-zero.
 *   e_lfanew    "PE\0\0", COFF header (20 bytes), optional header
 *               (PE32: 96 + 8*n_rva_and_sizes, PE32+: 112 + 8*n), section
 *               table (40 bytes per section). e_lfanew is 0x40, except with
 *               tight_headers (see below).
 *   SizeOfHeaders  raw data of each section with raw_size > 0, in order,
 *               back to back, each starting at a FileAlignment multiple
 *               (with .flat: at PointerToRawData == VirtualAddress).
 *   overlay_offset `overlay` bytes of 0x4f ('O'), not covered by any section.
 *   cert_offset  with cert_size: zero padding to an 8-byte boundary, then one
 *               WIN_CERTIFICATE (dwLength = cert_size, wRevision 0x0200,
 *               wCertificateType 2 = PKCS_SIGNED_DATA, payload bytes 0x5a),
 *               zero-padded to a multiple of 8; this is the end of the file.
 *
 * Conventions chosen where the spec leaves room (all documented so tests
 * can rely on them):
 *  - Section raw sizes are rounded up to FileAlignment; vsize 0 means
 *    "same as raw_size" (before rounding). A section with raw_size 0 is
 *    BSS-like: PointerToRawData 0, nothing in the file.
 *  - VirtualAddress of section 0 is SizeOfHeaders rounded up to
 *    SectionAlignment; each next one follows the previous at
 *    align(max(vsize, raw), SectionAlignment). SizeOfImage is the end of
 *    the last section so aligned.
 *  - SizeOfCode / SizeOfInitializedData sum SizeOfRawData of the sections
 *    flagged CNT_CODE / CNT_INITIALIZED_DATA; SizeOfUninitializedData sums
 *    VirtualSize rounded up to FileAlignment of CNT_UNINITIALIZED_DATA ones
 *    (what the MS linker does). BaseOfCode is the first code section's VA,
 *    BaseOfData (PE32 only) the first non-code section's VA (else 0).
 *  - AddressOfEntryPoint is the VA of the first CNT_CODE section (0 when
 *    there is none).
 *  - Section bytes [0, min(vsize, raw)) hold `fill`, the rest of the raw
 *    data is zero, except for the zboot payload (in the first code section
 *    at offset PE_GEN_PAYLOAD_OFF) and the debug directory plus its CodeView
 *    record (in the first non-code section with raw data, else after the
 *    payload in the code section). Hosting sections grow to fit them.
 *  - Roomy headers (default): SizeOfHeaders is the end of the section table
 *    plus spare_headers * 40 bytes, rounded up to FileAlignment (0x200 for
 *    the defaults, with room for 2 more headers in PE32+, 3 in PE32). Tight headers: e_lfanew is
 *    moved forward (in 8-byte steps, zeros between 0x40 and e_lfanew) until
 *    fewer than 40 bytes remain between the end of the section table and
 *    SizeOfHeaders, so no section header can be added without moving data.
 *    Since every header size is a multiple of 8, the slack is 0..32 bytes
 *    (reported as headers_free).
 *  - .flat: PointerToRawData == VirtualAddress for every section with raw
 *    data and, with roomy headers, SizeOfHeaders == first section's VA, as
 *    in the Linux EFI stub and zboot images; the zboot payload offset is
 *    then both a file offset and an RVA.
 *  - TimeDateStamp 0, ImageBase 0x10000000 (PE32) or 0x140000000 (PE32+,
 *    above 4 GiB on purpose so a 4-byte read shows), Subsystem 10 (EFI
 *    application), DllCharacteristics NX_COMPAT, Characteristics
 *    EXECUTABLE_IMAGE | LINE_NUMS_STRIPPED, plus DEBUG_STRIPPED without a
 *    debug directory, 32BIT_MACHINE for PE32 and LARGE_ADDRESS_AWARE for PE32+.
 */
#ifndef BOOTPACK_TESTS_PE_GEN_H
#define BOOTPACK_TESTS_PE_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PE_GEN_MAX_SECTIONS 16
#define PE_GEN_ZBOOT_COMP_MAX 31 /* 0x18 + 31 + NUL == 0x38 */
#define PE_GEN_PAYLOAD_OFF 0x40u /* zboot payload offset inside .text */
#define PE_GEN_LINUX_PE_MAGIC 0x818223cdu

/* Machine types (COFF header). */
#define PE_GEN_MACHINE_I386 0x014c
#define PE_GEN_MACHINE_AMD64 0x8664
#define PE_GEN_MACHINE_ARM64 0xaa64
#define PE_GEN_MACHINE_RISCV64 0x5064
#define PE_GEN_MACHINE_LOONGARCH64 0x6264

/* Section characteristics. */
#define PE_GEN_SCN_CNT_CODE 0x00000020u
#define PE_GEN_SCN_CNT_INITIALIZED_DATA 0x00000040u
#define PE_GEN_SCN_CNT_UNINITIALIZED_DATA 0x00000080u
#define PE_GEN_SCN_MEM_EXECUTE 0x20000000u
#define PE_GEN_SCN_MEM_READ 0x40000000u
#define PE_GEN_SCN_MEM_WRITE 0x80000000u
#define PE_GEN_SCN_TEXT (PE_GEN_SCN_CNT_CODE | PE_GEN_SCN_MEM_EXECUTE | PE_GEN_SCN_MEM_READ)
#define PE_GEN_SCN_DATA (PE_GEN_SCN_CNT_INITIALIZED_DATA | PE_GEN_SCN_MEM_READ | PE_GEN_SCN_MEM_WRITE)
#define PE_GEN_SCN_RODATA (PE_GEN_SCN_CNT_INITIALIZED_DATA | PE_GEN_SCN_MEM_READ)
#define PE_GEN_SCN_BSS (PE_GEN_SCN_CNT_UNINITIALIZED_DATA | PE_GEN_SCN_MEM_READ | PE_GEN_SCN_MEM_WRITE)

/* Fixed structure sizes and field offsets from the spec. */
#define PE_GEN_COFF_HDR_SIZE 20u
#define PE_GEN_SECT_HDR_SIZE 40u
#define PE_GEN_DEBUG_DIR_SIZE 28u /* one IMAGE_DEBUG_DIRECTORY */
#define PE_GEN_OPT_CHECKSUM_OFF 64u /* CheckSum within the optional header, PE32 and PE32+ */
#define PE_GEN_DIR_CERT 4
#define PE_GEN_DIR_DEBUG 6
#define PE_GEN_DEBUG_TYPE_CODEVIEW 2u
#define PE_GEN_CV_PDB_NAME "pe-gen.pdb" /* path in the RSDS record */

struct pe_gen_section {
	char name[9];      /* up to 8 chars, NUL-padded in the header */
	uint32_t vsize;    /* VirtualSize; 0: raw_size */
	uint32_t raw_size; /* rounded up to FileAlignment; 0: BSS-like */
	uint32_t flags;    /* Characteristics, PE_GEN_SCN_* */
	uint8_t fill;      /* content byte */
};

struct pe_gen_opts {
	bool pe32;               /* PE32 (0x10b) instead of PE32+ (0x20b) */
	uint16_t machine;        /* default arm64 */
	uint32_t file_align;     /* default 0x200; power of two, 8..0x10000 */
	uint32_t section_align;  /* default 0x1000; power of two >= file_align */
	bool tight_headers;      /* < 40 bytes free after the section table */
	uint32_t spare_headers;  /* else: room for at least this many more section headers (default 2) */
	bool flat;               /* PointerToRawData == VirtualAddress */
	size_t n_sections;       /* 1..16; default 2: .text + .data */
	struct pe_gen_section sections[PE_GEN_MAX_SECTIONS];
	size_t overlay;          /* bytes after the last section's raw data, before the cert */
	bool debug_dir;          /* one CODEVIEW debug directory entry + "RSDS" record */
	size_t cert_size;        /* >0: WIN_CERTIFICATE of dwLength cert_size (>= 8) at EOF */
	bool checksum;           /* compute CheckSum (else 0) */
	uint32_t n_rva_and_sizes; /* default 16; >= 5 with a cert, >= 7 with debug_dir */
	const char *zboot_comp;  /* non-NULL: Linux zboot DOS header with this compression name */
	const uint8_t *payload;  /* bytes placed in the first code section at PE_GEN_PAYLOAD_OFF */
	size_t payload_len;
	uint32_t linux_pe_magic; /* written at 0x38 when non-zero (PE_GEN_LINUX_PE_MAGIC) */
};

/* Where everything landed; all offsets are file offsets unless named rva/va. */
struct pe_gen_layout {
	uint32_t pe_offset;          /* e_lfanew: "PE\0\0" */
	uint32_t coff_offset;        /* pe_offset + 4 */
	uint32_t opt_offset;         /* optional header */
	uint32_t opt_size;           /* SizeOfOptionalHeader */
	uint32_t sect_table_offset;
	uint32_t sect_table_end;
	uint32_t size_of_headers;
	uint32_t headers_free;       /* size_of_headers - sect_table_end */
	uint32_t size_of_image;
	uint32_t size_of_code, size_of_init_data, size_of_uninit_data;
	uint32_t checksum_offset;    /* of the CheckSum field */
	uint32_t checksum;           /* value written (0 unless opts.checksum) */
	uint32_t entry_rva;
	uint64_t image_base;
	size_t n_sections;
	uint32_t sect_raw_ptr[PE_GEN_MAX_SECTIONS], sect_raw_size[PE_GEN_MAX_SECTIONS];
	uint32_t sect_va[PE_GEN_MAX_SECTIONS], sect_vsize[PE_GEN_MAX_SECTIONS];
	uint32_t overlay_offset;     /* end of the last raw data == start of the overlay */
	uint32_t cert_offset, cert_table_size; /* 0 without a cert */
	uint32_t debug_dir_rva, debug_dir_file_offset;   /* 0 without debug_dir */
	uint32_t debug_data_rva, debug_data_file_offset, debug_data_size; /* the RSDS record */
	uint32_t payload_rva, zboot_payload_offset;      /* 0 without a payload */
	size_t file_len;
};

/* Defaults: PE32+ arm64, .text (0x1234 bytes of 0xcc) and .data (0x456 bytes of 0xdd). */
void pe_gen_defaults(struct pe_gen_opts *o);

/*
 * Build the image into a malloc'd buffer (*out, *len; free() it). Fills *lay
 * when non-NULL. Returns 0, or -1 on invalid options (nothing allocated).
 */
int pe_gen_build(const struct pe_gen_opts *o, uint8_t **out, size_t *len, struct pe_gen_layout *lay);

/*
 * The PE CheckSum: 16-bit little-endian words summed with end-around carry
 * over the whole file, the 4-byte CheckSum field at checksum_offset read as
 * zero and an odd last byte zero-extended, folded to 16 bits, plus the file
 * length.
 */
uint32_t pe_gen_checksum(const uint8_t *p, size_t len, size_t checksum_offset);

#endif
