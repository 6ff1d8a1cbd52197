// SPDX-License-Identifier: MIT
/*
 * bp_fit_sign(): what `mkimage -F -k` does to a FIT, in one pass.
 *
 * mkimage re-opens and grows the tree for every property it sets, and walks
 * the whole tree for every configuration it signs. Here the input is read
 * once (fit_sign_read.c) and its images hashed side by side, every change is
 * planned in mkimage's order (fit_sign_plan.c), the tree is written once
 * (fit_sign_tree.c) and indexed once (fdt_region.c), and the signatures are
 * made side by side, each from its configuration's few nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/fit.h>

#include "fdt_region.h"
#include "fit_internal.h"
#include "fit_sign.h"
#include "hash/hasher.h"
#include "sig/sig.h"
#include "util/esc.h"
#include "util/util.h"

/* A mapped image's hashes a piece at a time, each piece dropped once hashed. */
static int hash_pieces(struct sg_image *im, struct bp_diag *d)
{
	const uint64_t piece = (uint64_t)8 << 20;
	struct bpi_hasher *hs = calloc(im->n_hashes + 1, sizeof(*hs));
	int ret = hs ? 0 : BP_ERR_NOMEM;

	for (size_t h = 0; h < im->n_hashes && !ret; h++)
		if (im->hashes[h].compute)
			ret = bpi_hasher_init(&hs[h], im->hashes[h].algo, d);
	for (uint64_t at = 0; at < im->size && !ret; at += piece) {
		size_t k = (size_t)(im->size - at < piece ? im->size - at : piece);

		for (size_t h = 0; h < im->n_hashes && !ret; h++)
			if (im->hashes[h].compute)
				ret = bpi_hasher_update(&hs[h], im->data + at, k, d);
		bpi_drop_mapped(im->data + at, k);
	}
	for (size_t h = 0; h < im->n_hashes && !ret; h++)
		if (im->hashes[h].compute)
			ret = bpi_hasher_final(&hs[h], im->hashes[h].value, d);
	for (size_t h = 0; hs && h < im->n_hashes; h++)
		bpi_hasher_free(&hs[h]);
	free(hs);
	return ret;
}

static int hash_job(void *ctx, size_t i)
{
	struct sg_plan *p = ctx;
	struct sg_image *im = &p->img[i];

	if (p->mapped)
		return hash_pieces(im, &p->job_diag[i]);
	for (size_t h = 0; h < im->n_hashes; h++)
		if (im->hashes[h].compute &&
		    bp_hash(im->hashes[h].algo, im->data, (size_t)im->size, im->hashes[h].value,
			    &p->job_diag[i]))
			return BP_ERR_CODEC;
	return 0;
}

/* ---- Planning ---- */

static int sign_config(struct sg_plan *p, struct sg_sign *s, struct bp_diag *d)
{
	const uint8_t *blob = p->tree.blob.data;
	size_t max = BPI_SIG_REGIONS_MAX(s->n_nodes) + 1, count = 0, n_ids = 0;
	struct bpi_fdt_region *r = calloc(max, sizeof(*r));
	struct bpi_region *rr = calloc(max + 1, sizeof(*rr));
	int32_t *ids = calloc(s->n_nodes * 4 + 1, sizeof(*ids));
	const char *cname = fdt_get_name(p->file, (int)s->index, NULL);
	enum bpi_region_err e;
	int ret = 0;

	if (!r || !rr || !ids) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, p->path, "out of memory");
		goto out;
	}
	for (size_t at = 0; at < s->nodes_len; at += strlen(s->nodes + at) + 1) {
		int32_t x = bpi_fdt_index_find(p->ix, s->nodes + at, strlen(s->nodes + at));

		if (x < 0 || n_ids == s->n_nodes * 4) {
			ret = bp_diag_set(d, BP_ERR_FORMAT, p->path, "internal error: node "
					  "'%s' is not in the tree signed", BPI_ESC(s->nodes + at));
			goto out;
		}
		ids[n_ids++] = x;
	}
	e = bpi_fdt_regions(p->ix, ids, n_ids, s->n_nodes, r, &count);
	if (e == BPI_REGION_NOMEM) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, p->path, "out of memory");
		goto out;
	}
	if (e) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, p->path, "cannot sign configuration "
				  "'%s': %s", BPI_ESC(cname), bpi_region_err_str(e));
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		rr[i] = (struct bpi_region){ blob + r[i].off, r[i].size };
	rr[count++] = (struct bpi_region){ blob + fdt_off_dt_strings(blob), s->strings_size };
	ret = bpi_sig_sign(s->k, &s->algo, rr, count, p->tree.blob.data + s->value->slot, d);
	if (ret) {
		char why[BP_DIAG_MSG_MAX];

		snprintf(why, sizeof(why), "%s", d->msg);
		bp_diag_set(d, ret, p->path, "configuration '%s': %s", BPI_ESC(cname), why);
	}
