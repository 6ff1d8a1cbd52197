// SPDX-License-Identifier: MIT
/*
 * Planning a signing (fit_sign.h) in mkimage 2023.01's order: all images
 * (hash values, hash nodes added, image signatures), then each
 * configuration's signatures, so the strings each change appends, and with
 * them every "hashed-strings", come out as mkimage's. A signature node
 * signed with the same key name is signed again in place, as mkimage
 * re-signs; otherwise a "signature-N" node is added holding algo,
 * key-name-hint, padding (for pss) and sign-images, as an .its would.
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

const char *const bpi_fit_image_props[BPI_FIT_N_IMAGE_PROPS] = {
	"kernel", "fdt", "ramdisk", "loadables", "firmware", "fpga", "setup", "standalone"
};


/* libfdt's fdt_find_add_string_(): reuse any NUL-terminated match (a suffix too), else append. */
static int str_off(struct sg_plan *p, const char *name, uint32_t *off)
{
	size_t n = strlen(name) + 1;
	const char *hit = p->strings.len ? memmem(p->strings.data, p->strings.len, name, n) : NULL;

	if (hit) {
		*off = (uint32_t)(hit - (const char *)p->strings.data);
		return 0;
	}
	*off = (uint32_t)p->strings.len;
	if (bp_buf_append(&p->strings, name, n))
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	return 0;
}

/* ---- Edits ---- */

static bool push(void **v, size_t *n, size_t *cap, const void *item, size_t elem)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 32;
		void *q = realloc(*v, c * elem);

		if (!q)
			return false;
		*v = q;
		*cap = c;
	}
	memcpy((char *)*v + *n * elem, item, elem);
	(*n)++;
	return true;
}

static struct sg_edit *new_edit(struct sg_plan *p, int off, const char *name)
{
	struct sg_edit *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->in_off = off;
	if (name)
		snprintf(e->name, sizeof(e->name), "%s", name);
	if (off >= 0 ? !push((void **)&p->edits, &p->n_edits, &p->cap_edits, &e, sizeof(e))
		     : !push((void **)&p->added, &p->n_added, &p->cap_added, &e, sizeof(e))) {
		free(e);
		return NULL;
	}
	return e;
}

/*
 * fdt_setprop(@name) on the node of @e, in mkimage's order: a property the
 * input node has is replaced in place; a new one gets its name's string now
 * (that is when libfdt appends it).
 */
static struct sg_prop *set_prop(struct sg_plan *p, struct sg_edit *e, const char *name,
				const void *val, uint32_t len)
{
	struct sg_prop *q = NULL;

	for (size_t i = 0; i < e->n_prop && !q; i++)
		if (!strcmp(e->prop[i].name, name))
			q = &e->prop[i];
	if (!q) {
		if (e->n_prop == SG_MAX_PROPS) {
			bp_diag_set(p->d, BP_ERR_INVALID, p->path, "too many properties set");
			return NULL;
		}
		q = &e->prop[e->n_prop++];
		q->name = name;
		q->exists = e->in_off >= 0 &&
			    fdt_getprop(p->file, e->in_off, name, NULL) != NULL;
		if (!q->exists && str_off(p, name, &q->nameoff))
			return NULL;
	}
	q->val = val;
	q->len = len;
	return q;
}

static struct sg_prop *set_str(struct sg_plan *p, struct sg_edit *e, const char *name,
			       const char *s)
{
	return set_prop(p, e, name, s, (uint32_t)strlen(s) + 1);
}

/* ---- Reading the input ---- */

static struct sg_sign *new_sign(struct sg_plan *p)
{
	struct sg_sign *s = calloc(1, sizeof(*s));

	if (!s || !push((void **)&p->signs, &p->n_signs, &p->cap_signs, &s, sizeof(s))) {
		free(s);
		bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
		return NULL;
	}
	s->k = p->k;
	return s;
}

