/* SPDX-License-Identifier: MIT */
/*
 * PE/COFF images (EFI applications), with Linux's EFI zboot header.
 *
 * bp_pe_open() reads an untrusted image and lists what is wrong with it
 * the way EDK2's loader would see it; bp_pe_edit() adds, replaces or
 * removes one section and writes a new, valid image, keeping file offsets
 * (debug directory, zboot payload) pointing at the same bytes.
 *
 * Structs follow the growth rules at the top of <bootpack/fit.h>: the ones
 * passed in start with a size the caller sets (BP_PE_EDIT_INIT), the ones
 * returned start with the size the library filled, sections and problems
 * are reached through bp_pe_section_at() and bp_pe_problem_at(), and the
 * embedded struct bp_pe_dir and struct bp_pe_zboot are frozen.
 */
#ifndef BOOTPACK_PE_H
#define BOOTPACK_PE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_PE_MAX_DIRS 16

/* Data directory slots used by name. */
enum {
	BP_PE_DIR_SECURITY = 4,     /* certificate table: a file offset, not an RVA */
	BP_PE_DIR_BASERELOC = 5,
	BP_PE_DIR_DEBUG = 6,
};

/* Section flags (Characteristics) used by name. */
#define BP_PE_SCN_CNT_CODE 0x00000020u
#define BP_PE_SCN_CNT_INITIALIZED_DATA 0x00000040u
#define BP_PE_SCN_CNT_UNINITIALIZED_DATA 0x00000080u
#define BP_PE_SCN_MEM_DISCARDABLE 0x02000000u
#define BP_PE_SCN_MEM_EXECUTE 0x20000000u
#define BP_PE_SCN_MEM_READ 0x40000000u
#define BP_PE_SCN_MEM_WRITE 0x80000000u

struct bp_pe_section {
	size_t size;                /* set by the library */
	char name[9];               /* NUL-terminated, as stored (may be "/4" style) */
	uint32_t virtual_size, virtual_address;
	uint32_t raw_size, raw_offset;   /* SizeOfRawData, PointerToRawData */
	uint32_t characteristics;
	uint32_t header_offset;     /* file offset of its 40-byte section header */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only (see <bootpack/fit.h>) */
#endif
};

struct bp_pe_dir {
	uint32_t address;           /* RVA; a file offset for the certificate table */
	uint32_t size;
};

struct bp_pe_zboot {
	bool present;               /* "MZ" + "zimg" at offset 4 */
	char compression[33];       /* NUL-terminated name at 0x18, e.g. "gzip", "zstd22" */
	uint32_t payload_offset;    /* file offset of the compressed stream */
	uint32_t payload_size;      /* its size (the le32 uncompressed size follows it, except gzip) */
	bool payload_in_file;
	int payload_section;        /* section holding the whole payload, or -1 */
	uint32_t linux_pe_magic;    /* le32 at 0x38: 0x818223cd from Linux 6.2 on */
};

enum bp_pe_severity { BP_PE_WARNING, BP_PE_ERROR };