out:
	free(r);
	free(rr);
	free(ids);
	return ret;
}

static int sign_job(void *ctx, size_t i)
{
	struct sg_plan *p = ctx;
	struct sg_sign *s = p->signs[i];
	struct bp_diag *d = &p->job_diag[i];
	char why[BP_DIAG_MSG_MAX];
	const struct sg_image *im;
	struct bpi_region r;
	int ret;

	if (s->config)
		return sign_config(p, s, d);
	im = &p->img[s->index];
	r = (struct bpi_region){ im->data, (size_t)im->size };
	ret = bpi_sig_sign(s->k, &s->algo, &r, 1, p->tree.blob.data + s->value->slot, d);
	if (ret) {
		snprintf(why, sizeof(why), "%s", d->msg);
		bp_diag_set(d, ret, p->path, "image '%s': %s", BPI_ESC(im->name), why);
	}
	return ret;
}

/* The lowest-numbered job's failure, as bpi_jobs_run() reports its code. */
static int job_failure(struct sg_plan *p, size_t n, int ret)
{
	for (size_t i = 0; i < n; i++)
		if (p->job_diag[i].msg[0]) {
			if (p->d)
				*p->d = p->job_diag[i];
			return ret;
		}
	return bp_diag_set(p->d, ret, p->path, "%s", bp_strerror(ret));
}

static int run_jobs(struct sg_plan *p, size_t n, int (*fn)(void *, size_t))
{
	int ret;

	free(p->job_diag);
	p->job_diag = calloc(n ? n : 1, sizeof(*p->job_diag));
	if (!p->job_diag)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	ret = bpi_jobs_run(n, p->o.jobs, fn, p);
	return ret ? job_failure(p, n, ret) : 0;
}

/* ---- The output ---- */

/*
 * External data after the devicetree keeps its place relative to the tree's
 * end: data-offset counts from there, so the tail moves by whole 4 KiB steps
 * (alignments up to a page survive) and data-position values move with it.
 */
static int write_out(struct sg_plan *p, struct bpi_output *out)
{
	struct sg_tree *t = &p->tree;
	uint32_t old_total = fdt_totalsize(p->file);
	uint64_t size = t->blob.len + t->data_bytes, total = size, delta = 0;
	uint64_t tail_len = p->len > old_total ? p->len - old_total : 0;

	if (tail_len) {
		if (size > old_total)
			delta = BPI_ALIGN_UP(size - old_total, 4096);
		total = old_total + delta;
	}
	if (total > BPI_SIG_MAX_SIZE)
		return bp_diag_set(p->d, BP_ERR_TOOBIG, p->path,
				   "cannot sign: the devicetree would be %llu bytes; U-Boot does "
				   "not check signatures of a FIT over %u bytes "
				   "(CONFIG_FIT_SIGNATURE_MAX_SIZE): store the data externally "
				   "(-E)", (unsigned long long)total, BPI_SIG_MAX_SIZE);
	for (size_t i = 0; i < t->n_positions; i++) {
		uint8_t *v = t->blob.data + t->positions[i];
		uint64_t pos = bpi_get_be32(v) + delta;

		if (pos > UINT32_MAX)
			return bp_diag_set(p->d, BP_ERR_TOOBIG, p->path, "cannot sign: a "
					   "data-position would pass 4 GiB");
		bpi_put_be32(v, (uint32_t)pos);
	}
	p->sizes[0] = total + tail_len;
	p->sizes[1] = total;
	return bpi_sg_tree_write(t, (uint32_t)total, p->file + old_total, tail_len, p->mapped, out,
				 p->d);
}

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_sign_opts, jobs);
static const size_t stats_v1 = BPI_SIZE_V1(struct bp_fit_sign_stats, n_hashes_added);

void bpi_sg_release(struct sg_plan *p)
{
	for (size_t i = 0; i < p->n_img; i++)
		free(p->img[i].hashes);
	for (size_t i = 0; i < p->n_edits; i++)
		free(p->edits[i]);
	for (size_t i = 0; i < p->n_added; i++)
		free(p->added[i]);
	for (size_t i = 0; i < p->n_signs; i++) {
		free(p->signs[i]->nodes);
		free(p->signs[i]->sign_images);
		free(p->signs[i]);
	}
	free(p->img);
	free(p->img_sorted);
	free(p->edits);
	free(p->added);
	free(p->signs);
	free(p->job_diag);
	bp_buf_free(&p->strings);
	bpi_sg_tree_free(&p->tree);
	bpi_fdt_index_free(p->ix);
}

