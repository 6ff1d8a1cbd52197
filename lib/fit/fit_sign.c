// SPDX-License-Identifier: MIT
/*
 * bp_fit_sign(): what `mkimage -F -k` does to a FIT, in one pass.
 *
 * mkimage re-opens and grows the tree for every property it sets, and walks
 * the whole tree for every configuration it signs. Here the input is read
 * once, every change is planned first in mkimage's order (all images: hash
 * values, then image signatures; then each configuration's signatures), so
 * the strings each one appends, and with them every "hashed-strings", come
 * out as mkimage's would; the tree is then written once (fit_sign_tree.c),
 * indexed once (fdt_region.c), and the signatures are made side by side,
 * each from its configuration's few nodes.
 *
 * A signature node signed with the same key name is signed again in place
 * (its algo and padding kept unless the caller says otherwise), as mkimage
 * re-signs; otherwise a "signature-N" node is added holding algo,
 * key-name-hint, padding (for pss) and sign-images, as an .its would.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/fit.h>

#include "fdt_region.h"
#include "fit_internal.h"
#include "fit_sign.h"
#include "hash/hasher.h"
#include "sig/sig.h"
#include "util/esc.h"
#include "util/util.h"

const char *const bpi_fit_image_props[BPI_FIT_N_IMAGE_PROPS] = {
	"kernel", "fdt", "ramdisk", "loadables", "firmware", "fpga", "setup", "standalone"
};

struct sg_hash {
	int off;                   /* the hash node, or -1 for the one added */
	enum bp_hash_algo algo;
	bool compute;              /* its value is (re)computed */
	uint8_t value[BP_HASH_MAX_LEN];
};

struct sg_image {
	const char *name;
	int off;
	const uint8_t *data;
	uint64_t size;
	struct sg_hash *hashes;
	size_t n_hashes;
	bool added_hash;           /* hashes[0] is a hash-1 node bootpack adds */
	char path[BPI_SIG_PATH_MAX];
};

/* One signature to make. */
struct sg_sign {
	bool config;
	size_t index;              /* the image or configuration */
	struct bpi_sig_algo algo;
	struct sg_prop *value;
	char *nodes;               /* config: hashed-nodes, a stringlist */
	size_t nodes_len, n_nodes;
	uint8_t strings[8];        /* hashed-strings: 0, then the strings size signed */
	uint32_t strings_size;
	char *sign_images;         /* a sign-images list bootpack writes */
};

struct img_name {
	const char *name;
	size_t index;
};

struct plan {
	const uint8_t *file;
	size_t len;
	const char *path;
	const struct bp_key *k;
	struct bp_fit_sign_opts o;
	const char *key_name;
	bool trust_hashes;
	struct bp_diag *d;
	struct sg_image *img;
	size_t n_img;
	struct img_name *img_sorted; /* image names, sorted, for lookups by name */
	struct sg_edit **edits;    /* every edit of an input node */
	size_t n_edits, cap_edits;
	struct sg_edit **added;    /* added nodes, to free */
	size_t n_added, cap_added;
	struct sg_sign **signs;    /* each allocated once: properties point into them */
	size_t n_signs, cap_signs;
	struct bp_buf strings;     /* the output strings block as it grows */
	uint8_t timestamp[4];
	const char *signer_name, *signer_version;
	struct sg_tree tree;
	struct bpi_fdt_index *ix;
	struct bp_fit_sign_stats st;
	struct bp_diag *job_diag;  /* one per job */
	uint64_t sizes[2];         /* bytes written, devicetree totalsize */
};

static const char *esc_path(const struct plan *p)
{
	return p->path;
}

/* ---- The strings block, grown as libfdt grows it ---- */

