/* SPDX-License-Identifier: MIT */
/*
 * Signing a FIT (bpi_: internal), in three parts: fit_sign.c reads the FIT,
 * plans every change as mkimage 2023.01 would make it (hash values, hash
 * nodes added, signature nodes and their properties, the strings each one
 * appends) and signs; fit_sign_tree.c writes the planned tree as a
 * "skeleton" (embedded data left out: no signature covers it, so regions are
 * found and signed on the skeleton) and finally the output file, data put
 * back; fit_sign_build.c runs it on a FIT bp_fit_build() has just made.
 */
#ifndef BP_FIT_SIGN_H
#define BP_FIT_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/buf.h>
#include <bootpack/error.h>
#include <bootpack/sign.h>
#include <string.h>

#define SG_MAX_PROPS 12

/* A property set on a node, as fdt_setprop() sets it: replaced in place, or new and put first. */
struct sg_prop {
	const char *name;
	const void *val;       /* NULL: @len zero bytes, filled in later through @slot */
	uint32_t len;
	uint32_t nameoff;      /* in the output strings block */
	bool exists;           /* the node has it already */
	size_t slot;           /* where the value landed in the skeleton */
};

/* The changes to one node of the input, or a node added. */
struct sg_edit {
	int in_off;            /* the input node's offset; -1 for a node added */
	char name[40];         /* an added node's name */
	struct sg_prop prop[SG_MAX_PROPS];
	size_t n_prop;         /* in the order mkimage sets them */
	struct sg_edit *first; /* a node added as the first subnode (a hash node) */
	struct sg_edit *last;  /* a node added as the last subnode (a signature) */
	bool extract;          /* .its with -E: the node's "data" moves after the tree */
};

/* An embedded "data" property left out of the skeleton. */
struct sg_data {
	size_t hdr;            /* skeleton offset of the property's FDT_PROP tag */
	const uint8_t *src;
	uint32_t len;
};

/*
 * .its builds: "data" values bootpack reads itself. dtc compiled a marker
 * (BPI_SG_MARK_LEN bytes naming entry i) in their place; the file's bytes
 * stand for it everywhere (hashes, the tree written).
 */
#define BPI_SG_MARK_LEN 16
struct sg_subst {
	const uint8_t *src;
	uint64_t len;
};

struct sg_subst_tab {
	const struct sg_subst *v;
	size_t n;
};

/* The marker of entry @i, into @out (BPI_SG_MARK_LEN bytes). */
void bpi_sg_mark(uint8_t *out, uint32_t i);

/* The bytes a value stands for: itself, or the file of the marker it is. */
void bpi_sg_subst(const struct sg_subst_tab *tab, const uint8_t **val, uint64_t *len);

/* The output tree without its embedded data. */
struct sg_tree {
	struct bp_buf blob;    /* a complete devicetree: the embedded "data" values are empty */
	struct sg_data *data;
	size_t n_data, cap_data;
	size_t *positions;     /* skeleton offsets of every "data-position" value */
	size_t n_positions, cap_positions;
	uint64_t data_bytes;   /* what the embedded data adds to the structure block, padded */
	struct sg_data *ext;   /* .its with -E: the "data" values taken out, in tree order */
	size_t n_ext, cap_ext;
	int64_t subst_growth;  /* what the substituted values add to the structure block */
};

/*
 * Write the skeleton of @fdt (checked) with @edits (@n, sorted by input
 * offset; added nodes hang off them) and the strings block @strings.
 */
int bpi_sg_tree_build(const uint8_t *fdt, struct sg_edit *const *edits, size_t n,
		      const struct bp_buf *strings, const struct sg_subst_tab *subst,
		      struct sg_tree *t, const char *path, struct bp_diag *d);
void bpi_sg_tree_free(struct sg_tree *t);

struct bpi_output;

/* Write @n bytes of @p (a file mapping when @mapped: its pages are dropped once written). */
int bpi_sg_write_mapped(struct bpi_output *out, const uint8_t *p, uint64_t n, bool mapped,
			struct bp_diag *d);

/*
 * Write the FIT: the skeleton with its data put back, zeros up to
 * totalsize @total, then @tail (the external data, placed by the caller); @mapped:
 * data and tail are pages of a file mapping, dropped once written.
 */
int bpi_sg_tree_write(struct sg_tree *t, uint32_t total, const uint8_t *tail, uint64_t tail_len,
		      bool mapped, struct bpi_output *out, struct bp_diag *d);

/*
 * Sign the FIT held in memory at @file (@len bytes, named @path in
 * messages) into @out (opened by the caller, committed or aborted by it).
 * @trust_hashes: the hash values are known right (a FIT just built), so
 * they are not computed again. @mapped: @file is a file mapping
 * (bpi_map_file), whose pages are dropped once used. @sizes (may be NULL) gets the bytes written
 * and the devicetree's totalsize.
 */
