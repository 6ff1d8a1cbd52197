/* SPDX-License-Identifier: MIT */
/*
 * Building FIT (U-Boot Flat Image Tree) images.
 *
 * bp_fit_build() produces the tree the Linux kernel's scripts/make_fit.py
 * writes (same nodes, properties and order), compressing in-process and,
 * for external data, laying the file out as `mkimage -E` does.
 */
#ifndef BOOTPACK_FIT_H
#define BOOTPACK_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/codec.h>
#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default alignment of external data, as mkimage -E without -B. */
#define BP_FIT_EXTERNAL_ALIGN 4
/* DTBs are placed 8-aligned in the file so U-Boot can use them in place. */
#define BP_FIT_FDT_ALIGN 8

struct bp_fit_build_opts {
	const char *name;          /* kernel description; root is "NAME with devicetree set" */
	const char *arch;          /* FIT arch, e.g. "arm64" */
	const char *os;            /* FIT os, e.g. "linux" */
	const char *kernel;        /* path of the (uncompressed) kernel */
	const char *ramdisk;       /* path of an initrd stored as-is, or NULL */
	const char *const *dtbs;   /* DTB paths; ".dtbo" entries are ignored */
	size_t n_dtbs;
	enum bp_codec compress;    /* applied to the kernel and every DTB */
	bool external;             /* place data after the FDT (mkimage -E) */
	uint32_t align;            /* external data alignment (mkimage -B); 0 = 4 */
	bool decompose;            /* split composite DTBs using Kbuild's .cmd files */
	uint32_t timestamp;        /* root "timestamp" */
	unsigned int jobs;         /* compression threads; 0 = one per online CPU */
};

struct bp_fit_build_stats {
	size_t n_files;            /* images written: kernel, ramdisk, DTBs */
	size_t n_configs;
	uint64_t input_bytes;      /* total size of the stored input files */
	uint64_t fit_size;         /* bytes in the output file */
	uint64_t fdt_size;         /* FDT totalsize (the header, with -E) */
};

/*
 * Build a FIT from @o and write it to @out_path atomically (a temporary file
 * in the same directory, renamed into place only on success; an existing
 * @out_path is untouched on failure). @st may be NULL.
 *
 * Returns 0, or a negative BP_ERR_* with the offending file and reason in @d:
 * BP_ERR_IO (unreadable input, unwritable output), BP_ERR_FORMAT (not a DTB,
 * missing compatible/model, bad .cmd), BP_ERR_INVALID (bad options),
 * BP_ERR_TOOBIG (over the 4 GiB limits of FDT offsets), BP_ERR_NOMEM,
 * BP_ERR_CODEC.
 */
int bp_fit_build(const struct bp_fit_build_opts *o, const char *out_path,
		 struct bp_fit_build_stats *st, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
