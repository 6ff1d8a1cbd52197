/* SPDX-License-Identifier: MIT */
/* bp_uki_build() in pieces: section sources, layout, SBAT merge, uname scraping, writing. */
#ifndef BP_UKI_BUILD_INTERNAL_H
#define BP_UKI_BUILD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <bootpack/uki.h>

#include "pe/pe_internal.h"

/* Sections a UKI can get: the named ones, the DTBs, the extras. */
#define BPI_UKI_MAX_SECTIONS 96
/* Bytes of a .uname text (the kernel's release string; utsname holds 65 with the NUL). */
#define BPI_UNAME_MAX 64

/* One piece of a section's contents: @len bytes of the file @fd, or at @mem; then @pad zeros. */
struct bpi_uki_part {
	int fd;                     /* -1 for @mem */
	const char *path;           /* for messages */
	const uint8_t *mem;
	uint64_t len;
	uint32_t pad;
};

struct bpi_uki_sec {
	char name[9];
	uint32_t flags;
	struct bpi_uki_part *parts;
	size_t n_parts;
	uint64_t size;              /* content bytes: the parts and their padding */
	/* Set by the layout. */
	uint32_t va, raw_off, raw_size;
};

/* The output, planned: new headers and the stub's (patched) data, then the added sections. */
struct bpi_uki_layout {
	uint8_t *hdr;               /* new SizeOfHeaders bytes */
	uint32_t soh;
	uint8_t *body;              /* the stub's data after its headers, up to its last section */
	uint32_t body_len;
	uint32_t checksum_at;       /* file offset of CheckSum */
	uint32_t secdir_at;         /* of the Security directory entry; 0: none */
	bool back_to_back;          /* all data after the headers in sections, in order */
	uint64_t file_size;
};

/*
 * Plan the UKI: @stub's sections kept (their raw data shifted when the
 * headers grow), @secs appended. @sbat (may be NULL) replaces the stub's
 * .sbat section in place. Fills each section's va/raw fields and @out.
 * @strip: drop the stub's certificate table.
 */
int bpi_uki_layout(const struct bp_pe *stub, struct bpi_uki_sec *secs, size_t n,
		   const uint8_t *sbat, size_t sbat_len, bool strip, struct bpi_uki_layout *out,
		   struct bp_diag *d);
void bpi_uki_layout_free(struct bpi_uki_layout *l);

struct bpi_pe_signer;

/*
 * Write @l and @secs to @out (CheckSum set, and signed by @sg when set:
 * the Security entry at l->secdir_at must be zero): the copy and the
 * reading for the sum and the digest as two jobs on up to @threads threads.
 */
int bpi_uki_write(const struct bpi_uki_layout *l, const struct bpi_uki_sec *secs, size_t n,
		  struct bpi_pe_signer *sg, unsigned int threads, struct bpi_output *out,
		  struct bp_diag *d);

/*
 * Merge SBAT texts (@texts[i], @lens[i] bytes, in order) into one .sbat:
 * the "sbat,1,..." header line once, then each text's entries without its
 * own header line, trailing NULs, CRs and blank lines; "\n" after each line
 * and one NUL at the end (as ukify writes it). Returns a malloc'd buffer
 * in *@out (length *@out_len), or BP_ERR_NOMEM.
 */
int bpi_sbat_merge(const char *const *texts, const size_t *lens, size_t n, char **out,
		   size_t *out_len);

/*
 * The kernel release in an x86 setup header's kernel_version string ("HdrS"
 * at 0x202, pointer at 0x20e): @p is the start of the image. 0 and @out
 * filled, or BP_ERR_NOTFOUND.
 */
int bpi_uname_setup_header(const uint8_t *p, size_t n, char out[BPI_UNAME_MAX + 1]);
/* The release after "Linux version " (a digit, a dot, then up to " ("): 0 or BP_ERR_NOTFOUND. */
int bpi_uname_banner(const uint8_t *p, size_t n, char out[BPI_UNAME_MAX + 1]);
/*
 * Either, from the kernel image @pe, whose file is open as @fd (a zboot
 * payload decompressed): 0, or BP_ERR_NOTFOUND/BP_ERR_NOMEM.
 */
int bpi_uname_scrape(const struct bp_pe *pe, int fd, char out[BPI_UNAME_MAX + 1]);

/* The "systemd-stub N" version in @p: N's major number, or 0 when there is none. */
unsigned int bpi_stub_major(const uint8_t *p, size_t n);

#endif