/* The algorithm for a signature node: the caller's, else the node's own if the key fits it. */
static int pick_algo(struct sg_plan *p, int node, struct bpi_sig_algo *a)
{
	const char *algo = p->o.algo, *padding = p->o.padding;
	char def[32];
	struct bp_diag ld;
	int len, ret;

	if (p->its) {
		/* mkimage -f: the node names its algorithm; nothing is guessed. */
		algo = fdt_getprop(p->file, node, "algo", &len);
		padding = fdt_getprop(p->file, node, "padding", &len);
		padding = padding && len > 0 && !padding[len - 1] ? padding : NULL;
		ret = bpi_sig_algo_parse(algo, padding, a, &ld);
		if (!ret)
			ret = bpi_sig_key_check(p->k, a, &ld);
		return ret ? bpi_sg_fail(p, "%s: %s", p->its_node, ld.msg) : 0;
	}
	if (node >= 0 && !algo) {
		const char *own = fdt_getprop(p->file, node, "algo", &len);
		struct bpi_sig_algo x;

		if (own && len > 0 && !own[len - 1] && !bpi_sig_algo_parse(own, NULL, &x, NULL) &&
		    !bpi_sig_key_check(p->k, &x, NULL))
			algo = own;
	}
	if (node >= 0 && !padding) {
		const char *own = fdt_getprop(p->file, node, "padding", &len);

		if (own && len > 0 && !own[len - 1])
			padding = own;
	}
	if (!algo) {
		ret = bp_key_algo(p->k, "sha256", def, sizeof(def), &ld);
		if (ret)
			return bp_diag_set(p->d, ret, p->path, "%s", ld.msg);
		algo = def;
	}
	ret = bpi_sig_algo_parse(algo, padding, a, &ld);
	if (!ret)
		ret = bpi_sig_key_check(p->k, a, &ld);
	if (ret)
		return bp_diag_set(p->d, ret, p->path, "%s", ld.msg);
	return 0;
}

/* The properties mkimage's fit_image_write_sig() sets, in its order. */
static int set_sig_props(struct sg_plan *p, struct sg_edit *e, struct sg_sign *s)
{
	s->value = set_prop(p, e, "value", NULL, (uint32_t)bpi_sig_len(&s->algo));
	if (!s->value || !set_str(p, e, "signer-name", p->signer_name) ||
	    !set_str(p, e, "signer-version", p->signer_version) ||
	    !set_prop(p, e, "timestamp", p->timestamp, 4))
		return BP_ERR_NOMEM;
	if (s->config && (!set_prop(p, e, "hashed-nodes", s->nodes, (uint32_t)s->nodes_len) ||
			  !set_prop(p, e, "hashed-strings", s->strings, 8)))
		return BP_ERR_NOMEM;
	return set_str(p, e, "algo", s->algo.name) ? 0 : BP_ERR_NOMEM;
}

/* A "padding" property when the node must say pss (or says otherwise than asked). */
static int set_padding(struct sg_plan *p, struct sg_edit *e, const struct sg_sign *s, bool added)
{
	const char *want = s->algo.pss ? "pss" : "pkcs-1.5";
	int len = 0;
	const char *has = added ? NULL : fdt_getprop(p->file, e->in_off, "padding", &len);
	bool valid = has && len > 0 && !has[len - 1];

	if (s->algo.kind != BPI_SIG_RSA)
		return 0;
	/* A malformed one (empty, unterminated) is rewritten: U-Boot would refuse it. */
	if (valid ? !strcmp(has, want) : !has && !s->algo.pss)
		return 0;
	return set_str(p, e, "padding", want) ? 0 : BP_ERR_NOMEM;
}

/* A new signature node of @parent: signature-N, the first N free. */
static struct sg_edit *add_sig_node(struct sg_plan *p, struct sg_edit *parent)
{
	char name[32];

	for (unsigned int n = 1;; n++) {
		snprintf(name, sizeof(name), "signature-%u", n);
		if (fdt_subnode_offset(p->file, parent->in_off, name) < 0)
			break;
	}
	parent->last = new_edit(p, -1, name);
	if (!parent->last)
		bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	return parent->last;
}

/* Every signature node of @node signed by our key name (the ones mkimage would sign again). */
static size_t our_sigs(const struct sg_plan *p, int node, int *out, size_t max)
{
	const void *fdt = p->file;
	size_t n = 0;
	int sub, len;

	fdt_for_each_subnode(sub, fdt, node) {
		const char *hint = fdt_getprop(fdt, sub, "key-name-hint", &len);

		if (sg_starts_with(fdt_get_name(fdt, sub, NULL), "signature") && hint && len > 0 &&
		    !hint[len - 1] && !strcmp(hint, p->key_name) && n < max)
			out[n++] = sub;
	}
	return n;
}

