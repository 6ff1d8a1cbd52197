/* SPDX-License-Identifier: MIT */
/* Internal view of a parsed PE image, shared by the reader, editor and zboot code. */
#ifndef BP_PE_INTERNAL_H
#define BP_PE_INTERNAL_H

#include <stddef.h>

#include <bootpack/buf.h>
#include <bootpack/pe.h>

/* Offsets inside the DOS header and the headers that follow e_lfanew. */
#define PE_DOS_LFANEW 0x3c
#define PE_DOS_SIZE 0x40
#define PE_COFF_SIZE 20
#define PE_SECTION_SIZE 40
/* Optional-header fields at the same offset in PE32 and PE32+. */
#define PE_OPT_SIZE_OF_CODE 4
#define PE_OPT_SIZE_OF_INIT 8
#define PE_OPT_SIZE_OF_UNINIT 12
#define PE_OPT_SIZE_OF_IMAGE 56
#define PE_OPT_SIZE_OF_HEADERS 60
#define PE_OPT_CHECKSUM 64
/* Where NumberOfRvaAndSizes and the directories are. */
#define PE32_OPT_NRVA 92
#define PE32PLUS_OPT_NRVA 108
/* Where the standard fields end and the Windows-specific fields begin. */
#define PE32_OPT_STANDARD_END 28
#define PE32PLUS_OPT_STANDARD_END 24
/* The PE/COFF specification allows FileAlignment from 512 to 64 KiB. */
#define PE_FILE_ALIGN_MAX 0x10000
/* Problems listed per image; past this many only a count is kept. */
#define PE_PROBLEMS_MAX 100

#define ZBOOT_MAGIC_OFFSET 4
#define ZBOOT_PAYLOAD_OFFSET 8
#define ZBOOT_PAYLOAD_SIZE 0x0c
#define ZBOOT_COMP_NAME 0x18
#define ZBOOT_COMP_NAME_MAX 32
#define LINUX_PE_MAGIC_OFFSET 0x38

struct bp_pe {
	char *name;
	struct bp_buf file;
	struct bp_pe_info info;
	struct bp_pe_section *sections;
	struct bp_pe_problem *problems;
	size_t cap_problems;
	uint32_t opt_offset;        /* file offset of the optional header */
	uint32_t section_table;     /* file offset of the section table */
	uint64_t cert_offset, cert_size;
	size_t dropped;             /* problems past PE_PROBLEMS_MAX, counted only */
	bool dropped_error;
	/* The first thing wrong with the zboot header, for bp_zboot_extract(). */
	int zboot_err;
	char zboot_msg[sizeof(((struct bp_pe_problem *)0)->msg)];
};

/* The section array behind @in, the info of a struct bp_pe (not public: it cannot grow). */
static inline const struct bp_pe_section *bpi_pe_sections(const struct bp_pe_info *in)
{
	return ((const struct bp_pe *)(const void *)((const char *)in -
						     offsetof(struct bp_pe, info)))->sections;
}

#endif
