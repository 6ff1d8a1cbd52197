// SPDX-License-Identifier: MIT
/*
 * Serialise a FIT with libfdt's sequential-write API, node and property
 * order matching make_fit.py. With external data the layout is mkimage -E's:
 * "data" becomes "data-size" + "data-offset" (placed first, where libfdt's
 * fdt_setprop puts new properties), offsets count from the FDT totalsize
 * rounded up to the alignment, and the data follows, zero-padded.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fit_internal.h"
#include "util/util.h"

struct sw {
	uint8_t *buf;
	size_t size;
	int err;          /* libfdt error, or BP_ERR_* from growing */
};

static void sw_grow(struct sw *w)
{
	size_t size = w->size * 2;
	uint8_t *nbuf;

	if (size > INT_MAX)
		size = INT_MAX;
	if (size <= w->size) {
		w->err = BP_ERR_TOOBIG;
		return;
	}
	nbuf = malloc(size);
	if (!nbuf) {
		w->err = BP_ERR_NOMEM;
		return;
	}
	/* Struct offsets survive a resize: only the strings block moves. */
	w->err = fdt_resize(w->buf, nbuf, (int)size);
	free(w->buf);
	w->buf = nbuf;
	w->size = size;
}

/* Run a libfdt sequential-write call, growing the buffer while it is full. */
#define SW(w, call)                                                 \
	do {                                                        \
		while (!(w)->err) {                                 \
			int r_ = (call);                            \
			if (r_ != -FDT_ERR_NOSPACE) {               \
				(w)->err = r_;                      \
				break;                              \
			}                                           \
			sw_grow(w);                                 \
		}                                                   \
	} while (0)

static void prop_str(struct sw *w, const char *name, const char *val)
{
	SW(w, fdt_property_string(w->buf, name, val));
}

static void prop_u32(struct sw *w, const char *name, uint32_t val)
{
	SW(w, fdt_property_u32(w->buf, name, val));
}

/*
 * Reserve a u32 property and remember where its value lives, relative to the
 * structure block: resizing and fdt_pack() move that block as a whole.
 */
static void prop_u32_slot(struct sw *w, const char *name, size_t *slot)
{
	void *valp = NULL;

	SW(w, fdt_property_placeholder(w->buf, name, 4, &valp));
	if (!w->err) {
		*slot = (size_t)((uint8_t *)valp - w->buf) - fdt_off_dt_struct(w->buf);
		memset(valp, 0, 4);
	}
}

/* An address in the cells the root's #address-cells declares. */
static void prop_addr(struct sw *w, const struct bpi_fit *f, const char *name, uint64_t val)
{
	if (f->address_cells == 2)
		SW(w, fdt_property_u64(w->buf, name, val));
	else
		prop_u32(w, name, (uint32_t)val);
}

/* mkimage adds "value" to the "algo" the .its gave, and libfdt puts it first. */
static void write_hashes(struct sw *w, const struct bpi_fit *f, const struct bpi_fit_image *im)
{
	for (size_t i = 0; i < f->n_hashes; i++) {
		char node[32];

		snprintf(node, sizeof(node), "hash-%zu", i + 1);
		SW(w, fdt_begin_node(w->buf, node));
		SW(w, fdt_property(w->buf, "value", im->hashes[i], (int)bp_hash_len(f->hashes[i])));
		prop_str(w, "algo", bp_hash_name(f->hashes[i]));
		SW(w, fdt_end_node(w->buf));
	}
}

static void write_image(struct sw *w, const struct bpi_fit *f, const struct bpi_fit_image *im,
			size_t *size_slot, size_t *offset_slot)
{
	SW(w, fdt_begin_node(w->buf, im->node));
	if (f->external) {
		prop_u32_slot(w, "data-size", size_slot);
		prop_u32_slot(w, "data-offset", offset_slot);
	}
	prop_str(w, "description", im->description);
	prop_str(w, "type", im->type);
	prop_str(w, "arch", f->arch);
	if (im->has_os)
		prop_str(w, "os", f->os);
	prop_str(w, "compression", im->compression);
	if (!f->external)
		SW(w, fdt_property(w->buf, "data", im->data, (int)im->len));
	if (im->has_load)
		prop_addr(w, f, "load", im->load);
	if (im->has_entry)
		prop_addr(w, f, "entry", im->entry);
	write_hashes(w, f, im);
	SW(w, fdt_end_node(w->buf));
}

