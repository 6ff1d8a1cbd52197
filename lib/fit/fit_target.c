// SPDX-License-Identifier: MIT
/*
 * Bootloader targets: one table of rules, each read from the bootloader's
 * source (the "source" column), and the checks that find a FIT breaking
 * them. The man page's table is tested against this one
 * (tests/cli/test_fit_targets.py), so change both together.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include <bootpack/codec.h>
#include <bootpack/fit_target.h>

#include "fit_internal.h"
#include "util/esc.h"

#define T(x) (1u << BP_FIT_TARGET_##x)
#define UBOOT_ALL (T(UBOOT) | T(UBOOT_2023))
#define WHY_MAX 256
#define MSG_MAX 1024

static const char *const names[BP_FIT_TARGET_COUNT] = {
	"u-boot", "u-boot-2023.01", "barebox", "depthcharge", "linuxboot",
};

static const char *const descriptions[BP_FIT_TARGET_COUNT] = {
	"U-Boot v2024.04 and later (source read: v2026.07)",
	"U-Boot v2021.04 to v2024.01, e.g. Debian 12's 2023.01 (source read: v2023.01)",
	"barebox (source read: v2026.06.0, dd1d839c2c)",
	"ChromeOS depthcharge (source read: main d1dab57, 2026-08-19)",
	"LinuxBoot's u-root fitboot, pkg/boot/fit (source read: v0.16.0, main 9b0bdb8)",
};

/* What the checks see: the FIT and, for contents, its file. */
struct ctx {
	const struct bp_fit *fit;
	const struct bp_fit_info *info;
	const uint8_t *file;
	size_t file_len;
	uint64_t max_decompressed;
};

enum scope { PER_IMAGE, PER_CONFIG, PER_FIT };

/* A rule and the test for it: true when item @i breaks it, the detail in @why. */
struct rule_def {
	struct bp_fit_target_rule r;
	enum scope scope;
	bool (*broken)(const struct ctx *c, size_t i, char *why, size_t n);
};

static bool compressed(const struct bp_fit_image *im)
{
	return im->compression && strcmp(im->compression, "none");
}

static bool is_type(const struct bp_fit_image *im, const char *type)
{
	return im->type && !strcmp(im->type, type);
}

static bool is_kernel(const struct bp_fit_image *im)
{
	return is_type(im, "kernel") || is_type(im, "kernel_noload");
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static bool __attribute__((format(printf, 3, 4))) say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return true;
}

/* The first fdt image a configuration names, or NULL. */
static const struct bp_fit_image *config_fdt(const struct ctx *c, const struct bp_fit_config *cf)
{
	int i;

	if (!cf->n_fdts)
		return NULL;
	i = bp_fit_find_image(c->fit, cf->fdts[0]);
	return i < 0 ? NULL : bp_fit_image_at(c->fit, (size_t)i);
}

/* ---- Image checks ---- */

static bool external(const struct ctx *c, size_t i, char *why, size_t n)
{
	return bp_fit_image_at(c->fit, i)->external &&
	       say(why, n, "data stored outside the tree (data-offset/data-position)");
}

static bool comp_not_in(const struct bp_fit_image *im, const char *const *ok, char *why, size_t n)
{
	if (is_type(im, "ramdisk") || !compressed(im) || in_list(im->compression, ok))
		return false;
	return say(why, n, "compression \"%s\"", BPI_ESC(im->compression));
}

static bool barebox_comp(const struct ctx *c, size_t i, char *why, size_t n)
{
	static const char *const ok[] = { "gzip", "bzip2", "lzo", "zstd", NULL };

	return comp_not_in(bp_fit_image_at(c->fit, i), ok, why, n);
}

static bool depthcharge_comp(const struct ctx *c, size_t i, char *why, size_t n)
{
	static const char *const ok[] = { "lzma", "lz4", NULL };

	return comp_not_in(bp_fit_image_at(c->fit, i), ok, why, n);
}

/* An image of the kind @is_kind says, stored compressed. */
static bool compressed_kind(const struct bp_fit_image *im, bool is_kind, const char *kind,
			    char *why, size_t n)
{
	return is_kind && compressed(im) &&
	       say(why, n, "%s with compression \"%s\"", kind, BPI_ESC(im->compression));
}

static bool ramdisk_comp(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_image *im = bp_fit_image_at(c->fit, i);

	return compressed_kind(im, is_type(im, "ramdisk"), "ramdisk", why, n);
}

static bool kernel_comp(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_image *im = bp_fit_image_at(c->fit, i);

	return compressed_kind(im, is_kernel(im), "kernel", why, n);
}

static bool noload_compressed(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_image *im = bp_fit_image_at(c->fit, i);

	return compressed_kind(im, is_type(im, "kernel_noload"), "kernel_noload", why, n);
}

static bool noload_addresses(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_image *im = bp_fit_image_at(c->fit, i);

	if (!is_type(im, "kernel_noload") || (im->has_load && im->has_entry))
		return false;
	return say(why, n, "kernel_noload without %s", !im->has_load && !im->has_entry ?
		   "'load' and 'entry'" : !im->has_load ? "'load'" : "'entry'");
}

