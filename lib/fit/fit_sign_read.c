// SPDX-License-Identifier: MIT
/*
 * Reading the FIT to sign (fit_sign.h): what U-Boot would refuse under
 * enforced signatures is refused here, before anything is planned; then
 * every image's data (embedded or external, bounds checked against the
 * file) and hash nodes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fit_internal.h"
#include "fit_sign.h"
#include "util/esc.h"
#include "util/util.h"

int bpi_sg_fail(struct sg_plan *p, const char *fmt, ...)
{
	char msg[BP_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bp_diag_set(p->d, BP_ERR_FORMAT, p->path, "%s%s", p->its ? "" : "cannot sign: ",
			   msg);
}

static int check_tree(struct sg_plan *p)
{
	const void *fdt = p->file;
	int depth = 0;

	/* mkimage -f takes any names; what signing needs is checked by the signing itself. */
	if (p->its)
		return 0;
	for (int node = 0; node >= 0 && depth >= 0; node = fdt_next_node(fdt, node, &depth)) {
		const char *name = fdt_get_name(fdt, node, NULL);

		if (name && strchr(name, '@'))
			return bpi_sg_fail(p, "node '%s' has a unit address ('@'): U-Boot with signature "
				    "support refuses such a FIT", BPI_ESC(name));
	}
	if (!fdt_getprop(fdt, 0, "description", NULL))
		return bpi_sg_fail(p, "the root node has no 'description' (U-Boot refuses the FIT)");
	return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Two subnodes of one name would both be signed and only the first used
 * (and a hashed-nodes list naming one path twice is one U-Boot's region
 * walk and bootpack's verify refuse): refuse.
 */
static int check_unique(struct sg_plan *p, int parent, const char *what)
{
	const void *fdt = p->file;
	const char **names;
	size_t n = 0, i = 0;
	int sub, ret = 0;

	fdt_for_each_subnode(sub, fdt, parent)
		n++;
	names = malloc((n + 1) * sizeof(*names));
	if (!names)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	fdt_for_each_subnode(sub, fdt, parent)
		names[i++] = fdt_get_name(fdt, sub, NULL);
	qsort(names, n, sizeof(*names), cmp_cstr);
	for (i = 1; i < n && !ret; i++)
		if (!strcmp(names[i - 1], names[i]))
			ret = bpi_sg_fail(p, "two %s are called '%s'", what, BPI_ESC(names[i]));
	free(names);
	return ret;
}

static int get_u32(struct sg_plan *p, int node, const char *name, uint32_t *v, bool *present)
{
	int len;
	const uint8_t *q = fdt_getprop(p->file, node, name, &len);

	*present = q != NULL;
	if (!q)
		return 0;
	if (len != 4)
		return bpi_sg_fail(p, "image '%s': '%s' is %d bytes, not one 32-bit cell",
			    BPI_ESC(fdt_get_name(p->file, node, NULL)), name, len);
	*v = bpi_get_be32(q);
	return 0;
}

/* Where the image's bytes are, as U-Boot finds them (data-position, data-offset, data). */
static int image_data(struct sg_plan *p, struct sg_image *im)
{
	uint32_t pos = 0, size = 0, total = fdt_totalsize(p->file);
	bool has_pos, has_off, has_size;
	uint64_t start;
	int len, ret;

	ret = get_u32(p, im->off, "data-position", &pos, &has_pos);
	if (!ret && !has_pos)
		ret = get_u32(p, im->off, "data-offset", &pos, &has_off);
	if (ret)
		return ret;
	if (!has_pos && !has_off) {
		im->data = fdt_getprop(p->file, im->off, "data", &len);
		if (!im->data)
			return bpi_sg_fail(p, "image '%s' has no 'data', 'data-offset' or "
				    "'data-position'", BPI_ESC(im->name));
		im->size = (uint64_t)len;
		bpi_sg_subst(p->subst, &im->data, &im->size);
		return 0;
	}
	ret = get_u32(p, im->off, "data-size", &size, &has_size);
	if (ret)
		return ret;
	if (!has_size)
		return bpi_sg_fail(p, "image '%s': external data has no 'data-size'", BPI_ESC(im->name));
	start = has_pos ? pos : (uint64_t)pos + BPI_ALIGN_UP((uint64_t)total, 4);
	if (start < total || start > p->len || size > p->len - start)
		return bpi_sg_fail(p, "image '%s': external data (%u bytes at file offset %llu) is not "
			    "between the end of the devicetree (%u) and the end of the file "
			    "(%zu)", BPI_ESC(im->name), size, (unsigned long long)start, total,
			    p->len);
	im->data = p->file + start;
	im->size = size;
	return 0;
}

static int read_image(struct sg_plan *p, struct sg_image *im)
{
	const void *fdt = p->file;
	size_t n = 0;
	char what[BPI_ESC_MAX + 32];
	int sub, ret = image_data(p, im);

	snprintf(what, sizeof(what), "subnodes of image '%s'", BPI_ESC(im->name));
	if (!ret)
		ret = check_unique(p, im->off, what);
	if (ret)
		return ret;
	fdt_for_each_subnode(sub, fdt, im->off)
		n += sg_starts_with(fdt_get_name(fdt, sub, NULL), "hash");
	/* mkimage -f adds no hash node: an image without one is stored unhashed. */
	im->added_hash = !n && !p->its;
	im->hashes = calloc(n + 1, sizeof(*im->hashes));
	if (!im->hashes)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	if (im->added_hash) {
		/* U-Boot checks a signed configuration's images through their hashes. */
		im->hashes[0] = (struct sg_hash){ .off = -1, .algo = BP_HASH_SHA256, .compute = true };
		im->n_hashes = 1;
		return 0;
	}
	fdt_for_each_subnode(sub, fdt, im->off) {
		const char *name = fdt_get_name(fdt, sub, NULL), *algo;
		struct sg_hash *h = &im->hashes[im->n_hashes];
		int len;

		if (!sg_starts_with(name, "hash"))
			continue;
		algo = fdt_getprop(fdt, sub, "algo", &len);
		if (!algo || len <= 0 || algo[len - 1])
			return bpi_sg_fail(p, p->its ? "%s/%s has no 'algo' string" :
				    "image '%s': %s has no 'algo' string",
				    BPI_ESC(p->its ? im->path : im->name), BPI_ESC(name));
		if (bp_hash_from_name(algo, &h->algo, NULL))
			return bpi_sg_fail(p, p->its ? "%s/%s: unknown hash algorithm '%s'" :
				    "image '%s': %s: unknown hash algorithm '%s'",
				    BPI_ESC(p->its ? im->path : im->name), BPI_ESC(name),
				    BPI_ESC(algo));
		h->off = sub;
		{
			const void *v = fdt_getprop(fdt, sub, "value", &len);

			h->compute = !p->trust_hashes || !v || (size_t)len != bp_hash_len(h->algo);
		}
		im->n_hashes++;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct img_name *)a)->name, ((const struct img_name *)b)->name);
}

