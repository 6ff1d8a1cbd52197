/* SPDX-License-Identifier: MIT */
/*
 * What pe info, pe verify and the commands that sign print alike: the
 * problems list, Authenticode signatures, a zboot image's inner Image.
 * Every string that comes from the image (subjects, serials, the kernel
 * version) is escaped here.
 */
#ifndef BP_PE_PRINT_H
#define BP_PE_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <bootpack/authenticode.h>
#include <bootpack/pe.h>

/* "arm64" for COFF Machine 0xaa64; "unknown" for what it does not know. */
const char *pe_machine_name(uint16_t m);

/* The problems as a JSON array of {"severity", "message"}. */
void pe_problems_json(FILE *f, const struct bp_pe *pe);

/* pe info: the signature list, text (after "Certificates:") and JSON ("signatures": ...). */
void pe_sigs_text(const struct bp_pe *pe);
void pe_sigs_json(const struct bp_pe *pe);

/*
 * pe verify: "signature N: SIGNER, ALGO: digest matches, signature valid,
 * trusted" (and why not, when not) and a newline; the same as a JSON object.
 */
void pe_sig_check_line(FILE *f, const struct bp_pe *pe, const struct bp_pe_sig_check *c);
void pe_sig_check_json(FILE *f, const struct bp_pe *pe, const struct bp_pe_sig_check *c);

/*
 * Fill @out for a zboot image; false for any other image, or when
 * @if_loaded and the header shows a decompressor (Linux 6.2 on) that never
 * hands the inner Image to LoadImage(): then the payload is not even
 * decompressed. @out->sig is BP_ZBOOT_INNER_UNKNOWN when decompression failed.
 */
bool pe_inner_image(const struct bp_pe *pe, bool if_loaded, struct bp_zboot_inner *out);

/*
 * One warning line on stderr when @in says Secure Boot will refuse the inner
 * Image (unsigned, and its decompressor passes it to LoadImage()).
 */
void pe_inner_warn(const char *path, const struct bp_zboot_inner *in);
/* "inner_image" value: an object, or null for NULL. */
void pe_inner_json(FILE *f, const struct bp_zboot_inner *in);
/* pe info: the "zboot inner Image:" line. */
void pe_inner_text(const struct bp_zboot_inner *in);

#endif
