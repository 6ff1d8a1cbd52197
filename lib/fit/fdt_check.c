// SPDX-License-Identifier: MIT
/*
 * Gatekeeper for untrusted devicetree blobs: after this check, libfdt's
 * accessors are safe to use on the buffer.
 *
 * libfdt's fdt_check_full() is the check. The header fields are checked
 * here first (libfdt 1.6.1 crashes on some bad headers) and, since libfdt
 * reports most damage as a bare FDT_ERR_TRUNCATED, a blob it refuses has its
 * structure block walked again here, bounds checked by subtraction, to say
 * which token is wrong and with what values. Good blobs are walked once.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fit_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define FDT_V16_HEADER 36u       /* version 16 has no size_dt_struct */
#define FDT_V17_HEADER 40u
#define FDT_LAST_VERSION 17u
#define FDT_RSV_ENTRY 16u        /* address and size, 64 bits each */
#define FDT_TOKEN 4u
#define WALK_NAMES 64u           /* node names kept for messages; FITs nest 3 deep */

/* The header fields, read once. */
struct fdt_hdr {
	uint32_t total, off_struct, off_strings, off_rsvmap, version, last_comp;
	uint32_t size_strings, size_struct;
	uint32_t hdr_size;
};

static int header_fields(const uint8_t *p, size_t len, struct fdt_hdr *h, const char *path,
			 struct bp_diag *d)
{
	h->total = bpi_get_be32(p + 4);
	h->off_struct = bpi_get_be32(p + 8);
	h->off_strings = bpi_get_be32(p + 12);
	h->off_rsvmap = bpi_get_be32(p + 16);
	h->version = bpi_get_be32(p + 20);
	h->last_comp = bpi_get_be32(p + 24);
	h->size_strings = bpi_get_be32(p + 32);
	h->size_struct = bpi_get_be32(p + 36);
	h->hdr_size = h->version >= FDT_LAST_VERSION ? FDT_V17_HEADER : FDT_V16_HEADER;
	/*
	 * Versions before 16 name nodes by full path; libfdt 1.6.1 crashes on
	 * such blobs in fdt_check_full(), and nothing has written them for
	 * decades (dtc writes 17).
	 */
	if (h->version < 16)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree version %u is not supported (only 16 and 17, "
				   "as dtc writes)", h->version);
	if (h->last_comp > FDT_LAST_VERSION)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree version %u needs a reader of version %u "
				   "(last_comp_version); only 16 and 17 are supported",
				   h->version, h->last_comp);
	if (h->version < h->last_comp)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree header is invalid: version %u is lower than "
				   "last_comp_version %u", h->version, h->last_comp);
	if (h->total > len)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree is truncated: header totalsize is %u bytes but "
				   "the file has only %zu", h->total, len);
	if (h->total < h->hdr_size)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree header is invalid: totalsize %u is smaller than "
				   "the %u-byte version %u header", h->total, h->hdr_size,
				   h->version);
	/* Version 16 has no size_dt_struct: the block may run to the end. */
	if (h->version < FDT_LAST_VERSION && h->off_struct <= h->total)
		h->size_struct = h->total - h->off_struct;
	return 0;
}

/* A block [@off, @off + @size) must lie between the header and totalsize. */
static int check_block(const struct fdt_hdr *h, const char *what, const char *off_name,
		       uint32_t off, const char *size_name, uint32_t size, const char *path,
		       struct bp_diag *d)
{
	if (off < h->hdr_size)
		return bp_diag_set(d, BP_ERR_RANGE, path,
				   "devicetree header is invalid: %s %u points into the "
				   "%u-byte header", off_name, off, h->hdr_size);
	if (off > h->total)
		return bp_diag_set(d, BP_ERR_RANGE, path,
				   "devicetree header is invalid: %s %u is past totalsize %u",
				   off_name, off, h->total);
	if (size_name && size > h->total - off)
		return bp_diag_set(d, BP_ERR_RANGE, path,
				   "devicetree header is invalid: %s (%s %u + %s %u = %llu) "
				   "ends past totalsize %u", what, off_name, off, size_name,
				   size, (unsigned long long)off + size, h->total);
	return 0;
}

static int check_layout(const uint8_t *p, const struct fdt_hdr *h, const char *path,
			struct bp_diag *d)
{
	int ret = check_block(h, "memory reservation map", "off_mem_rsvmap", h->off_rsvmap,
			      NULL, 0, path, d);

	if (!ret)
		ret = check_block(h, "structure block", "off_dt_struct", h->off_struct,
				  h->version >= FDT_LAST_VERSION ? "size_dt_struct" : NULL,
				  h->size_struct, path, d);
	if (!ret)
		ret = check_block(h, "strings block", "off_dt_strings", h->off_strings,
				  "size_dt_strings", h->size_strings, path, d);
	if (ret)
		return ret;
	/* The reservation map is a list of entries ended by an all-zero one. */
	for (uint32_t at = h->off_rsvmap;; at += FDT_RSV_ENTRY) {
		if (h->total - at < FDT_RSV_ENTRY)
			return bp_diag_set(d, BP_ERR_FORMAT, path,
					   "devicetree is malformed: the memory reservation map "
					   "at off_mem_rsvmap %u has no terminating entry before "
					   "totalsize %u", h->off_rsvmap, h->total);
		if (!memcmp(p + at, (const uint8_t[FDT_RSV_ENTRY]){ 0 }, FDT_RSV_ENTRY))
			return 0;
	}
}

