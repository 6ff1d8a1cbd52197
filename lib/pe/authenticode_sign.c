// SPDX-License-Identifier: MIT
/* Authenticode signing (work in progress: not implemented yet). */
#include "authenticode_internal.h"

int bp_pe_sign(const struct bp_pe *pe, const struct bp_key *k, const struct bp_pe_sign_opts *o,
	       const char *out_path, struct bp_diag *d)
{
	(void)k;
	(void)o;
	(void)out_path;
	bp_diag_clear(d);
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, pe->name, "signing is not implemented yet");
}

int bp_pe_edit_sign(const struct bp_pe *pe, const struct bp_pe_edit *e, const struct bp_key *k,
		    const struct bp_pe_sign_opts *o, const char *out_path, struct bp_diag *d)
{
	(void)e;
	return bp_pe_sign(pe, k, o, out_path, d);
}
