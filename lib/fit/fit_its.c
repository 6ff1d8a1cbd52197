// SPDX-License-Identifier: MIT
/*
 * bp_fit_build_its(): mkimage 2023.01 -f in one pass.
 *
 * mkimage runs dtc, packs the tree, then sets the timestamp, every hash
 * and every signature with libfdt, starting over with 1 KiB more room each
 * time the tree runs out of it (and giving up at 64 KiB), and last, with -E,
 * moves the data after the tree. Here dtc's output is mapped, the changes
 * are planned in mkimage's order by the signing planner (fit_sign_plan.c,
 * .its mode), and the tree is written once: its totalsize is the one
 * mkimage's retries end at (the packed tree plus the first whole KiB
 * that holds the additions), with no 64 KiB ceiling.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>

#include <bootpack/fit.h>
#include <bootpack/sign.h>

#include "fit_internal.h"
#include "fit_its.h"
#include "fit_sign.h"
#include "util/esc.h"
#include "util/util.h"

#define GROW_STEP 1024u

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_its_opts, ctx);

/* ---- What mkimage leaves for U-Boot to trip over, refused here ---- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every image name a configuration lists is one of @names (@n, sorted): one lookup each. */
static int check_refs(struct bpi_its *t, int conf, const char **names, size_t n)
{
	const void *fdt = t->map;

	for (size_t i = 0; i < BPI_FIT_N_IMAGE_PROPS; i++) {
		const char *prop = bpi_fit_image_props[i];
		int count = fdt_stringlist_count(fdt, conf, prop);

		for (int k = 0; k < count; k++) {
			const char *name = fdt_stringlist_get(fdt, conf, prop, k, NULL);

			if (name && !bsearch(&name, names, n, sizeof(*names), cmp_name))
				return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "/configurations/%s: "
						   "%s '%s' is not an image in /images",
						   BPI_ESC(fdt_get_name(fdt, conf, NULL)), prop,
						   BPI_ESC(name));
		}
	}
	return 0;
}

static int check_configs(struct bpi_its *t, int images, int confs)
{
	const void *fdt = t->map;
	const char **names = NULL;
	size_t n = 0, cap = 0;
	int node, ret = 0;

	fdt_for_each_subnode(node, fdt, images) {
		if (n == cap) {
			const char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				free(names);
				return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
			}
			names = v;
		}
		names[n++] = fdt_get_name(fdt, node, NULL);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	fdt_for_each_subnode(node, fdt, confs) {
		ret = check_refs(t, node, names, n);
		if (ret)
			break;
	}
	free(names);
	return ret;
}

static int check_tree(struct bpi_its *t)
{
	const void *fdt = t->map;
	int ret = bpi_fdt_check(t->map, t->map_len, t->path, t->d);
	int images, confs, node, len;
	const char *def;

	if (ret)
		return ret;
	images = fdt_path_offset(fdt, "/images");
	if (images < 0)
		return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "no /images node: not a FIT source");
	fdt_for_each_subnode(node, fdt, images)
		if (!fdt_getprop(fdt, node, "data", NULL))
			return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "/images/%s has no 'data' "
					   "(data = /incbin/(\"FILE\");)",
					   BPI_ESC(fdt_get_name(fdt, node, NULL)));
	confs = fdt_path_offset(fdt, "/configurations");
	if (confs < 0)
		return 0;
	ret = check_configs(t, images, confs);
	if (ret)
		return ret;
	def = fdt_getprop(fdt, confs, "default", &len);
	if (def && (len <= 0 || def[len - 1] || fdt_subnode_offset(fdt, confs, def) < 0))
		return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "/configurations: default '%s' is "
				   "not a configuration", def && len > 0 && !def[len - 1] ?
				   BPI_ESC(def) : "?");
	return 0;
}

/* ---- The output ---- */

/* mkimage's size: the packed tree grown by whole KiB until the additions fit. */
static uint64_t embedded_total(const struct sg_plan *p)
{
	uint64_t packed = (uint64_t)((int64_t)fdt_off_dt_strings(p->file) +
				     fdt_size_dt_strings(p->file) + p->tree.subst_growth);
	uint64_t used = p->tree.blob.len + p->tree.data_bytes;

	return used <= packed ? packed : packed + BPI_ALIGN_UP(used - packed, GROW_STEP);
}

static int write_external(struct bpi_its *t, struct sg_plan *p, struct bpi_output *out)
{
	uint64_t align = t->sg.align;
	uint64_t total = BPI_ALIGN_UP((uint64_t)p->tree.blob.len, align), at = total;
	int ret;

	if (t->o.position) {
		if (t->o.position < total)
			return bp_diag_set(t->d, BP_ERR_INVALID, t->path, "external data position "
					   "0x%x overlaps the tree (0x%llx bytes)", t->o.position,
					   (unsigned long long)total);
		at = t->o.position;
	}
	ret = bpi_sg_tree_write(&p->tree, (uint32_t)total, NULL, 0, true, out, t->d);
	if (!ret && at > total)
		ret = bpi_output_zero(out, (size_t)(at - total), t->d);
	for (size_t i = 0; !ret && i < p->tree.n_ext; i++) {
		const struct sg_data *x = &p->tree.ext[i];

		ret = bpi_sg_write_mapped(out, x->src, x->len, true, t->d);
		if (!ret)
			ret = bpi_output_zero(out, BPI_ALIGN_UP(x->len, align) - x->len, t->d);
		at += BPI_ALIGN_UP(x->len, align);
	}
	p->sizes[0] = at;
	p->sizes[1] = total;
	return ret;
}

