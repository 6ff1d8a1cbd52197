// SPDX-License-Identifier: MIT
/*
 * Build options against a bootloader target: which option of a
 * struct bp_fit_build_opts makes a FIT the target refuses or misreads, named
 * with the rule of fit_target_rules.h that says so. Checked before anything
 * is read, so a refused build writes nothing.
 */
#include <string.h>

#include <bootpack/fit_target.h>
#include <bootpack/sign.h>

#include "util/util.h"

#define T(x) (1u << BP_FIT_TARGET_##x)

static bool in_list(enum bp_codec c, const enum bp_codec *ok, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ok[i] == c)
			return true;
	return false;
}

/* The rule a compression of the kernel and DTBs breaks on @t, or NULL. */
static const char *compression_rule(enum bp_fit_target t, const struct bp_fit_build_opts *o)
{
	static const enum bp_codec barebox[] = { BP_CODEC_GZIP, BP_CODEC_BZIP2, BP_CODEC_LZO,
						  BP_CODEC_ZSTD };
	static const enum bp_codec depthcharge[] = { BP_CODEC_LZMA, BP_CODEC_LZ4 };

	if (o->compress == BP_CODEC_NONE)
		return NULL;
	switch (t) {
	case BP_FIT_TARGET_UBOOT_2023:
		return o->has_load_address ? NULL : "u-boot-noload-compressed";
	case BP_FIT_TARGET_BAREBOX:
		return in_list(o->compress, barebox, 4) ? NULL : "barebox-compression";
	case BP_FIT_TARGET_DEPTHCHARGE:
		return in_list(o->compress, depthcharge, 2) ? NULL : "depthcharge-compression";
	case BP_FIT_TARGET_LINUXBOOT:
		return "linuxboot-kernel-compression";
	default:
		return NULL;
	}
}

static size_t count_dtbs(const struct bp_fit_build_opts *o)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n_dtbs; i++) {
		size_t len = strlen(o->dtbs[i]);

		n += !(len >= 5 && !strcmp(o->dtbs[i] + len - 5, ".dtbo"));
	}
	return n;
}

static bool barebox_algo_bad(const struct bp_fit_build_opts *o)
{
	const char *algo = o->sign_opts ? o->sign_opts->algo : NULL;

	/* No algo: sha256 and the key's type, which barebox reads. */
	return o->sign_key && algo && strncmp(algo, "sha1,", 5) && strncmp(algo, "sha256,", 7);
}

int bp_fit_target_build_check(enum bp_fit_target t, const struct bp_fit_build_opts *opts,
			      const struct bp_fit_target_rule **rule, const char **option,
			      struct bp_diag *d)
{
	const uint32_t embedded_only = T(BAREBOX) | T(DEPTHCHARGE) | T(LINUXBOOT);
	const char *id = NULL, *opt = NULL;
	struct bp_fit_build_opts ob;
	const struct bp_fit_build_opts *o = &ob;
	int ret;

	bp_diag_clear(d);
	if ((unsigned)t >= BP_FIT_TARGET_COUNT || !opts)
		return bp_diag_set(d, BP_ERR_INVALID, "", "unknown target or no options");
	ret = BPI_STRUCT_IN(&ob, BPI_SIZE_V1(struct bp_fit_build_opts, entry_address), opts,
			    "bp_fit_build_opts", d);
	if (ret)
		return ret;
	if (o->external && (embedded_only & (1u << t))) {
		id = t == BP_FIT_TARGET_BAREBOX ? "barebox-external" :
		     t == BP_FIT_TARGET_DEPTHCHARGE ? "depthcharge-external" : "linuxboot-external";
		opt = "external data";
	} else if ((id = compression_rule(t, o))) {
		opt = "compression";
	} else if (t == BP_FIT_TARGET_BAREBOX && o->decompose) {
		id = "barebox-overlays";
		opt = "decomposed DTBs (overlays)";
	} else if (t == BP_FIT_TARGET_DEPTHCHARGE && !count_dtbs(o)) {
		id = "depthcharge-kernel-fdt";
		opt = "no DTB";
	} else if (t == BP_FIT_TARGET_BAREBOX && barebox_algo_bad(o)) {
		id = "barebox-signature-algo";
		opt = "signature algorithm";
	}
	if (rule)
		*rule = bp_fit_target_rule_find(id);
	if (option)
		*option = opt;
	if (!id)
		return 0;
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, "", "%s cannot work on %s: %s", opt,
			   bp_fit_target_name(t), bp_fit_target_rule_find(id)->message);
}
