/* SPDX-License-Identifier: MIT */
/*
 * Keyed verification for bp_fit_verify() (bpi_: internal): the signatures
 * of a FIT checked against the public keys of a U-Boot control devicetree,
 * with U-Boot 2023.01's policy, one finding per signature and per policy
 * failure (see fit_sig_verify.c).
 */
#ifndef BP_FIT_SIG_VERIFY_H
#define BP_FIT_SIG_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <bootpack/fit.h>

struct bpi_sigv;

/* A finding; @sig, @algo and @key are NULL for one that is not about a signature node. */
typedef void (*bpi_sigv_emit)(void *ctx, enum bp_fit_check_level level, const char *node,
			      const char *sig, const char *algo, const char *key, bool counted,
			      const char *msg);

/*
 * Read the keys of the control devicetree (@len bytes at @keys_fdt:
 * checked, every key node validated; a broken one is BP_ERR_FORMAT) and
 * index @fit's tree.
 */
int bpi_sigv_open(const struct bp_fit *fit, const void *keys_fdt, size_t len,
		  struct bpi_sigv **out, struct bp_diag *d);
void bpi_sigv_close(struct bpi_sigv *sv);

/* Check image @i's signature nodes (thread-safe for distinct images). */
int bpi_sigv_image_check(struct bpi_sigv *sv, size_t i);
/* Its findings, and the "required = image" policy if @policy. */
void bpi_sigv_image_report(struct bpi_sigv *sv, size_t i, bool policy, bpi_sigv_emit fn,
			   void *ctx);
/* Check and report configuration @i: its signatures and the "required = conf" policy. */
int bpi_sigv_config(struct bpi_sigv *sv, size_t i, bpi_sigv_emit fn, void *ctx);

#endif
