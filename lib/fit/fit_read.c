// SPDX-License-Identifier: MIT
/*
 * Reading a FIT: check the devicetree once (after bpi_fdt_check() libfdt's
 * accessors are safe), then copy every image and configuration into plain
 * structs whose strings and data point into the file buffer. Property
 * contents are untrusted even in a well-formed tree, so every string is
 * checked for its terminator and every external offset against the file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "fit_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define PROBLEM_MAX 200

struct bp_fit {
	char *name;                /* path, or the caller's name for a memory FIT */
	bool from_file;
	struct bp_buf file;
	struct bp_fit_info info;
	struct bp_fit_image *images;
	struct bp_fit_hash **img_hashes; /* each image's hash nodes */
	struct bp_fit_config *configs;
	int *img_nodes;            /* devicetree offset of each image node */
	char (*img_problems)[PROBLEM_MAX];
	char (*cfg_problems)[PROBLEM_MAX];
};

/* Record the first problem of a node; later ones are usually consequences. */
static void __attribute__((format(printf, 3, 4)))
problem(char *buf, const char **slot, const char *fmt, ...)
{
	va_list ap;

	if (*slot)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, PROBLEM_MAX, fmt, ap);
	va_end(ap);
	*slot = buf;
}

enum prop_state { PROP_ABSENT, PROP_OK, PROP_BAD };

/* A NUL-terminated string property; like U-Boot, use what precedes the first NUL. */
static enum prop_state get_string(const void *fdt, int node, const char *name, const char **out)
{
	int len;
	const char *p = fdt_getprop(fdt, node, name, &len);

	*out = NULL;
	if (!p)
		return PROP_ABSENT;
	if (len <= 0 || p[len - 1] != '\0')
		return PROP_BAD;
	*out = p;
	return PROP_OK;
}

/* A stringlist: every entry NUL-terminated. @out is a malloc'd array. */
static enum prop_state get_strings(const void *fdt, int node, const char *name,
				   const char *const **out, size_t *n, int *nomem)
{
	int len;
	const char *p = fdt_getprop(fdt, node, name, &len);
	const char **v;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (!p)
		return PROP_ABSENT;
	if (len <= 0 || p[len - 1] != '\0')
		return PROP_BAD;
	for (int i = 0; i < len; i++)
		count += p[i] == '\0';
	v = calloc(count, sizeof(*v));
	if (!v) {
		*nomem = 1;
		return PROP_ABSENT;
	}
	for (size_t i = 0, at = 0; i < count; i++) {
		v[i] = p + at;
		at += strlen(p + at) + 1;
	}
	*out = v;
	*n = count;
	return PROP_OK;
}

/* A 32-bit cell; PROP_BAD unless exactly 4 bytes (@len_out: the length seen). */
static enum prop_state get_u32_len(const void *fdt, int node, const char *name, uint32_t *out,
				   int *len_out)
{
	int len;
	const uint8_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p)
		return PROP_ABSENT;
	*len_out = len;
	if (len != 4)
		return PROP_BAD;
	*out = bpi_get_be32(p);
	return PROP_OK;
}

/* An address: one or two cells, as U-Boot's fit_image_get_address() accepts. */
static enum prop_state get_addr(const void *fdt, int node, const char *name, uint64_t *out,
				int *len_out)
{
	int len;
	const uint8_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p)
		return PROP_ABSENT;
	*len_out = len;
	if (len == 4)
		*out = bpi_get_be32(p);
	else if (len == 8)
		*out = (uint64_t)bpi_get_be32(p) << 32 | bpi_get_be32(p + 4);
	else
		return PROP_BAD;
	return PROP_OK;
}

static void image_string(const void *fdt, int node, const char *name, const char **out,
			 char *pbuf, const char **pslot)
{
	if (get_string(fdt, node, name, out) == PROP_BAD)
		problem(pbuf, pslot, "property '%s' is not a NUL-terminated string", name);
}

