// SPDX-License-Identifier: MIT
/*
 * The size check of caller structs (rules at the top of <bootpack/fit.h>),
 * in one place so every entry point refuses the same things the same way:
 * a size below the first version is a caller bug, bytes past what this
 * library knows must be zero, since a set option silently ignored would
 * build something the caller did not ask for.
 */
#include <string.h>

#include "util.h"

/* A caller's struct older than the first version: a bug in the caller. */
static int too_small(size_t size, size_t min_size, const char *what, struct bp_diag *d)
{
	return bp_diag_set(d, BP_ERR_INVALID, "", "struct %s: size %zu is smaller than its first "
			   "version (%zu bytes); set it to sizeof, e.g. with the _INIT macro", what,
			   size, min_size);
}

int bpi_struct_in(void *dst, size_t dst_size, size_t min_size, const void *src,
		  const char *what, struct bp_diag *d)
{
	const uint8_t *p = src;
	size_t size;

	memset(dst, 0, dst_size);
	if (!src) {
		*(size_t *)dst = dst_size;
		return 0;
	}
	memcpy(&size, src, sizeof(size));
	if (size < min_size)
		return too_small(size, min_size, what, d);
	for (size_t i = dst_size; i < size; i++)
		if (p[i])
			return bp_diag_set(d, BP_ERR_UNSUPPORTED, "", "struct %s: option field "
					   "unknown to this library version is set (byte %zu of "
					   "%zu; this version knows %zu)", what, i, size, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	/* The copy is this library's struct, whole: what it passes on must say so. */
	*(size_t *)dst = dst_size;
	return 0;
}

int bpi_struct_out_check(const void *dst, size_t min_size, const char *what, struct bp_diag *d)
{
	size_t size;

	if (!dst)
		return 0;
	memcpy(&size, dst, sizeof(size));
	return size < min_size ? too_small(size, min_size, what, d) : 0;
}

void bpi_struct_out(void *dst, const void *src, size_t src_size)
{
	size_t size;

	if (!dst)
		return;
	memcpy(&size, dst, sizeof(size));
	if (size > src_size)
		size = src_size;
	/* The caller's size field stays what the caller set. */
	memcpy((uint8_t *)dst + sizeof(size_t), (const uint8_t *)src + sizeof(size_t),
	       size - sizeof(size_t));
}