/*
 * U-Boot sizes the buffer of a compressed kernel_noload at 4 times the stored
 * bytes, rounded up to 1 MiB: decompress up to one byte more to know.
 */
static bool noload_ratio(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_image *im = bp_fit_image_at(c->fit, i);
	uint64_t room = ((im->data_size * 4 + (1u << 20) - 1) >> 20) << 20;
	struct bp_buf out = BP_BUF_INIT;
	enum bp_codec codec;
	struct bp_diag d;
	int ret;

	if (!is_type(im, "kernel_noload") || !compressed(im) || !im->data ||
	    bp_codec_from_name(im->compression, &codec, &d) || room >= c->max_decompressed ||
	    room >= SIZE_MAX)
		return false;
	ret = bp_decompress(codec, im->data, (size_t)im->data_size, (size_t)room, &out, &d);
	bp_buf_free(&out);
	return ret == BP_ERR_TOOBIG &&
	       say(why, n, "kernel_noload of %llu stored bytes decompresses to more than %llu",
		   (unsigned long long)im->data_size, (unsigned long long)room);
}

/* The "algo" of each signature-* subnode of node @path, through @fn. */
static bool bad_sig_algo(const struct ctx *c, const char *path, char *why, size_t n)
{
	int node = fdt_path_offset(c->file, path), sub;

	if (node < 0)
		return false;
	fdt_for_each_subnode(sub, c->file, node) {
		const char *name = fdt_get_name(c->file, sub, NULL);
		const char *algo;
		int len;

		if (!name || strncmp(name, "signature", 9))
			continue;
		algo = fdt_getprop(c->file, sub, "algo", &len);
		if (!algo || len < 1 || algo[len - 1])
			continue;   /* the base checks report a malformed algo */
		if (strncmp(algo, "sha1,", 5) && strncmp(algo, "sha256,", 7))
			return say(why, n, "%s algo \"%s\"", BPI_ESC(name), BPI_ESC(algo));
	}
	return false;
}

static bool sig_path(char *path, size_t size, const char *parent, const char *name)
{
	int len = snprintf(path, size, "/%s/%s", parent, name);

	return len > 0 && (size_t)len < size && !strchr(name, '/');
}

static bool img_signed(const struct ctx *c, size_t i, char *why, size_t n)
{
	return bp_fit_image_at(c->fit, i)->n_signatures && say(why, n, "image signature nodes");
}

/* ---- Configuration checks ---- */

static bool barebox_cfg_sig(const struct ctx *c, size_t i, char *why, size_t n)
{
	char path[512];

	return sig_path(path, sizeof(path), "configurations", bp_fit_config_at(c->fit, i)->name) &&
	       bad_sig_algo(c, path, why, n);
}

static bool compressed_fdt_no_compat(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_config *cf = bp_fit_config_at(c->fit, i);
	const struct bp_fit_image *fdt = config_fdt(c, cf);

	return !cf->n_compatibles && fdt && compressed(fdt) &&
	       say(why, n, "no 'compatible' and its fdt \"%s\" is compressed", BPI_ESC(fdt->name));
}

static bool overlays(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_config *cf = bp_fit_config_at(c->fit, i);

	return cf->n_fdts > 1 && say(why, n, "%zu overlay%s after the base fdt", cf->n_fdts - 1,
				     cf->n_fdts == 2 ? "" : "s");
}

static bool overlays_no_compat(const struct ctx *c, size_t i, char *why, size_t n)
{
	return !bp_fit_config_at(c->fit, i)->n_compatibles && overlays(c, i, why, n) &&
	       say(why, n, "no 'compatible' and fdt overlays");
}

static bool no_kernel_or_fdt(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_config *cf = bp_fit_config_at(c->fit, i);

	if (cf->kernel && cf->n_fdts)
		return false;
	return say(why, n, "no '%s'", !cf->kernel ? "kernel" : "fdt");
}

/*
 * Whether the DTB at @p has a root "compatible"; copied, since libfdt wants
 * it 8-aligned and FIT data is only 4-aligned. Unreadable counts as having
 * one: the base checks report a bad DTB.
 */
static bool dtb_root_compat(const uint8_t *p, uint64_t len)
{
	void *copy;
	bool has = true;

	if (len < sizeof(struct fdt_header) || len > SIZE_MAX || !(copy = malloc((size_t)len)))
		return true;
	memcpy(copy, p, (size_t)len);
	if (!fdt_check_header(copy) && fdt_totalsize(copy) <= len)
		has = fdt_getprop(copy, 0, "compatible", NULL) != NULL;
	free(copy);
	return has;
}

/* Depthcharge reads "compatible" from the properties of the DTB's root node. */
static bool fdt_root_no_compat(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_config *cf = bp_fit_config_at(c->fit, i);
	const struct bp_fit_image *fdt = config_fdt(c, cf);

	if (cf->n_compatibles || !fdt || compressed(fdt) || !fdt->data ||
	    dtb_root_compat(fdt->data, fdt->data_size))
		return false;
	return say(why, n, "no 'compatible', nor has the root of its fdt \"%s\"",
		   BPI_ESC(fdt->name));
}