/* Embedded data: the "data" property itself. */
static void embedded_data(struct bp_fit *fit, int node, struct bp_fit_image *im, char *pbuf)
{
	int len;

	im->data = fdt_getprop(fit->file.data, node, "data", &len);
	if (!im->data) {
		problem(pbuf, &im->problem, "no 'data', 'data-offset' or 'data-position' "
			"property");
		return;
	}
	im->data_size = (uint64_t)len;
	im->data_file_offset = (uint64_t)(im->data - fit->file.data);
}

/*
 * External data at @pos, named by property @which: data-position is a file
 * offset, data-offset counts from the end of the FDT rounded up to 4. Both
 * are 32-bit cells, so the start cannot wrap in 64 bits; the end is checked
 * against the file by subtraction.
 */
static void external_data(struct bp_fit *fit, int node, struct bp_fit_image *im, char *pbuf,
			  const char *which, uint32_t pos)
{
	uint64_t start = pos;
	uint32_t size = 0;
	enum prop_state ss;
	int len = 0;

	if (!strcmp(which, "data-offset"))
		start += BPI_ALIGN_UP((uint64_t)fit->info.fdt_size, 4);
	im->external = true;
	ss = get_u32_len(fit->file.data, node, "data-size", &size, &len);
	if (ss == PROP_ABSENT) {
		problem(pbuf, &im->problem, "external data has no 'data-size'");
		return;
	}
	if (ss == PROP_BAD) {
		problem(pbuf, &im->problem, "property 'data-size' is %d bytes, not one 32-bit "
			"cell", len);
		return;
	}
	im->data_size = size;
	im->data_file_offset = start;
	if (start < fit->info.fdt_size) {
		problem(pbuf, &im->problem,
			"external data at file offset %llu (from '%s' %u) lies inside the "
			"FDT (%u bytes)", (unsigned long long)start, which, pos,
			fit->info.fdt_size);
		return;
	}
	if (start > fit->file.len || size > fit->file.len - start) {
		problem(pbuf, &im->problem,
			"external data (%u bytes at file offset %llu, from '%s' %u) extends "
			"past the end of the file (%zu bytes)", size,
			(unsigned long long)start, which, pos, fit->file.len);
		return;
	}
	im->data = fit->file.data + start;
}

/*
 * Locate the stored bytes the way U-Boot's fit_image_get_data_and_size()
 * does: data-position first, then data-offset, then the embedded "data".
 */