/* Every path of @node an .its's signature node names: where messages point. */
static void its_node_path(struct sg_plan *p, int node)
{
	if (fdt_get_path(p->file, node, p->its_node, sizeof(p->its_node)))
		snprintf(p->its_node, sizeof(p->its_node), "?");
}

/* An .its image's own signature nodes, each signed with its key-name-hint's key (mkimage -k). */
static int plan_its_image_sigs(struct sg_plan *p, struct sg_image *im, struct sg_edit *e)
{
	int sub, ret;

	(void)e;
	fdt_for_each_subnode(sub, p->file, im->off) {
		struct sg_sign *s;
		struct sg_edit *se;

		if (!sg_starts_with(fdt_get_name(p->file, sub, NULL), "signature") ||
		    !p->its->keydir)
			continue;
		its_node_path(p, sub);
		ret = bpi_sg_its_key(p, sub, false);
		if (ret)
			return ret;
		s = new_sign(p);
		if (!s)
			return BP_ERR_NOMEM;
		s->k = p->k;
		s->index = (size_t)(im - p->img);
		ret = pick_algo(p, sub, &s->algo);
		if (ret)
			return ret;
		se = new_edit(p, sub, NULL);
		if (!se)
			return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
		ret = set_sig_props(p, se, s);
		if (ret)
			return ret;
	}
	return 0;
}

static int plan_image(struct sg_plan *p, struct sg_image *im)
{
	struct sg_edit *e = new_edit(p, im->off, NULL);
	int sigs[16];
	size_t n;

	if (!e)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	im->edit = e;
	for (size_t h = 0; h < im->n_hashes; h++) {
		struct sg_hash *x = &im->hashes[h];
		struct sg_edit *he;
		uint32_t len = (uint32_t)bp_hash_len(x->algo);

		if (x->off < 0) {
			/* As an .its "hash-1 { algo = "sha256"; };" signed by mkimage. */
			he = e->first = new_edit(p, -1, "hash-1");
			if (!he || !set_str(p, he, "algo", bp_hash_name(x->algo)) ||
			    !set_prop(p, he, "value", x->value, len))
				return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
			p->st.n_hashes_added++;
			continue;
		}
		if (!x->compute)
			continue;
		he = new_edit(p, x->off, NULL);
		if (!he || !set_prop(p, he, "value", x->value, len))
			return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	}
	if (p->its)
		return plan_its_image_sigs(p, im, e);
	if (p->o.what != BP_FIT_SIGN_IMAGES)
		return 0;
	n = our_sigs(p, im->off, sigs, 16);
	for (size_t i = 0; i < (n ? n : 1); i++) {
		struct sg_sign *s = new_sign(p);
		struct sg_edit *se;
		int ret;

		if (!s)
			return BP_ERR_NOMEM;
		s->index = (size_t)(im - p->img);
		ret = pick_algo(p, n ? sigs[i] : -1, &s->algo);
		if (ret)
			return ret;
		se = n ? new_edit(p, sigs[i], NULL) : add_sig_node(p, e);
		if (!se)
			return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
		if (!n && (!set_str(p, se, "algo", s->algo.name) ||
			   !set_str(p, se, "key-name-hint", p->key_name)))
			return BP_ERR_NOMEM;
		ret = set_padding(p, se, s, !n);
		if (!ret)
			ret = set_sig_props(p, se, s);
		if (ret)
			return ret;
		p->st.n_replaced += n > 0;
	}
	return 0;
}

static bool is_image_prop(const char *name)
{
	for (size_t i = 0; i < BPI_FIT_N_IMAGE_PROPS; i++)
		if (!strcmp(name, bpi_fit_image_props[i]))
			return true;
	return false;
}

