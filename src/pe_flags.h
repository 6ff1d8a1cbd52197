/* SPDX-License-Identifier: MIT */
/* Names of PE section flags, shared by pe info (printing) and add-section (--flags). */
#ifndef BP_PE_FLAGS_H
#define BP_PE_FLAGS_H

#include <stddef.h>
#include <stdint.h>

struct pe_flag_name {
	uint32_t flag;
	const char *name;
};

extern const struct pe_flag_name pe_flag_names[];
extern const size_t n_pe_flag_names;

#endif
