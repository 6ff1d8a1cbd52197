// SPDX-License-Identifier: MIT
#include <bootpack/pe.h>

#include "pe_flags.h"

const struct pe_flag_name pe_flag_names[] = {
	{ BP_PE_SCN_CNT_CODE, "code" },
	{ BP_PE_SCN_CNT_INITIALIZED_DATA, "data" },
	{ BP_PE_SCN_CNT_UNINITIALIZED_DATA, "bss" },
	{ BP_PE_SCN_MEM_DISCARDABLE, "discardable" },
	{ 0x10000000u, "shared" },
	{ BP_PE_SCN_MEM_EXECUTE, "execute" },
	{ BP_PE_SCN_MEM_READ, "read" },
	{ BP_PE_SCN_MEM_WRITE, "write" },
};

const size_t n_pe_flag_names = sizeof(pe_flag_names) / sizeof(pe_flag_names[0]);
