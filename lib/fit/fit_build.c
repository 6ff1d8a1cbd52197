// SPDX-License-Identifier: MIT
/*
 * bp_fit_build(): gather the kernel, ramdisk and DTBs the way make_fit.py
 * does (DTBs de-duplicated by path, in order of first use), compress them
 * in parallel, then hand the result to the writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libfdt.h>

#include "codec/codec_impl.h"
#include "fit_internal.h"
#include "util/util.h"

/* data-size is a u32, so no input can be larger. */
#define INPUT_MAX UINT32_MAX

enum kind { KIND_KERNEL, KIND_RAMDISK, KIND_FDT };

struct src_image {
	enum kind kind;
	const char *path;
	char *owned_path;         /* set when the path came from a .cmd file */
	struct bp_buf input;
	size_t input_len;         /* kept for statistics after input is freed */
	struct bp_buf packed;     /* compressed data; unused when stored as-is */
	uint8_t (*hashes)[BP_HASH_MAX_LEN]; /* one per requested algorithm */
	bool store_input;
	bool split;               /* compressed alone, over all threads */
	struct bp_diag diag;      /* per-job detail, copied out on failure */
};

struct src_config {
	char *model;
	void *compat;
	int compat_len;
	size_t *fdts;
	size_t n_fdts;
};

struct build {
	const struct bp_fit_build_opts *o;
	struct src_image *img;
	size_t n_img, cap_img;
	struct src_config *cfg;
	size_t n_cfg, cap_cfg;
	struct bp_diag *d;
};

/* Make room for one more element in a doubling array. */
static int push(void **arr, size_t n, size_t *cap, size_t elem)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? 2 * *cap : 16) * elem);
	if (!p)
		return BP_ERR_NOMEM;
	*arr = p;
	*cap = *cap ? 2 * *cap : 16;
	return 0;
}

static struct src_image *new_image(struct build *b, enum kind kind, const char *path)
{
	struct src_image *im;

	if (push((void **)&b->img, b->n_img, &b->cap_img, sizeof(*b->img))) {
		bp_diag_set(b->d, BP_ERR_NOMEM, path, "out of memory");
		return NULL;
	}
	im = &b->img[b->n_img++];
	memset(im, 0, sizeof(*im));
	im->kind = kind;
	im->path = path;
	return im;
}

static int read_image(struct build *b, enum kind kind, const char *path)
{
	struct src_image *im = new_image(b, kind, path);

	if (!im)
		return BP_ERR_NOMEM;
	return bpi_read_file(path, INPUT_MAX, &im->input, b->d);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int root_info(const void *fdt, const char *path, struct src_config *c, struct bp_diag *d)
{
	const char *model;
	const void *compat;
	int mlen, clen;

	compat = fdt_getprop(fdt, 0, "compatible", &clen);
	if (!compat || clen <= 0)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root has no 'compatible' property, so no "
				   "bootloader could select its configuration");
	model = fdt_getprop(fdt, 0, "model", &mlen);
	if (!model)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root has no 'model' property (make_fit.py uses "
				   "it as the configuration description)");
	if (mlen <= 0 || model[mlen - 1] != '\0' || strlen(model) != (size_t)mlen - 1)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root 'model' is not a single string");
	c->model = strdup(model);
	c->compat = malloc((size_t)clen);
	if (!c->model || !c->compat)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	memcpy(c->compat, compat, (size_t)clen);
	c->compat_len = clen;
	return 0;
}

static ssize_t find_fdt(const struct build *b, const char *path)
{
	for (size_t i = 0; i < b->n_img; i++)
		if (b->img[i].kind == KIND_FDT && strcmp(b->img[i].path, path) == 0)
			return (ssize_t)i;
	return -1;
}

/*
 * Store @file once and reference it from @c. @dtb holds the bytes of the
 * DTB named on the command line, reused when @file is that same DTB.
 */
