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
#include <unistd.h>

#include <libfdt.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "fit_internal.h"
#include "util/util.h"

enum { SLOT_DATA, SLOT_OFFSET, SLOT_HASHES };

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
 * Reserve a zeroed property of @len bytes and remember where its value lives,
 * relative to the structure block: resizing and fdt_pack() move that block
 * as a whole.
 */
static void prop_slot(struct sw *w, const char *name, size_t len, size_t *slot)
{
	void *valp = NULL;

	SW(w, fdt_property_placeholder(w->buf, name, (int)len, &valp));
	if (!w->err) {
		*slot = (size_t)((uint8_t *)valp - w->buf) - fdt_off_dt_struct(w->buf);
		memset(valp, 0, len);
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

/*
 * mkimage adds "value" to the "algo" the .its gave, and libfdt puts it first.
 * The values are filled in once the image's bytes have gone by.
 */
static void write_hashes(struct sw *w, const struct bpi_fit *f, size_t *slots)
{
	for (size_t i = 0; i < f->n_hashes; i++) {
		char node[32];

		snprintf(node, sizeof(node), "hash-%zu", i + 1);
		SW(w, fdt_begin_node(w->buf, node));
		prop_slot(w, "value", bp_hash_len(f->hashes[i]), &slots[i]);
		prop_str(w, "algo", bp_hash_name(f->hashes[i]));
		SW(w, fdt_end_node(w->buf));
	}
}

/*
 * @slots: [SLOT_DATA] where the data goes (embedded: an empty "data" that
 * grows in the output; external: the data-size value), [SLOT_OFFSET] the
 * data-offset value, then one per hash value.
 */
static void write_image(struct sw *w, const struct bpi_fit *f, const struct bpi_fit_image *im,
			size_t *slots)
{
	SW(w, fdt_begin_node(w->buf, im->node));
	if (f->external) {
		prop_slot(w, "data-size", 4, &slots[SLOT_DATA]);
		prop_slot(w, "data-offset", 4, &slots[SLOT_OFFSET]);
	}
	prop_str(w, "description", im->description);
	prop_str(w, "type", im->type);
	prop_str(w, "arch", f->arch);
	if (im->has_os)
		prop_str(w, "os", f->os);
	prop_str(w, "compression", im->compression);
	if (!f->external)
		prop_slot(w, "data", 0, &slots[SLOT_DATA]);
	if (im->has_load)
		prop_addr(w, f, "load", im->load);
	if (im->has_entry)
		prop_addr(w, f, "entry", im->entry);
	write_hashes(w, f, slots + SLOT_HASHES);
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
		n += 512 + 128 * f->n_hashes;
	for (size_t i = 0; i < f->n_configs; i++)
		n += 512 + (size_t)f->configs[i].compatible_len + 32 * f->configs[i].n_fdts;
	return n;
}

static void write_tree(struct sw *w, const struct bpi_fit *f, size_t *slots, size_t stride)
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
		write_image(w, f, &f->images[i], &slots[i * stride]);
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


/* The FDT limit: libfdt and U-Boot use int offsets. */
#define FDT_SIZE_MAX ((uint64_t)INT_MAX)

struct bpi_fit_writer {
	const struct bpi_fit *f;
	const char *out_path;
	struct sw w;              /* the tree without data: the template */
	size_t tpl_len;           /* its packed size */
	size_t *slots;            /* per image, stride entries: see write_image() */
	size_t stride;
	struct bpi_output out;
	uint64_t pos;             /* bytes written to the output so far */
	size_t tpl_at;            /* embedded: template bytes written so far */
	uint64_t grown;           /* embedded: data bytes inserted into the tree */
	uint64_t base;            /* external: where the data area starts */
	size_t next;              /* the image begin() starts next */
	uint64_t start;           /* where the current image's data starts */
};

static int put(struct bpi_fit_writer *fw, const void *p, size_t n, struct bp_diag *d)
{
	int ret = bpi_output_write(&fw->out, p, n, d);

	fw->pos += n;
	return ret;
}

static int put_zero(struct bpi_fit_writer *fw, uint64_t n, struct bp_diag *d)
{
	int ret = bpi_output_zero(&fw->out, (size_t)n, d);

	fw->pos += n;
	return ret;
}

static uint8_t *tpl_struct(struct bpi_fit_writer *fw)
{
	return fw->w.buf + fdt_off_dt_struct(fw->w.buf);
}

static int build_template(struct bpi_fit_writer *fw, struct bp_diag *d)
{
	const struct bpi_fit *f = fw->f;

	fw->w.size = initial_size(f);
	fw->w.buf = malloc(fw->w.size);
	if (!fw->w.buf)
		return bp_diag_set(d, BP_ERR_NOMEM, fw->out_path, "out of memory");
	write_tree(&fw->w, f, fw->slots, fw->stride);
	if (fw->w.err == BP_ERR_TOOBIG)
		return bp_diag_set(d, BP_ERR_TOOBIG, fw->out_path,
				   "FIT would exceed the 2 GiB limit of a devicetree");
	if (fw->w.err == BP_ERR_NOMEM)
		return bp_diag_set(d, BP_ERR_NOMEM, fw->out_path, "out of memory");
	if (fw->w.err)
		return bp_diag_set(d, BP_ERR_INVALID, fw->out_path, "cannot write FIT: %s",
				   fdt_strerror(fw->w.err));
	fw->tpl_len = fdt_totalsize(fw->w.buf);
	return 0;
}

void bpi_fit_writer_abort(struct bpi_fit_writer *fw)
{
	if (!fw)
		return;
	bpi_output_abort(&fw->out);
	free(fw->w.buf);
	free(fw->slots);
	free(fw);
}

int bpi_fit_writer_open(struct bpi_fit_writer **fwp, const struct bpi_fit *f,
			const struct bp_sink *out, struct bp_diag *d)
{
	struct bpi_fit_writer *fw = calloc(1, sizeof(*fw));
	const char *out_path = out->name ? out->name : "output";
	int ret;

	*fwp = NULL;
	if (!fw)
		return bp_diag_set(d, BP_ERR_NOMEM, out_path, "out of memory");
	fw->f = f;
	fw->out_path = out_path;
	fw->out.fd = -1;
	fw->stride = SLOT_HASHES + f->n_hashes;
	fw->slots = calloc(f->n_images * fw->stride + 1, sizeof(*fw->slots));
	ret = fw->slots ? build_template(fw, d)
			: bp_diag_set(d, BP_ERR_NOMEM, out_path, "out of memory");
	if (!ret)
		ret = bpi_output_open_sink(&fw->out, out, true, d);
	/* Sizes, offsets and hashes are patched in after the data: a pipe cannot take that. */
	if (!ret && !bpi_output_can_patch(&fw->out))
		ret = bp_diag_set(d, BP_ERR_IO, out_path, "cannot write a FIT to a pipe or "
				  "terminal (it is patched after the data is written); give a "
				  "regular file");
	/* External data starts after the tree; its room is filled in at the end. */
	if (!ret && f->external) {
		fw->base = BPI_ALIGN_UP((uint64_t)fw->tpl_len, f->align);
		if (fw->base > UINT32_MAX)
			ret = bp_diag_set(d, BP_ERR_TOOBIG, out_path, "FDT header exceeds 4 GiB");
		else
			ret = put_zero(fw, fw->base, d);
	}
	if (ret) {
		bpi_fit_writer_abort(fw);
		return ret;
	}
	*fwp = fw;
	return 0;
}

int bpi_fit_writer_begin(struct bpi_fit_writer *fw, struct bp_diag *d)
{
	const struct bpi_fit *f = fw->f;
	size_t at;
	uint32_t a;

	if (fw->next >= f->n_images)
		return bp_diag_set(d, BP_ERR_INVALID, fw->out_path, "no image left to write");
	if (f->external) {
		/* DTBs 8-aligned so U-Boot can use them in place. */
		a = f->images[fw->next].is_fdt && f->align < BP_FIT_FDT_ALIGN ? BP_FIT_FDT_ALIGN
									 : f->align;
		fw->start = BPI_ALIGN_UP(fw->pos, a);
		return put_zero(fw, fw->start - fw->pos, d);
	}
	/* Embedded: the tree up to this image's (empty) "data" value. */
	at = fdt_off_dt_struct(fw->w.buf) + fw->slots[fw->next * fw->stride + SLOT_DATA];
	fw->start = fw->pos + (at - fw->tpl_at);
	int ret = put(fw, fw->w.buf + fw->tpl_at, at - fw->tpl_at, d);

	fw->tpl_at = at;
	return ret;
}

int bpi_fit_writer_data(struct bpi_fit_writer *fw, const void *p, size_t n, struct bp_diag *d)
{
	return put(fw, p, n, d);
}

static int end_embedded(struct bpi_fit_writer *fw, uint64_t len, struct bp_diag *d)
{
	uint64_t padded = BPI_ALIGN_UP(len, 4);
	uint8_t be[4];
	int ret;

	if (fw->tpl_len + fw->grown + padded > FDT_SIZE_MAX)
		return bp_diag_set(d, BP_ERR_TOOBIG, fw->out_path,
				   "FIT would exceed the 2 GiB limit of a devicetree; "
				   "use -E/--external");
	ret = put_zero(fw, padded - len, d);
	fw->grown += padded;
	/* The property's length field sits just before its value. */
	bpi_put_be32(be, (uint32_t)len);
	return ret ? ret : bpi_output_pwrite(&fw->out, be, 4, fw->start - 8, d);
}

static int end_external(struct bpi_fit_writer *fw, uint64_t len, struct bp_diag *d)
{
	const size_t *slot = &fw->slots[fw->next * fw->stride];
	uint64_t off = fw->start - fw->base;

	if (off > UINT32_MAX || len > UINT32_MAX)
		return bp_diag_set(d, BP_ERR_TOOBIG, fw->out_path,
				   "external data exceeds the 4 GiB reach of data-offset");
	bpi_put_be32(tpl_struct(fw) + slot[SLOT_DATA], (uint32_t)len);
	bpi_put_be32(tpl_struct(fw) + slot[SLOT_OFFSET], (uint32_t)off);
	return 0;
}

int bpi_fit_writer_end(struct bpi_fit_writer *fw, const uint8_t (*hashes)[BP_HASH_MAX_LEN],
		       struct bp_diag *d)
{
	const struct bpi_fit *f = fw->f;
	const size_t *slot = &fw->slots[fw->next * fw->stride];
	uint64_t len = fw->pos - fw->start;
	int ret = f->external ? end_external(fw, len, d) : end_embedded(fw, len, d);

	/* Hash values lie after the data in the tree: not yet written. */
	for (size_t h = 0; !ret && h < f->n_hashes; h++)
		memcpy(tpl_struct(fw) + slot[SLOT_HASHES + h], hashes[h], bp_hash_len(f->hashes[h]));
	fw->next++;
	return ret;
}

/* Rewrite the header (embedded) or the whole tree (external) now that it is final. */
static int finish_tree(struct bpi_fit_writer *fw, struct bp_diag *d)
{
	uint8_t *h = fw->w.buf;
	int ret;

	if (fw->f->external) {
		ret = put_zero(fw, BPI_ALIGN_UP(fw->pos, fw->f->align) - fw->pos, d);
		/* As mkimage -E: totalsize covers the tree up to the aligned data start. */
		fdt_set_totalsize(h, (uint32_t)fw->base);
		return ret ? ret : bpi_output_pwrite(&fw->out, h, fw->tpl_len, 0, d);
	}
	ret = put(fw, h + fw->tpl_at, fw->tpl_len - fw->tpl_at, d);
	fdt_set_totalsize(h, (uint32_t)(fw->tpl_len + fw->grown));
	fdt_set_size_dt_struct(h, (uint32_t)(fdt_size_dt_struct(h) + fw->grown));
	fdt_set_off_dt_strings(h, (uint32_t)(fdt_off_dt_strings(h) + fw->grown));
	return ret ? ret : bpi_output_pwrite(&fw->out, h, sizeof(struct fdt_header), 0, d);
}

int bpi_fit_writer_finish(struct bpi_fit_writer *fw, struct bp_fit_build_stats *st,
			  struct bp_diag *d)
{
	int ret = 0;

	if (fw->next != fw->f->n_images)
		ret = bp_diag_set(d, BP_ERR_INVALID, fw->out_path, "%zu images not written",
				  fw->f->n_images - fw->next);
	if (!ret)
		ret = finish_tree(fw, d);
	if (!ret)
		ret = bpi_output_commit(&fw->out, d);
	if (!ret && st) {
		st->fit_size = fw->pos;
		st->fdt_size = fw->f->external ? fw->base : fw->tpl_len + fw->grown;
	}
	bpi_fit_writer_abort(fw);
	return ret;
}
