/* SPDX-License-Identifier: MIT */
/*
 * pe info's UKI block (text) and "uki" member (JSON): the parts
 * bp_uki_inspect() located. Every string from the image is escaped here.
 */
#ifndef BP_UKI_PRINT_H
#define BP_UKI_PRINT_H

#include <stdio.h>

#include <bootpack/uki.h>

/*
 * @ret and @d are what bp_uki_inspect() returned for @pe: on failure the
 * block says why instead (pe info lists what is wrong; uki info refuses).
 */
void uki_text(const struct bp_pe *pe, const struct bp_uki_info *u, int ret,
	      const struct bp_diag *d);
/* The value of "uki": an object, {"error": MSG} or null when @pe is no UKI. */
void uki_json(const struct bp_pe *pe, const struct bp_uki_info *u, int ret,
	      const struct bp_diag *d);

#endif
