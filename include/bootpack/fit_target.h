/* SPDX-License-Identifier: MIT */
/*
 * Bootloader targets: what a given bootloader refuses or misreads in a FIT
 * that U-Boot boots. One table of rules, each established from that
 * bootloader's source (the rule's "source" names file, function and
 * release), checked against an opened FIT by bp_fit_target_check() and
 * against build options by the CLI's fit build --target.
 *
 * Since 1.3 (symbol node BOOTPACK_1.3). The growth rules of <bootpack/fit.h>
 * apply: structs start with "size_t size" and only grow at the end.
 */
#ifndef BOOTPACK_FIT_TARGET_H
#define BOOTPACK_FIT_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>
#include <bootpack/fit.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The targets, in bp_fit_target_name() order; a rule's "targets" has bit (1 << target). */
enum bp_fit_target {
	BP_FIT_TARGET_UBOOT,        /* "u-boot": U-Boot v2024.04 and later */
	BP_FIT_TARGET_UBOOT_2023,   /* "u-boot-2023.01": U-Boot v2021.04 to v2024.01 */
	BP_FIT_TARGET_BAREBOX,      /* "barebox" */
	BP_FIT_TARGET_DEPTHCHARGE,  /* "depthcharge" (ChromeOS) */
	BP_FIT_TARGET_LINUXBOOT,    /* "linuxboot": u-root's fitboot (pkg/boot/fit) */
	BP_FIT_TARGET_COUNT
};

/* What the bootloader does with a FIT that breaks the rule. */
enum bp_fit_target_effect {
	BP_FIT_TARGET_REFUSED = 1,  /* refuses the image or configuration, or fails to boot it */
	BP_FIT_TARGET_MISREAD,      /* boots, but not what the FIT says (ignored part, other choice) */
};

struct bp_fit_target_rule {
	size_t size;                /* set by the library */
	const char *id;             /* stable name, e.g. "barebox-external" */
	uint32_t targets;           /* bit (1 << enum bp_fit_target) per target it applies to */
	enum bp_fit_target_effect effect;
	const char *check;          /* what in the FIT it looks at */
	const char *message;        /* what the bootloader does then */
	const char *source;         /* where that is in the bootloader's source, with release */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

/* "u-boot", "u-boot-2023.01"...; NULL when @t is out of range. */
const char *bp_fit_target_name(enum bp_fit_target t);
/* One line: which releases the target covers and which source was read. */
const char *bp_fit_target_description(enum bp_fit_target t);
/* The target called @name, or BP_ERR_NOTFOUND. */
int bp_fit_target_from_name(const char *name, enum bp_fit_target *out);

/* Rule @i (below bp_fit_target_rule_count()), or NULL. */
size_t bp_fit_target_rule_count(void);
const struct bp_fit_target_rule *bp_fit_target_rule_at(size_t i);
/* The rule called @id, or NULL. */
const struct bp_fit_target_rule *bp_fit_target_rule_find(const char *id);

/*
 * Check @fit against every rule of target @t. Each broken rule is one
 * finding per image or configuration, passed to @fn (may be NULL) at @level
 * (BP_FIT_CHECK_WARN, or BP_FIT_CHECK_FAIL for a strict check) with its
 * struct bp_fit_check "rule" set. @n_found (may be NULL) receives the number
 * of findings. Rules that need an image's contents (a compressed kernel's
 * size once decompressed) decompress it, up to @max_decompressed bytes
 * (0: BP_FIT_DECOMPRESS_MAX_DEFAULT).
 *
 * Returns 0 when the checks ran, BP_ERR_INVALID for a bad @t or @level,
 * BP_ERR_NOMEM.
 */
int bp_fit_target_check(const struct bp_fit *fit, enum bp_fit_target t,
			enum bp_fit_check_level level, uint64_t max_decompressed,
			bp_fit_check_fn fn, void *ctx, size_t *n_found, struct bp_diag *d);

/*
 * Check build options @o against target @t before building: an option that
 * makes a FIT @t refuses or misreads (external data where only embedded
 * data is read, a compression it lacks, overlays it does not apply, no DTB
 * where one is needed, a signature algorithm it cannot check). Returns 0, or
 * BP_ERR_UNSUPPORTED with @rule (may be NULL) set to the rule broken,
 * @option (may be NULL) to a short name of the option ("compression") and
 * the reason in @d; BP_ERR_INVALID for a bad @t.
 */
int bp_fit_target_build_check(enum bp_fit_target t, const struct bp_fit_build_opts *o,
			      const struct bp_fit_target_rule **rule, const char **option,
			      struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
