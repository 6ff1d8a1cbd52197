// SPDX-License-Identifier: MIT
/*
 * Gathering a FIT's contents the way make_fit.py does: the kernel and
 * ramdisk (kept open to be streamed later), then the DTB arguments,
 * examined side by side (each read, checked and dropped: only its model,
 * compatible, size and checksum are kept) and linked in command-line order
 * into one configuration each, every file stored once (de-duplicated by
 * path, in order of first use).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>
#include <xxhash.h>

#include "fit_build.h"
#include "util/util.h"

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

static struct src_image *new_image(struct build *b, enum bpi_src_kind kind, const char *path)
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
	im->fd = -1;
	return im;
}

/*
 * The kernel and ramdisk are streamed later: keep a regular file open (so a
 * rename meanwhile cannot swap it) and read anything else, e.g. a pipe, now.
 */
static int open_streamed(struct build *b, enum bpi_src_kind kind, const char *path)
{
	struct src_image *im = new_image(b, kind, path);
	struct stat st;

	if (!im)
		return BP_ERR_NOMEM;
	im->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im->fd < 0)
		return bp_diag_set(b->d, BP_ERR_IO, path, "cannot open: %s", strerror(errno));
	if (fstat(im->fd, &st) < 0)
		return bp_diag_set(b->d, BP_ERR_IO, path, "cannot stat: %s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > BPI_FIT_INPUT_MAX)
			return bp_diag_set(b->d, BP_ERR_TOOBIG, path,
					   "file is %llu bytes, more than the limit of %llu",
					   (unsigned long long)st.st_size,
					   (unsigned long long)BPI_FIT_INPUT_MAX);
		im->input_len = (uint64_t)st.st_size;
		return 0;
	}
	close(im->fd);
	im->fd = -1;
	int ret = bpi_read_file(path, BPI_FIT_INPUT_MAX, &im->input, b->d);

	im->input_len = im->input.len;
	return ret;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "a\0b\0": at least one string, each non-empty, the last terminated. */
static bool is_string_list(const char *p, int len)
{
	if (len <= 0 || p[0] == '\0' || p[len - 1] != '\0')
		return false;
	for (int i = 1; i < len; i++)
		if (p[i] == '\0' && p[i - 1] == '\0')
			return false;
	return true;
}

static int root_info(const void *fdt, const char *path, struct src_config *c, struct bp_diag *d)
{
	const char *model;
	const void *compat;
	int mlen, clen;

	compat = fdt_getprop(fdt, 0, "compatible", &clen);
	if (!compat)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root has no 'compatible' property, so no "
				   "bootloader could select its configuration");
	/* Copied into the configuration, where U-Boot matches it string by string. */
	if (!is_string_list(compat, clen))
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root 'compatible' (%d bytes) is not a list of "
				   "non-empty NUL-terminated strings", clen);
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

/* ---- DTBs: examined side by side, then linked in command-line order ---- */

/* A DTB file as checked: a different one when read again is refused. */
struct dtb_seen {
	uint64_t size;
	uint64_t sum;
};

/* One DTB argument, examined on any thread. */
struct dtb_arg {
	const char *path;
	struct src_config cfg;    /* model and compatible; fdts filled in when linking */
	char **files;             /* -D: the files stored for it (may be just itself) */
	size_t n_files;           /* 1 without -D */
	struct dtb_seen *seen;    /* of each file stored */
};

struct examine {
	struct dtb_arg *args;
	bool decompose;
	struct first_failure fail;
};

/* The file @a stores at @k: a .cmd naming the DTB itself means "not composite". */
static const char *arg_file(const struct dtb_arg *a, size_t k)
{
	return a->files && strcmp(a->files[k], a->path) ? a->files[k] : a->path;
}

/*
 * Read and check one devicetree. It is read again, a batch at a time, when
 * written; the checksum makes sure the bytes stored are the bytes checked.
 */
static int check_dtb(const char *path, struct dtb_seen *seen, struct src_config *c,
		     struct bp_diag *d)
{
	struct bp_buf buf = BP_BUF_INIT;
	int ret = bpi_read_file(path, BPI_FIT_INPUT_MAX, &buf, d);

	if (!ret)
		ret = bpi_fdt_check(buf.data, buf.len, path, d);
	if (!ret && c)
		ret = root_info(buf.data, path, c, d);
	seen->size = buf.len;
	seen->sum = XXH3_64bits(buf.data, buf.len);
	bp_buf_free(&buf);
	return ret;
}