static int use_fdt(struct build *b, struct src_config *c, const char *dtb_path,
		   const char *file, struct bp_buf *dtb)
{
	ssize_t found = find_fdt(b, file);
	struct src_image *im;
	int ret;

	if (found < 0) {
		bool self = file == dtb_path;

		im = new_image(b, KIND_FDT, file);
		if (!im)
			return BP_ERR_NOMEM;
		found = (ssize_t)(b->n_img - 1);
		if (self) {
			im->input = *dtb;
			*dtb = (struct bp_buf)BP_BUF_INIT;
		} else {
			/* A component named by a .cmd file: own the path, check the blob. */
			im->owned_path = strdup(file);
			if (!im->owned_path)
				return bp_diag_set(b->d, BP_ERR_NOMEM, file, "out of memory");
			im->path = im->owned_path;
			ret = bpi_read_file(im->path, INPUT_MAX, &im->input, b->d);
			if (!ret)
				ret = bpi_fdt_check(im->input.data, im->input.len, im->path, b->d);
			if (ret)
				return ret;
		}
	}
	c->fdts[c->n_fdts++] = (size_t)found;
	return 0;
}

static int add_dtb(struct build *b, const char *path)
{
	struct bp_buf dtb = BP_BUF_INIT;
	struct src_config *c;
	char **files = NULL;
	size_t n = 1;
	int ret;

	if (push((void **)&b->cfg, b->n_cfg, &b->cap_cfg, sizeof(*b->cfg)))
		return bp_diag_set(b->d, BP_ERR_NOMEM, path, "out of memory");
	c = &b->cfg[b->n_cfg++];
	memset(c, 0, sizeof(*c));

	ret = bpi_read_file(path, INPUT_MAX, &dtb, b->d);
	if (!ret)
		ret = bpi_fdt_check(dtb.data, dtb.len, path, b->d);
	if (!ret)
		ret = root_info(dtb.data, path, c, b->d);
	if (!ret && b->o->decompose) {
		ret = bpi_decompose_dtb(path, &files, b->d);
		for (n = 0; files && files[n]; n++)
			;
	}
	if (!ret && !(c->fdts = calloc(n, sizeof(*c->fdts))))
		ret = bp_diag_set(b->d, BP_ERR_NOMEM, path, "out of memory");
	for (size_t i = 0; i < n && !ret; i++) {
		/* A .cmd naming the DTB itself means "not composite": use our copy. */
		const char *file = files && strcmp(files[i], path) ? files[i] : path;

		ret = use_fdt(b, c, path, file, &dtb);
	}
	bpi_strv_free(files);
	bp_buf_free(&dtb);
	return ret;
}

static int gather(struct build *b)
{
	const struct bp_fit_build_opts *o = b->o;
	int ret = read_image(b, KIND_KERNEL, o->kernel);

	if (!ret && o->ramdisk)
		ret = read_image(b, KIND_RAMDISK, o->ramdisk);
	for (size_t i = 0; i < o->n_dtbs && !ret; i++) {
		const char *p = o->dtbs[i];

		/* make_fit.py stores overlays only as parts of composite DTBs (-D). */
		if (has_suffix(p, ".dtbo"))
			continue;
		if (!has_suffix(p, ".dtb"))
			return bp_diag_set(b->d, BP_ERR_FORMAT, p,
					   "not a devicetree: only .dtb files (and .dtbo "
					   "overlays, which are used through -D) are accepted");
		ret = add_dtb(b, p);
	}
	return ret;
}

