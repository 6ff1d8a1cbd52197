/* SPDX-License-Identifier: MIT */
/*
 * The parts of a devicetree a U-Boot 2023.01 configuration signature covers
 * (bpi_: internal). U-Boot hashes the regions its fdt_find_regions() finds
 * for the node paths in "hashed-nodes", leaving out the data properties, then
 * the strings block up to "hashed-strings". Signing and verifying must hash
 * exactly those bytes, quirks included (a skipped node's END tag that closes
 * an included descendant is hashed; siblings' begin tags are).
 *
 * fdt_find_regions() walks the whole tree per configuration. Here the tree is
 * indexed once (tokens, nodes, a path table) and each configuration's
 * regions come from the few nodes it lists plus their ancestors, jumping
 * over everything else: linear in the configurations, not quadratic. A plain
 * full walk (bpi_fdt_regions_ref) is kept as the reference the unit test
 * compares the fast one against.
 */
#ifndef BP_FDT_REGION_H
#define BP_FDT_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>

/* U-Boot 2023.01's limits in fit_config_check_sig() and fdt_find_regions(). */
#define BPI_SIG_MAX_HASHED_NODES 100  /* IMAGE_MAX_HASHED_NODES */
#define BPI_SIG_PATH_MAX 200          /* its path buffer */
#define BPI_SIG_MAX_DEPTH 32          /* FDT_MAX_DEPTH */
#define BPI_SIG_MAX_SIZE 0x10000000u  /* CONFIG_FIT_SIGNATURE_MAX_SIZE default */

/* fdt_find_regions() is given this many slots for @n hashed nodes (max_regions - 1). */
#define BPI_SIG_REGIONS_MAX(n) (19 + 7 * (size_t)(n))

struct bpi_fdt_region {
	uint32_t off;    /* from the start of the blob */
	uint32_t size;
};

/* Why a region list could not be made, as U-Boot would say it. */
enum bpi_region_err {
	BPI_REGION_OK = 0,
	BPI_REGION_WALK,      /* fdt_find_regions fails: "Failed to hash configuration" */
	BPI_REGION_TOO_MANY,  /* "Too many hash regions" */
	BPI_REGION_NONE,      /* "No data to hash" */
	BPI_REGION_NOMEM,
};

const char *bpi_region_err_str(enum bpi_region_err e);

struct bpi_fdt_index;

/*
 * Index the devicetree at @fdt (already checked by bpi_fdt_check(), so
 * every token is in bounds). The index points into @fdt, which must stay.
 */
int bpi_fdt_index_build(const void *fdt, struct bpi_fdt_index **out, struct bp_diag *d);
void bpi_fdt_index_free(struct bpi_fdt_index *ix);

/* Number of nodes; node ids are 0..n-1 in document order. */
size_t bpi_fdt_index_nodes(const struct bpi_fdt_index *ix);
/*
 * The nodes whose full path (as U-Boot builds it: "/", "/images/kernel") is
 * the @len bytes at @path: the first id, or -1; bpi_fdt_index_next_same()
 * gives the next node with that path (a tree may repeat a name), or -1.
 */
int32_t bpi_fdt_index_find(const struct bpi_fdt_index *ix, const char *path, size_t len);
int32_t bpi_fdt_index_next_same(const struct bpi_fdt_index *ix, int32_t node);
/* The full path of @node (NUL-terminated, inside the index) and its length. */
const char *bpi_fdt_index_path(const struct bpi_fdt_index *ix, int32_t node, size_t *len);
/* Offset of @node's FDT_BEGIN_NODE tag in the structure block (libfdt's node offset). */
int bpi_fdt_index_offset(const struct bpi_fdt_index *ix, int32_t node);
/* The id of the node at libfdt offset @offset, or -1. */
int32_t bpi_fdt_index_at(const struct bpi_fdt_index *ix, int offset);

/*
 * The regions fdt_find_regions() finds when the nodes @listed (@n ids, in
 * any order, repeats allowed) are included and the data properties
 * excluded, without the strings block, limited as fit_config_check_sig()
 * limits them for @n_paths hashed-nodes entries: at most
 * BPI_SIG_REGIONS_MAX(@n_paths) - 1 regions fit. @out must have room for
 * BPI_SIG_REGIONS_MAX(@n_paths) + 1 entries; *@count gets the number used.
 */
enum bpi_region_err bpi_fdt_regions(const struct bpi_fdt_index *ix, const int32_t *listed,
				    size_t n, size_t n_paths, struct bpi_fdt_region *out,
				    size_t *count);

/*
 * The same by walking the whole tree at @fdt, as fdt_find_regions() does,
 * with the hashed-nodes @paths: slow, obviously faithful, for tests.
 */
enum bpi_region_err bpi_fdt_regions_ref(const void *fdt, const char *const *paths, size_t n,
					struct bpi_fdt_region *out, size_t *count);

#endif
