/* SPDX-License-Identifier: MIT */
/* Internal model of a FIT being built: what fit_gather.c gathers, fit_write.c writes. */
#ifndef BP_FIT_INTERNAL_H
#define BP_FIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/buf.h>
#include <bootpack/fit.h>
#include <bootpack/hash.h>

struct bpi_fit_image {
	char node[32];            /* "kernel", "ramdisk", "fdt-N" */
	const char *description;
	const char *type;         /* "kernel_noload", "ramdisk", "flat_dt" */
	const char *compression;  /* FIT name of what data holds */
	bool has_os;              /* kernel and ramdisk carry "os" */
	bool has_load;            /* load = <load> */
	bool has_entry;           /* entry = <entry> */
	uint64_t load, entry;
	bool is_fdt;              /* placed 8-aligned with external data */
};

struct bpi_fit_config {
	const char *description;  /* the DTB's root "model" */
	const void *compatible;   /* the DTB's root "compatible", raw stringlist */
	int compatible_len;
	const size_t *fdts;       /* indices into the image array */
	size_t n_fdts;
};

struct bpi_fit {
	const char *name;
	const char *arch;
	const char *os;
	uint32_t timestamp;
	const struct bpi_fit_image *images;
	size_t n_images;
	const struct bpi_fit_config *configs;
	size_t n_configs;
	bool has_ramdisk;         /* every configuration names "ramdisk" */
	bool external;
	uint32_t align;           /* external data alignment, >= 4 */
	const enum bp_hash_algo *hashes; /* hash-N nodes written under every image */
	size_t n_hashes;
	const char *default_config;      /* or NULL */
	uint32_t address_cells;          /* 1, or 2 when an address needs 64 bits */
};

/*
 * Writing a FIT as its images' bytes arrive, without holding them: the
 * tree is laid out first with empty data and hash values, then each image
 * is written in order (begin, data..., end with its hash values) and the
 * tree's sizes and offsets are patched when done, so the output must take
 * patches (a seekable fd, or a callback given the whole FIT at the end). A
 * path is replaced atomically.
 */
struct bpi_fit_writer;

struct bp_sink;

/* @out must be checked (bpi_struct_in) by the caller. */
int bpi_fit_writer_open(struct bpi_fit_writer **fw, const struct bpi_fit *f,
			const struct bp_sink *out, struct bp_diag *d);
int bpi_fit_writer_begin(struct bpi_fit_writer *fw, struct bp_diag *d);
int bpi_fit_writer_data(struct bpi_fit_writer *fw, const void *p, size_t n, struct bp_diag *d);
/* @hashes: one value per bpi_fit.hashes entry, over the bytes written. */
int bpi_fit_writer_end(struct bpi_fit_writer *fw, const uint8_t (*hashes)[BP_HASH_MAX_LEN],
		       struct bp_diag *d);
/* Commit the output, fill the size fields of @st (may be NULL) and free @fw. */
int bpi_fit_writer_finish(struct bpi_fit_writer *fw, struct bp_fit_build_stats *st,
			  struct bp_diag *d);
/* Drop the output and free @fw; NULL is fine. */
void bpi_fit_writer_abort(struct bpi_fit_writer *fw);

/*
 * Check that @len bytes at @p, read from @path, hold one well-formed
 * devicetree blob (header, totalsize within the file, full structure).
 */
int bpi_fdt_check(const void *p, size_t len, const char *path, struct bp_diag *d);

/*
 * For a composite DTB @dtb_path, read Kbuild's ".NAME.dtb.cmd" next to it.
 * If it was made by fdtoverlay, store the base and overlay paths in @files
 * (a NULL-terminated array of strings the caller frees with
 * bpi_strv_free()); otherwise @files holds just @dtb_path.
 */
int bpi_decompose_dtb(const char *dtb_path, char ***files, struct bp_diag *d);
void bpi_strv_free(char **v);

/* The whole file of @fit (its devicetree first), checked by bpi_fdt_check(). */
const uint8_t *bpi_fit_file(const struct bp_fit *fit, size_t *len);

/* The configuration properties that name images, as U-Boot 2023.01 loads them. */
extern const char *const bpi_fit_image_props[];
#define BPI_FIT_N_IMAGE_PROPS 8

/* The path (or name) a FIT was opened under, and whether it names a file. */
const char *bpi_fit_name(const struct bp_fit *fit);
bool bpi_fit_from_file(const struct bp_fit *fit);

/*
 * Whether image @i (its subnode @sub, e.g. "hash-1", when not NULL) has
 * property @prop at all: tells a malformed property, which reads as NULL,
 * from a missing one.
 */
bool bpi_fit_image_has_prop(const struct bp_fit *fit, size_t i, const char *sub,
			    const char *prop);

#endif
