// SPDX-License-Identifier: MIT
/*
 * The reference region walk: every token of the tree in order, with the
 * state U-Boot 2023.01's fdt_find_regions() keeps (the path being walked,
 * a "want" level per depth, the open region), written here from its
 * documented behaviour. It is slow (the whole tree per configuration) and
 * exists so the unit test can check the indexed walk (fdt_region.c) against
 * it on many trees.
 */
#include <string.h>

#include <libfdt.h>

#include "fdt_region.h"

static bool is_data_prop(const char *name)
{
	return !strcmp(name, "data") || !strcmp(name, "data-size") ||
	       !strcmp(name, "data-position") || !strcmp(name, "data-offset");
}

static bool listed(const char *path, const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(paths[i], path))
			return true;
	return false;
}

struct ref_walk {
	struct bpi_fdt_region *out;
	size_t max, count;
	long start;          /* structure offset of the open region, or -1 */
	uint32_t base;       /* off_dt_struct */
};

/* One token's verdict: open (or reopen, when adjacent to the last) or close a region. */
static void ref_step(struct ref_walk *w, int include, long offset, long stop_at)
{
	if (include && w->start == -1) {
		const struct bpi_fdt_region *last = w->count ? &w->out[w->count - 1] : NULL;

		if (last && w->count <= w->max &&
		    (uint64_t)offset + w->base == (uint64_t)last->off + last->size) {
			w->start = (long)last->off - w->base;
			w->count--;
		} else {
			w->start = offset;
		}
	}
	if (!include && w->start != -1) {
		if (w->count < w->max) {
			w->out[w->count].off = (uint32_t)(w->base + w->start);
			w->out[w->count].size = (uint32_t)(stop_at - w->start);
		}
		w->count++;
		w->start = -1;
	}
}

enum bpi_region_err bpi_fdt_regions_ref(const void *fdt, const char *const *paths, size_t n,
					struct bpi_fdt_region *out, size_t *count)
{
	struct ref_walk w = { .out = out, .max = BPI_SIG_REGIONS_MAX(n), .start = -1,
			      .base = fdt_off_dt_struct(fdt) };
	int stack[BPI_SIG_MAX_DEPTH] = { 0 };
	char path[BPI_SIG_PATH_MAX];
	size_t plen = 0;
	int depth = -1, want = 0, next = 0;
	bool expect_end = false;
	uint32_t tag;

	path[0] = '\0';
	do {
		int offset = next, include = 0, len;
		long stop_at;
		const char *name;

		tag = fdt_next_tag(fdt, offset, &next);
		if (next < 0)
			return BPI_REGION_WALK;
		stop_at = next;
		if (expect_end && tag != FDT_END)
			return BPI_REGION_WALK;
		switch (tag) {
		case FDT_PROP: {
			const struct fdt_property *p = fdt_get_property_by_offset(fdt, offset, NULL);

			include = want >= 2;
			stop_at = offset;
			name = p ? fdt_string(fdt, (int)fdt32_to_cpu(p->nameoff)) : NULL;
			if (!name)
				return BPI_REGION_WALK;
			if (is_data_prop(name))
				include = 0;
			break;
		}
		case FDT_NOP:
			include = want >= 2;
			stop_at = offset;
			break;
		case FDT_BEGIN_NODE:
			if (++depth == BPI_SIG_MAX_DEPTH)
				return BPI_REGION_WALK;
			name = fdt_get_name(fdt, offset, &len);
			if (!name || (!depth && *name))
				return BPI_REGION_WALK;
			if (plen + 2 + (size_t)len >= sizeof(path))
				return BPI_REGION_WALK;
			/* "/" for the root, then "/images", "/images/kernel". */
			if (plen != 1)
				path[plen++] = '/';
			memcpy(path + plen, name, (size_t)len + 1);
			plen += (size_t)len;
			stack[depth] = want;
			if (want == 1)
				stop_at = offset;
			if (listed(path, paths, n))
				want = 2;
			else if (want)
				want--;
			else
				stop_at = offset;
			include = want;
			break;
		case FDT_END_NODE:
			if (depth < 0)
				return BPI_REGION_WALK;
			include = want;
			want = stack[depth--];
			while (plen > 0 && path[--plen] != '/')
				;
			path[plen] = '\0';
			expect_end = depth == -1;
			break;
		case FDT_END:
			include = 1;
			break;
		default:
			return BPI_REGION_WALK;
		}
		ref_step(&w, include, offset, stop_at);
	} while (tag != FDT_END);
	if ((uint32_t)next != fdt_size_dt_struct(fdt))
		return BPI_REGION_WALK;
	/* The END tag closes the last region (the strings are added by the caller). */
	if (w.count < w.max) {
		out[w.count].off = (uint32_t)(w.base + w.start);
		out[w.count].size = (uint32_t)(next - w.start);
	}
	*count = ++w.count;
	return w.count >= w.max ? BPI_REGION_TOO_MANY : BPI_REGION_OK;
}
