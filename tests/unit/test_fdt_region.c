// SPDX-License-Identifier: MIT
/*
 * The indexed region walk (lib/fit/fdt_region.c) against the plain
 * full-tree walk (fdt_region_ref.c): many random trees (repeated names,
 * NOPs, data properties, deep and wide nodes) and random hashed-nodes lists
 * (listed nodes under unlisted ones, missing and repeated paths) must give
 * identical region lists, or the same failure. Then fixed cases pin the
 * quirks and U-Boot's limits on both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "fit/fdt_region.h"

#define TREE_MAX (256 * 1024)
#define PATHS_MAX 64

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

struct gen {
	uint8_t *buf;
	char (*paths)[256];
	size_t n_paths, cap_paths;
	int nodes;
};

static const char *const node_names[] = { "images", "configurations", "kernel", "fdt-1",
					  "hash-1", "signature-1", "a", "b", "conf-1" };
static const char *const prop_names[] = { "data", "data-size", "data-position",
					  "data-offset", "description", "value", "algo",
					  "kernel", "fdt", "x" };

static void gen_node(struct gen *g, const char *path, int depth, int max_depth)
{
	int n_props = (int)rnd(5), n_kids = depth < max_depth ? (int)rnd(depth ? 4 : 6) : 0;

	if (g->n_paths < g->cap_paths)
		snprintf(g->paths[g->n_paths++], 256, "%s", path);
	g->nodes++;
	for (int i = 0; i < n_props; i++) {
		uint8_t v[40];
		int len = (int)rnd(sizeof(v));

		memset(v, rnd(256), sizeof(v));
		assert_int_equal(fdt_property(g->buf, prop_names[rnd(10)], v, len), 0);
	}
	for (int i = 0; i < n_kids; i++) {
		const char *name = node_names[rnd(9)];
		char sub[256];

		snprintf(sub, sizeof(sub), "%s%s%s", path, strcmp(path, "/") ? "/" : "", name);
		assert_int_equal(fdt_begin_node(g->buf, name), 0);
		gen_node(g, sub, depth + 1, max_depth);
		assert_int_equal(fdt_end_node(g->buf), 0);
	}
}

/* A random tree, packed, with some properties and nodes turned into NOPs. */
static void make_tree(struct gen *g)
{
	g->n_paths = 0;
	g->nodes = 0;
	assert_int_equal(fdt_create(g->buf, TREE_MAX), 0);
	assert_int_equal(fdt_finish_reservemap(g->buf), 0);
	assert_int_equal(fdt_begin_node(g->buf, ""), 0);
	gen_node(g, "/", 0, 1 + (int)rnd(4));
	assert_int_equal(fdt_end_node(g->buf), 0);
	assert_int_equal(fdt_finish(g->buf), 0);
	assert_int_equal(fdt_open_into(g->buf, g->buf, TREE_MAX), 0);
	for (int k = (int)rnd(4); k > 0; k--) {
		int node = 0, depth = 0, target = (int)rnd((uint32_t)g->nodes);

		for (int i = 0; i < target && node >= 0; i++)
			node = fdt_next_node(g->buf, node, &depth);
		if (node <= 0)
			continue;
		if (rnd(3) == 0) {
			fdt_nop_node(g->buf, node);
		} else {
			int prop = fdt_first_property_offset(g->buf, node);

			if (prop >= 0) {
				const struct fdt_property *p =
					fdt_get_property_by_offset(g->buf, prop, NULL);

				fdt_nop_property(g->buf, node, fdt_string(g->buf,
						 (int)fdt32_to_cpu(p->nameoff)));
			}
		}
	}
	assert_int_equal(fdt_pack(g->buf), 0);
	assert_int_equal(fdt_check_full(g->buf, fdt_totalsize(g->buf)), 0);
}

/* Node ids of every node at @path (the fast walk's input). */
static size_t resolve(const struct bpi_fdt_index *ix, const char *const *paths, size_t n,
		      int32_t *ids, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		for (int32_t x = bpi_fdt_index_find(ix, paths[i], strlen(paths[i])); x >= 0;
		     x = bpi_fdt_index_next_same(ix, x))
			if (k < cap)
				ids[k++] = x;
	return k;
}