static bool has_fdt(const struct ctx *c, size_t i, char *why, size_t n)
{
	const struct bp_fit_config *cf = bp_fit_config_at(c->fit, i);

	return cf->n_fdts && say(why, n, "fdt \"%s\"", BPI_ESC(cf->fdts[0]));
}

static bool cfg_signed(const struct ctx *c, size_t i, char *why, size_t n)
{
	return bp_fit_config_at(c->fit, i)->n_signatures &&
	       say(why, n, "configuration signature nodes");
}

/* ---- Whole-FIT checks ---- */

static bool at_names(const struct ctx *c, size_t i, char *why, size_t n)
{
	(void)i;
	return c->info->unit_address_node &&
	       say(why, n, "node \"%s\" has a unit address ('@')",
		   BPI_ESC(c->info->unit_address_node));
}

static bool no_default(const struct ctx *c, size_t i, char *why, size_t n)
{
	(void)i;
	return !c->info->default_config && say(why, n, "no /configurations default");
}

#define RULE(ID, TARGETS, EFFECT, CHECK, MSG, SRC)                                          \
	{ .size = sizeof(struct bp_fit_target_rule), .id = ID, .targets = TARGETS,         \
	  .effect = BP_FIT_TARGET_##EFFECT, .check = CHECK, .message = MSG, .source = SRC }

#include "fit_target_rules.h"

size_t bp_fit_target_rule_count(void)
{
	return sizeof(rules) / sizeof(rules[0]);
}

const struct bp_fit_target_rule *bp_fit_target_rule_at(size_t i)
{
	return i < bp_fit_target_rule_count() ? &rules[i].r : NULL;
}

const struct bp_fit_target_rule *bp_fit_target_rule_find(const char *id)
{
	for (size_t i = 0; id && i < bp_fit_target_rule_count(); i++)
		if (!strcmp(rules[i].r.id, id))
			return &rules[i].r;
	return NULL;
}

const char *bp_fit_target_name(enum bp_fit_target t)
{
	return (unsigned)t < BP_FIT_TARGET_COUNT ? names[t] : NULL;
}

const char *bp_fit_target_description(enum bp_fit_target t)
{
	return (unsigned)t < BP_FIT_TARGET_COUNT ? descriptions[t] : NULL;
}

int bp_fit_target_from_name(const char *name, enum bp_fit_target *out)
{
	for (unsigned t = 0; name && t < BP_FIT_TARGET_COUNT; t++)
		if (!strcmp(name, names[t])) {
			*out = (enum bp_fit_target)t;
			return 0;
		}
	return BP_ERR_NOTFOUND;
}

static void emit(const struct ctx *c, const struct rule_def *rd, const char *node,
		 const char *why, enum bp_fit_check_level level, bp_fit_check_fn fn, void *ctx)
{
	char msg[MSG_MAX];

	if (!fn)
		return;
	snprintf(msg, sizeof(msg), "%s: %s", why, rd->r.message);
	(void)c;
	fn(ctx, &(struct bp_fit_check){ .size = sizeof(struct bp_fit_check), .level = level,
					.node = node, .msg = msg, .rule = &rd->r });
}

/* Run rule @rd over every item of its scope; returns the findings. */
static size_t run_rule(const struct ctx *c, const struct rule_def *rd,
		       enum bp_fit_check_level level, bp_fit_check_fn fn, void *ctx)
{
	size_t n = rd->scope == PER_IMAGE ? c->info->n_images :
		   rd->scope == PER_CONFIG ? c->info->n_configs : 1;
	size_t found = 0;
	char why[WHY_MAX];

	for (size_t i = 0; i < n; i++) {
		const char *node = rd->scope == PER_IMAGE ? bp_fit_image_at(c->fit, i)->name :
				   rd->scope == PER_CONFIG ? bp_fit_config_at(c->fit, i)->name : "";

		if (!rd->broken(c, i, why, sizeof(why)))
			continue;
		emit(c, rd, node, why, level, fn, ctx);
		found++;
	}
	return found;
}

int bp_fit_target_check(const struct bp_fit *fit, enum bp_fit_target t,
			enum bp_fit_check_level level, uint64_t max_decompressed,
			bp_fit_check_fn fn, void *ctx, size_t *n_found, struct bp_diag *d)
{
	struct ctx c = { fit, bp_fit_get_info(fit), NULL, 0,
			 max_decompressed ? max_decompressed : BP_FIT_DECOMPRESS_MAX_DEFAULT };
	size_t found = 0;

	bp_diag_clear(d);
	if ((unsigned)t >= BP_FIT_TARGET_COUNT ||
	    (level != BP_FIT_CHECK_WARN && level != BP_FIT_CHECK_FAIL))
		return bp_diag_set(d, BP_ERR_INVALID, "", "unknown target or finding level");
	c.file = bpi_fit_file(fit, &c.file_len);
	for (size_t r = 0; r < bp_fit_target_rule_count(); r++)
		if (rules[r].r.targets & (1u << t))
			found += run_rule(&c, &rules[r], level, fn, ctx);
	if (n_found)
		*n_found = found;
	return 0;
}