static void write_config(struct sw *w, const struct bpi_fit *f, size_t seq,
			 const struct bpi_fit_config *c)
{
	char node[32], *fdts;
	size_t len = 0;

	snprintf(node, sizeof(node), "conf-%zu", seq);
	SW(w, fdt_begin_node(w->buf, node));
	SW(w, fdt_property(w->buf, "compatible", c->compatible, c->compatible_len));
	prop_str(w, "description", c->description);
	/* "fdt" is a stringlist: every image node name, NUL-terminated. */
	fdts = malloc(c->n_fdts * sizeof(f->images[0].node) + 1);
	if (!fdts) {
		if (!w->err)
			w->err = BP_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; i < c->n_fdts; i++) {
		const char *n = f->images[c->fdts[i]].node;

		memcpy(fdts + len, n, strlen(n) + 1);
		len += strlen(n) + 1;
	}
	SW(w, fdt_property(w->buf, "fdt", fdts, (int)len));
	free(fdts);
	prop_str(w, "kernel", "kernel");
	if (f->has_ramdisk)
		prop_str(w, "ramdisk", "ramdisk");
	SW(w, fdt_end_node(w->buf));
}

static size_t initial_size(const struct bpi_fit *f)
{
	size_t n = 65536;

	for (size_t i = 0; i < f->n_images; i++)
		n += 512 + 128 * f->n_hashes + (f->external ? 0 : f->images[i].len);
	for (size_t i = 0; i < f->n_configs; i++)
		n += 512 + (size_t)f->configs[i].compatible_len + 32 * f->configs[i].n_fdts;
	return n;
}