/* libfdt's fdt_find_add_string_(): reuse any NUL-terminated match (a suffix too), else append. */
static int str_off(struct plan *p, const char *name, uint32_t *off)
{
	size_t n = strlen(name) + 1;
	const char *hit = p->strings.len ? memmem(p->strings.data, p->strings.len, name, n) : NULL;

	if (hit) {
		*off = (uint32_t)(hit - (const char *)p->strings.data);
		return 0;
	}
	*off = (uint32_t)p->strings.len;
	if (bp_buf_append(&p->strings, name, n))
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
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

static struct sg_edit *new_edit(struct plan *p, int off, const char *name)
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
static struct sg_prop *set_prop(struct plan *p, struct sg_edit *e, const char *name,
				const void *val, uint32_t len)
{
	struct sg_prop *q = NULL;

	for (size_t i = 0; i < e->n_prop && !q; i++)
		if (!strcmp(e->prop[i].name, name))
			q = &e->prop[i];
	if (!q) {
		if (e->n_prop == SG_MAX_PROPS) {
			bp_diag_set(p->d, BP_ERR_INVALID, esc_path(p), "too many properties set");
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

static struct sg_prop *set_str(struct plan *p, struct sg_edit *e, const char *name,
			       const char *s)
{
	return set_prop(p, e, name, s, (uint32_t)strlen(s) + 1);
}

/* ---- Reading the input ---- */

static int __attribute__((format(printf, 2, 3))) fail(struct plan *p, const char *fmt, ...)
{
	char msg[BP_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bp_diag_set(p->d, BP_ERR_FORMAT, esc_path(p), "cannot sign: %s", msg);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* What U-Boot refuses before looking at any signature. */
static int check_tree(struct plan *p)
{
	const void *fdt = p->file;
	int depth = 0;

	for (int node = 0; node >= 0 && depth >= 0; node = fdt_next_node(fdt, node, &depth)) {
		const char *name = fdt_get_name(fdt, node, NULL);

		if (name && strchr(name, '@'))
			return fail(p, "node '%s' has a unit address ('@'): U-Boot with signature "
				    "support refuses such a FIT", BPI_ESC(name));
	}
	if (!fdt_getprop(fdt, 0, "description", NULL))
		return fail(p, "the root node has no 'description' (U-Boot refuses the FIT)");
	return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two subnodes of one name would both be signed and only the first used: refuse. */
static int check_unique(struct plan *p, int parent, const char *what)
{
	const void *fdt = p->file;
	const char **names;
	size_t n = 0, i = 0;
	int sub, ret = 0;

	fdt_for_each_subnode(sub, fdt, parent)
		n++;
	names = malloc((n + 1) * sizeof(*names));
	if (!names)
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	fdt_for_each_subnode(sub, fdt, parent)
		names[i++] = fdt_get_name(fdt, sub, NULL);
	qsort(names, n, sizeof(*names), cmp_cstr);
	for (i = 1; i < n && !ret; i++)
		if (!strcmp(names[i - 1], names[i]))
			ret = fail(p, "two %s nodes are called '%s'", what, BPI_ESC(names[i]));
	free(names);
	return ret;
}

static int get_u32(struct plan *p, int node, const char *name, uint32_t *v, bool *present)
{
	int len;
	const uint8_t *q = fdt_getprop(p->file, node, name, &len);

	*present = q != NULL;
	if (!q)
		return 0;
	if (len != 4)
		return fail(p, "image '%s': '%s' is %d bytes, not one 32-bit cell",
			    BPI_ESC(fdt_get_name(p->file, node, NULL)), name, len);
	*v = bpi_get_be32(q);
	return 0;
}

/* Where the image's bytes are, as U-Boot finds them (data-position, data-offset, data). */
static int image_data(struct plan *p, struct sg_image *im)
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
			return fail(p, "image '%s' has no 'data', 'data-offset' or "
				    "'data-position'", BPI_ESC(im->name));
		im->size = (uint64_t)len;
		return 0;
	}
	ret = get_u32(p, im->off, "data-size", &size, &has_size);
	if (ret)
		return ret;
	if (!has_size)
		return fail(p, "image '%s': external data has no 'data-size'", BPI_ESC(im->name));
	start = has_pos ? pos : (uint64_t)pos + BPI_ALIGN_UP((uint64_t)total, 4);
	if (start < total || start > p->len || size > p->len - start)
		return fail(p, "image '%s': external data (%u bytes at file offset %llu) is not "
			    "between the end of the devicetree (%u) and the end of the file "
			    "(%zu)", BPI_ESC(im->name), size, (unsigned long long)start, total,
			    p->len);
	im->data = p->file + start;
	im->size = size;
	return 0;
}

static int read_image(struct plan *p, struct sg_image *im)
{
	const void *fdt = p->file;
	size_t n = 0;
	int sub, ret = image_data(p, im);

	if (ret)
		return ret;
	fdt_for_each_subnode(sub, fdt, im->off)
		n += starts_with(fdt_get_name(fdt, sub, NULL), "hash");
	im->added_hash = !n;
	im->hashes = calloc(n + 1, sizeof(*im->hashes));
	if (!im->hashes)
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
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

		if (!starts_with(name, "hash"))
			continue;
		algo = fdt_getprop(fdt, sub, "algo", &len);
		if (!algo || len <= 0 || algo[len - 1])
			return fail(p, "image '%s': %s has no 'algo' string", BPI_ESC(im->name),
				    BPI_ESC(name));
		if (bp_hash_from_name(algo, &h->algo, NULL))
			return fail(p, "image '%s': %s: unknown hash algorithm '%s'",
				    BPI_ESC(im->name), BPI_ESC(name), BPI_ESC(algo));
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

static int read_images(struct plan *p)
{
	const void *fdt = p->file;
	int images = fdt_path_offset(fdt, "/images"), sub, ret;
	size_t n = 0;

	if (images < 0)
		return fail(p, "not a FIT image: the devicetree has no /images node");
	ret = check_unique(p, images, "image");
	if (ret)
		return ret;
	fdt_for_each_subnode(sub, fdt, images)
		n++;
	p->img = calloc(n + 1, sizeof(*p->img));
	p->img_sorted = calloc(n + 1, sizeof(*p->img_sorted));
	if (!p->img || !p->img_sorted)
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
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

static struct sg_image *find_image(const struct plan *p, const char *name)
{
	struct img_name key = { name, 0 };
	const struct img_name *hit = bsearch(&key, p->img_sorted, p->n_img,
					     sizeof(*p->img_sorted), cmp_name);

	return hit ? &p->img[hit->index] : NULL;
}

/* ---- Hashing (parallel) ---- */

static int hash_job(void *ctx, size_t i)
{
	struct plan *p = ctx;
	struct sg_image *im = &p->img[i];

	for (size_t h = 0; h < im->n_hashes; h++)
		if (im->hashes[h].compute &&
		    bp_hash(im->hashes[h].algo, im->data, (size_t)im->size, im->hashes[h].value,
			    &p->job_diag[i]))
			return BP_ERR_CODEC;
	return 0;
}

/* ---- Planning ---- */

static struct sg_sign *new_sign(struct plan *p)
{
	struct sg_sign *s = calloc(1, sizeof(*s));

	if (!s || !push((void **)&p->signs, &p->n_signs, &p->cap_signs, &s, sizeof(s))) {
		free(s);
		bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
		return NULL;
	}
	return s;
}

/* The algorithm for a signature node: the caller's, else the node's own if the key fits it. */
static int pick_algo(struct plan *p, int node, struct bpi_sig_algo *a)
{
	const char *algo = p->o.algo, *padding = p->o.padding;
	char def[32];
	struct bp_diag ld;
	int len, ret;

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
			return bp_diag_set(p->d, ret, esc_path(p), "%s", ld.msg);
		algo = def;
	}
	ret = bpi_sig_algo_parse(algo, padding, a, &ld);
	if (!ret)
		ret = bpi_sig_key_check(p->k, a, &ld);
	if (ret)
		return bp_diag_set(p->d, ret, esc_path(p), "%s", ld.msg);
	return 0;
}

/* The properties mkimage's fit_image_write_sig() sets, in its order. */
static int set_sig_props(struct plan *p, struct sg_edit *e, struct sg_sign *s)
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
static int set_padding(struct plan *p, struct sg_edit *e, const struct sg_sign *s, bool added)
{
	const char *want = s->algo.pss ? "pss" : "pkcs-1.5";
	int len;
	const char *has = added ? NULL : fdt_getprop(p->file, e->in_off, "padding", &len);

	if (s->algo.kind != BPI_SIG_RSA)
		return 0;
	if (has ? !strcmp(has, want) : !s->algo.pss)
		return 0;
	return set_str(p, e, "padding", want) ? 0 : BP_ERR_NOMEM;
}

/* A new signature node of @parent: signature-N, the first N free. */
static struct sg_edit *add_sig_node(struct plan *p, struct sg_edit *parent)
{
	char name[32];

	for (unsigned int n = 1;; n++) {
		snprintf(name, sizeof(name), "signature-%u", n);
		if (fdt_subnode_offset(p->file, parent->in_off, name) < 0)
			break;
	}
	parent->last = new_edit(p, -1, name);
	if (!parent->last)
		bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	return parent->last;
}

/* Every signature node of @node signed by our key name (the ones mkimage would sign again). */
static size_t our_sigs(const struct plan *p, int node, int *out, size_t max)
{
	const void *fdt = p->file;
	size_t n = 0;
	int sub, len;

	fdt_for_each_subnode(sub, fdt, node) {
		const char *hint = fdt_getprop(fdt, sub, "key-name-hint", &len);

		if (starts_with(fdt_get_name(fdt, sub, NULL), "signature") && hint && len > 0 &&
		    !hint[len - 1] && !strcmp(hint, p->key_name) && n < max)
			out[n++] = sub;
	}
	return n;
}

static int plan_image(struct plan *p, struct sg_image *im)
{
	struct sg_edit *e = new_edit(p, im->off, NULL);
	int sigs[16];
	size_t n;

	if (!e)
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	for (size_t h = 0; h < im->n_hashes; h++) {
		struct sg_hash *x = &im->hashes[h];
		struct sg_edit *he;
		uint32_t len = (uint32_t)bp_hash_len(x->algo);

		if (x->off < 0) {
			/* As an .its "hash-1 { algo = "sha256"; };" signed by mkimage. */
			he = e->first = new_edit(p, -1, "hash-1");
			if (!he || !set_str(p, he, "algo", bp_hash_name(x->algo)) ||
			    !set_prop(p, he, "value", x->value, len))
				return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
			p->st.n_hashes_added++;
			continue;
		}
		if (!x->compute)
			continue;
		he = new_edit(p, x->off, NULL);
		if (!he || !set_prop(p, he, "value", x->value, len))
			return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	}
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
			return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
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
static int config_image_props(struct plan *p, int conf, char *buf, size_t cap, size_t *len,
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
			return fail(p, "configuration '%s' has too many image properties",
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
static int add_image_paths(struct plan *p, struct sg_sign *s, const struct sg_image *im)
{
	const void *fdt = p->file;
	char path[BPI_SIG_PATH_MAX + 64];
	int sub;

	if (!add_path(s, im->path))
		return BP_ERR_NOMEM;
	if (im->added_hash) {
		snprintf(path, sizeof(path), "%s/hash-1", im->path);
		if (!add_path(s, path))
			return BP_ERR_NOMEM;
	}
	fdt_for_each_subnode(sub, fdt, im->off) {
		const char *name = fdt_get_name(fdt, sub, NULL);

		if (!starts_with(name, "hash"))
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
static int hashed_nodes(struct plan *p, struct sg_sign *s, int conf, const char *list,
			size_t list_len, bool allow_missing)
{
	const void *fdt = p->file;
	const char *cname = fdt_get_name(fdt, conf, NULL);
	char path[BPI_SIG_PATH_MAX + 32];
	size_t images = 0;
	int ret;

	snprintf(path, sizeof(path), "/configurations/%s", cname);
	if (!add_path(s, "/") || !add_path(s, path))
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	for (size_t at = 0; at < list_len; at += strlen(list + at) + 1) {
		const char *prop = list + at;
		int count = fdt_stringlist_count(fdt, conf, prop);

		if (count == -FDT_ERR_BADVALUE)
			return fail(p, "configuration '%s': '%s' is not a list of image names",
				    BPI_ESC(cname), BPI_ESC(prop));
		for (int i = 0; i < count; i++) {
			const char *iname = fdt_stringlist_get(fdt, conf, prop, i, NULL);
			const struct sg_image *im = iname ? find_image(p, iname) : NULL;

			if (!im && allow_missing)
				continue;
			if (!im)
				return fail(p, "configuration '%s': %s '%s' is not an image in "
					    "/images", BPI_ESC(cname), BPI_ESC(prop), BPI_ESC(iname));
			ret = add_image_paths(p, s, im);
			if (ret)
				return bp_diag_set(p->d, ret, esc_path(p), "out of memory");
			images++;
		}
	}
	if (!images)
		return fail(p, "configuration '%s' names no image to sign", BPI_ESC(cname));
	if (s->n_nodes > BPI_SIG_MAX_HASHED_NODES)
		return fail(p, "configuration '%s' would list %zu hashed nodes; U-Boot accepts "
			    "at most %d", BPI_ESC(cname), s->n_nodes, BPI_SIG_MAX_HASHED_NODES);
	return 0;
}

static int plan_config_sig(struct plan *p, struct sg_edit *ce, int sig_node)
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
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	if (sig_node < 0) {
		if (!set_str(p, se, "algo", s->algo.name) ||
		    !set_str(p, se, "key-name-hint", p->key_name))
			return BP_ERR_NOMEM;
	} else if ((list = fdt_getprop(fdt, sig_node, "sign-images", &len))) {
		/* mkimage signs what the node's own list says. */
		if (len <= 0 || list[len - 1])
			return fail(p, "configuration '%s': %s: 'sign-images' is not a list of "
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
			ret = bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
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

static bool selected(const struct plan *p, const char *name)
{
	if (!p->o.configs)
		return true;
	for (size_t i = 0; i < p->o.n_configs; i++)
		if (p->o.configs[i] && !strcmp(p->o.configs[i], name))
			return true;
	return false;
}

static int plan_configs(struct plan *p)
{
	const void *fdt = p->file;
	int confs = fdt_path_offset(fdt, "/configurations"), conf, sigs[16], ret;
	size_t n_signed = 0;

	if (confs < 0)
		return fail(p, "no /configurations node: nothing to sign (sign images with "
			    "--images)");
	ret = check_unique(p, confs, "configuration");
	if (ret)
		return ret;
	for (size_t i = 0; p->o.configs && i < p->o.n_configs; i++)
		if (!p->o.configs[i] || fdt_subnode_offset(fdt, confs, p->o.configs[i]) < 0)
			return bp_diag_set(p->d, BP_ERR_NOTFOUND, esc_path(p),
					   "configuration '%s' does not exist",
					   BPI_ESC(p->o.configs[i]));
	fdt_for_each_subnode(conf, fdt, confs) {
		struct sg_edit *ce;
		size_t n;

		if (!selected(p, fdt_get_name(fdt, conf, NULL)))
			continue;
		ce = new_edit(p, conf, NULL);
		if (!ce)
			return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
		n = our_sigs(p, conf, sigs, 16);
		for (size_t i = 0; i < (n ? n : 1); i++) {
			ret = plan_config_sig(p, ce, n ? sigs[i] : -1);
			if (ret)
				return ret;
		}
		n_signed++;
	}
	if (!n_signed)
		return fail(p, "/configurations holds no configuration to sign");
	return 0;
}

static int cmp_edit(const void *a, const void *b)
{
	int x = (*(struct sg_edit *const *)a)->in_off, y = (*(struct sg_edit *const *)b)->in_off;

	return (x > y) - (x < y);
}

/* Edits of one node made twice (an image's, then a configuration's) would be two; merge none. */
static int plan(struct plan *p)
{
	int ret = 0;

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

static int sign_config(struct plan *p, struct sg_sign *s, struct bp_diag *d)
{
	const uint8_t *blob = p->tree.blob.data;
	size_t max = BPI_SIG_REGIONS_MAX(s->n_nodes) + 1, count = 0, n_ids = 0;
	struct bpi_fdt_region *r = calloc(max, sizeof(*r));
	struct bpi_region *rr = calloc(max + 1, sizeof(*rr));
	int32_t *ids = calloc(s->n_nodes * 4 + 1, sizeof(*ids));
	const char *cname = fdt_get_name(p->file, (int)s->index, NULL);
	enum bpi_region_err e;
	int ret = 0;

	if (!r || !rr || !ids) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, esc_path(p), "out of memory");
		goto out;
	}
	for (size_t at = 0; at < s->nodes_len; at += strlen(s->nodes + at) + 1) {
		int32_t x = bpi_fdt_index_find(p->ix, s->nodes + at, strlen(s->nodes + at));

		if (x < 0 || n_ids == s->n_nodes * 4) {
			ret = bp_diag_set(d, BP_ERR_FORMAT, esc_path(p), "internal error: node "
					  "'%s' is not in the tree signed", BPI_ESC(s->nodes + at));
			goto out;
		}
		ids[n_ids++] = x;
	}
	e = bpi_fdt_regions(p->ix, ids, n_ids, s->n_nodes, r, &count);
	if (e == BPI_REGION_NOMEM) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, esc_path(p), "out of memory");
		goto out;
	}
	if (e) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, esc_path(p), "cannot sign configuration "
				  "'%s': %s", BPI_ESC(cname), bpi_region_err_str(e));
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		rr[i] = (struct bpi_region){ blob + r[i].off, r[i].size };
	rr[count++] = (struct bpi_region){ blob + fdt_off_dt_strings(blob), s->strings_size };
	ret = bpi_sig_sign(p->k, &s->algo, rr, count, p->tree.blob.data + s->value->slot, d);
	if (ret) {
		char why[BP_DIAG_MSG_MAX];

		snprintf(why, sizeof(why), "%s", d->msg);
		bp_diag_set(d, ret, esc_path(p), "configuration '%s': %s", BPI_ESC(cname), why);
	}
out:
	free(r);
	free(rr);
	free(ids);
	return ret;
}

static int sign_job(void *ctx, size_t i)
{
	struct plan *p = ctx;
	struct sg_sign *s = p->signs[i];
	struct bp_diag *d = &p->job_diag[i];
	char why[BP_DIAG_MSG_MAX];
	const struct sg_image *im;
	struct bpi_region r;
	int ret;

	if (s->config)
		return sign_config(p, s, d);
	im = &p->img[s->index];
	r = (struct bpi_region){ im->data, (size_t)im->size };
	ret = bpi_sig_sign(p->k, &s->algo, &r, 1, p->tree.blob.data + s->value->slot, d);
	if (ret) {
		snprintf(why, sizeof(why), "%s", d->msg);
		bp_diag_set(d, ret, esc_path(p), "image '%s': %s", BPI_ESC(im->name), why);
	}
	return ret;
}

/* The lowest-numbered job's failure, as bpi_jobs_run() reports its code. */
static int job_failure(struct plan *p, size_t n, int ret)
{
	for (size_t i = 0; i < n; i++)
		if (p->job_diag[i].msg[0]) {
			if (p->d)
				*p->d = p->job_diag[i];
			return ret;
		}
	return bp_diag_set(p->d, ret, esc_path(p), "%s", bp_strerror(ret));
}

static int run_jobs(struct plan *p, size_t n, int (*fn)(void *, size_t))
{
	int ret;

	free(p->job_diag);
	p->job_diag = calloc(n ? n : 1, sizeof(*p->job_diag));
	if (!p->job_diag)
		return bp_diag_set(p->d, BP_ERR_NOMEM, esc_path(p), "out of memory");
	ret = bpi_jobs_run(n, p->o.jobs, fn, p);
	return ret ? job_failure(p, n, ret) : 0;
}

/* ---- The output ---- */

/*
 * External data after the devicetree keeps its place relative to the tree's
 * end: data-offset counts from there, so the tail moves by whole 4 KiB steps
 * (alignments up to a page survive) and data-position values move with it.
 */
static int write_out(struct plan *p, struct bpi_output *out)
{
	struct sg_tree *t = &p->tree;
	uint32_t old_total = fdt_totalsize(p->file);
	uint64_t size = t->blob.len + t->data_bytes, total = size, delta = 0;
	uint64_t tail_len = p->len > old_total ? p->len - old_total : 0;

	if (tail_len) {
		if (size > old_total)
			delta = BPI_ALIGN_UP(size - old_total, 4096);
		total = old_total + delta;
	}
	if (total > BPI_SIG_MAX_SIZE)
		return bp_diag_set(p->d, BP_ERR_TOOBIG, esc_path(p),
				   "cannot sign: the devicetree would be %llu bytes; U-Boot does "
				   "not check signatures of a FIT over %u bytes "
				   "(CONFIG_FIT_SIGNATURE_MAX_SIZE): store the data externally "
				   "(-E)", (unsigned long long)total, BPI_SIG_MAX_SIZE);
	for (size_t i = 0; i < t->n_positions; i++) {
		uint8_t *v = t->blob.data + t->positions[i];
		uint64_t pos = bpi_get_be32(v) + delta;

		if (pos > UINT32_MAX)
			return bp_diag_set(p->d, BP_ERR_TOOBIG, esc_path(p), "cannot sign: a "
					   "data-position would pass 4 GiB");
		bpi_put_be32(v, (uint32_t)pos);
	}
	p->sizes[0] = total + tail_len;
	p->sizes[1] = total;
	return bpi_sg_tree_write(t, (uint32_t)total, p->file + old_total, tail_len, out, p->d);
}

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_sign_opts, jobs);
static const size_t stats_v1 = BPI_SIZE_V1(struct bp_fit_sign_stats, n_hashes_added);

static void release(struct plan *p)
{
	for (size_t i = 0; i < p->n_img; i++)
		free(p->img[i].hashes);
	for (size_t i = 0; i < p->n_edits; i++)
		free(p->edits[i]);
	for (size_t i = 0; i < p->n_added; i++)
		free(p->added[i]);
	for (size_t i = 0; i < p->n_signs; i++) {
		free(p->signs[i]->nodes);
		free(p->signs[i]->sign_images);
		free(p->signs[i]);
	}
	free(p->img);
	free(p->img_sorted);
	free(p->edits);
	free(p->added);
	free(p->signs);
	free(p->job_diag);
	bp_buf_free(&p->strings);
	bpi_sg_tree_free(&p->tree);
	bpi_fdt_index_free(p->ix);
}

static int setup(struct plan *p, const struct bp_fit_sign_opts *o)
{
	const void *fdt = p->file;
	int len, ret = BPI_STRUCT_IN(&p->o, opts_v1, o, "bp_fit_sign_opts", p->d);
	const uint8_t *ts;

	if (ret)
		return ret;
	if (!p->k)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "no signing key given");
	if (p->o.what != BP_FIT_SIGN_CONFIGS && p->o.what != BP_FIT_SIGN_IMAGES)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "unknown signing mode %d",
				   (int)p->o.what);
	if (p->o.n_configs && !p->o.configs)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "configuration list is NULL");
	p->key_name = p->o.key_name ? p->o.key_name : bp_key_name(p->k);
	if (!p->key_name || !*p->key_name)
		return bp_diag_set(p->d, BP_ERR_INVALID, "", "the key has no name (give one)");
	p->signer_name = p->o.signer_name ? p->o.signer_name : "bootpack";
	p->signer_version = p->o.signer_version ? p->o.signer_version : BP_VERSION;
	ret = bpi_fdt_check(p->file, p->len, p->path, p->d);
	if (ret)
		return ret;
	/* The signature's timestamp: the caller's, else the FIT's own. */
	ts = fdt_getprop(fdt, 0, "timestamp", &len);
	if (p->o.has_timestamp)
		bpi_put_be32(p->timestamp, p->o.timestamp);
	else if (ts && len == 4)
		memcpy(p->timestamp, ts, 4);
	if (bp_buf_append(&p->strings, (const uint8_t *)fdt + fdt_off_dt_strings(fdt),
			  fdt_size_dt_strings(fdt)))
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	return check_tree(p);
}

int bpi_fit_sign_mem(const uint8_t *file, size_t len, const char *path, const struct bp_key *k,
		     const struct bp_fit_sign_opts *o, bool trust_hashes,
		     struct bpi_output *out, struct bp_fit_sign_stats *st, uint64_t sizes[2],
		     struct bp_diag *d)
{
	struct plan p = { .file = file, .len = len, .path = path, .k = k, .d = d,
			  .trust_hashes = trust_hashes,
			  .st = BP_FIT_SIGN_STATS_INIT };
	int ret = bpi_struct_out_check(st, stats_v1, "bp_fit_sign_stats", d);

	if (!ret)
		ret = setup(&p, o);
	if (!ret)
		ret = read_images(&p);
	if (!ret)
		ret = run_jobs(&p, p.n_img, hash_job);
	if (!ret)
		ret = plan(&p);
	if (!ret)
		ret = bpi_sg_tree_build(file, p.edits, p.n_edits, &p.strings, &p.tree, path, d);
	if (!ret)
		ret = bpi_fdt_index_build(p.tree.blob.data, &p.ix, d);
	if (!ret)
		ret = run_jobs(&p, p.n_signs, sign_job);
	if (!ret)
		ret = write_out(&p, out);
	if (!ret) {
		p.st.n_signed = p.n_signs;
		bpi_struct_out(st, &p.st, sizeof(p.st));
		if (sizes)
			memcpy(sizes, p.sizes, sizeof(p.sizes));
	}
	release(&p);
	return ret;
}

int bp_fit_sign(const char *in_path, const struct bp_key *k, const struct bp_fit_sign_opts *o,
		const char *out_path, struct bp_fit_sign_stats *st, struct bp_diag *d)
{
	struct bp_buf file = BP_BUF_INIT;
	struct bpi_output out;
	int ret;

	bp_diag_clear(d);
	if (!in_path || !out_path)
		return bp_diag_set(d, BP_ERR_INVALID, "", "input and output paths are required");
	ret = bpi_read_file(in_path, BP_FIT_READ_MAX, &file, d);
	if (!ret)
		ret = bpi_output_open(&out, out_path, d);
	if (ret) {
		bp_buf_free(&file);
		return ret;
	}
	ret = bpi_fit_sign_mem(file.data, file.len, in_path, k, o, false, &out, st, NULL, d);
	if (ret)
		bpi_output_abort(&out);
	else
		ret = bpi_output_commit(&out, d);
	bp_buf_free(&file);
	return ret;
}
