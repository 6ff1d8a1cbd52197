// SPDX-License-Identifier: MIT
/*
 * The signed FIT's tree, written token by token from the input with the
 * planned edits applied the way libfdt applies mkimage's calls: a property
 * set on a node replaces its value in place, a new property goes first
 * (fdt_setprop), an added hash node goes first among the subnodes (where
 * fdt_add_subnode puts it), an added signature node last (where an .its
 * puts it). NOPs and everything else are kept, so a tree signed again
 * hashes the same bytes.
 *
 * Embedded "data" values are left out of this skeleton (written empty):
 * U-Boot never hashes a data property, so the regions and the signatures
 * come out the same, and the payload is copied only once, into the output.
 */
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fit_sign.h"
#include "util/util.h"

#define HDR_SIZE 40u

struct tw {
	const uint8_t *fdt;
	const struct sg_subst_tab *subst;
	struct sg_tree *t;
	struct sg_edit *const *edits;
	size_t n_edits;
	bool nomem;
};

static void put(struct tw *w, const void *p, size_t n)
{
	if (!w->nomem && bp_buf_append(&w->t->blob, p, n))
		w->nomem = true;
}

static void put_be32(struct tw *w, uint32_t v)
{
	uint8_t b[4];

	bpi_put_be32(b, v);
	put(w, b, 4);
}

static void pad4(struct tw *w)
{
	static const uint8_t zero[4];

	put(w, zero, BPI_ALIGN_UP(w->t->blob.len, 4) - w->t->blob.len);
}

static size_t at(const struct tw *w)
{
	return w->t->blob.len;
}

static void put_begin(struct tw *w, const char *name)
{
	put_be32(w, FDT_BEGIN_NODE);
	put(w, name, strlen(name) + 1);
	pad4(w);
}

static void put_prop(struct tw *w, struct sg_prop *p)
{
	put_be32(w, FDT_PROP);
	put_be32(w, p->len);
	put_be32(w, p->nameoff);
	p->slot = at(w);
	if (p->val) {
		put(w, p->val, p->len);
	} else if (!w->nomem && bp_buf_reserve(&w->t->blob, p->len)) {
		w->nomem = true;
	} else if (!w->nomem) {
		memset(w->t->blob.data + w->t->blob.len, 0, p->len);
		w->t->blob.len += p->len;
	}
	pad4(w);
}

/* New properties: each was put first when set, so the last one set comes first. */
static void put_new_props(struct tw *w, struct sg_edit *e)
{
	for (size_t i = e->n_prop; i-- > 0;)
		if (!e->prop[i].exists)
			put_prop(w, &e->prop[i]);
}

static void put_added_node(struct tw *w, struct sg_edit *e)
{
	put_begin(w, e->name);
	put_new_props(w, e);
	if (e->first)
		put_added_node(w, e->first);
	if (e->last)
		put_added_node(w, e->last);
	put_be32(w, FDT_END_NODE);
}

