// SPDX-License-Identifier: MIT
/* Fuzz target: response-file splitting (quotes, escapes, whitespace). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "argfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct argv_list l = { 0 };

	if (argfile_split((const char *)data, size, &l) == 0) {
		size_t total = 0;

		/* Splitting never produces more bytes than it was given. */
		for (size_t i = 0; i < l.n; i++)
			total += strlen(l.v[i]);
		if (total > size || (l.v && l.v[l.n]))
			abort();
	}
	argv_free(&l);
	return 0;
}