static void compare(const void *fdt, const struct bpi_fdt_index *ix, const char *const *paths,
		    size_t n)
{
	size_t cap = BPI_SIG_REGIONS_MAX(n) + 1, c_ref = 0, c_fast = 0, n_ids;
	struct bpi_fdt_region *r_ref = calloc(cap, sizeof(*r_ref));
	struct bpi_fdt_region *r_fast = calloc(cap, sizeof(*r_fast));
	int32_t ids[4096];
	enum bpi_region_err e_ref, e_fast;

	assert_non_null(r_ref);
	assert_non_null(r_fast);
	n_ids = resolve(ix, paths, n, ids, 4096);
	e_ref = bpi_fdt_regions_ref(fdt, paths, n, r_ref, &c_ref);
	e_fast = bpi_fdt_regions(ix, ids, n_ids, n, r_fast, &c_fast);
	assert_int_equal(e_fast, e_ref);
	if (e_ref == BPI_REGION_OK) {
		assert_int_equal(c_fast, c_ref);
		assert_memory_equal(r_fast, r_ref, c_ref * sizeof(*r_ref));
	}
	free(r_ref);
	free(r_fast);
}

static void test_random_trees(void **state)
{
	struct gen g = { .buf = malloc(TREE_MAX), .cap_paths = 4096 };
	const char *list[PATHS_MAX];
	char extra[4][64];
	size_t ok = 0, total = 0;

	(void)state;
	g.paths = malloc(g.cap_paths * sizeof(*g.paths));
	assert_non_null(g.buf);
	assert_non_null(g.paths);
	rng_state = 0x9e3779b97f4a7c15ull;
	for (int t = 0; t < 1500; t++) {
		struct bpi_fdt_index *ix;

		make_tree(&g);
		assert_int_equal(bpi_fdt_index_build(g.buf, &ix, NULL), 0);
		for (int l = 0; l < 12; l++) {
			size_t n = rnd(l < 2 ? 3 : 14);

			/* Paths from the tree (before NOPs: some now name nothing), some not. */
			for (size_t i = 0; i < n; i++) {
				if (rnd(8) == 0) {
					snprintf(extra[i % 4], sizeof(extra[0]), "/%s/%s",
						 node_names[rnd(9)], node_names[rnd(9)]);
					list[i] = extra[i % 4];
				} else {
					list[i] = g.paths[rnd((uint32_t)g.n_paths)];
				}
			}
			if (rnd(3))
				list[n++] = "/";
			compare(g.buf, ix, list, n);
			total++;
		}
		bpi_fdt_index_free(ix);
	}
	/* The comparison means something only if most lists gave regions. */
	for (int t = 0; t < 50; t++) {
		struct bpi_fdt_index *ix;
		size_t c = 0;
		struct bpi_fdt_region r[BPI_SIG_REGIONS_MAX(1) + 1];
		int32_t root = 0;

		make_tree(&g);
		assert_int_equal(bpi_fdt_index_build(g.buf, &ix, NULL), 0);
		ok += bpi_fdt_regions(ix, &root, 1, 1, r, &c) == BPI_REGION_OK && c >= 1;
		bpi_fdt_index_free(ix);
	}
	assert_true(ok >= 40);
	assert_true(total == 1500 * 12);
	free(g.paths);
	free(g.buf);
}

