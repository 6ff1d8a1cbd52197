/* SPDX-License-Identifier: MIT */
/*
 * Unified Kernel Images: one PE holding systemd-stub and, in sections of
 * their own, the kernel (.linux), initrd (.initrd), command line (.cmdline),
 * os-release (.osrel), devicetree (.dtb), kernel release (.uname), splash
 * image (.splash), SBAT data (.sbat) and whatever else the builder adds,
 * as the UAPI group's UKI specification and systemd-stub lay them out.
 *
 * bp_uki_build() is what systemd's ukify does: the stub's sections stay
 * where they are; each added section follows the previous one, its
 * VirtualAddress the previous end rounded up to SectionAlignment, its raw
 * data FileAlignment-aligned, VirtualSize its content size, flags read-only
 * initialized data; SizeOfImage, SizeOfHeaders and CheckSum are set.
 * Section data is copied from the input files, never held whole in memory,
 * so peak memory does not grow with the initrd.
 *
 * bp_uki_inspect() reads one back (bounded, hostile input safe).
 *
 * Growth rules: those at the top of <bootpack/fit.h>.
 */
#ifndef BOOTPACK_UKI_H
#define BOOTPACK_UKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/authenticode.h>
#include <bootpack/error.h>
#include <bootpack/pe.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_key;

/* ---- Building ---- */

/* One extra section (--section NAME:FILE). */
struct bp_uki_section {
	const char *name;           /* at most 8 bytes, e.g. ".pcrsig" */
	const char *path;           /* its contents */
};

