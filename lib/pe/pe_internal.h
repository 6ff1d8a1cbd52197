/* SPDX-License-Identifier: MIT */
/* Internal view of a parsed PE image, shared by the reader, editor and zboot code. */
#ifndef BP_PE_INTERNAL_H
#define BP_PE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <bootpack/buf.h>
#include <bootpack/pe.h>

#include "util/util.h"

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

struct bpi_pe_sigs;

struct bp_pe {
	char *name;
	struct bp_buf file;         /* the image; read-only */
	bool mapped;                /* @file is a file mapping (bpi_map_file), not a buffer */
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
	/*
	 * The certificate table, parsed on first use (win_cert.c) under
	 * @sigs_lock, so that the const accessors may be called from several
	 * threads.
	 */
	struct bpi_pe_sigs *sigs;
	pthread_mutex_t sigs_lock;
	bool sigs_lock_ready;
	/* Opened by bpi_pe_open_unsummed(): info.checksum_computed is 0, unchecked. */
	bool unsummed;
};

/*
 * bp_pe_open() without the pass over the whole file for CheckSum (a
 * caller that reads every byte anyway sums them itself, in parallel):
 * info.checksum_computed stays 0 and the CheckSum is not compared.
 */
int bpi_pe_open_unsummed(const char *path, struct bp_pe **out, struct bp_diag *d);

/*
 * qsort_r() order of section indices (uint32_t) by PointerToRawData, then
 * index; @ctx is the section array.
 */
int bpi_pe_cmp_raw_offset(const void *a, const void *b, void *ctx);

/*
 * The PE CheckSum over pieces given in file order: 16-bit little-endian
 * words across piece boundaries, an odd last byte zero-extended; the sum
 * cannot overflow for files below 2^48 bytes. bp_pe_checksum() in pieces.
 */
struct bpi_pe_csum {
	uint64_t sum, len;
};

void bpi_pe_csum_add(struct bpi_pe_csum *c, const uint8_t *p, size_t n);
uint32_t bpi_pe_csum_final(const struct bpi_pe_csum *c);

/*
 * Large passes over a mapped image go BPI_PE_CHUNK bytes at a time and let
 * go of each piece when done with it (bpi_pe_release: the kernel drops the
 * pages, a later read maps them again from the page cache), so memory use
 * does not grow with the image. A no-op for an image read into memory.
 */
#define BPI_PE_CHUNK (4u << 20)
void bpi_pe_release(const struct bp_pe *pe, uint64_t off, uint64_t len);

/* bp_pe_open_mem() taking over @b's bytes (left empty) instead of copying them. */
int bpi_pe_open_buf(struct bp_buf *b, const char *name, struct bp_pe **out, struct bp_diag *d);

/* Release what win_cert.c parsed (NULL is fine). */
void bpi_pe_sigs_free(struct bpi_pe_sigs *s);

/*
 * The bounds gate. Every read of image bytes in lib/pe/ goes through
 * bpi_pe_bytes() (or the le16/32/64 readers on top of it): it returns a
 * pointer to [@off, @off + @len) of the file, or NULL when any byte of that
 * range lies outside it. A pointer it returns may be read only within
 * [0, @len). Checked by subtraction, so no offset or length taken from the
 * file can wrap the test. A NULL answer is reported with
 * bpi_pe_range_error(), never assumed away: the editor and the zboot code
 * must stay inside the file on images the reader found errors in, too.
 */
static inline bool bpi_range_ok(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

static inline const uint8_t *bpi_pe_bytes(const struct bp_pe *pe, uint64_t off, uint64_t len)
{
	/* An empty file has no bytes to point at, not even zero of them. */
	if (!pe->file.data || !bpi_range_ok(pe->file.len, off, len))
		return NULL;
	return pe->file.data + off;
}

static inline bool bpi_pe_le16(const struct bp_pe *pe, uint64_t off, uint16_t *v)
{
	const uint8_t *p = bpi_pe_bytes(pe, off, 2);

	if (p)
		*v = bpi_get_le16(p);
	return p != NULL;
}

static inline bool bpi_pe_le32(const struct bp_pe *pe, uint64_t off, uint32_t *v)
{
	const uint8_t *p = bpi_pe_bytes(pe, off, 4);

	if (p)
		*v = bpi_get_le32(p);
	return p != NULL;
}

static inline bool bpi_pe_le64(const struct bp_pe *pe, uint64_t off, uint64_t *v)
{
	const uint8_t *p = bpi_pe_bytes(pe, off, 8);

	if (p)
		*v = bpi_get_le64(p);
	return p != NULL;
}

/*
 * bp_zboot_extract_to() without the sink: the checked kernel Image in @out
 * (empty on entry, freed on failure), for callers that only read it and
 * need not pay for a copy (bp_zboot_inner()). @kind may be NULL.
 */
int bpi_zboot_decode(const struct bp_pe *pe, uint64_t max, struct bp_buf *out,
		     enum bp_kernel_kind *kind, struct bp_diag *d);

/*
 * BP_ERR_RANGE: "@what at offset 0x@off (@len bytes) lies outside the file
 * (size N)", for a range bpi_pe_bytes() refused. @what comes from the
 * library, never from the file.
 */
int bpi_pe_range_error(const struct bp_pe *pe, struct bp_diag *d, const char *what, uint64_t off,
		       uint64_t len);

#endif