static struct sg_edit *find_edit(const struct tw *w, int off)
{
	size_t lo = 0, hi = w->n_edits;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->edits[mid]->in_off == off)
			return w->edits[mid];
		if (w->edits[mid]->in_off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool grow_list(void **v, size_t *cap, size_t n, size_t elem)
{
	void *p;
	size_t c = *cap ? *cap * 2 : 16;

	if (n < *cap)
		return true;
	p = realloc(*v, c * elem);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

/* A property copied from the input, except what the node's edit sets, and embedded data. */
static void copy_prop(struct tw *w, const uint8_t *tok, struct sg_edit *e)
{
	uint32_t len = bpi_get_be32(tok + 4), nameoff = bpi_get_be32(tok + 8);
	const char *name = fdt_string(w->fdt, (int)nameoff);
	struct sg_tree *t = w->t;
	const uint8_t *src = tok + 12;
	uint64_t slen = len;

	for (size_t i = 0; e && i < e->n_prop; i++) {
		if (e->prop[i].exists && !strcmp(e->prop[i].name, name)) {
			e->prop[i].nameoff = nameoff;
			put_prop(w, &e->prop[i]);
			return;
		}
	}
	if (w->subst && !strcmp(name, "data")) {
		bpi_sg_subst(w->subst, &src, &slen);
		t->subst_growth += (int64_t)BPI_ALIGN_UP(slen, 4) - (int64_t)BPI_ALIGN_UP(len, 4);
		len = (uint32_t)slen;
	}
	if (e && e->extract && !strcmp(name, "data")) {
		/* mkimage -E: the property goes, its value follows the tree. */
		if (!grow_list((void **)&t->ext, &t->cap_ext, t->n_ext, sizeof(*t->ext)))
			w->nomem = true;
		else
			t->ext[t->n_ext++] = (struct sg_data){ .src = src, .len = len };
		return;
	}
	if (len && !strcmp(name, "data")) {
		if (!grow_list((void **)&t->data, &t->cap_data, t->n_data, sizeof(*t->data))) {
			w->nomem = true;
			return;
		}
		t->data[t->n_data++] = (struct sg_data){ .hdr = at(w), .src = src, .len = len };
		t->data_bytes += BPI_ALIGN_UP((uint64_t)len, 4);
		put(w, tok, 4);
		put_be32(w, 0);
		put(w, tok + 8, 4);
		return;
	}
	if (len == 4 && e && !strcmp(name, "data-position")) {
		if (!grow_list((void **)&t->positions, &t->cap_positions, t->n_positions,
			       sizeof(*t->positions))) {
			w->nomem = true;
			return;
		}
		t->positions[t->n_positions++] = at(w) + 12;
	}
	put(w, tok, 12 + BPI_ALIGN_UP((size_t)len, 4));
}

/* The edits of the open nodes; an added first subnode is due before the first child or the end. */
struct open_node {
	struct sg_edit *e;
	bool first_done;
};

static void first_child_due(struct tw *w, struct open_node *o)
{
	if (o && o->e && o->e->first && !o->first_done) {
		put_added_node(w, o->e->first);
		o->first_done = true;
	}
}

static int walk(struct tw *w)
{
	const uint8_t *s = w->fdt + fdt_off_dt_struct(w->fdt);
	struct open_node *stack = NULL;
	size_t depth = 0, cap = 0;
	uint32_t pos = 0, tag;

	do {
		const uint8_t *tok = s + pos;
		struct open_node *top = depth ? &stack[depth - 1] : NULL;
		size_t n;

		tag = bpi_get_be32(tok);
		switch (tag) {
		case FDT_BEGIN_NODE:
			n = strlen((const char *)tok + 4);
			first_child_due(w, top);
			if (!grow_list((void **)&stack, &cap, depth, sizeof(*stack))) {
				free(stack);
				return BP_ERR_NOMEM;
			}
			stack[depth] = (struct open_node){ .e = find_edit(w, (int)pos) };
			put(w, tok, 4 + BPI_ALIGN_UP(n + 1, 4));
			if (stack[depth].e)
				put_new_props(w, stack[depth].e);
			depth++;
			pos += 4 + (uint32_t)BPI_ALIGN_UP(n + 1, 4);
			break;
		case FDT_PROP:
			copy_prop(w, tok, top ? top->e : NULL);
			pos += 12 + (uint32_t)BPI_ALIGN_UP((size_t)bpi_get_be32(tok + 4), 4);
			break;
		case FDT_END_NODE:
			first_child_due(w, top);
			if (top && top->e && top->e->last)
				put_added_node(w, top->e->last);
			put(w, tok, 4);
			depth--;
			pos += 4;
			break;
		default: /* FDT_NOP, FDT_END */
			put(w, tok, 4);
			pos += 4;
			break;
		}
	} while (tag != FDT_END && !w->nomem);
	free(stack);
	return w->nomem ? BP_ERR_NOMEM : 0;
}

static const uint8_t mark_head[8] = { 0, 'b', 'p', '-', 'i', 'n', 'c', 0xff };
static const uint8_t mark_tail[4] = { 0xff, 'b', 'p', 0 };

void bpi_sg_mark(uint8_t *out, uint32_t i)
{
	memcpy(out, mark_head, 8);
	bpi_put_be32(out + 8, i);
	memcpy(out + 12, mark_tail, 4);
}

void bpi_sg_subst(const struct sg_subst_tab *tab, const uint8_t **val, uint64_t *len)
{
	uint32_t i;

	if (!tab || *len != BPI_SG_MARK_LEN || memcmp(*val, mark_head, 8) ||
	    memcmp(*val + 12, mark_tail, 4))
		return;
	i = bpi_get_be32(*val + 8);
	if (i >= tab->n)
		return;
	*val = tab->v[i].src;
	*len = tab->v[i].len;
}

int bpi_sg_tree_build(const uint8_t *fdt, struct sg_edit *const *edits, size_t n,
		      const struct bp_buf *strings, const struct sg_subst_tab *subst,
		      struct sg_tree *t, const char *path, struct bp_diag *d)
{
	struct tw w = { .fdt = fdt, .subst = subst, .t = t, .edits = edits, .n_edits = n };
	uint8_t hdr[HDR_SIZE] = { 0 };
	const uint8_t *rsv = fdt + fdt_off_mem_rsvmap(fdt);
	size_t rsv_len = 0, off_struct, off_strings;
	int ret;

	memset(t, 0, sizeof(*t));
	/* The reservation map as it was, up to and with its terminating entry. */
	while (bpi_get_be32(rsv + rsv_len) || bpi_get_be32(rsv + rsv_len + 4) ||
	       bpi_get_be32(rsv + rsv_len + 8) || bpi_get_be32(rsv + rsv_len + 12))
		rsv_len += 16;
	rsv_len += 16;
	put(&w, hdr, sizeof(hdr));
	put(&w, rsv, rsv_len);
	off_struct = at(&w);
	ret = walk(&w);
	if (ret)
		return bp_diag_set(d, ret, path, "out of memory");
	off_strings = at(&w);
	put(&w, strings->data, strings->len);
	if (w.nomem)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	if (t->blob.len + t->data_bytes > INT32_MAX)
		return bp_diag_set(d, BP_ERR_TOOBIG, path, "signed FIT would exceed the 2 GiB "
				   "limit of a devicetree; use external data");
	bpi_put_be32(hdr, FDT_MAGIC);
	bpi_put_be32(hdr + 4, (uint32_t)t->blob.len);
	bpi_put_be32(hdr + 8, (uint32_t)off_struct);
	bpi_put_be32(hdr + 12, (uint32_t)off_strings);
	bpi_put_be32(hdr + 16, HDR_SIZE);
	bpi_put_be32(hdr + 20, 17);
	bpi_put_be32(hdr + 24, 16);
	bpi_put_be32(hdr + 28, fdt_boot_cpuid_phys(fdt));
	bpi_put_be32(hdr + 32, (uint32_t)strings->len);
	bpi_put_be32(hdr + 36, (uint32_t)(off_strings - off_struct));
	memcpy(t->blob.data, hdr, sizeof(hdr));
	return 0;
}

void bpi_sg_tree_free(struct sg_tree *t)
{
	bp_buf_free(&t->blob);
	free(t->data);
	free(t->positions);
	free(t->ext);
	memset(t, 0, sizeof(*t));
}

/* Write @n bytes of a file mapping in pieces, each dropped once written: memory stays small. */
int bpi_sg_write_mapped(struct bpi_output *out, const uint8_t *p, uint64_t n, bool mapped,
			struct bp_diag *d)
{
	const uint64_t piece = (uint64_t)8 << 20;
	int ret = 0;

	while (n && !ret) {
		size_t k = (size_t)(n < piece ? n : piece);

		ret = bpi_output_write(out, p, k, d);
		if (mapped)
			bpi_drop_mapped(p, k);
		p += k;
		n -= k;
	}
	return ret;
}

int bpi_sg_tree_write(struct sg_tree *t, uint32_t total, const uint8_t *tail, uint64_t tail_len,
		      bool mapped, struct bpi_output *out, struct bp_diag *d)
{
	uint8_t *b = t->blob.data;
	uint8_t hdr[HDR_SIZE], len[4];
	uint64_t size = t->blob.len + t->data_bytes;
	size_t pos = HDR_SIZE;
	int ret;

	memcpy(hdr, b, HDR_SIZE);
	bpi_put_be32(hdr + 4, total);
	bpi_put_be32(hdr + 12, (uint32_t)(fdt_off_dt_strings(b) + t->data_bytes));
	bpi_put_be32(hdr + 36, (uint32_t)(fdt_size_dt_struct(b) + t->data_bytes));
	ret = bpi_output_write(out, hdr, HDR_SIZE, d);
	for (size_t i = 0; !ret && i < t->n_data; i++) {
		const struct sg_data *x = &t->data[i];

		bpi_put_be32(len, x->len);
		ret = bpi_output_write(out, b + pos, x->hdr + 4 - pos, d);
		if (!ret)
			ret = bpi_output_write(out, len, 4, d);
		if (!ret)
			ret = bpi_output_write(out, b + x->hdr + 8, 4, d);
		if (!ret)
			ret = bpi_sg_write_mapped(out, x->src, x->len, mapped, d);
		if (!ret)
			ret = bpi_output_zero(out, BPI_ALIGN_UP(x->len, 4) - x->len, d);
		pos = x->hdr + 12;
	}
	if (!ret)
		ret = bpi_output_write(out, b + pos, t->blob.len - pos, d);
	if (!ret && total > size)
		ret = bpi_output_zero(out, (size_t)(total - size), d);
	if (!ret && tail_len)
		ret = bpi_sg_write_mapped(out, tail, tail_len, mapped, d);
	return ret;
}