static int write_fit(struct bpi_its *t, struct sg_plan *p, struct bpi_output *out)
{
	uint64_t total;

	if (t->o.external)
		return write_external(t, p, out);
	total = embedded_total(p);
	if (total > INT32_MAX)
		return bp_diag_set(t->d, BP_ERR_TOOBIG, t->path, "the FIT would pass 2 GiB: "
				   "store the data externally (-E)");
	p->sizes[0] = p->sizes[1] = total;
	return bpi_sg_tree_write(&p->tree, (uint32_t)total, NULL, 0, true, out, t->d);
}

/* mkimage -K: each key once, in the order first used; "required" as the last use says. */
static int add_keys(struct bpi_its *t, const char *dest)
{
	for (size_t i = 0; i < t->sg.n_keys; i++) {
		const struct sg_its_key *k = &t->sg.keys[i];
		struct bp_fit_key_add_opts ko = BP_FIT_KEY_ADD_OPTS_INIT;
		int ret;

		ko.key_name = k->name;
		ko.algo = k->algo;
		if (t->o.required)
			ko.required = k->conf ? BP_KEY_REQUIRED_CONF : BP_KEY_REQUIRED_IMAGE;
		ret = bp_fit_key_add(t->o.key_out, k->k, &ko, dest, t->d);
		if (ret)
			return ret;
	}
	return 0;
}

static int build(struct bpi_its *t, struct bp_fit_build_stats *st)
{
	struct bp_fit_sign_opts so = BP_FIT_SIGN_OPTS_INIT;
	struct sg_plan p = { .file = t->map, .len = t->map_len, .path = t->path, .d = t->d,
			     .mapped = true, .its = &t->sg, .subst = t->ib.n ? &t->tab : NULL,
			     .st = BP_FIT_SIGN_STATS_INIT };
	struct bp_fit_build_stats s = BP_FIT_BUILD_STATS_INIT;
	struct bpi_output out;
	int ret;

	so.has_timestamp = true;
	so.timestamp = t->o.timestamp;
	so.jobs = t->o.jobs;
	t->sg = (struct sg_its){ .keydir = t->o.keydir, .extract = t->o.external,
				 .position = t->o.position,
				 .align = t->o.align ? t->o.align : BP_FIT_EXTERNAL_ALIGN };
	ret = bpi_sg_run(&p, &so);
	if (!ret && t->o.key_out)
		ret = add_keys(t, "/dev/null");
	if (!ret)
		ret = bpi_output_open(&out, t->out_path, t->d);
	if (!ret) {
		ret = write_fit(t, &p, &out);
		if (ret)
			bpi_output_abort(&out);
		else
			ret = bpi_output_commit(&out, t->d);
	}
	if (!ret && t->o.key_out)
		ret = add_keys(t, t->o.key_out);
	if (!ret && st) {
		int confs = fdt_path_offset(t->map, "/configurations"), c;

		s.n_files = p.n_img;
		if (confs >= 0)
			fdt_for_each_subnode(c, t->map, confs)
				s.n_configs++;
		s.input_bytes = t->incbin_bytes;
		s.fit_size = p.sizes[0];
		s.fdt_size = p.sizes[1];
		bpi_struct_out(st, &s, sizeof(s));
	}
	bpi_sg_release(&p);
	for (size_t i = 0; i < t->sg.n_keys; i++) {
		free(t->sg.keys[i].name);
		bp_key_close(t->sg.keys[i].k);
	}
	free(t->sg.keys);
	return ret;
}

int bp_fit_build_its(const char *its, const struct bp_fit_its_opts *o, const char *out_path,
		     struct bp_fit_build_stats *st, struct bp_diag *d)
{
	struct bpi_its t = { .path = its, .out_path = out_path, .d = d };
	int ret;

	bp_diag_clear(d);
	if (!its || !out_path)
		return bp_diag_set(d, BP_ERR_INVALID, "", "the .its and output paths are required");
	ret = BPI_STRUCT_IN(&t.o, opts_v1, o, "bp_fit_its_opts", d);
	if (!ret && t.o.align && (t.o.align < 4 || (t.o.align & (t.o.align - 1))))
		ret = bp_diag_set(d, BP_ERR_INVALID, "", "external data alignment %u is not a power "
				  "of 2 of at least 4", t.o.align);
	if (!ret)
		ret = bpi_struct_out_check(st, BPI_SIZE_V1(struct bp_fit_build_stats, fdt_size),
					   "bp_fit_build_stats", d);
	if (!ret)
		ret = bpi_its_compile(&t);
	if (!ret)
		ret = check_tree(&t);
	if (!ret)
		ret = build(&t, st);
	for (size_t i = 0; i < t.argc; i++)
		free(t.argv[i]);
	free(t.argv);
	free(t.paths.include);
	bpi_unmap(t.map, t.map_len);
	for (size_t i = 0; t.sub && i < t.ib.n; i++)
		if (t.sub[i].len)
			bpi_unmap(t.sub[i].src, (size_t)t.sub[i].len);
	free(t.sub);
	bpi_its_incbins_free(&t.ib);
	return ret;
}