static void image_data(struct bp_fit *fit, int node, struct bp_fit_image *im, char *pbuf)
{
	const void *fdt = fit->file.data;
	const char *which = "data-position";
	uint32_t pos = 0;
	enum prop_state ps;
	int len = 0;

	ps = get_u32_len(fdt, node, which, &pos, &len);
	if (ps == PROP_ABSENT) {
		which = "data-offset";
		ps = get_u32_len(fdt, node, which, &pos, &len);
	}
	if (ps == PROP_BAD)
		problem(pbuf, &im->problem, "property '%s' is %d bytes, not one 32-bit cell",
			which, len);
	else if (ps == PROP_ABSENT)
		embedded_data(fit, node, im, pbuf);
	else
		external_data(fit, node, im, pbuf, which, pos);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* hash-N and signature-N subnodes, named by prefix as U-Boot matches them. */
static int image_subnodes(const void *fdt, int node, struct bp_fit_image *im,
			  struct bp_fit_hash **hashes, char *pbuf)
{
	struct bp_fit_hash *h;
	size_t n = 0;
	int sub;

	fdt_for_each_subnode(sub, fdt, node)
		n += starts_with(fdt_get_name(fdt, sub, NULL), "hash");
	h = calloc(n ? n : 1, sizeof(*h));
	if (!h)
		return BP_ERR_NOMEM;
	*hashes = h;
	fdt_for_each_subnode(sub, fdt, node) {
		const char *name = fdt_get_name(fdt, sub, NULL);
		int len;

		if (starts_with(name, "signature")) {
			im->n_signatures++;
			continue;
		}
		if (!starts_with(name, "hash"))
			continue;
		h[im->n_hashes].size = sizeof(*h);
		h[im->n_hashes].node = name;
		if (get_string(fdt, sub, "algo", &h[im->n_hashes].algo) == PROP_BAD)
			problem(pbuf, &im->problem, "%s: property 'algo' is not a "
				"NUL-terminated string", BPI_ESC(name));
		h[im->n_hashes].value = fdt_getprop(fdt, sub, "value", &len);
		h[im->n_hashes].value_len = h[im->n_hashes].value ? (size_t)len : 0;
		im->n_hashes++;
	}
	return 0;
}

static int read_image(struct bp_fit *fit, int node, size_t i)
{
	const void *fdt = fit->file.data;
	struct bp_fit_image *im = &fit->images[i];
	char *pbuf = fit->img_problems[i];
	enum prop_state s;
	int len = 0;

	im->size = sizeof(*im);
	im->name = fdt_get_name(fdt, node, NULL);
	image_string(fdt, node, "description", &im->description, pbuf, &im->problem);
	image_string(fdt, node, "type", &im->type, pbuf, &im->problem);
	image_string(fdt, node, "arch", &im->arch, pbuf, &im->problem);
	image_string(fdt, node, "os", &im->os, pbuf, &im->problem);
	image_string(fdt, node, "compression", &im->compression, pbuf, &im->problem);
	s = get_addr(fdt, node, "load", &im->load, &len);
	im->has_load = s == PROP_OK;
	if (s == PROP_BAD)
		problem(pbuf, &im->problem, "property 'load' is %d bytes, not one or two 32-bit "
			"cells", len);
	s = get_addr(fdt, node, "entry", &im->entry, &len);
	im->has_entry = s == PROP_OK;
	if (s == PROP_BAD)
		problem(pbuf, &im->problem, "property 'entry' is %d bytes, not one or two "
			"32-bit cells", len);
	image_data(fit, node, im, pbuf);
	return image_subnodes(fdt, node, im, &fit->img_hashes[i], pbuf);
}

static void config_ref(const void *fdt, int node, const char *name, const char **out,
		       char *pbuf, const char **pslot)
{
	int len;
	const char *p = fdt_getprop(fdt, node, name, &len);

	/* U-Boot uses the first entry of "kernel" and "ramdisk". */
	*out = NULL;
	if (!p)
		return;
	if (len <= 0 || p[len - 1] != '\0' || !p[0]) {
		problem(pbuf, pslot, "property '%s' is not a NUL-terminated image name",
			name);
		return;
	}
	*out = p;
}

static int config_list(const void *fdt, int node, const char *name, const char *const **out,
		       size_t *n, char *pbuf, const char **pslot)
{
	int nomem = 0;

	if (get_strings(fdt, node, name, out, n, &nomem) == PROP_BAD)
		problem(pbuf, pslot, "property '%s' is not a list of NUL-terminated strings",
			name);
	return nomem ? BP_ERR_NOMEM : 0;
}

static int read_config(const void *fdt, int node, struct bp_fit_config *c, char *pbuf)
{
	int sub, ret;

	c->size = sizeof(*c);
	c->name = fdt_get_name(fdt, node, NULL);
	if (get_string(fdt, node, "description", &c->description) == PROP_BAD)
		problem(pbuf, &c->problem, "property 'description' is not a "
			"NUL-terminated string");
	config_ref(fdt, node, "kernel", &c->kernel, pbuf, &c->problem);
	config_ref(fdt, node, "ramdisk", &c->ramdisk, pbuf, &c->problem);
	ret = config_list(fdt, node, "fdt", &c->fdts, &c->n_fdts, pbuf, &c->problem);
	if (!ret)
		ret = config_list(fdt, node, "loadables", &c->loadables, &c->n_loadables, pbuf,
				  &c->problem);
	if (!ret)
		ret = config_list(fdt, node, "compatible", &c->compatibles, &c->n_compatibles,
				  pbuf, &c->problem);
	fdt_for_each_subnode(sub, fdt, node) {
		const char *name = fdt_get_name(fdt, sub, NULL);

		c->n_hashes += starts_with(name, "hash");
		c->n_signatures += starts_with(name, "signature");
	}
	return ret;
}

static size_t count_subnodes(const void *fdt, int node)
{
	size_t n = 0;
	int sub;

	fdt_for_each_subnode(sub, fdt, node)
		n++;
	return n;
}

static int read_images(struct bp_fit *fit, const char *name, struct bp_diag *d)
{
	const void *fdt = fit->file.data;
	int node = fdt_path_offset(fdt, "/images"), sub;
	size_t i = 0, n;

	if (node < 0)
		return bp_diag_set(d, BP_ERR_FORMAT, name,
				   "not a FIT image: the devicetree has no /images node");
	n = count_subnodes(fdt, node);
	fit->images = calloc(n ? n : 1, sizeof(*fit->images));
	fit->img_problems = calloc(n ? n : 1, sizeof(*fit->img_problems));
	fit->img_nodes = calloc(n ? n : 1, sizeof(*fit->img_nodes));
	fit->img_hashes = calloc(n ? n : 1, sizeof(*fit->img_hashes));
	if (!fit->images || !fit->img_problems || !fit->img_nodes || !fit->img_hashes)
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	fdt_for_each_subnode(sub, fdt, node) {
		fit->img_nodes[i] = sub;
		if (read_image(fit, sub, i))
			return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
		fit->info.n_images = ++i;
	}
	return 0;
}

static int read_configs(struct bp_fit *fit, const char *name, struct bp_diag *d)
{
	const void *fdt = fit->file.data;
	int node = fdt_path_offset(fdt, "/configurations"), sub;
	size_t i = 0, n;

	if (node < 0)
		return 0;
	fit->info.has_configurations = true;
	if (get_string(fdt, node, "default", &fit->info.default_config) == PROP_BAD)
		return bp_diag_set(d, BP_ERR_FORMAT, name, "/configurations: property 'default' "
				   "is not a NUL-terminated string");
	n = count_subnodes(fdt, node);
	fit->configs = calloc(n ? n : 1, sizeof(*fit->configs));
	fit->cfg_problems = calloc(n ? n : 1, sizeof(*fit->cfg_problems));
	if (!fit->configs || !fit->cfg_problems)
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	fdt_for_each_subnode(sub, fdt, node) {
		fit->info.n_configs = i + 1;
		if (read_config(fdt, sub, &fit->configs[i], fit->cfg_problems[i]))
			return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
		i++;
	}
	return 0;
}

static int parse(struct bp_fit *fit, const char *name, struct bp_diag *d)
{
	const void *fdt = fit->file.data;
	uint32_t ts;
	int len = 0, ret = bpi_fdt_check(fdt, fit->file.len, name, d);

	if (ret)
		return ret;
	fit->info.size = sizeof(fit->info);
	fit->info.file_size = fit->file.len;
	fit->info.fdt_size = fdt_totalsize(fdt);
	if (get_string(fdt, 0, "description", &fit->info.description) == PROP_BAD)
		return bp_diag_set(d, BP_ERR_FORMAT, name, "root property 'description' is not "
				   "a NUL-terminated string");
	switch (get_u32_len(fdt, 0, "timestamp", &ts, &len)) {
	case PROP_OK:
		fit->info.has_timestamp = true;
		fit->info.timestamp = ts;
		break;
	case PROP_BAD:
		return bp_diag_set(d, BP_ERR_FORMAT, name,
				   "root property 'timestamp' is %d bytes, not one 32-bit cell",
				   len);
	case PROP_ABSENT:
		break;
	}
	ret = read_images(fit, name, d);
	if (!ret)
		ret = read_configs(fit, name, d);
	for (int node = 0, depth = 0; !ret && node >= 0 && depth >= 0;
	     node = fdt_next_node(fdt, node, &depth)) {
		const char *n = fdt_get_name(fdt, node, NULL);

		if (n && strchr(n, '@')) {
			fit->info.unit_address_node = n;
			break;
		}
	}
	return ret;
}

static int finish_open(struct bp_fit *fit, const char *name, struct bp_fit **out,
		       struct bp_diag *d)
{
	int ret;

	fit->name = strdup(name);
	if (!fit->name) {
		bp_fit_close(fit);
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	}
	ret = parse(fit, name, d);

	if (ret) {
		bp_fit_close(fit);
		return ret;
	}
	*out = fit;
	return 0;
}

int bp_fit_open(const char *path, struct bp_fit **out, struct bp_diag *d)
{
	struct bp_fit *fit = calloc(1, sizeof(*fit));
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!fit)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	fit->from_file = true;
	ret = bpi_read_file(path, BP_FIT_READ_MAX, &fit->file, d);
	if (ret) {
		bp_fit_close(fit);
		return ret;
	}
	return finish_open(fit, path, out, d);
}