/* A FIT-shaped tree: the regions for conf-1, worked out by hand. */
static void test_fit_shape(void **state)
{
	static uint8_t buf[4096];
	const char *paths[] = { "/", "/configurations/conf-1", "/images/kernel",
				"/images/kernel/hash-1" };
	struct bpi_fdt_region r[BPI_SIG_REGIONS_MAX(4) + 1];
	struct bpi_fdt_index *ix;
	int32_t ids[8];
	size_t c = 0, n;
	int kernel, data, fdt1, confs, conf1, sig, conf2;

	(void)state;
	assert_int_equal(fdt_create(buf, sizeof(buf)), 0);
	assert_int_equal(fdt_finish_reservemap(buf), 0);
	assert_int_equal(fdt_begin_node(buf, ""), 0);
	assert_int_equal(fdt_property_string(buf, "description", "d"), 0);
	assert_int_equal(fdt_begin_node(buf, "images"), 0);
	assert_int_equal(fdt_begin_node(buf, "kernel"), 0);
	assert_int_equal(fdt_property_string(buf, "type", "kernel"), 0);
	assert_int_equal(fdt_property(buf, "data", "abcdefgh", 8), 0);
	assert_int_equal(fdt_property_string(buf, "arch", "arm64"), 0);
	assert_int_equal(fdt_begin_node(buf, "hash-1"), 0);
	assert_int_equal(fdt_property_string(buf, "algo", "sha256"), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_begin_node(buf, "fdt-1"), 0);
	assert_int_equal(fdt_property_string(buf, "type", "flat_dt"), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_begin_node(buf, "configurations"), 0);
	assert_int_equal(fdt_property_string(buf, "default", "conf-1"), 0);
	assert_int_equal(fdt_begin_node(buf, "conf-1"), 0);
	assert_int_equal(fdt_property_string(buf, "kernel", "kernel"), 0);
	assert_int_equal(fdt_begin_node(buf, "signature-1"), 0);
	assert_int_equal(fdt_property_string(buf, "algo", "sha256,rsa2048"), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_begin_node(buf, "conf-2"), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_finish(buf), 0);

	kernel = fdt_path_offset(buf, "/images/kernel");
	data = fdt_first_property_offset(buf, kernel);
	data = fdt_next_property_offset(buf, data);
	fdt1 = fdt_path_offset(buf, "/images/fdt-1");
	confs = fdt_path_offset(buf, "/configurations");
	conf1 = fdt_path_offset(buf, "/configurations/conf-1");
	sig = fdt_path_offset(buf, "/configurations/conf-1/signature-1");
	conf2 = fdt_path_offset(buf, "/configurations/conf-2");
	assert_int_equal(bpi_fdt_index_build(buf, &ix, NULL), 0);
	n = resolve(ix, paths, 4, ids, 8);
	assert_int_equal(n, 4);
	assert_int_equal(bpi_fdt_regions(ix, ids, n, 4, r, &c), BPI_REGION_OK);
	{
		uint32_t base = fdt_off_dt_struct(buf);
		int sig_props = fdt_first_property_offset(buf, sig);
		int sig_end = sig_props + (int)sizeof(struct fdt_property) +
			      16; /* "sha256,rsa2048" and its NUL, 4-aligned */
		/* root to kernel's "type"; kernel after "data" to its END; /images END
		   and /configurations BEGIN; conf-1 to the signature's props; the
		   signature's END and conf-1's END; /configurations END, root END, FDT_END. */
		assert_int_equal(r[0].off, base);
		assert_int_equal(r[0].size, (uint32_t)data);
		assert_int_equal(r[1].off, base + (uint32_t)data + 12 + 8);
		assert_int_equal(r[1].size, (uint32_t)(fdt1 - (data + 12 + 8)));
		/* fdt-1 is skipped; /images' END tag and /configurations' BEGIN follow. */
		assert_int_equal(r[2].off, base + (uint32_t)confs - 4);
		/* "default" is not hashed: /configurations is not listed. */
		assert_int_equal(r[2].size, 4 + (uint32_t)(fdt_first_property_offset(buf, confs) -
							    confs));
		assert_int_equal(r[3].off, base + (uint32_t)conf1);
		assert_int_equal(r[3].size, (uint32_t)(sig_props - conf1));
		/* The signature's END, conf-1's END, then conf-2 is skipped whole. */
		assert_int_equal(r[4].off, base + (uint32_t)sig_end);
		assert_int_equal(r[4].size, 8);
		assert_int_equal(r[5].off, base + (uint32_t)conf2 + 16);
		assert_int_equal(r[5].size, 4 + 4 + 4);
		assert_int_equal(c, 6);
	}
	compare(buf, ix, paths, 4);
	bpi_fdt_index_free(ix);
}