static bool same_file(const struct stat *a, const char *path)
{
	struct stat b;

	return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* Renaming over an input would destroy it: refuse, as inputs are never modified. */
static int check_output_is_not_input(const struct build *b, const char *out_path)
{
	const struct bp_fit_build_opts *o = b->o;
	const char *hit = NULL;
	struct stat out;

	if (stat(out_path, &out) < 0)
		return 0;
	for (size_t i = 0; i < b->n_img && !hit; i++)
		if (same_file(&out, b->img[i].path))
			hit = b->img[i].path;
	for (size_t i = 0; i < o->n_dtbs && !hit; i++)
		if (same_file(&out, o->dtbs[i]))
			hit = o->dtbs[i];
	if (!hit)
		return 0;
	return bp_diag_set(b->d, BP_ERR_INVALID, out_path,
			   "output is the input file '%s'; refusing to overwrite it", hit);
}

/* Hash values cover the stored bytes, compressed or not, as in mkimage. */
static int hash_one(struct build *b, struct src_image *im)
{
	const struct bp_buf *data = im->store_input ? &im->input : &im->packed;
	int ret;

	for (size_t h = 0; h < b->o->n_hashes; h++) {
		ret = bp_hash(b->o->hashes[h], data->data, data->len, im->hashes[h], &im->diag);
		if (ret)
			return bp_diag_set(&im->diag, ret, im->path, "cannot hash: %s",
					   bp_strerror(ret));
	}
	return 0;
}

/* Configurations are conf-1..conf-N in DTB order, so the name can be checked before writing. */
static int check_default_config(const struct build *b)
{
	const char *name = b->o->default_config, *end;
	unsigned long long n;

	if (!name)
		return 0;
	if (!strncmp(name, "conf-", 5) && name[5] >= '1' && name[5] <= '9') {
		n = strtoull(name + 5, (char **)&end, 10);
		if (!*end && n <= b->n_cfg)
			return 0;
	}
	if (!b->n_cfg)
		return bp_diag_set(b->d, BP_ERR_INVALID, "",
				   "default configuration '%s' does not exist: no DTBs were "
				   "given, so there are no configurations", name);
	if (b->n_cfg == 1)
		return bp_diag_set(b->d, BP_ERR_INVALID, "", "default configuration '%s' does "
				   "not exist: this FIT has only conf-1", name);
	return bp_diag_set(b->d, BP_ERR_INVALID, "",
			   "default configuration '%s' does not exist: this FIT has conf-1 to "
			   "conf-%zu", name, b->n_cfg);
}

/* Inputs this large are split across all threads; the rest get one thread each. */
#define PACK_SPLIT_MIN ((size_t)2 << 20)

static bool split_image(const struct build *b, const struct src_image *im)
{
	return !im->store_input && im->input.len >= PACK_SPLIT_MIN &&
	       (b->o->compress == BP_CODEC_GZIP || b->o->compress == BP_CODEC_ZSTD);
}

static int compress_image(struct build *b, struct src_image *im)
{
	if (im->split && b->o->compress == BP_CODEC_GZIP)
		return bpi_gzip_compress_mt(im->input.data, im->input.len, b->o->jobs, &im->packed,
					    &im->diag);
	if (im->split)
		return bpi_zstd_compress_mt(im->input.data, im->input.len, b->o->jobs, &im->packed,
					    &im->diag);
	return bp_compress(b->o->compress, im->input.data, im->input.len, &im->packed, &im->diag);
}

static int pack_one(void *ctx, size_t i)
{
	struct build *b = ctx;
	struct src_image *im = &b->img[i];
	int ret;

	if (im->store_input)
		return hash_one(b, im);
	ret = compress_image(b, im);
	if (ret) {
		char why[BP_DIAG_MSG_MAX];

		snprintf(why, sizeof(why), "%s", im->diag.msg[0] ? im->diag.msg : bp_strerror(ret));
		return bp_diag_set(&im->diag, ret, im->path, "cannot compress: %s", why);
	}
	/* The input is no longer needed: keep peak memory near the output size. */
	bp_buf_free(&im->input);
	bp_buf_shrink(&im->packed);
	return hash_one(b, im);
}

static int pack_small(void *ctx, size_t i)
{
	struct build *b = ctx;

	return b->img[i].split ? 0 : pack_one(ctx, i);
}

static int pack(struct build *b)
{
	int ret;

	for (size_t i = 0; i < b->n_img; i++)
		b->img[i].store_input = b->img[i].kind == KIND_RAMDISK ||
					b->o->compress == BP_CODEC_NONE;
	for (size_t i = 0; i < b->n_img; i++) {
		b->img[i].input_len = b->img[i].input.len;
		if (!b->o->n_hashes)
			continue;
		b->img[i].hashes = calloc(b->o->n_hashes, sizeof(*b->img[i].hashes));
		if (!b->img[i].hashes)
			return bp_diag_set(b->d, BP_ERR_NOMEM, b->img[i].path, "out of memory");
	}
	/* Large images first, each over all threads, then the rest side by side. */
	ret = 0;
	for (size_t i = 0; i < b->n_img; i++)
		b->img[i].split = split_image(b, &b->img[i]);
	for (size_t i = 0; i < b->n_img && !ret; i++)
		if (b->img[i].split)
			ret = pack_one(b, i);
	if (!ret)
		ret = bpi_jobs_run(b->n_img, b->o->jobs, pack_small, b);
	if (!ret)
		return 0;
	for (size_t i = 0; i < b->n_img; i++) {
		if (b->img[i].diag.msg[0]) {
			if (b->d)
				*b->d = b->img[i].diag;
			return ret;
		}
	}
	return bp_diag_set(b->d, ret, "", "%s", bp_strerror(ret));
}

static void describe(const struct build *b, struct bpi_fit_image *out, size_t *fdt_seq, size_t i)
{
	const struct src_image *im = &b->img[i];
	const struct bp_buf *data = im->store_input ? &im->input : &im->packed;

	memset(out, 0, sizeof(*out));
	out->data = data->data;
	out->len = data->len;
	out->compression = bp_codec_name(b->o->compress);
	out->hashes = (const uint8_t (*)[BP_HASH_MAX_LEN])im->hashes;
	switch (im->kind) {
	case KIND_KERNEL:
		snprintf(out->node, sizeof(out->node), "kernel");
		out->description = b->o->name;
		out->type = b->o->has_load_address ? "kernel" : "kernel_noload";
		out->has_os = out->has_load = out->has_entry = true;
		out->load = b->o->has_load_address ? b->o->load_address : 0;
		out->entry = b->o->has_entry_address ? b->o->entry_address : out->load;
		break;
	case KIND_RAMDISK:
		snprintf(out->node, sizeof(out->node), "ramdisk");
		out->description = "Ramdisk";
		out->type = "ramdisk";
		/* An initrd is stored as given: it is normally compressed already. */
		out->compression = "none";
		out->has_os = out->has_load = true;
		break;
	case KIND_FDT:
		snprintf(out->node, sizeof(out->node), "fdt-%zu", ++*fdt_seq);
		out->description = base_name(im->path);
		out->type = "flat_dt";
		out->is_fdt = true;
		break;
	}
}

static int write_fit(struct build *b, const char *out_path, struct bp_fit_build_stats *st)
{
	const struct bp_fit_build_opts *o = b->o;
	struct bpi_fit_image *images = calloc(b->n_img, sizeof(*images));
	struct bpi_fit_config *configs = calloc(b->n_cfg ? b->n_cfg : 1, sizeof(*configs));
	size_t fdt_seq = 0;
	int ret;

	if (!images || !configs) {
		free(images);
		free(configs);
		return bp_diag_set(b->d, BP_ERR_NOMEM, out_path, "out of memory");
	}
	for (size_t i = 0; i < b->n_img; i++)
		describe(b, &images[i], &fdt_seq, i);
	for (size_t i = 0; i < b->n_cfg; i++) {
		configs[i].description = b->cfg[i].model;
		configs[i].compatible = b->cfg[i].compat;
		configs[i].compatible_len = b->cfg[i].compat_len;
		configs[i].fdts = b->cfg[i].fdts;
		configs[i].n_fdts = b->cfg[i].n_fdts;
	}
	struct bpi_fit f = {
		.name = o->name, .arch = o->arch, .os = o->os, .timestamp = o->timestamp,
		.images = images, .n_images = b->n_img,
		.configs = configs, .n_configs = b->n_cfg,
		.has_ramdisk = o->ramdisk != NULL,
		.external = o->external,
		.align = o->align ? o->align : BP_FIT_EXTERNAL_ALIGN,
		.hashes = o->hashes, .n_hashes = o->n_hashes,
		.default_config = o->default_config,
		.address_cells = o->load_address > UINT32_MAX ||
				 (o->has_entry_address && o->entry_address > UINT32_MAX) ? 2 : 1,
	};
	ret = bpi_fit_write(&f, out_path, st, b->d);
	free(images);
	free(configs);
	return ret;
}

static void release(struct build *b)
{
	for (size_t i = 0; i < b->n_img; i++) {
		bp_buf_free(&b->img[i].input);
		bp_buf_free(&b->img[i].packed);
		free(b->img[i].hashes);
		free(b->img[i].owned_path);
	}
	for (size_t i = 0; i < b->n_cfg; i++) {
		free(b->cfg[i].model);
		free(b->cfg[i].compat);
		free(b->cfg[i].fdts);
	}
	free(b->img);
	free(b->cfg);
}

static int check_opts(const struct bp_fit_build_opts *o, const char *out_path,
		      struct bp_diag *d)
{
	if (!o || !out_path || !o->name || !o->arch || !o->os || !o->kernel)
		return bp_diag_set(d, BP_ERR_INVALID, "",
				   "output, name, arch, os and kernel are required");
	if (!bp_codec_name(o->compress))
		return bp_diag_set(d, BP_ERR_INVALID, "", "unknown compression %d",
				   (int)o->compress);
	if (o->n_dtbs && !o->dtbs)
		return bp_diag_set(d, BP_ERR_INVALID, "", "DTB list is NULL");
	for (size_t i = 0; i < o->n_hashes; i++) {
		if (!bp_hash_name(o->hashes[i]))
			return bp_diag_set(d, BP_ERR_INVALID, "", "unknown hash algorithm %d",
					   (int)o->hashes[i]);
		for (size_t j = 0; j < i; j++)
			if (o->hashes[j] == o->hashes[i])
				return bp_diag_set(d, BP_ERR_INVALID, "",
						   "hash algorithm %s given twice",
						   bp_hash_name(o->hashes[i]));
	}
	if (o->has_entry_address && !o->has_load_address)
		return bp_diag_set(d, BP_ERR_INVALID, "",
				   "an entry address needs a load address (kernel_noload images "
				   "run where they lie)");
	/* mkimage's ALIGN() needs a power of two; below 4 U-Boot would misread it. */
	if (o->align && (o->align < 4 || (o->align & (o->align - 1)) || o->align > (1u << 30)))
		return bp_diag_set(d, BP_ERR_INVALID, "",
				   "alignment %u is not a power of two between 4 and 2^30",
				   o->align);
	return 0;
}

int bp_fit_build(const struct bp_fit_build_opts *o, const char *out_path,
		 struct bp_fit_build_stats *st, struct bp_diag *d)
{
	struct build b = { .o = o, .d = d };
	int ret;

	bp_diag_clear(d);
	ret = check_opts(o, out_path, d);
	if (ret)
		return ret;
	ret = gather(&b);
	if (!ret)
		ret = check_default_config(&b);
	if (!ret)
		ret = check_output_is_not_input(&b, out_path);
	if (!ret)
		ret = pack(&b);
	if (!ret && st) {
		memset(st, 0, sizeof(*st));
		st->n_files = b.n_img;
		st->n_configs = b.n_cfg;
		for (size_t i = 0; i < b.n_img; i++)
			st->input_bytes += b.img[i].input_len;
	}
	if (!ret)
		ret = write_fit(&b, out_path, st);
	release(&b);
	return ret;
}
