// SPDX-License-Identifier: MIT
/*
 * bp_fit_verify(): the checks U-Boot makes before it boots a FIT (hashes,
 * data bounds, configuration references), plus the content checks that
 * decide whether the boot gets anywhere: a plain arm64 kernel must carry
 * the Image magic, a devicetree must parse. The expensive part, hashing
 * and decompressing, runs in parallel; findings are reported in file order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include <bootpack/pe.h>

#include "fit_internal.h"
#include "fit_sig_verify.h"
#include "util/esc.h"
#include "util/util.h"

#define MSG_MAX 512

/* What the parallel pass found for one image. */
struct image_result {
	struct bp_diag diag;           /* a failure the worker could not attribute */
	uint8_t (*computed)[BP_HASH_MAX_LEN];
	bool decompressed;
	int decomp_err;                /* 0, or the error from decompressing */
	char decomp_msg[BP_DIAG_MSG_MAX];
	char content_msg[MSG_MAX];     /* why the contents are wrong, or "" */
	const char *content_ok;        /* what the contents were found to be, or NULL */
	uint64_t decomp_size;
};

struct verify {
	const struct bp_fit *fit;
	const struct bp_fit_info *info;
	const struct bp_fit_verify_opts *o;
	struct image_result *res;
	bp_fit_check_fn fn;
	void *ctx;
	struct bp_fit_verify_stats *st;
	struct bpi_sigv *sv;           /* keyed verification, when a control devicetree is given */
	bool *conf_wanted;             /* the configurations to check */
	bool *img_wanted;              /* images they name (the image key policy applies to) */
};

static void count(struct verify *v, enum bp_fit_check_level level)
{
	switch (level) {
	case BP_FIT_CHECK_OK: v->st->n_ok++; break;
	case BP_FIT_CHECK_WARN: v->st->n_warnings++; break;
	case BP_FIT_CHECK_FAIL: v->st->n_failures++; break;
	}
}

