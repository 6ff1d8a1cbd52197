// SPDX-License-Identifier: MIT
/* Authenticode verification (work in progress: not implemented yet). */
#include "authenticode_internal.h"

int bp_pe_verify(const struct bp_pe *pe, const struct bp_pe_verify_opts *o, bp_pe_sig_check_fn fn,
		 void *ctx, size_t *n_good, struct bp_diag *d)
{
	(void)o;
	(void)fn;
	(void)ctx;
	(void)n_good;
	bp_diag_clear(d);
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, pe->name, "verification is not implemented yet");
}