/* The image properties @conf has, in its order: what a new node's sign-images lists. */
static int config_image_props(struct sg_plan *p, int conf, char *buf, size_t cap, size_t *len,
			      bool *beyond_default)
{
	const void *fdt = p->file;
	int prop;

	*len = 0;
	*beyond_default = false;
	fdt_for_each_property_offset(prop, fdt, conf) {
		const char *name;
		size_t n;

		fdt_getprop_by_offset(fdt, prop, &name, NULL);
		if (!is_image_prop(name))
			continue;
		n = strlen(name) + 1;
		if (*len + n > cap)
			return bpi_sg_fail(p, "configuration '%s' has too many image properties",
				    BPI_ESC(fdt_get_name(fdt, conf, NULL)));
		memcpy(buf + *len, name, n);
		*len += n;
		*beyond_default |= strcmp(name, "kernel") && strcmp(name, "fdt");
	}
	return 0;
}

static bool add_path(struct sg_sign *s, const char *path)
{
	size_t n = strlen(path) + 1;
	char *q;

	/* Each path once: a list naming one twice is what bootpack's verify refuses. */
	for (size_t at = 0; at < s->nodes_len; at += strlen(s->nodes + at) + 1)
		if (!strcmp(s->nodes + at, path))
			return true;
	q = realloc(s->nodes, s->nodes_len + n);
	if (!q)
		return false;
	memcpy(q + s->nodes_len, path, n);
	s->nodes = q;
	s->nodes_len += n;
	s->n_nodes++;
	return true;
}