struct bp_uki_build_opts {
	size_t size;                /* BP_UKI_BUILD_OPTS_INIT */
	const char *stub;           /* systemd-stub (linux*.efi.stub); required */
	const char *linux_path;     /* the kernel: a PE (EFI stub, zboot) image; required */
	const char *const *initrds; /* concatenated in order into .initrd */
	size_t n_initrds;
	const char *cmdline;        /* .cmdline text (NULL: none); stored as given */
	size_t cmdline_len;
	const char *os_release;     /* .osrel from this file, or NULL */
	const char *os_release_text; /* or .osrel from this text (@os_release_len bytes) */
	size_t os_release_len;
	const char *const *dtbs;    /* devicetrees (see bp_uki_build()) */
	size_t n_dtbs;
	/* .uname; NULL: read from the kernel ("Linux version X" banner, zboot payload included) */
	const char *uname;
	bool no_uname;              /* do not add .uname at all */
	const char *splash;         /* .splash from this BMP file, or NULL */
	/*
	 * SBAT texts (CSV lines, NUL-terminated), merged with the stub's and
	 * the kernel's own .sbat: one "sbat,1,..." header line, then the stub's
	 * entries, the kernel's, these in order. A text may start with its own
	 * "sbat," header line (dropped) or not.
	 */
	const char *const *sbats;
	size_t n_sbats;
	const struct bp_uki_section *extra;
	size_t n_extra;
	bool strip_stub_signature;  /* drop a signed stub's certificate table instead of refusing */
	/* Sign the result (<bootpack/authenticode.h>) when @key is set; @sign->cert required then. */
	const struct bp_key *key;
	const struct bp_pe_sign_opts *sign;
	/*
	 * Threads; 0 = 1 (the library starts none unless asked). With two, the
	 * input files are read for the CheckSum while they are being copied.
	 */
	unsigned int jobs;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_UKI_BUILD_OPTS_INIT { .size = sizeof(struct bp_uki_build_opts) }

/*
 * Build a UKI from @o and write it to @out_path atomically (nothing is
 * written on failure).
 *
 * Sections, in ukify's order: .osrel, .cmdline, .dtb, .uname, .splash,
 * .initrd, the extra sections, .sbat, then .linux last (it may decompress
 * into the space after it). Flags: read-only initialized data, .linux
 * read-only code (as ukify marks it). Several initrds are each padded to 4
 * bytes (ukify's join); one is stored as is. One devicetree goes into .dtb;
 * several into one .dtbauto section each, which only a stub from systemd 257
 * on reads (its version from the "LoaderInfo: systemd-stub N" marker): with
 * an older stub, BP_ERR_UNSUPPORTED. .uname not given is read from the
 * kernel (the x86 setup header's kernel_version, else the "Linux version"
 * banner, in a zboot kernel's payload too); not found: no .uname, no error.
 * .sbat: see @sbats; a stub with a .sbat section gets it replaced in place
 * (BP_ERR_TOOBIG if the merged text does not fit there), else a new one is
 * added. A COFF symbol table at the end of the stub is dropped (ukify does
 * the same), and so are stub bytes after its last section (an overlay no
 * loader reads; kept, they would be bytes no signature covers).
 *
 * Refused, with the reason in @d: a stub or kernel
 * that bp_pe_open() finds errors in (BP_ERR_FORMAT), a kernel that is not a
 * PE image (BP_ERR_FORMAT), a stub whose machine type differs from the
 * kernel's (BP_ERR_INVALID), a signed stub without @o->strip_stub_signature
 * (BP_ERR_UNSUPPORTED), a section name given twice or already in the stub
 * (BP_ERR_INVALID), headers that have no room for the new section table
 * and cannot grow below the first section (BP_ERR_TOOBIG), an image over
 * BP_PE_READ_MAX (BP_ERR_TOOBIG), a splash that is not a BMP ("BM")
 * (BP_ERR_FORMAT), an empty input (BP_ERR_INVALID). Unreadable inputs or
 * inputs that are not regular files: BP_ERR_IO.
 */
int bp_uki_build(const struct bp_uki_build_opts *o, const char *out_path, struct bp_diag *d);

/* ---- Inspecting ---- */

/* A part of a UKI, located in the image (bounds checked against the file). Frozen. */
struct bp_uki_part {
	bool present;
	uint64_t offset;            /* file offset of its bytes */
	uint64_t len;               /* min(VirtualSize, SizeOfRawData): what the stub reads */
};

/* What bp_uki_inspect() found; the caller sets size (BP_UKI_INFO_INIT), like a stats struct. */
struct bp_uki_info {
	size_t size;
	bool is_uki;                /* a .linux section is present */
	/*
	 * Strings as found in the image, NUL-terminated, not escaped (escape
	 * them for a terminal), truncated to fit; "" when absent.
	 */
	/*
	 * .sdmagic, e.g. "#### LoaderInfo: systemd-stub 252.19 ####"; without
	 * one, that string found in the file before the first UKI section
	 * (systemd 252's arm64 stub has it outside its sections).
	 */
	char stub_version[128];
	char uname[128];            /* .uname */
	char pretty_name[128];      /* PRETTY_NAME of .osrel, quotes removed */
	struct bp_uki_part linux_part, initrd, cmdline, osrel, dtb, uname_part, splash, sbat;
	uint16_t linux_machine;     /* COFF machine of the .linux image; 0 when not a PE */
	bool linux_is_zboot;
	size_t n_dtbs;              /* .dtb and .dtbauto sections */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_UKI_INFO_INIT { .size = sizeof(struct bp_uki_info) }

/*
 * Fill @out for @pe (an image bp_pe_open() read). Not a UKI is no error:
 * is_uki false. BP_ERR_RANGE when a UKI section's data lies outside the
 * file, BP_ERR_FORMAT when a UKI section appears twice (other than .dtbauto).
 * Sections after the first ".profile" (systemd 257 multi-profile UKIs)
 * belong to other profiles and may repeat the base's: they are bounds
 * checked, but the parts (and n_dtbs) described are the base profile's.
 * On failure @out is left all zero but for its size. BP_ERR_INVALID when
 * @out is smaller than its first version (BP_UKI_INFO_INIT sets its size).
 */
int bp_uki_inspect(const struct bp_pe *pe, struct bp_uki_info *out, struct bp_diag *d);

/*
 * Write the bytes systemd-stub reads of section @name of @pe (any section,
 * UKI or not: min(VirtualSize, SizeOfRawData) from PointerToRawData) to
 * @out_path atomically; @written (may be NULL) gets their count.
 * BP_ERR_NOTFOUND for no such section, BP_ERR_FORMAT when the name appears
 * more than once, BP_ERR_RANGE when the data lies outside the file,
 * BP_ERR_INVALID for a name that is not 1 to 8 bytes, BP_ERR_IO.
 */
int bp_uki_extract(const struct bp_pe *pe, const char *name, const char *out_path,
		   uint64_t *written, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