static int setup(struct sg_plan *p, const struct bp_fit_sign_opts *o)
{
	const void *fdt = p->file;
	int len, ret = BPI_STRUCT_IN(&p->o, opts_v1, o, "bp_fit_sign_opts", p->d);
	const uint8_t *ts;

	if (ret)
		return ret;
	if (p->its)
		goto checked;
	if (!p->k)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "no signing key given");
	if (p->o.what != BP_FIT_SIGN_CONFIGS && p->o.what != BP_FIT_SIGN_IMAGES)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "unknown signing mode %d",
				   (int)p->o.what);
	if (p->o.n_configs && !p->o.configs)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "configuration list is NULL");
	p->key_name = p->o.key_name ? p->o.key_name : bp_key_name(p->k);
	if (!p->key_name || !*p->key_name)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "the key has no name (give one)");
checked:
	p->signer_name = p->o.signer_name ? p->o.signer_name : "bootpack";
	p->signer_version = p->o.signer_version ? p->o.signer_version : BP_VERSION;
	ret = bpi_fdt_check(p->file, p->len, p->path, p->d);
	if (ret)
		return ret;
	/* The signature's timestamp: the caller's, else the FIT's own. */
	ts = fdt_getprop(fdt, 0, "timestamp", &len);
	if (p->o.has_timestamp)
		bpi_put_be32(p->timestamp, p->o.timestamp);
	else if (ts && len == 4)
		memcpy(p->timestamp, ts, 4);
	if (bp_buf_append(&p->strings, (const uint8_t *)fdt + fdt_off_dt_strings(fdt),
			  fdt_size_dt_strings(fdt)))
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	return 0;
}

int bpi_sg_run(struct sg_plan *p, const struct bp_fit_sign_opts *o)
{
	int ret = setup(p, o);

	if (!ret)
		ret = bpi_sg_read(p);
	if (!ret)
		ret = run_jobs(p, p->n_img, hash_job);
	if (!ret)
		ret = bpi_sg_plan(p);
	if (!ret)
		ret = bpi_sg_tree_build(p->file, p->edits, p->n_edits, &p->strings, p->subst,
					&p->tree,
					p->path, p->d);
	if (!ret)
		ret = bpi_fdt_index_build(p->tree.blob.data, &p->ix, p->d);
	if (!ret)
		ret = run_jobs(p, p->n_signs, sign_job);
	return ret;
}

int bpi_fit_sign_mem(const uint8_t *file, size_t len, const char *path, const struct bp_key *k,
		     const struct bp_fit_sign_opts *o, bool trust_hashes, bool mapped,
		     struct bpi_output *out, struct bp_fit_sign_stats *st, uint64_t sizes[2],
		     struct bp_diag *d)
{
	struct sg_plan p = { .file = file, .len = len, .path = path, .k = k, .d = d,
			  .trust_hashes = trust_hashes, .mapped = mapped,
			  .st = BP_FIT_SIGN_STATS_INIT };
	int ret = bpi_struct_out_check(st, stats_v1, "bp_fit_sign_stats", d);

	if (!ret)
		ret = bpi_sg_run(&p, o);
	if (!ret)
		ret = write_out(&p, out);
	if (!ret) {
		p.st.n_signed = p.n_signs;
		bpi_struct_out(st, &p.st, sizeof(p.st));
		if (sizes)
			memcpy(sizes, p.sizes, sizeof(p.sizes));
	}
	bpi_sg_release(&p);
	return ret;
}

/*
 * The input is mapped when it is a regular file: the images are hashed and
 * copied from the mapping and their pages dropped once used, so signing a
 * large FIT takes little memory. Anything else (a pipe) is read in.
 */
int bp_fit_sign(const char *in_path, const struct bp_key *k, const struct bp_fit_sign_opts *o,
		const char *out_path, struct bp_fit_sign_stats *st, struct bp_diag *d)
{
	struct bp_buf file = BP_BUF_INIT;
	const uint8_t *map = NULL;
	size_t map_len = 0;
	struct bpi_output out;
	int ret;

	bp_diag_clear(d);
	if (!in_path || !out_path)
		return bp_diag_set(d, BP_ERR_INVALID, "", "input and output paths are required");
	ret = bpi_map_file(in_path, BP_FIT_READ_MAX, &map, &map_len, d);
	if (ret == BP_ERR_UNSUPPORTED)
		ret = bpi_read_file(in_path, BP_FIT_READ_MAX, &file, d);
	if (!ret)
		ret = bpi_output_open(&out, out_path, d);
	if (!ret) {
		ret = bpi_fit_sign_mem(map ? map : file.data, map ? map_len : file.len, in_path, k,
				       o, false, map != NULL, &out, st, NULL, d);
		if (ret)
			bpi_output_abort(&out);
		else
			ret = bpi_output_commit(&out, d);
	}
	bpi_unmap(map, map_len);
	bp_buf_free(&file);
	return ret;
}