/* U-Boot's limits: 32 levels, a 200-byte path; and hashed-nodes sizes give the region cap. */
static void test_limits(void **state)
{
	static uint8_t buf[16384];
	const char *root[] = { "/" };
	struct bpi_fdt_region r[BPI_SIG_REGIONS_MAX(1) + 1];
	struct bpi_fdt_index *ix;
	int32_t id = 0;
	size_t c;
	char name[200];

	(void)state;
	for (int depth = 31; depth <= 32; depth++) {
		assert_int_equal(fdt_create(buf, sizeof(buf)), 0);
		assert_int_equal(fdt_finish_reservemap(buf), 0);
		assert_int_equal(fdt_begin_node(buf, ""), 0);
		for (int i = 0; i < depth; i++)
			assert_int_equal(fdt_begin_node(buf, "n"), 0);
		for (int i = 0; i <= depth; i++)
			assert_int_equal(fdt_end_node(buf), 0);
		assert_int_equal(fdt_finish(buf), 0);
		assert_int_equal(bpi_fdt_index_build(buf, &ix, NULL), 0);
		assert_int_equal(bpi_fdt_regions(ix, &id, 1, 1, r, &c),
				 depth == 32 ? BPI_REGION_WALK : BPI_REGION_OK);
		compare(buf, ix, root, 1);
		bpi_fdt_index_free(ix);
	}
	/* "/" + a/ + name: U-Boot refuses once parent length + 2 + name length reaches 200. */
	for (int len = 195; len <= 197; len++) {
		memset(name, 'x', (size_t)len);
		name[len] = '\0';
		assert_int_equal(fdt_create(buf, sizeof(buf)), 0);
		assert_int_equal(fdt_finish_reservemap(buf), 0);
		assert_int_equal(fdt_begin_node(buf, ""), 0);
		assert_int_equal(fdt_begin_node(buf, "a"), 0);
		assert_int_equal(fdt_begin_node(buf, name), 0);
		assert_int_equal(fdt_end_node(buf), 0);
		assert_int_equal(fdt_end_node(buf), 0);
		assert_int_equal(fdt_end_node(buf), 0);
		assert_int_equal(fdt_finish(buf), 0);
		assert_int_equal(bpi_fdt_index_build(buf, &ix, NULL), 0);
		assert_int_equal(bpi_fdt_regions(ix, &id, 1, 1, r, &c),
				 len >= 196 ? BPI_REGION_WALK : BPI_REGION_OK);
		compare(buf, ix, root, 1);
		bpi_fdt_index_free(ix);
	}
	/* Many excluded properties in a listed node: one region each, past the cap. */
	assert_int_equal(fdt_create(buf, sizeof(buf)), 0);
	assert_int_equal(fdt_finish_reservemap(buf), 0);
	assert_int_equal(fdt_begin_node(buf, ""), 0);
	for (int i = 0; i < 30; i++) {
		assert_int_equal(fdt_property_u32(buf, "x", 1), 0);
		assert_int_equal(fdt_property_u32(buf, "data", 1), 0);
	}
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_finish(buf), 0);
	assert_int_equal(bpi_fdt_index_build(buf, &ix, NULL), 0);
	assert_int_equal(bpi_fdt_regions(ix, &id, 1, 1, r, &c), BPI_REGION_TOO_MANY);
	compare(buf, ix, root, 1);
	bpi_fdt_index_free(ix);
}

/* Linear in configurations: 5,000 configurations' regions from one index, each fast. */
static void test_many_configs(void **state)
{
	size_t n_conf = 5000, cap = 64 * n_conf * 2 + 4096;
	uint8_t *buf = malloc(cap);
	struct bpi_fdt_index *ix;
	char name[32], path[64], fdt_path[64];

	(void)state;
	assert_non_null(buf);
	assert_int_equal(fdt_create(buf, (int)cap), 0);
	assert_int_equal(fdt_finish_reservemap(buf), 0);
	assert_int_equal(fdt_begin_node(buf, ""), 0);
	assert_int_equal(fdt_begin_node(buf, "images"), 0);
	for (size_t i = 0; i < n_conf; i++) {
		snprintf(name, sizeof(name), "fdt-%zu", i);
		assert_int_equal(fdt_begin_node(buf, name), 0);
		assert_int_equal(fdt_property_u32(buf, "data-size", 4), 0);
		assert_int_equal(fdt_end_node(buf), 0);
	}
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_begin_node(buf, "configurations"), 0);
	for (size_t i = 0; i < n_conf; i++) {
		snprintf(name, sizeof(name), "conf-%zu", i);
		assert_int_equal(fdt_begin_node(buf, name), 0);
		assert_int_equal(fdt_end_node(buf), 0);
	}
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_finish(buf), 0);
	assert_int_equal(bpi_fdt_index_build(buf, &ix, NULL), 0);
	for (size_t i = 0; i < n_conf; i++) {
		const char *paths[3] = { "/", path, fdt_path };
		int32_t ids[3];
		struct bpi_fdt_region r[BPI_SIG_REGIONS_MAX(3) + 1];
		size_t c;

		snprintf(path, sizeof(path), "/configurations/conf-%zu", i);
		snprintf(fdt_path, sizeof(fdt_path), "/images/fdt-%zu", i);
		assert_int_equal(resolve(ix, paths, 3, ids, 3), 3);
		assert_int_equal(bpi_fdt_regions(ix, ids, 3, 3, r, &c), BPI_REGION_OK);
		if (i % 1000 == 0)
			compare(buf, ix, paths, 3);
	}
	bpi_fdt_index_free(ix);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_shape),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_random_trees),
		cmocka_unit_test(test_many_configs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