static void __attribute__((format(printf, 4, 5)))
report(struct verify *v, enum bp_fit_check_level level, const char *node, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	count(v, level);
	if (!v->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->fn(v->ctx, &(struct bp_fit_check){ .size = sizeof(struct bp_fit_check), .level = level,
					       .node = node, .msg = msg });
}

/* A finding of the keyed checks (fit_sig_verify.c). */
static void report_sig(void *ctx, enum bp_fit_check_level level, const char *node,
		       const char *sig, const char *algo, const char *key, bool counted,
		       const char *msg)
{
	struct verify *v = ctx;

	count(v, level);
	if (counted && level == BP_FIT_CHECK_OK)
		v->st->n_signatures_ok++;
	else if (counted)
		v->st->n_signatures_bad++;
	if (v->fn)
		v->fn(v->ctx, &(struct bp_fit_check){ .size = sizeof(struct bp_fit_check),
						       .level = level, .node = node, .msg = msg,
						       .signature = sig, .algo = algo,
						       .key_name = key });
}

/*
 * A string property that reads as NULL: missing, or present but malformed.
 * The malformed case is usually the image's recorded problem already.
 */
static void report_unreadable(struct verify *v, size_t i, const char *sub, const char *prop,
			      enum bp_fit_check_level missing_level, const char *missing_msg)
{
	const struct bp_fit_image *im = bp_fit_image_at(v->fit, i);
	char msg[MSG_MAX];

	if (!bpi_fit_image_has_prop(v->fit, i, sub, prop)) {
		report(v, missing_level, im->name, "%s", missing_msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%s%sproperty '%s' is not a NUL-terminated string",
		 sub ? BPI_ESC(sub) : "", sub ? ": " : "", prop);
	if (!im->problem || strcmp(im->problem, msg))
		report(v, BP_FIT_CHECK_FAIL, im->name, "%s", msg);
}

static bool is_kernel_type(const char *type)
{
	return type && (!strcmp(type, "kernel") || !strcmp(type, "kernel_noload"));
}

static bool is_compressed(const struct bp_fit_image *im)
{
	return im->compression && strcmp(im->compression, "none");
}

/*
 * Content checks on the bytes U-Boot ends up with: @r->content_msg says why
 * they fail, @r->content_ok what they were found to be (NULL: not checked).
 */
static void check_contents(const struct bp_fit_image *im, const uint8_t *p, uint64_t len,
			   struct image_result *r)
{
	struct bp_diag d;

	r->content_msg[0] = '\0';
	if (im->type && !strcmp(im->type, "flat_dt")) {
		if (bpi_fdt_check(p, (size_t)len, "", &d))
			snprintf(r->content_msg, MSG_MAX, "data is not a usable devicetree (%.400s)",
				 d.msg);
		else
			r->content_ok = "a well-formed devicetree";
		return;
	}
	/* What U-Boot's booti_setup() insists on for an arm64 Linux kernel. */
	if (!is_kernel_type(im->type) || !im->arch || strcmp(im->arch, "arm64") || !im->os ||
	    strcmp(im->os, "linux"))
		return;
	if (bp_kernel_kind_of(p, (size_t)len) != BP_KERNEL_ARM64)
		snprintf(r->content_msg, MSG_MAX, "data is not an arm64 Linux Image (no "
			 "\"ARM\\x64\" magic at offset 0x38): U-Boot stops with \"Bad Linux "
			 "ARM64 Image magic!\"");
	else
		r->content_ok = "an arm64 Linux Image";
}

static int verify_one(void *ctx, size_t i)
{
	struct verify *v = ctx;
	const struct bp_fit_image *im = bp_fit_image_at(v->fit, i);
	struct image_result *r = &v->res[i];
	enum bp_hash_algo a;
	enum bp_codec c;

	if (v->sv && bpi_sigv_image_check(v->sv, i))
		return BP_ERR_NOMEM;
	if (!im->data)
		return 0;
	for (size_t h = 0; h < im->n_hashes; h++) {
		const struct bp_fit_hash *hn = bp_fit_hash_at(v->fit, i, h);

		if (!hn->algo || bp_hash_from_name(hn->algo, &a, NULL))
			continue;
		if (bp_hash(a, im->data, (size_t)im->data_size, r->computed[h], &r->diag))
			return BP_ERR_CODEC;
	}
	/* Unknown how the bytes are stored: nothing to say about what they hold. */
	if (!im->compression && bpi_fit_image_has_prop(v->fit, i, NULL, "compression"))
		return 0;
	if (!is_compressed(im)) {
		check_contents(im, im->data, im->data_size, r);
		return 0;
	}
	if (!v->o->decompress || bp_codec_from_name(im->compression, &c, NULL))
		return 0;
	struct bp_buf out = BP_BUF_INIT;
	struct bp_diag d;
	uint64_t max = v->o->max_decompressed ? v->o->max_decompressed
					      : BP_FIT_DECOMPRESS_MAX_DEFAULT;

	r->decompressed = true;
	r->decomp_err = bp_decompress(c, im->data, (size_t)im->data_size,
				      max > SIZE_MAX ? SIZE_MAX : (size_t)max, &out, &d);
	if (r->decomp_err)
		snprintf(r->decomp_msg, sizeof(r->decomp_msg), "%s", d.msg);
	else
		check_contents(im, out.data, out.len, r);
	r->decomp_size = out.len;
	bp_buf_free(&out);
	return r->decomp_err == BP_ERR_NOMEM ? BP_ERR_NOMEM : 0;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static void report_hash(struct verify *v, size_t i, const struct bp_fit_hash *h,
			const uint8_t *computed)
{
	const struct bp_fit_image *im = bp_fit_image_at(v->fit, i);
	char want[2 * BP_HASH_MAX_LEN + 1], got[2 * BP_HASH_MAX_LEN + 1], missing[MSG_MAX];
	enum bp_hash_algo a;
	size_t n;

	if (!h->algo) {
		snprintf(missing, sizeof(missing), "%s: no 'algo' property", BPI_ESC(h->node));
		report_unreadable(v, i, h->node, "algo", BP_FIT_CHECK_FAIL, missing);
		return;
	}
	if (bp_hash_from_name(h->algo, &a, NULL)) {
		report(v, BP_FIT_CHECK_FAIL, im->name, "%s: unknown hash algorithm '%s'",
		       BPI_ESC(h->node), BPI_ESC(h->algo));
		return;
	}
	n = bp_hash_len(a);
	if (!h->value) {
		report(v, BP_FIT_CHECK_FAIL, im->name, "%s: no 'value' property",
		       BPI_ESC(h->node));
		return;
	}
	if (h->value_len != n) {
		report(v, BP_FIT_CHECK_FAIL, im->name, "%s: %s value is %zu bytes; expected %zu",
		       BPI_ESC(h->node), BPI_ESC(h->algo), h->value_len, n);
		return;
	}
	v->st->n_hashes++;
	hex(got, computed, n);
	if (memcmp(h->value, computed, n)) {
		hex(want, h->value, n);
		report(v, BP_FIT_CHECK_FAIL, im->name,
		       "%s: %s hash does not match the data (stored %s, computed %s)",
		       BPI_ESC(h->node), BPI_ESC(h->algo), want, got);
		return;
	}
	report(v, BP_FIT_CHECK_OK, im->name, "%s: %s %s", BPI_ESC(h->node),
	       BPI_ESC(h->algo), got);
}

static void check_image(struct verify *v, size_t i)
{
	const struct bp_fit_image *im = bp_fit_image_at(v->fit, i);
	const struct image_result *r = &v->res[i];
	enum bp_codec c;

	if (im->problem)
		report(v, BP_FIT_CHECK_FAIL, im->name, "%s", im->problem);
	if (!im->type)
		report_unreadable(v, i, NULL, "type", BP_FIT_CHECK_FAIL, "no 'type' property");
	if (!im->compression)
		report_unreadable(v, i, NULL, "compression", BP_FIT_CHECK_WARN,
				  "no 'compression' property (U-Boot treats the data as "
				  "uncompressed)");
	else if (bp_codec_from_name(im->compression, &c, NULL) &&
		 strcmp(im->compression, "none"))
		report(v, BP_FIT_CHECK_FAIL, im->name,
		       "unknown compression '%s' (U-Boot knows none, gzip, bzip2, lz4, lzma, "
		       "lzo and zstd)", BPI_ESC(im->compression));
	if (im->type && !strcmp(im->type, "kernel") && !im->has_load)
		report(v, BP_FIT_CHECK_FAIL, im->name,
		       "type 'kernel' needs a 'load' address (U-Boot cannot place it)");
	if (im->type && !strcmp(im->type, "kernel_noload") && is_compressed(im))
		report(v, BP_FIT_CHECK_WARN, im->name,
		       "compressed (%s) kernel_noload image: U-Boot before v2024.04 does not "
		       "decompress it and fails with \"Bad Linux ARM64 Image magic!\"; "
		       "rebuild with --load-address to boot on older U-Boot", BPI_ESC(im->compression));
	if (!im->data) {
		if (v->sv)
			bpi_sigv_image_report(v->sv, i, v->img_wanted[i], report_sig, v);
		return;
	}
	if (!im->n_hashes)
		report(v, BP_FIT_CHECK_OK, im->name, "no hash nodes: data not checked");
	for (size_t h = 0; h < im->n_hashes; h++)
		report_hash(v, i, bp_fit_hash_at(v->fit, i, h), r->computed[h]);
	if (v->sv)
		bpi_sigv_image_report(v->sv, i, v->img_wanted[i], report_sig, v);
	else
		for (size_t s = 0; s < im->n_signatures; s++)
			report(v, BP_FIT_CHECK_WARN, im->name, "signature node present: not "
			       "checked without a control devicetree's keys");
	if (r->decompressed && r->decomp_err)
		report(v, BP_FIT_CHECK_FAIL, im->name, "cannot decompress %s data: %s",
		       BPI_ESC(im->compression), r->decomp_msg);
	else if (r->decompressed && !r->content_msg[0])
		report(v, BP_FIT_CHECK_OK, im->name, "%s data decompresses to %llu bytes%s%s",
		       BPI_ESC(im->compression), (unsigned long long)r->decomp_size,
		       r->content_ok ? ", " : "", r->content_ok ? r->content_ok : "");
	else if (!r->decompressed && r->content_ok)
		report(v, BP_FIT_CHECK_OK, im->name, "data is %s", r->content_ok);
	if (r->content_msg[0])
		report(v, BP_FIT_CHECK_FAIL, im->name, "%s", r->content_msg);
}

/* @name must be an image, of @want type (NULL: any) when given. */
static void check_ref(struct verify *v, const struct bp_fit_config *c, const char *prop,
		      const char *name, const char *const *want)
{
	const struct bp_fit_image *im = NULL;

	for (size_t i = 0; i < v->info->n_images && !im; i++)
		if (!strcmp(bp_fit_image_at(v->fit, i)->name, name))
			im = bp_fit_image_at(v->fit, i);
	if (!im) {
		report(v, BP_FIT_CHECK_FAIL, c->name, "%s '%s' is not an image in /images", prop,
		       BPI_ESC(name));
		return;
	}
	if (!want || !im->type)
		return;
	for (; *want; want++)
		if (!strcmp(im->type, *want))
			return;
	report(v, BP_FIT_CHECK_FAIL, c->name, "%s '%s' has type '%s'", prop, BPI_ESC(name),
	       BPI_ESC(im->type));
}

static int check_config(struct verify *v, size_t ci)
{
	const struct bp_fit_config *c = bp_fit_config_at(v->fit, ci);
	static const char *const kernels[] = { "kernel", "kernel_noload", NULL };
	static const char *const fdts[] = { "flat_dt", NULL };
	static const char *const ramdisks[] = { "ramdisk", NULL };
	size_t fails = v->st->n_failures;

	if (c->problem)
		report(v, BP_FIT_CHECK_FAIL, c->name, "%s", c->problem);
	if (c->kernel)
		check_ref(v, c, "kernel", c->kernel, kernels);
	if (c->ramdisk)
		check_ref(v, c, "ramdisk", c->ramdisk, ramdisks);
	for (size_t i = 0; i < c->n_fdts; i++)
		check_ref(v, c, "fdt", c->fdts[i], fdts);
	for (size_t i = 0; i < c->n_loadables; i++)
		check_ref(v, c, "loadables", c->loadables[i], NULL);
	if (!c->kernel && !c->n_loadables)
		report(v, BP_FIT_CHECK_WARN, c->name, "names no kernel and no loadables");
	if (!v->sv)
		for (size_t s = 0; s < c->n_signatures; s++)
			report(v, BP_FIT_CHECK_WARN, c->name, "signature node present: not "
			       "checked without a control devicetree's keys");
	if (c->n_hashes)
		report(v, BP_FIT_CHECK_WARN, c->name,
		       "hash nodes in a configuration are ignored by U-Boot (only signature "
		       "nodes are checked there)");
	if (v->st->n_failures == fails)
		report(v, BP_FIT_CHECK_OK, c->name, "references resolve");
	return v->sv ? bpi_sigv_config(v->sv, ci, report_sig, v) : 0;
}

static int check_configs(struct verify *v)
{
	const struct bp_fit_info *info = v->info;
	size_t len;
	bool found = false;
	int ret = 0;

	/* fit_check_format() refuses it before any signature is looked at. */
	if (!fdt_getprop(bpi_fit_file(v->fit, &len), 0, "description", NULL))
		report(v, v->sv ? BP_FIT_CHECK_FAIL : BP_FIT_CHECK_WARN, "", "the root node has no "
		       "'description': U-Boot refuses the FIT (\"Wrong FIT format: no "
		       "description\")");
	/* With keys this is a signature check U-Boot fails, not a mere risk. */
	if (info->unit_address_node)
		report(v, v->sv ? BP_FIT_CHECK_FAIL : BP_FIT_CHECK_WARN, "", "node '%s' has a unit "
		       "address ('@'): U-Boot built with FIT signature support (as Debian's is) "
		       "refuses such a FIT", BPI_ESC(info->unit_address_node));
	if (!info->has_configurations) {
		report(v, BP_FIT_CHECK_WARN, "", "no /configurations node: bootm needs an explicit "
		       "image name");
		return 0;
	}
	if (!info->n_configs)
		report(v, BP_FIT_CHECK_WARN, "", "/configurations is empty");
	if (info->default_config) {
		for (size_t i = 0; i < info->n_configs && !found; i++)
			found = !strcmp(bp_fit_config_at(v->fit, i)->name, info->default_config);
		if (!found)
			report(v, BP_FIT_CHECK_FAIL, "", "default configuration '%s' does not exist",
			       BPI_ESC(info->default_config));
	}
	for (size_t i = 0; i < info->n_configs && !ret; i++)
		if (v->conf_wanted[i])
			ret = check_config(v, i);
	return ret;
}

/* The configurations asked for (all by default) and the images they name. */
static int select_configs(struct verify *v, struct bp_diag *d)
{
	const struct bp_fit_info *info = v->info;
	const struct bp_fit_verify_opts *o = v->o;

	v->conf_wanted = calloc(info->n_configs + 1, sizeof(bool));
	v->img_wanted = calloc(info->n_images + 1, sizeof(bool));
	if (!v->conf_wanted || !v->img_wanted)
		return bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
	if (o->n_configs && !o->configs)
		return bp_diag_set(d, BP_ERR_INVALID, "", "configuration list is NULL");
	for (size_t i = 0; i < info->n_configs; i++)
		v->conf_wanted[i] = !o->configs;
	for (size_t i = 0; o->configs && i < o->n_configs; i++) {
		int at = o->configs[i] ? bp_fit_find_config(v->fit, o->configs[i]) : -1;

		if (at < 0)
			return bp_diag_set(d, BP_ERR_NOTFOUND, bpi_fit_name(v->fit),
					   "configuration '%s' does not exist",
					   BPI_ESC(o->configs[i]));
		v->conf_wanted[at] = true;
	}
	for (size_t i = 0; i < info->n_images; i++)
		v->img_wanted[i] = !o->configs;
	for (size_t i = 0; o->configs && i < info->n_configs; i++) {
		const struct bp_fit_config *c = bp_fit_config_at(v->fit, i);
		int at;

		if (!v->conf_wanted[i])
			continue;
		if (c->kernel && (at = bp_fit_find_image(v->fit, c->kernel)) >= 0)
			v->img_wanted[at] = true;
		if (c->ramdisk && (at = bp_fit_find_image(v->fit, c->ramdisk)) >= 0)
			v->img_wanted[at] = true;
		for (size_t j = 0; j < c->n_fdts; j++)
			if ((at = bp_fit_find_image(v->fit, c->fdts[j])) >= 0)
				v->img_wanted[at] = true;
		for (size_t j = 0; j < c->n_loadables; j++)
			if ((at = bp_fit_find_image(v->fit, c->loadables[j])) >= 0)
				v->img_wanted[at] = true;
	}
	return 0;
}

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_verify_opts, jobs);
static const size_t stats_v1 = BPI_SIZE_V1(struct bp_fit_verify_stats, n_hashes);

int bp_fit_verify(const struct bp_fit *fit, const struct bp_fit_verify_opts *o,
		  bp_fit_check_fn fn, void *ctx, struct bp_fit_verify_stats *st,
		  struct bp_diag *d)
{
	const struct bp_fit_info *info = bp_fit_get_info(fit);
	struct bp_fit_verify_opts opts;
	struct bp_fit_verify_stats stats = BP_FIT_VERIFY_STATS_INIT;
	struct verify v = { .fit = fit, .info = info, .o = &opts, .fn = fn, .ctx = ctx,
			    .st = &stats };
	int ret;

	bp_diag_clear(d);
	ret = BPI_STRUCT_IN(&opts, opts_v1, o, "bp_fit_verify_opts", d);
	if (!ret)
		ret = bpi_struct_out_check(st, stats_v1, "bp_fit_verify_stats", d);
	if (!ret && opts.pad_1_1)
		ret = bp_diag_set(d, BP_ERR_INVALID, "", "bp_fit_verify_opts: pad_1_1 must be 0");
	if (!ret && opts.keys_fdt_len && !opts.keys_fdt)
		ret = bp_diag_set(d, BP_ERR_INVALID, "", "control devicetree is NULL");
	if (!ret)
		ret = select_configs(&v, d);
	if (!ret && opts.keys_fdt)
		ret = bpi_sigv_open(fit, opts.keys_fdt, opts.keys_fdt_len, &v.sv, d);
	if (ret) {
		free(v.conf_wanted);
		free(v.img_wanted);
		return ret;
	}
	v.res = calloc(info->n_images ? info->n_images : 1, sizeof(*v.res));
	if (!v.res) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < info->n_images && !ret; i++) {
		size_t n = bp_fit_image_at(fit, i)->n_hashes;

		v.res[i].computed = calloc(n ? n : 1, sizeof(*v.res[i].computed));
		if (!v.res[i].computed)
			ret = bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
	}
	if (!ret) {
		size_t i = 0;

		ret = bpi_jobs_run(info->n_images, v.o->jobs, verify_one, &v);
		while (ret && i < info->n_images && !v.res[i].diag.msg[0])
			i++;
		if (ret)
			bp_diag_set(d, ret, "", "%s", i < info->n_images ? v.res[i].diag.msg
								  : bp_strerror(ret));
	}
	if (!ret) {
		if (!info->n_images)
			report(&v, BP_FIT_CHECK_FAIL, "", "/images holds no images");
		for (size_t i = 0; i < info->n_images; i++)
			check_image(&v, i);
		ret = check_configs(&v);
		if (ret)
			bp_diag_set(d, ret, "", "%s", bp_strerror(ret));
	}
	for (size_t i = 0; i < info->n_images; i++)
		free(v.res[i].computed);
	free(v.res);
out:
	bpi_sigv_close(v.sv);
	free(v.conf_wanted);
	free(v.img_wanted);
	if (!ret)
		bpi_struct_out(st, &stats, sizeof(stats));
	return ret;
}