int bp_fit_open_fd(int fd, const char *name, struct bp_fit **out, struct bp_diag *d)
{
	struct bp_fit *fit = calloc(1, sizeof(*fit));
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!name)
		name = "input";
	if (!fit)
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	ret = bpi_read_fd(fd, name, BP_FIT_READ_MAX, &fit->file, d);
	if (ret) {
		bp_fit_close(fit);
		return ret;
	}
	return finish_open(fit, name, out, d);
}

int bp_fit_open_mem(const void *data, size_t len, const char *name, struct bp_fit **out,
		    struct bp_diag *d)
{
	struct bp_fit *fit = calloc(1, sizeof(*fit));

	bp_diag_clear(d);
	*out = NULL;
	if (!fit || bp_buf_append(&fit->file, data, len)) {
		bp_fit_close(fit);
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	}
	return finish_open(fit, name, out, d);
}

void bp_fit_close(struct bp_fit *fit)
{
	if (!fit)
		return;
	for (size_t i = 0; fit->img_hashes && i < fit->info.n_images; i++)
		free(fit->img_hashes[i]);
	free(fit->img_hashes);
	for (size_t i = 0; i < fit->info.n_configs; i++) {
		free((void *)fit->configs[i].fdts);
		free((void *)fit->configs[i].loadables);
		free((void *)fit->configs[i].compatibles);
	}
	free(fit->images);
	free(fit->configs);
	free(fit->img_problems);
	free(fit->img_nodes);
	free(fit->cfg_problems);
	bp_buf_free(&fit->file);
	free(fit->name);
	free(fit);
}

