// SPDX-License-Identifier: MIT
/*
 * Gatekeeper for untrusted devicetree blobs: after this check, libfdt's
 * accessors are safe to use on the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fit_internal.h"
#include "util/util.h"

int bpi_fdt_check(const void *p, size_t len, const char *path, struct bp_diag *d)
{
	uint32_t magic, total;
	int err;

	if (len < sizeof(struct fdt_header))
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "not a devicetree blob: file is %zu bytes, shorter than the "
				   "%zu-byte header", len, sizeof(struct fdt_header));
	magic = bpi_get_be32(p);
	if (magic != FDT_MAGIC)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "not a devicetree blob: bad magic 0x%08x (expected 0x%08x)",
				   magic, FDT_MAGIC);
	/*
	 * Versions before 16 name nodes by full path; libfdt 1.6.1 crashes on
	 * such blobs in fdt_check_full(), and nothing has written them for
	 * decades (dtc writes 17).
	 */
	if (fdt_version(p) < 16)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree version %u is not supported (only 16 and 17, "
				   "as dtc writes)", fdt_version(p));
	total = fdt_totalsize(p);
	if (total > len)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree is truncated: header totalsize is %u bytes but "
				   "the file has only %zu", total, len);
	/* libfdt refuses blobs at addresses not 8-aligned; FITs store DTBs 4-aligned. */
	if ((uintptr_t)p & 7) {
		void *copy = malloc(total ? total : 1);

		if (!copy)
			return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
		memcpy(copy, p, total);
		err = fdt_check_full(copy, total);
		free(copy);
	} else {
		err = fdt_check_full(p, total);
	}
	if (err)
		return bp_diag_set(d, BP_ERR_FORMAT, path, "devicetree is malformed: %s",
				   fdt_strerror(err));
	return 0;
}