/* The image and its hash nodes (and cipher node), as fit_config_add_hash() lists them. */
static int add_image_paths(struct sg_plan *p, struct sg_sign *s, const struct sg_image *im)
{
	const void *fdt = p->file;
	char path[BPI_SIG_PATH_MAX + 64];
	int sub;

	if (p->its && !im->n_hashes)
		return bpi_sg_fail(p, "%s: image '%s' has no hash node: a signed configuration "
				   "checks its images through their hashes", p->its_node,
				   BPI_ESC(im->name));
	if (!add_path(s, im->path))
		return BP_ERR_NOMEM;
	if (im->added_hash) {
		snprintf(path, sizeof(path), "%s/hash-1", im->path);
		if (!add_path(s, path))
			return BP_ERR_NOMEM;
	}
	fdt_for_each_subnode(sub, fdt, im->off) {
		const char *name = fdt_get_name(fdt, sub, NULL);

		if (!sg_starts_with(name, "hash"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", im->path, name);
		if (!add_path(s, path))
			return BP_ERR_NOMEM;
	}
	sub = fdt_subnode_offset(fdt, im->off, "cipher");
	if (sub >= 0) {
		snprintf(path, sizeof(path), "%s/cipher", im->path);
		if (!add_path(s, path))
			return BP_ERR_NOMEM;
	}
	return 0;
}

/* fit_config_get_hash_list(): the root, the configuration, each image signed and its hashes. */
static int hashed_nodes(struct sg_plan *p, struct sg_sign *s, int conf, const char *list,
			size_t list_len, bool allow_missing)
{
	const void *fdt = p->file;
	const char *cname = fdt_get_name(fdt, conf, NULL);
	char path[BPI_SIG_PATH_MAX + 32];
	size_t images = 0;
	int ret;

	snprintf(path, sizeof(path), "/configurations/%s", cname);
	if (!add_path(s, "/") || !add_path(s, path))
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	for (size_t at = 0; at < list_len; at += strlen(list + at) + 1) {
		const char *prop = list + at;
		int count = fdt_stringlist_count(fdt, conf, prop);

		if (count == -FDT_ERR_BADVALUE)
			return bpi_sg_fail(p, "configuration '%s': '%s' is not a list of image names",
				    BPI_ESC(cname), BPI_ESC(prop));
		for (int i = 0; i < count; i++) {
			const char *iname = fdt_stringlist_get(fdt, conf, prop, i, NULL);
			const struct sg_image *im = iname ? bpi_sg_find_image(p, iname) : NULL;

			if (!im && allow_missing)
				continue;
			if (!im)
				return bpi_sg_fail(p, "configuration '%s': %s '%s' is not an image in "
					    "/images", BPI_ESC(cname), BPI_ESC(prop), BPI_ESC(iname));
			ret = add_image_paths(p, s, im);
			if (ret == BP_ERR_NOMEM)
				return bp_diag_set(p->d, ret, p->path, "out of memory");
			if (ret)
				return ret;
			images++;
		}
	}
	if (!images)
		return bpi_sg_fail(p, "configuration '%s' names no image to sign", BPI_ESC(cname));
	if (s->n_nodes > BPI_SIG_MAX_HASHED_NODES)
		return bpi_sg_fail(p, "configuration '%s' would list %zu hashed nodes; U-Boot accepts "
			    "at most %d", BPI_ESC(cname), s->n_nodes, BPI_SIG_MAX_HASHED_NODES);
	return 0;
}

static int plan_config_sig(struct sg_plan *p, struct sg_edit *ce, int sig_node)
{
	const void *fdt = p->file;
	int conf = ce->in_off, len;
	struct sg_sign *s = new_sign(p);
	struct sg_edit *se;
	char own[256];
	const char *list;
	size_t list_len;
	bool beyond, allow_missing = false;
	int ret;

	if (!s)
		return BP_ERR_NOMEM;
	s->config = true;
	ret = pick_algo(p, sig_node, &s->algo);
	if (!ret)
		ret = config_image_props(p, conf, own, sizeof(own), &list_len, &beyond);
	if (ret)
		return ret;
	list = own;
	se = sig_node >= 0 ? new_edit(p, sig_node, NULL) : add_sig_node(p, ce);
	if (!se)
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	if (sig_node < 0) {
		if (!set_str(p, se, "algo", s->algo.name) ||
		    !set_str(p, se, "key-name-hint", p->key_name))
			return BP_ERR_NOMEM;
	} else if ((list = fdt_getprop(fdt, sig_node, "sign-images", &len)) || p->its) {
		if (!list) {
			/* mkimage's default list; missing images are skipped. */
			list = "kernel\0fdt";
			len = sizeof("kernel\0fdt");
			allow_missing = true;
		}
		/* mkimage signs what the node's own list says. */
		if (len <= 0 || list[len - 1])
			return bpi_sg_fail(p, "configuration '%s': %s: 'sign-images' is not a list of "
				    "strings", BPI_ESC(fdt_get_name(fdt, conf, NULL)),
				    BPI_ESC(fdt_get_name(fdt, sig_node, NULL)));
		list_len = (size_t)len;
	} else if (!beyond) {
		/* mkimage's default, kernel and fdt, covers everything the configuration names. */
		list = "kernel\0fdt";
		list_len = sizeof("kernel\0fdt");
		allow_missing = true;
	} else {
		/* mkimage's default would leave images out: list them all. */
		list = own;
	}
	ret = set_padding(p, se, s, sig_node < 0);
	if (!ret && list == own) {
		s->sign_images = malloc(list_len ? list_len : 1);
		if (!s->sign_images ||
		    !set_prop(p, se, "sign-images", memcpy(s->sign_images, own, list_len),
			      (uint32_t)list_len))
			ret = bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
		list = s->sign_images;
	}
	if (!ret)
		ret = hashed_nodes(p, s, conf, list, list_len, allow_missing);
	if (ret)
		return ret;
	/* The strings signed are those present when mkimage signs this node. */
	s->strings_size = (uint32_t)p->strings.len;
	bpi_put_be32(s->strings + 4, s->strings_size);
	s->index = (size_t)conf;
	p->st.n_replaced += sig_node >= 0;
	return set_sig_props(p, se, s);
}

static bool selected(const struct sg_plan *p, const char *name)
{
	if (!p->o.configs)
		return true;
	for (size_t i = 0; i < p->o.n_configs; i++)
		if (p->o.configs[i] && !strcmp(p->o.configs[i], name))
			return true;
	return false;
}

static int cmp_edit(const void *a, const void *b);

/* mkimage -f -k: every signature node of every configuration, each with its own key. */
static int plan_its_configs(struct sg_plan *p)
{
	const void *fdt = p->file;
	int confs = fdt_path_offset(fdt, "/configurations"), conf, sub, ret;

	if (confs < 0 || !p->its->keydir)
		return 0;
	fdt_for_each_subnode(conf, fdt, confs) {
		struct sg_edit *ce = NULL;

		fdt_for_each_subnode(sub, fdt, conf) {
			if (!sg_starts_with(fdt_get_name(fdt, sub, NULL), "signature"))
				continue;
			if (!ce && !(ce = new_edit(p, conf, NULL)))
				return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
			its_node_path(p, sub);
			ret = bpi_sg_its_key(p, sub, true);
			if (!ret)
				ret = plan_config_sig(p, ce, sub);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * mkimage -E, after signing (a signature never covers data properties):
 * each image's "data" goes after the tree; data-offset (or data-position,
 * -p) and data-size are set, new properties going first as libfdt puts them.
 */
static int plan_its_extract(struct sg_plan *p)
{
	uint64_t at = 0;

	for (size_t i = 0; i < p->n_img; i++) {
		struct sg_image *im = &p->img[i];
		uint64_t pos = p->its->position ? (uint64_t)p->its->position + at : at;

		if (!fdt_getprop(p->file, im->off, "data", NULL))
			continue;
		if (pos > UINT32_MAX)
			return bp_diag_set(p->d, BP_ERR_TOOBIG, p->path, "external data would pass "
					   "4 GiB: FIT offsets are 32 bits");
		bpi_put_be32(im->ext, (uint32_t)pos);
		bpi_put_be32(im->ext + 4, (uint32_t)im->size);
		im->edit->extract = true;
		if (!set_prop(p, im->edit, p->its->position ? "data-position" : "data-offset",
			      im->ext, 4) ||
		    !set_prop(p, im->edit, "data-size", im->ext + 4, 4))
			return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
		at += BPI_ALIGN_UP(im->size, (uint64_t)p->its->align);
	}
	return 0;
}

static int plan_its(struct sg_plan *p)
{
	struct sg_edit *root = new_edit(p, 0, NULL);
	int ret = 0;

	/* mkimage sets the root timestamp first: its string comes first. */
	if (!root || !set_prop(p, root, "timestamp", p->timestamp, 4))
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	for (size_t i = 0; i < p->n_img && !ret; i++)
		ret = plan_image(p, &p->img[i]);
	if (!ret)
		ret = plan_its_configs(p);
	if (!ret && p->its->extract)
		ret = plan_its_extract(p);
	if (!ret)
		qsort(p->edits, p->n_edits, sizeof(*p->edits), cmp_edit);
	return ret;
}

static int plan_configs(struct sg_plan *p)
{
	const void *fdt = p->file;
	int confs = fdt_path_offset(fdt, "/configurations"), conf, sigs[16], ret;
	size_t n_signed = 0;

	if (confs < 0)
		return bpi_sg_fail(p, "no /configurations node: nothing to sign (sign images with "
			    "--images)");
	for (size_t i = 0; p->o.configs && i < p->o.n_configs; i++)
		if (!p->o.configs[i] || fdt_subnode_offset(fdt, confs, p->o.configs[i]) < 0)
			return bp_diag_set(p->d, BP_ERR_NOTFOUND, p->path,
					   "configuration '%s' does not exist",
					   BPI_ESC(p->o.configs[i]));
	fdt_for_each_subnode(conf, fdt, confs) {
		struct sg_edit *ce;
		size_t n;

		if (!selected(p, fdt_get_name(fdt, conf, NULL)))
			continue;
		ce = new_edit(p, conf, NULL);
		if (!ce)
			return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
		n = our_sigs(p, conf, sigs, 16);
		for (size_t i = 0; i < (n ? n : 1); i++) {
			ret = plan_config_sig(p, ce, n ? sigs[i] : -1);
			if (ret)
				return ret;
		}
		n_signed++;
	}
	if (!n_signed)
		return bpi_sg_fail(p, "/configurations holds no configuration to sign");
	return 0;
}

static int cmp_edit(const void *a, const void *b)
{
	int x = (*(struct sg_edit *const *)a)->in_off, y = (*(struct sg_edit *const *)b)->in_off;

	return (x > y) - (x < y);
}

/* Edits of one node made twice (an image's, then a configuration's) would be two; merge none. */
int bpi_sg_plan(struct sg_plan *p)
{
	int ret = 0;

	if (p->its)
		return plan_its(p);
	for (size_t i = 0; i < p->n_img && !ret; i++)
		ret = plan_image(p, &p->img[i]);
	if (!ret && p->o.what == BP_FIT_SIGN_CONFIGS)
		ret = plan_configs(p);
	if (ret)
		return ret;
	qsort(p->edits, p->n_edits, sizeof(*p->edits), cmp_edit);
	return 0;
}

/* ---- Signing (parallel) ---- */
