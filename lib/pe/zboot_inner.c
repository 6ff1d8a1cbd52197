// SPDX-License-Identifier: MIT
/* The inner kernel Image of a zboot image (work in progress: not implemented yet). */
#include "authenticode_internal.h"

int bp_zboot_inner(const struct bp_pe *pe, uint64_t max, struct bp_zboot_inner *out,
		   struct bp_diag *d)
{
	(void)max;
	(void)out;
	bp_diag_clear(d);
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, pe->name, "not implemented yet");
}