/* Walking the structure block: where we are, and the node we are in. */
struct walk {
	const uint8_t *s;            /* the structure block */
	uint32_t size;               /* size_dt_struct */
	const uint8_t *strings;
	uint32_t size_strings;
	const char *node;            /* name of the innermost open node, "/" for the root */
	const char *names[WALK_NAMES]; /* names[i]: the open node at depth i + 1 */
	uint32_t depth;
	const char *path;
	struct bp_diag *d;
};

static int __attribute__((format(printf, 2, 3)))
walk_fail(struct walk *w, const char *fmt, ...)
{
	char msg[BP_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bp_diag_set(w->d, BP_ERR_FORMAT, w->path, "devicetree is malformed: %s", msg);
}

static int walk_begin_node(struct walk *w, uint32_t tag_at, uint32_t *pos)
{
	const uint8_t *name = w->s + *pos;
	const uint8_t *nul = memchr(name, '\0', w->size - *pos);

	if (!nul)
		return walk_fail(w, "node name at structure offset %u is not NUL-terminated "
				 "before the end of the structure block (size_dt_struct %u)",
				 tag_at, w->size);
	w->node = *name ? (const char *)name : "/";
	if (w->depth < WALK_NAMES)
		w->names[w->depth] = w->node;
	w->depth++;
	*pos += (uint32_t)(nul - name) + 1;
	return 0;
}

static int walk_prop(struct walk *w, uint32_t tag_at, uint32_t *pos)
{
	uint32_t len, nameoff;

	if (w->size - *pos < 8)
		return walk_fail(w, "node '%s': property at structure offset %u is cut off by "
				 "the end of the structure block (size_dt_struct %u)", BPI_ESC(w->node),
				 tag_at, w->size);
	len = bpi_get_be32(w->s + *pos);
	nameoff = bpi_get_be32(w->s + *pos + 4);
	*pos += 8;
	if (len > w->size - *pos)
		return walk_fail(w, "node '%s': property at structure offset %u: its %u-byte "
				 "value runs past the end of the structure block "
				 "(size_dt_struct %u)", BPI_ESC(w->node), tag_at, len,
				 w->size);
	if (nameoff >= w->size_strings)
		return walk_fail(w, "node '%s': property at structure offset %u: name offset "
				 "%u is past the end of the strings block (size_dt_strings %u)",
				 BPI_ESC(w->node), tag_at, nameoff, w->size_strings);
	if (!memchr(w->strings + nameoff, '\0', w->size_strings - nameoff))
		return walk_fail(w, "node '%s': property at structure offset %u: name at "
				 "strings offset %u is not NUL-terminated before the end of the "
				 "strings block (size_dt_strings %u)", BPI_ESC(w->node), tag_at, nameoff,
				 w->size_strings);
	*pos += len;
	return 0;
}

/* One token at @pos; @done once FDT_END is reached. */
static int walk_token(struct walk *w, uint32_t *pos, bool *done)
{
	uint32_t at = *pos, tag;

	if (w->size - at < FDT_TOKEN)
		return walk_fail(w, "the structure block ends at offset %u (size_dt_struct %u) "
				 "without an FDT_END token", at, w->size);
	tag = bpi_get_be32(w->s + at);
	*pos += FDT_TOKEN;
	switch (tag) {
	case FDT_BEGIN_NODE:
		return walk_begin_node(w, at, pos);
	case FDT_PROP:
		return walk_prop(w, at, pos);
	case FDT_END_NODE:
		if (!w->depth)
			return walk_fail(w, "FDT_END_NODE at structure offset %u closes no node",
					 at);
		w->depth--;
		w->node = w->depth ? w->names[(w->depth < WALK_NAMES ? w->depth : WALK_NAMES) - 1]
				   : "/";
		return 0;
	case FDT_NOP:
		return 0;
	case FDT_END:
		if (w->depth)
			return walk_fail(w, "FDT_END at structure offset %u with %u node%s still "
					 "open", at, w->depth, w->depth == 1 ? "" : "s");
		*done = true;
		return 0;
	default:
		return walk_fail(w, "unknown token 0x%08x at structure offset %u", tag, at);
	}
}

static int walk_struct(const uint8_t *p, const struct fdt_hdr *h, const char *path,
		       struct bp_diag *d)
{
	struct walk w = {
		.s = p + h->off_struct, .size = h->size_struct,
		.strings = p + h->off_strings, .size_strings = h->size_strings,
		.node = "/", .path = path, .d = d,
	};
	uint32_t pos = 0;
	bool done = false;
	int ret = 0;

	while (!ret && !done) {
		/* Tokens are 4-aligned; padding past the end fails the next token's check. */
		uint64_t next = BPI_ALIGN_UP((uint64_t)pos, FDT_TOKEN);

		pos = next < w.size ? (uint32_t)next : w.size;
		ret = walk_token(&w, &pos, &done);
	}
	return ret;
}

int bpi_fdt_check(const void *p, size_t len, const char *path, struct bp_diag *d)
{
	struct fdt_hdr h;
	uint32_t magic;
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
	err = header_fields(p, len, &h, path, d);
	if (!err)
		err = check_layout(p, &h, path, d);
	if (err)
		return err;
	/* libfdt refuses blobs at addresses not 8-aligned; FITs store DTBs 4-aligned. */
	if ((uintptr_t)p & 7) {
		void *copy = malloc(h.total ? h.total : 1);

		if (!copy)
			return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
		memcpy(copy, p, h.total);
		err = fdt_check_full(copy, h.total);
		free(copy);
	} else {
		err = fdt_check_full(p, h.total);
	}
	if (!err)
		return 0;
	/* Say what is wrong; libfdt's own code when the walk finds nothing. */
	if (walk_struct(p, &h, path, d))
		return BP_ERR_FORMAT;
	return bp_diag_set(d, BP_ERR_FORMAT, path, "devicetree is malformed: %s",
			   fdt_strerror(err));
}