static int examine_one(struct examine *e, struct dtb_arg *a, struct bp_diag *d)
{
	struct dtb_seen seen = { 0, 0 };
	int ret;

	if (!has_suffix(a->path, ".dtb"))
		return bp_diag_set(d, BP_ERR_FORMAT, a->path,
				   "not a devicetree: only .dtb files (and .dtbo overlays, which "
				   "are used through -D) are accepted");
	ret = check_dtb(a->path, &seen, &a->cfg, d);
	if (!ret && e->decompose)
		ret = bpi_decompose_dtb(a->path, &a->files, d);
	for (a->n_files = 0; a->files && a->files[a->n_files]; a->n_files++)
		;
	if (!a->files)
		a->n_files = 1;
	if (!ret && !(a->seen = calloc(a->n_files, sizeof(*a->seen))))
		ret = bp_diag_set(d, BP_ERR_NOMEM, a->path, "out of memory");
	for (size_t k = 0; k < a->n_files && !ret; k++) {
		if (arg_file(a, k) == a->path)
			a->seen[k] = seen;
		else
			ret = check_dtb(arg_file(a, k), &a->seen[k], NULL, d);
	}
	return ret;
}

static int examine_dtb(void *ctx, size_t i)
{
	struct examine *e = ctx;
	struct bp_diag d;
	int ret = examine_one(e, &e->args[i], &d);

	return ret ? bpi_first_failure_note(&e->fail, i, ret, &d) : 0;
}

/* DTB paths to image indices (open addressing), so linking stays linear. */
static uint64_t path_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* The slot holding @path, or the empty slot where it belongs. */
static size_t *path_slot(const struct build *b, size_t *table, size_t mask, const char *path)
{
	size_t at = (size_t)path_hash(path) & mask;

	while (table[at] && strcmp(b->img[table[at] - 1].path, path))
		at = (at + 1) & mask;
	return &table[at];
}

/* Store each file once (in order of first use) and point every configuration at its files. */
static int link_dtbs(struct build *b, struct dtb_arg *args, size_t n)
{
	size_t total = 1, mask, *table, *slot;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		total += args[i].n_files;
	for (mask = 1; mask < 2 * total; mask <<= 1)
		;
	table = calloc(mask--, sizeof(*table));
	if (!table || !(b->cfg = calloc(n + 1, sizeof(*b->cfg))))
		ret = bp_diag_set(b->d, BP_ERR_NOMEM, "", "out of memory");
	for (size_t i = 0; i < n && !ret; i++) {
		struct dtb_arg *a = &args[i];
		struct src_config *c = &b->cfg[b->n_cfg++];

		*c = a->cfg;
		memset(&a->cfg, 0, sizeof(a->cfg));
		if (!(c->fdts = calloc(a->n_files, sizeof(*c->fdts))))
			ret = bp_diag_set(b->d, BP_ERR_NOMEM, a->path, "out of memory");
		for (size_t k = 0; k < a->n_files && !ret; k++) {
			const char *file = arg_file(a, k);
			struct src_image *im;

			slot = path_slot(b, table, mask, file);
			if (!*slot) {
				im = new_image(b, KIND_FDT, file);
				if (im && file != a->path && !(im->owned_path = strdup(file)))
					im = NULL;
				if (!im) {
					ret = bp_diag_set(b->d, BP_ERR_NOMEM, file, "out of memory");
					break;
				}
				/* A component named by a .cmd file: own the path. */
				if (im->owned_path)
					im->path = im->owned_path;
				im->input_len = a->seen[k].size;
				im->input_sum = a->seen[k].sum;
				*slot = b->n_img;
			}
			c->fdts[c->n_fdts++] = *slot - 1;
		}
	}
	free(table);
	return ret;
}

static int gather_dtbs(struct build *b)
{
	const struct bp_fit_build_opts *o = b->o;
	struct dtb_arg *args = calloc(o->n_dtbs + 1, sizeof(*args));
	struct examine e = { .args = args, .decompose = o->decompose };
	size_t n = 0;
	int ret;

	if (!args)
		return bp_diag_set(b->d, BP_ERR_NOMEM, "", "out of memory");
	/* make_fit.py stores overlays only as parts of composite DTBs (-D). */
	for (size_t i = 0; i < o->n_dtbs; i++)
		if (!has_suffix(o->dtbs[i], ".dtbo"))
			args[n++].path = o->dtbs[i];
	/* The error reported is the first in argument order. */
	bpi_first_failure_init(&e.fail);
	ret = bpi_first_failure_report(&e.fail, bpi_jobs_run(n, o->jobs, examine_dtb, &e), b->d);
	if (!ret)
		ret = link_dtbs(b, args, n);
	for (size_t i = 0; i < n; i++) {
		free(args[i].cfg.model);
		free(args[i].cfg.compat);
		bpi_strv_free(args[i].files);
		free(args[i].seen);
	}
	free(args);
	return ret;
}

int bpi_fit_gather(struct build *b)
{
	const struct bp_fit_build_opts *o = b->o;
	int ret = open_streamed(b, KIND_KERNEL, o->kernel);

	/* make_fit.py stores it, but nothing can boot it and fit verify fails it. */
	if (!ret && !b->img[0].input_len)
		ret = bp_diag_set(b->d, BP_ERR_FORMAT, o->kernel, "kernel is empty: U-Boot cannot "
				  "boot it and `bootpack fit verify` rejects it");
	if (!ret && o->ramdisk)
		ret = open_streamed(b, KIND_RAMDISK, o->ramdisk);
	return ret ? ret : gather_dtbs(b);
}