static int read_images(struct sg_plan *p)
{
	const void *fdt = p->file;
	int images = fdt_path_offset(fdt, "/images"), sub, ret;
	size_t n = 0;

	if (images < 0)
		return bpi_sg_fail(p, "not a FIT image: the devicetree has no /images node");
	ret = check_unique(p, images, "image nodes");
	if (ret)
		return ret;
	fdt_for_each_subnode(sub, fdt, images)
		n++;
	p->img = calloc(n + 1, sizeof(*p->img));
	p->img_sorted = calloc(n + 1, sizeof(*p->img_sorted));
	if (!p->img || !p->img_sorted)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	fdt_for_each_subnode(sub, fdt, images) {
		struct sg_image *im = &p->img[p->n_img];

		im->off = sub;
		im->name = fdt_get_name(fdt, sub, NULL);
		snprintf(im->path, sizeof(im->path), "/images/%s", im->name);
		p->img_sorted[p->n_img] = (struct img_name){ im->name, p->n_img };
		p->n_img++;
		ret = read_image(p, im);
		if (ret)
			return ret;
	}
	qsort(p->img_sorted, p->n_img, sizeof(*p->img_sorted), cmp_name);
	return 0;
}

struct sg_image *bpi_sg_find_image(const struct sg_plan *p, const char *name)
{
	struct img_name key = { name, 0 };
	const struct img_name *hit = bsearch(&key, p->img_sorted, p->n_img,
					     sizeof(*p->img_sorted), cmp_name);

	return hit ? &p->img[hit->index] : NULL;
}

/* ---- Hashing (parallel) ---- */

int bpi_sg_read(struct sg_plan *p)
{
	int confs = fdt_path_offset(p->file, "/configurations");
	int ret = check_tree(p);

	if (!ret && confs >= 0)
		ret = check_unique(p, confs, "configuration nodes");
	return ret ? ret : read_images(p);
}