int bpi_fit_sign_mem(const uint8_t *file, size_t len, const char *path, const struct bp_key *k,
		     const struct bp_fit_sign_opts *o, bool trust_hashes, bool mapped,
		     struct bpi_output *out, struct bp_fit_sign_stats *st, uint64_t sizes[2],
		     struct bp_diag *d);

/* ---- Shared by fit_sign.c, fit_sign_read.c and fit_sign_plan.c ---- */

#include <bootpack/hash.h>

#include "fdt_region.h"
#include "sig/sig.h"

struct sg_hash {
	int off;                   /* the hash node, or -1 for the one added */
	enum bp_hash_algo algo;
	bool compute;              /* its value is (re)computed */
	uint8_t value[BP_HASH_MAX_LEN];
};

struct sg_image {
	const char *name;
	int off;
	struct sg_edit *edit;      /* the image node's edit */
	uint8_t ext[8];            /* .its with -E: data-offset (or -position), data-size */
	const uint8_t *data;
	uint64_t size;
	struct sg_hash *hashes;
	size_t n_hashes;
	bool added_hash;           /* hashes[0] is a hash-1 node bootpack adds */
	char path[BPI_SIG_PATH_MAX];
};

/* One signature to make. */
struct sg_sign {
	bool config;
	const struct bp_key *k;
	size_t index;              /* the image or configuration */
	struct bpi_sig_algo algo;
	struct sg_prop *value;
	char *nodes;               /* config: hashed-nodes, a stringlist */
	size_t nodes_len, n_nodes;
	uint8_t strings[8];        /* hashed-strings: 0, then the strings size signed */
	uint32_t strings_size;
	char *sign_images;         /* a sign-images list bootpack writes */
};

struct img_name {
	const char *name;
	size_t index;
};

/* A key of an .its's key-name-hint, opened from the key directory. */
struct sg_its_key {
	char *name;
	struct bp_key *k;
	const char *algo;          /* the algo of a signature it makes (for -K) */
	bool conf;                 /* it signs a configuration (-K -r: required "conf") */
};

/* mkimage -f's processing of a tree dtc has just compiled (fit_its.c). */
struct sg_its {
	const char *keydir;        /* NULL: signature nodes stay unsigned, as mkimage without -k */
	bool extract;              /* -E */
	uint32_t position;         /* -p; 0: data-offset */
	uint32_t align;            /* -B: each piece and the tree's end; a power of 2 */
	struct sg_its_key *keys;
	size_t n_keys;
};

struct sg_plan {
	const uint8_t *file;
	size_t len;
	const char *path;
	const struct bp_key *k;
	struct bp_fit_sign_opts o;
	const char *key_name;
	bool trust_hashes;
	bool mapped;               /* the file is mapped: drop pages once used */
	struct bp_diag *d;
	struct sg_image *img;
	size_t n_img;
	struct img_name *img_sorted; /* image names, sorted, for lookups by name */
	struct sg_edit **edits;    /* every edit of an input node */
	size_t n_edits, cap_edits;
	struct sg_edit **added;    /* added nodes, to free */
	size_t n_added, cap_added;
	struct sg_sign **signs;    /* each allocated once: properties point into them */
	size_t n_signs, cap_signs;
	struct bp_buf strings;     /* the output strings block as it grows */
	uint8_t timestamp[4];
	const char *signer_name, *signer_version;
	struct sg_tree tree;
	struct bpi_fdt_index *ix;
	struct bp_fit_sign_stats st;
	struct bp_diag *job_diag;  /* one per job */
	uint64_t sizes[2];         /* bytes written, devicetree totalsize */
	struct sg_its *its;        /* NULL: bp_fit_sign() */
	const struct sg_subst_tab *subst; /* .its: data bootpack reads itself; may be NULL */
	char its_node[BPI_SIG_PATH_MAX + 64]; /* the .its node being planned, for messages */
};

static inline bool sg_starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* BP_ERR_FORMAT with "cannot sign: " and the message. */
int bpi_sg_fail(struct sg_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fit_sign_read.c: refuse what U-Boot refuses; the images, their data and hash nodes. */
int bpi_sg_read(struct sg_plan *p);
struct sg_image *bpi_sg_find_image(const struct sg_plan *p, const char *name);

/* fit_sign_plan.c: every change, in mkimage's order; p->edits sorted by offset. */
int bpi_sg_plan(struct sg_plan *p);

/* fit_its_key.c: the key for key-name-hint @name (opened once), into p->k. */
int bpi_sg_its_key(struct sg_plan *p, int sig_node, bool config);

/* fit_sign.c: the steps of bpi_fit_sign_mem() up to the signatures, and releasing the plan. */
int bpi_sg_run(struct sg_plan *p, const struct bp_fit_sign_opts *o);
void bpi_sg_release(struct sg_plan *p);

#endif