/* One thing wrong with the image. Errors are what EDK2's loader refuses. */
struct bp_pe_problem {
	size_t size;                /* set by the library */
	enum bp_pe_severity severity;
	char msg[200];
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

struct bp_pe_info {
	size_t size;                /* set by the library */
	uint64_t file_size;
	uint32_t pe_offset;         /* e_lfanew */
	/* COFF file header */
	uint16_t machine, n_sections, size_of_optional_header, characteristics;
	uint32_t timestamp, symbol_table, n_symbols;
	/* Optional header */
	uint16_t magic;             /* 0x10b PE32, 0x20b PE32+ */
	bool pe32plus;
	uint8_t linker_major, linker_minor;
	uint32_t size_of_code, size_of_initialized_data, size_of_uninitialized_data;
	uint32_t entry_point, base_of_code;
	uint64_t image_base;
	uint32_t section_alignment, file_alignment;
	uint32_t size_of_image, size_of_headers;
	uint32_t checksum, checksum_computed;
	uint16_t subsystem, dll_characteristics;
	uint32_t n_rva_and_sizes;   /* as stored */
	struct bp_pe_dir dirs[BP_PE_MAX_DIRS];  /* entries past n_rva_and_sizes are zero */
	/* n_sections (above) sections: bp_pe_section_at() */
	/* Bytes past the end of the last section's raw data, certificate table excluded. */
	uint64_t overlay_offset, overlay_size;
	bool has_certificates;      /* certificate table (Authenticode signature) present */
	struct bp_pe_zboot zboot;
	size_t n_problems, n_errors; /* bp_pe_problem_at() */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

struct bp_pe;

/* Largest PE image bp_pe_open() reads. */
#define BP_PE_READ_MAX (1ULL << 31)

/*
 * Read the PE image at @path. Fails, with the reason in @d, only when the
 * headers cannot be located: BP_ERR_FORMAT for no "MZ", no "PE\0\0" or an
 * unknown optional-header magic; BP_ERR_RANGE when e_lfanew, the COFF or
 * optional header or the section table lies past the end of the file.
 * Everything else is listed in "problems".
 */
int bp_pe_open(const char *path, struct bp_pe **out, struct bp_diag *d);
/* The same for @len bytes at @data (copied); @name is used in messages. */
int bp_pe_open_mem(const void *data, size_t len, const char *name, struct bp_pe **out,
		   struct bp_diag *d);
void bp_pe_close(struct bp_pe *pe);
const struct bp_pe_info *bp_pe_get_info(const struct bp_pe *pe);
/* Section @i (below n_sections), problem @i (below n_problems); NULL past the end. */
const struct bp_pe_section *bp_pe_section_at(const struct bp_pe *pe, size_t i);
const struct bp_pe_problem *bp_pe_problem_at(const struct bp_pe *pe, size_t i);
/* The image bytes as read. */
const uint8_t *bp_pe_data(const struct bp_pe *pe, size_t *len);
/* Index of the section called @name, or BP_ERR_NOTFOUND. */
int bp_pe_find_section(const struct bp_pe *pe, const char *name);

/* The PE CheckSum of @len bytes, the 4 bytes at @checksum_offset counted as zero. */
uint32_t bp_pe_checksum(const uint8_t *p, size_t len, size_t checksum_offset);

enum bp_pe_edit_op { BP_PE_ADD_SECTION, BP_PE_REPLACE_SECTION, BP_PE_REMOVE_SECTION };

/* Default flags of an added section: initialized, read-only data (the kexec .bpf section). */
#define BP_PE_ADD_DEFAULT_FLAGS (BP_PE_SCN_CNT_INITIALIZED_DATA | BP_PE_SCN_MEM_READ)

struct bp_pe_edit {
	size_t size;                /* sizeof(struct bp_pe_edit): BP_PE_EDIT_INIT */
	enum bp_pe_edit_op op;
	const char *name;           /* at most 8 bytes */
	const void *data;           /* new contents (add, replace) */
	size_t len;
	uint32_t characteristics;   /* add: 0 = BP_PE_ADD_DEFAULT_FLAGS */
	bool strip_signature;       /* drop the certificate table instead of refusing */
	bool force;                 /* remove: allow code and writable sections */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_PE_EDIT_INIT { .size = sizeof(struct bp_pe_edit) }

/*
 * Apply @e to @pe and write the result to @out_path atomically (@out_path
 * may be the input file). The image must have no errors. Section data keeps
 * its place relative to its section; data directories holding file offsets
 * (debug entries), the overlay and the zboot header follow their bytes.
 * Returns 0 or BP_ERR_INVALID/BP_ERR_NOTFOUND/BP_ERR_FORMAT/BP_ERR_TOOBIG/
 * BP_ERR_UNSUPPORTED/BP_ERR_IO with the reason in @d (BP_ERR_INVALID also
 * for a bad @e->size, BP_ERR_UNSUPPORTED for a field this version does not
 * know).
 */
int bp_pe_edit(const struct bp_pe *pe, const struct bp_pe_edit *e, const char *out_path,
	       struct bp_diag *d);

/* What a decompressed zboot payload turned out to be. */
enum bp_kernel_kind { BP_KERNEL_UNKNOWN, BP_KERNEL_ARM64, BP_KERNEL_RISCV, BP_KERNEL_LOONGARCH };

const char *bp_kernel_kind_name(enum bp_kernel_kind k);
/* Recognise a Linux kernel Image by its header magic. */
enum bp_kernel_kind bp_kernel_kind_of(const uint8_t *p, size_t len);

/* Decompressed payloads are capped at this many bytes unless told otherwise. */
#define BP_ZBOOT_MAX_DEFAULT (1ULL << 30)

/*
 * Decompress the zboot payload of @pe (gzip, lz4, lzma, lzo, xzkern,
 * zstd22, zstd), check it is a kernel Image and write it to @out_path atomically.
 * @max caps the output (0 = BP_ZBOOT_MAX_DEFAULT). @kind and @written may
 * be NULL.
 */
int bp_zboot_extract(const struct bp_pe *pe, const char *out_path, uint64_t max,
		     enum bp_kernel_kind *kind, uint64_t *written, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