static void write_tree(struct sw *w, const struct bpi_fit *f, size_t *slots)
{
	static const char suffix[] = " with devicetree set";
	size_t n = strlen(f->name);
	char *desc = malloc(n + sizeof(suffix));

	if (!desc) {
		w->err = BP_ERR_NOMEM;
		return;
	}
	memcpy(desc, f->name, n);
	memcpy(desc + n, suffix, sizeof(suffix));
	SW(w, fdt_create(w->buf, (int)w->size));
	SW(w, fdt_finish_reservemap(w->buf));
	SW(w, fdt_begin_node(w->buf, ""));
	prop_str(w, "description", desc);
	free(desc);
	prop_u32(w, "#address-cells", f->address_cells);
	prop_u32(w, "timestamp", f->timestamp);
	SW(w, fdt_begin_node(w->buf, "images"));
	for (size_t i = 0; i < f->n_images; i++)
		write_image(w, f, &f->images[i], &slots[2 * i], &slots[2 * i + 1]);
	SW(w, fdt_end_node(w->buf));
	SW(w, fdt_begin_node(w->buf, "configurations"));
	if (f->default_config)
		prop_str(w, "default", f->default_config);
	for (size_t i = 0; i < f->n_configs; i++)
		write_config(w, f, i + 1, &f->configs[i]);
	SW(w, fdt_end_node(w->buf));
	SW(w, fdt_end_node(w->buf));
	SW(w, fdt_finish(w->buf));
	/* Blocks at their minimal offsets, as mkimage and make_fit.py leave them. */
	if (!w->err)
		w->err = fdt_pack(w->buf);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Assign each image its place after the FDT; fills @pos (absolute offsets). */
static int place_external(struct sw *w, const struct bpi_fit *f, const size_t *slots,
			  uint64_t *pos, uint64_t *base, uint64_t *end, const char *out_path,
			  struct bp_diag *d)
{
	uint8_t *sblock = w->buf + fdt_off_dt_struct(w->buf);
	uint64_t p;

	*base = BPI_ALIGN_UP((uint64_t)fdt_totalsize(w->buf), f->align);
	p = *base;
	for (size_t i = 0; i < f->n_images; i++) {
		const struct bpi_fit_image *im = &f->images[i];
		uint32_t a = im->is_fdt && f->align < BP_FIT_FDT_ALIGN ? BP_FIT_FDT_ALIGN : f->align;

		p = BPI_ALIGN_UP(p, a);
		if (p - *base > UINT32_MAX || im->len > UINT32_MAX)
			return bp_diag_set(d, BP_ERR_TOOBIG, out_path,
					   "external data exceeds the 4 GiB reach of data-offset");
		pos[i] = p;
		put_be32(sblock + slots[2 * i], (uint32_t)im->len);
		put_be32(sblock + slots[2 * i + 1], (uint32_t)(p - *base));
		p += im->len;
	}
	/* mkimage pads every image, the last one included, to the alignment. */
	*end = BPI_ALIGN_UP(p, f->align);
	if (*base > UINT32_MAX)
		return bp_diag_set(d, BP_ERR_TOOBIG, out_path, "FDT header exceeds 4 GiB");
	fdt_set_totalsize(w->buf, (uint32_t)*base);
	return 0;
}

static int emit_external(struct bpi_output *out, const struct bpi_fit *f, const uint8_t *fdt,
			 size_t fdt_len, const uint64_t *pos, uint64_t base, uint64_t end,
			 struct bp_diag *d)
{
	uint64_t at = fdt_len;
	int ret = bpi_output_write(out, fdt, fdt_len, d);

	if (!ret)
		ret = bpi_output_zero(out, (size_t)(base - at), d);
	at = base;
	for (size_t i = 0; i < f->n_images && !ret; i++) {
		ret = bpi_output_zero(out, (size_t)(pos[i] - at), d);
		if (!ret)
			ret = bpi_output_write(out, f->images[i].data, f->images[i].len, d);
		at = pos[i] + f->images[i].len;
	}
	if (!ret)
		ret = bpi_output_zero(out, (size_t)(end - at), d);
	return ret;
}

static int emit(const struct bpi_fit *f, struct sw *w, const size_t *slots, const char *out_path,
		struct bp_fit_build_stats *st, struct bp_diag *d)
{
	size_t fdt_len = fdt_totalsize(w->buf);
	uint64_t base = fdt_len, end = fdt_len, *pos = NULL;
	struct bpi_output out;
	int ret = 0;

	if (f->external) {
		pos = calloc(f->n_images ? f->n_images : 1, sizeof(*pos));
		if (!pos)
			return bp_diag_set(d, BP_ERR_NOMEM, out_path, "out of memory");
		ret = place_external(w, f, slots, pos, &base, &end, out_path, d);
	}
	if (!ret)
		ret = bpi_output_open(&out, out_path, d);
	if (!ret) {
		if (f->external)
			ret = emit_external(&out, f, w->buf, fdt_len, pos, base, end, d);
		else
			ret = bpi_output_write(&out, w->buf, fdt_len, d);
		if (ret)
			bpi_output_abort(&out);
		else
			ret = bpi_output_commit(&out, d);
	}
	free(pos);
	if (ret)
		return ret;
	if (st) {
		st->fit_size = end;
		st->fdt_size = base;
	}
	return 0;
}

int bpi_fit_write(const struct bpi_fit *f, const char *out_path, struct bp_fit_build_stats *st,
		  struct bp_diag *d)
{
	struct sw w = { 0 };
	size_t *slots = calloc(2 * f->n_images + 1, sizeof(*slots));
	int ret;

	w.size = initial_size(f);
	if (w.size > INT_MAX) {
		free(slots);
		return bp_diag_set(d, BP_ERR_TOOBIG, out_path,
				   "embedded data would exceed the 2 GiB limit of a devicetree; "
				   "use -E/--external");
	}
	w.buf = malloc(w.size);
	if (!w.buf || !slots) {
		free(w.buf);
		free(slots);
		return bp_diag_set(d, BP_ERR_NOMEM, out_path, "out of memory");
	}
	write_tree(&w, f, slots);
	if (w.err == BP_ERR_TOOBIG)
		ret = bp_diag_set(d, BP_ERR_TOOBIG, out_path,
				  "FIT would exceed the 2 GiB limit of a devicetree; use -E/--external");
	else if (w.err == BP_ERR_NOMEM)
		ret = bp_diag_set(d, BP_ERR_NOMEM, out_path, "out of memory");
	else if (w.err)
		ret = bp_diag_set(d, BP_ERR_INVALID, out_path, "cannot write FIT: %s",
				  fdt_strerror(w.err));
	else
		ret = emit(f, &w, slots, out_path, st, d);
	free(w.buf);
	free(slots);
	return ret;
}