const uint8_t *bpi_fit_file(const struct bp_fit *fit, size_t *len)
{
	*len = fit->file.len;
	return fit->file.data;
}

const char *bpi_fit_name(const struct bp_fit *fit)
{
	return fit->name;
}

bool bpi_fit_from_file(const struct bp_fit *fit)
{
	return fit->from_file;
}

bool bpi_fit_image_has_prop(const struct bp_fit *fit, size_t i, const char *sub,
			    const char *prop)
{
	const void *fdt = fit->file.data;
	int node;

	if (i >= fit->info.n_images)
		return false;
	node = fit->img_nodes[i];
	if (sub)
		node = fdt_subnode_offset(fdt, node, sub);
	return node >= 0 && fdt_getprop(fdt, node, prop, NULL);
}

const struct bp_fit_info *bp_fit_get_info(const struct bp_fit *fit)
{
	return &fit->info;
}

const struct bp_fit_image *bp_fit_image_at(const struct bp_fit *fit, size_t i)
{
	return i < fit->info.n_images ? &fit->images[i] : NULL;
}

const struct bp_fit_config *bp_fit_config_at(const struct bp_fit *fit, size_t i)
{
	return i < fit->info.n_configs ? &fit->configs[i] : NULL;
}

const struct bp_fit_hash *bp_fit_hash_at(const struct bp_fit *fit, size_t image, size_t i)
{
	if (image >= fit->info.n_images || i >= fit->images[image].n_hashes)
		return NULL;
	return &fit->img_hashes[image][i];
}

int bp_fit_find_image(const struct bp_fit *fit, const char *name)
{
	for (size_t i = 0; i < fit->info.n_images && i < INT32_MAX; i++)
		if (!strcmp(fit->images[i].name, name))
			return (int)i;
	return BP_ERR_NOTFOUND;
}

int bp_fit_find_config(const struct bp_fit *fit, const char *name)
{
	for (size_t i = 0; i < fit->info.n_configs && i < INT32_MAX; i++)
		if (!strcmp(fit->configs[i].name, name))
			return (int)i;
	return BP_ERR_NOTFOUND;
}
