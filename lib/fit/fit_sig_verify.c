// SPDX-License-Identifier: MIT
/*
 * Signatures checked as U-Boot 2023.01 checks them (boot/image-fit-sig.c),
 * with the regions recomputed from the file (fdt_region.c), and a little
 * more, since bootpack is the tool that looks before booting:
 *
 * - a configuration signature hashes what its "hashed-nodes" lists. U-Boot
 *   insists only that the configuration itself is listed; here a list that
 *   leaves out an image the configuration names, or one of its hash nodes
 *   (a payload nobody then checks), names a missing node or one twice, or a
 *   "hashed-strings" past the strings block, is a failure too;
 * - policy: every key with required = "conf" must verify one of the
 *   configuration's signatures ("required-mode" = "any": one of them must),
 *   each key with required = "image" one of every image's; a signature by
 *   no known key, or one that does not verify, is reported with the key it
 *   names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fdt_region.h"
#include "fit_internal.h"
#include "fit_sig_verify.h"
#include "sig/sig.h"
#include "util/esc.h"
#include "util/util.h"

#define SIGV_MSG 400

struct sig_result {
	const char *node;          /* "signature-1" */
	const char *algo;          /* as the node says, or NULL */
	const char *key;           /* the key that verified it, else the one it names */
	enum bp_fit_check_level level;
	bool verified;             /* a key verified it: it counts for the policy */
	bool unknown;              /* it names a key the control devicetree lacks */
	char msg[SIGV_MSG];
};

struct img_res {
	struct sig_result *r;
	size_t n;
};

struct bpi_sigv {
	const struct bp_fit *fit;
	const uint8_t *fdt;
	size_t len;
	uint8_t *kfdt;             /* the control devicetree, copied (aligned) */
	struct bpi_pubkey *keys;
	size_t n_keys;
	bool any_mode;             /* required-mode = "any" */
	size_t n_req_conf, n_req_image;
	struct bpi_fdt_index *ix;
	int *img_node, *conf_node;
	struct img_res *img;
};

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static int read_keys(struct bpi_sigv *sv, struct bp_diag *d)
{
	const void *k = sv->kfdt;
	int sig = fdt_subnode_offset(k, 0, "signature"), node, len;
	const char *mode;
	size_t n = 0;

	if (sig < 0)
		return bp_diag_set(d, BP_ERR_FORMAT, "", "control devicetree: no /signature node, "
				   "so no public keys");
	fdt_for_each_subnode(node, k, sig)
		n++;
	if (!n)
		return bp_diag_set(d, BP_ERR_FORMAT, "", "control devicetree: /signature holds "
				   "no key");
	mode = fdt_getprop(k, sig, "required-mode", &len);
	sv->any_mode = mode && len > 0 && !mode[len - 1] && !strcmp(mode, "any");
	sv->keys = calloc(n, sizeof(*sv->keys));
	if (!sv->keys)
		return bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
	fdt_for_each_subnode(node, k, sig) {
		struct bpi_pubkey *pk = &sv->keys[sv->n_keys];
		struct bp_diag why;
		int ret = bpi_pubkey_read(k, node, pk, &why);

		if (ret)
			return bp_diag_set(d, ret, "", "control devicetree: %s", why.msg);
		sv->n_keys++;
		if (pk->required != BP_KEY_REQUIRED_NONE && !pk->has_algo)
			return bp_diag_set(d, BP_ERR_FORMAT, "", "control devicetree: key node "
					   "'%s' is required but has no 'algo' (U-Boot cannot use "
					   "it)", BPI_ESC(pk->node));
		sv->n_req_conf += pk->required == BP_KEY_REQUIRED_CONF;
		sv->n_req_image += pk->required == BP_KEY_REQUIRED_IMAGE;
	}
	return 0;
}

/* The devicetree offsets of the images and configurations, in bp_fit's order. */
static int find_nodes(struct bpi_sigv *sv, struct bp_diag *d)
{
	const struct bp_fit_info *info = bp_fit_get_info(sv->fit);
	int images = fdt_path_offset(sv->fdt, "/images");
	int confs = fdt_path_offset(sv->fdt, "/configurations"), n;
	size_t i = 0;

	sv->img_node = calloc(info->n_images + 1, sizeof(int));
	sv->conf_node = calloc(info->n_configs + 1, sizeof(int));
	sv->img = calloc(info->n_images + 1, sizeof(*sv->img));
	if (!sv->img_node || !sv->conf_node || !sv->img)
		return bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
	fdt_for_each_subnode(n, sv->fdt, images)
		if (i < info->n_images)
			sv->img_node[i++] = n;
	i = 0;
	if (confs >= 0)
		fdt_for_each_subnode(n, sv->fdt, confs)
			if (i < info->n_configs)
				sv->conf_node[i++] = n;
	return 0;
}

int bpi_sigv_open(const struct bp_fit *fit, const void *keys_fdt, size_t len,
		  struct bpi_sigv **out, struct bp_diag *d)
{
	struct bpi_sigv *sv = calloc(1, sizeof(*sv));
	struct bp_diag why;
	int ret;

	*out = NULL;
	if (!sv || !(sv->kfdt = malloc(len ? len : 1))) {
		free(sv);
		return bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
	}
	memcpy(sv->kfdt, keys_fdt, len);
	sv->fit = fit;
	sv->fdt = bpi_fit_file(fit, &sv->len);
	ret = bpi_fdt_check(sv->kfdt, len, "", &why);
	if (ret)
		ret = bp_diag_set(d, ret, "", "control devicetree: %s", why.msg);
	if (!ret)
		ret = read_keys(sv, d);
	if (!ret)
		ret = find_nodes(sv, d);
	if (!ret)
		ret = bpi_fdt_index_build(sv->fdt, &sv->ix, d);
	if (ret) {
		bpi_sigv_close(sv);
		return ret;
	}
	*out = sv;
	return 0;
}

void bpi_sigv_close(struct bpi_sigv *sv)
{
	if (!sv)
		return;
	for (size_t i = 0; i < sv->n_keys; i++)
		bpi_pubkey_free(&sv->keys[i]);
	for (size_t i = 0; sv->img && i < bp_fit_get_info(sv->fit)->n_images; i++)
		free(sv->img[i].r);
	free(sv->keys);
	free(sv->kfdt);
	free(sv->img_node);
	free(sv->conf_node);
	free(sv->img);
	bpi_fdt_index_free(sv->ix);
	free(sv);
}

/* ---- One signature ---- */

static void __attribute__((format(printf, 3, 4)))
result(struct sig_result *o, enum bp_fit_check_level level, const char *fmt, ...)
{
	va_list ap;

	o->level = level;
	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
}

static const char *get_str(const void *fdt, int node, const char *name)
{
	int len;
	const char *s = fdt_getprop(fdt, node, name, &len);

	return s && len > 0 && !s[len - 1] ? s : NULL;
}

/* What every signature node needs: algo (and padding), value, key-name-hint. */
static bool sig_basics(const void *fdt, int node, struct sig_result *o, struct bpi_sig_algo *a,
		       const uint8_t **value, int *vlen)
{
	int plen;
	const char *padding = fdt_getprop(fdt, node, "padding", &plen);
	struct bp_diag why;

	o->node = fdt_get_name(fdt, node, NULL);
	o->algo = get_str(fdt, node, "algo");
	o->key = get_str(fdt, node, "key-name-hint");
	if (fdt_totalsize(fdt) > BPI_SIG_MAX_SIZE) {
		result(o, BP_FIT_CHECK_FAIL, "%s: the devicetree is %u bytes; U-Boot checks no "
		       "signature of a FIT over %u bytes (CONFIG_FIT_SIGNATURE_MAX_SIZE)",
		       BPI_ESC(o->node), fdt_totalsize(fdt), BPI_SIG_MAX_SIZE);
		return false;
	}
	if (!o->algo) {
		result(o, BP_FIT_CHECK_FAIL, "%s: no 'algo' string", BPI_ESC(o->node));
		return false;
	}
	/* U-Boot looks a present "padding" up by name: "" or garbage is no padding it knows. */
	if (padding && (plen <= 0 || padding[plen - 1] || !padding[0])) {
		result(o, BP_FIT_CHECK_FAIL, "%s: 'padding' is %s: U-Boot knows no such padding",
		       BPI_ESC(o->node), plen <= 0 || !padding[0] ? "empty" : "not NUL-terminated");
		return false;
	}
	if (bpi_sig_algo_parse(o->algo, padding, a, &why)) {
		result(o, BP_FIT_CHECK_FAIL, "%s: %s", BPI_ESC(o->node), why.msg);
		return false;
	}
	*value = fdt_getprop(fdt, node, "value", vlen);
	if (!*value) {
		result(o, BP_FIT_CHECK_FAIL, "%s: %s signature has no 'value'", BPI_ESC(o->node),
		       a->name);
		return false;
	}
	return true;
}

/*
 * Verify with every key (U-Boot tries the hinted key, then the others);
 * @ok[k]: key k verifies it. The result names the verifying key (the hinted
 * one first), else the hinted key and why it did not verify.
 */
static void try_keys(const struct bpi_sigv *sv, const struct bpi_sig_algo *a,
		     const struct bpi_region *r, size_t n, const uint8_t *value, int vlen,
		     struct sig_result *o, bool *ok)
{
	char why[BP_DIAG_MSG_MAX] = "";
	size_t hinted = SIZE_MAX, good = SIZE_MAX;

	for (size_t k = 0; k < sv->n_keys; k++) {
		const char *node = sv->keys[k].node;

		if (o->key && starts_with(node, "key-") && !strcmp(node + 4, o->key))
			hinted = k;
	}
	for (size_t k = 0; k < sv->n_keys; k++) {
		struct bp_diag d;
		int ret = bpi_sig_verify(&sv->keys[k], a, r, n, value, (size_t)vlen, &d);

		ok[k] = !ret;
		if (!ret && (good == SIZE_MAX || k == hinted))
			good = k;
		if (ret && k == hinted)
			snprintf(why, sizeof(why), "%s", d.msg);
	}
	if (good != SIZE_MAX) {
		o->verified = true;
		o->key = sv->keys[good].name;
		result(o, BP_FIT_CHECK_OK, "%s: %s verified with key '%s'", BPI_ESC(o->node),
		       a->name, BPI_ESC(o->key));
	} else if (hinted != SIZE_MAX) {
		/* The reason only when it says more than "does not verify". */
		bool plain = !why[0] || strstr(why, "does not verify");

		result(o, BP_FIT_CHECK_FAIL, "%s: %s signature does not verify with key '%s'%s%s%s",
		       BPI_ESC(o->node), a->name, BPI_ESC(o->key), plain ? "" : " (",
		       plain ? "" : why, plain ? "" : ")");
	} else {
		o->unknown = true;
		result(o, BP_FIT_CHECK_FAIL, "%s: %s signature by key '%s', which is not in the "
		       "control devicetree (and no key there verifies it)", BPI_ESC(o->node),
		       a->name, o->key ? BPI_ESC(o->key) : "(no key-name-hint)");
	}
}

/* ---- Images ---- */

int bpi_sigv_image_check(struct bpi_sigv *sv, size_t i)
{
	const void *fdt = sv->fdt;
	const struct bp_fit_image *im = bp_fit_image_at(sv->fit, i);
	struct img_res *res = &sv->img[i];
	bool *ok = calloc(sv->n_keys + 1, sizeof(*ok));
	size_t n = 0;
	int sub;

	if (!ok)
		return BP_ERR_NOMEM;
	fdt_for_each_subnode(sub, fdt, sv->img_node[i])
		n += starts_with(fdt_get_name(fdt, sub, NULL), "signature");
	res->r = calloc(n + 1, sizeof(*res->r));
	if (!res->r) {
		free(ok);
		return BP_ERR_NOMEM;
	}
	fdt_for_each_subnode(sub, fdt, sv->img_node[i]) {
		struct sig_result *o = &res->r[res->n];
		struct bpi_sig_algo a;
		const uint8_t *value;
		int vlen;

		if (!starts_with(fdt_get_name(fdt, sub, NULL), "signature"))
			continue;
		res->n++;
		if (!sig_basics(fdt, sub, o, &a, &value, &vlen))
			continue;
		if (!im->data) {
			result(o, BP_FIT_CHECK_FAIL, "%s: the image's data is unusable, so its "
			       "signature cannot be checked", BPI_ESC(o->node));
			continue;
		}
		try_keys(sv, &a, &(struct bpi_region){ im->data, (size_t)im->data_size }, 1,
			 value, vlen, o, ok);
	}
	free(ok);
	return 0;
}

static void emit_result(const struct sig_result *o, const char *owner, bpi_sigv_emit fn,
			void *ctx)
{
	fn(ctx, o->level, owner, o->node, o->algo, o->key, true, o->msg);
}

/* One required-key list in a message: 'a', 'b'. */
static void required_names(const struct bpi_sigv *sv, enum bp_key_required req, char *buf,
			   size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < sv->n_keys && at < size; k++)
		if (sv->keys[k].required == req)
			at += (size_t)snprintf(buf + at, size - at, "%s'%s'", at ? ", " : "",
					       BPI_ESC(sv->keys[k].name));
}

void bpi_sigv_image_report(struct bpi_sigv *sv, size_t i, bool policy, bpi_sigv_emit fn,
			   void *ctx)
{
	const struct bp_fit_image *im = bp_fit_image_at(sv->fit, i);
	const struct img_res *res = &sv->img[i];
	char names[256], msg[SIGV_MSG];
	bool verified = false;

	for (size_t s = 0; s < res->n; s++)
		verified |= res->r[s].verified;
	for (size_t s = 0; s < res->n; s++) {
		struct sig_result o = res->r[s];

		/* A key we do not have, beside a signature that verifies: not a failure. */
		if (o.unknown && verified)
			o.level = BP_FIT_CHECK_WARN;
		emit_result(&o, im->name, fn, ctx);
	}
	if (!policy || !sv->n_req_image || verified)
		return;
	required_names(sv, BP_KEY_REQUIRED_IMAGE, names, sizeof(names));
	snprintf(msg, sizeof(msg), "%s, but the control devicetree requires image signatures "
		 "(key %s)", res->n ? "no signature verifies" : "not signed", names);
	fn(ctx, BP_FIT_CHECK_FAIL, im->name, NULL, NULL, NULL, false, msg);
}

/* ---- Configurations ---- */

struct conf_check {
	struct bpi_sigv *sv;
	int conf;
	const char *name;
	const char *list;          /* hashed-nodes */
	int list_len;
	size_t count;
};

static bool listed(const struct conf_check *c, const char *path)
{
	for (const char *s = c->list; s < c->list + c->list_len; s += strlen(s) + 1)
		if (!strcmp(s, path))
			return true;
	return false;
}

/* hashed-nodes as U-Boot reads it, then what bootpack asks more of it. */
static bool check_list(struct conf_check *c, struct sig_result *o, int node)
{
	const void *fdt = c->sv->fdt;
	char want[BPI_SIG_PATH_MAX + 32];

	c->list = fdt_getprop(fdt, node, "hashed-nodes", &c->list_len);
	c->count = 0;
	for (int i = 0; c->list && i < c->list_len; i++)
		c->count += !c->list[i];
	if (!c->count) {
		result(o, BP_FIT_CHECK_FAIL, "%s: no 'hashed-nodes'", BPI_ESC(o->node));
		return false;
	}
	if (c->list[c->list_len - 1]) {
		result(o, BP_FIT_CHECK_FAIL, "%s: 'hashed-nodes' is not NUL-terminated",
		       BPI_ESC(o->node));
		return false;
	}
	if (c->count > BPI_SIG_MAX_HASHED_NODES) {
		result(o, BP_FIT_CHECK_FAIL, "%s: 'hashed-nodes' lists %zu nodes; U-Boot accepts "
		       "at most %d", BPI_ESC(o->node), c->count, BPI_SIG_MAX_HASHED_NODES);
		return false;
	}
	snprintf(want, sizeof(want), "/configurations/%s", c->name);
	if (!listed(c, want)) {
		result(o, BP_FIT_CHECK_FAIL, "%s: 'hashed-nodes' does not list the configuration "
		       "itself ('%s'): U-Boot refuses it", BPI_ESC(o->node), BPI_ESC(want));
		return false;
	}
	for (const char *s = c->list; s < c->list + c->list_len; s += strlen(s) + 1) {
		if (bpi_fdt_index_find(c->sv->ix, s, strlen(s)) < 0) {
			result(o, BP_FIT_CHECK_FAIL, "%s: 'hashed-nodes' names '%s', which is not "
			       "in the FIT", BPI_ESC(o->node), BPI_ESC(s));
			return false;
		}
		for (const char *t = s + strlen(s) + 1; t < c->list + c->list_len;
		     t += strlen(t) + 1)
			if (!strcmp(s, t)) {
				result(o, BP_FIT_CHECK_FAIL, "%s: 'hashed-nodes' names '%s' "
				       "twice", BPI_ESC(o->node), BPI_ESC(s));
				return false;
			}
	}
	if (!listed(c, "/")) {
		result(o, BP_FIT_CHECK_FAIL, "%s: 'hashed-nodes' leaves out the root node '/'",
		       BPI_ESC(o->node));
		return false;
	}
	return true;
}

/* Every image the configuration names, and its hash nodes, must be signed. */
static bool check_coverage(struct conf_check *c, struct sig_result *o)
{
	const void *fdt = c->sv->fdt;
	char path[BPI_SIG_PATH_MAX + 64];

	for (size_t p = 0; p < BPI_FIT_N_IMAGE_PROPS; p++) {
		const char *prop = bpi_fit_image_props[p];
		int n = fdt_stringlist_count(fdt, c->conf, prop);

		for (int i = 0; i < n; i++) {
			const char *img = fdt_stringlist_get(fdt, c->conf, prop, i, NULL);
			int32_t id;
			int node, sub;
			size_t hashes = 0;

			/* Through the index: fdt_subnode_offset() would walk every image. */
			snprintf(path, sizeof(path), "/images/%s", img ? img : "");
			id = img ? bpi_fdt_index_find(c->sv->ix, path, strlen(path)) : -1;
			if (id < 0)
				continue;   /* reported by the reference checks */
			node = bpi_fdt_index_offset(c->sv->ix, id);
			if (!listed(c, path)) {
				result(o, BP_FIT_CHECK_FAIL, "%s: verified with key '%s', but its "
				       "'hashed-nodes' leaves out %s image '%s': its contents are "
				       "not signed", BPI_ESC(o->node), BPI_ESC(o->key), prop,
				       BPI_ESC(img));
				return false;
			}
			fdt_for_each_subnode(sub, fdt, node) {
				const char *h = fdt_get_name(fdt, sub, NULL);

				if (!starts_with(h, "hash"))
					continue;
				hashes++;
				snprintf(path, sizeof(path), "/images/%s/%s", img, h);
				if (!listed(c, path)) {
					result(o, BP_FIT_CHECK_FAIL, "%s: verified with key '%s', "
					       "but its 'hashed-nodes' leaves out '%s'",
					       BPI_ESC(o->node), BPI_ESC(o->key), BPI_ESC(path));
					return false;
				}
			}
			if (!hashes) {
				result(o, BP_FIT_CHECK_FAIL, "%s: verified with key '%s', but %s "
				       "image '%s' has no hash node, so its data is not signed",
				       BPI_ESC(o->node), BPI_ESC(o->key), prop, BPI_ESC(img));
				return false;
			}
		}
	}
	return true;
}

static int check_config_sig(struct conf_check *c, int node, struct sig_result *o, bool *ok)
{
	struct bpi_sigv *sv = c->sv;
	const void *fdt = sv->fdt;
	struct bpi_sig_algo a;
	const uint8_t *value, *hs;
	struct bpi_fdt_region *r = NULL;
	struct bpi_region *rr = NULL;
	int32_t *ids = NULL;
	size_t n_ids = 0, count = 0, max;
	enum bpi_region_err e;
	int vlen, hs_len, ret = 0;

	if (!sig_basics(fdt, node, o, &a, &value, &vlen) || !check_list(c, o, node))
		return 0;
	hs = fdt_getprop(fdt, node, "hashed-strings", &hs_len);
	if (!hs) {
		result(o, BP_FIT_CHECK_FAIL, "%s: no 'hashed-strings': the property names are "
		       "not signed", BPI_ESC(o->node));
		return 0;
	}
	if (hs_len < 8 || bpi_get_be32(hs + 4) > fdt_size_dt_strings(fdt)) {
		result(o, BP_FIT_CHECK_FAIL, hs_len < 8 ? "%s: 'hashed-strings' is %d bytes, not "
		       "two cells" : "%s: 'hashed-strings' (%u bytes) runs past the strings "
		       "block (%u bytes)", BPI_ESC(o->node),
		       hs_len < 8 ? hs_len : (int)bpi_get_be32(hs + 4), fdt_size_dt_strings(fdt));
		return 0;
	}
	max = BPI_SIG_REGIONS_MAX(c->count) + 1;
	r = calloc(max, sizeof(*r));
	rr = calloc(max + 1, sizeof(*rr));
	ids = calloc(bpi_fdt_index_nodes(sv->ix) + 1, sizeof(*ids));
	if (!r || !rr || !ids) {
		ret = BP_ERR_NOMEM;
		goto out;
	}
	for (const char *s = c->list; s < c->list + c->list_len; s += strlen(s) + 1)
		for (int32_t x = bpi_fdt_index_find(sv->ix, s, strlen(s)); x >= 0;
		     x = bpi_fdt_index_next_same(sv->ix, x))
			ids[n_ids++] = x;
	e = bpi_fdt_regions(sv->ix, ids, n_ids, c->count, r, &count);
	if (e == BPI_REGION_NOMEM) {
		ret = BP_ERR_NOMEM;
		goto out;
	}
	if (e) {
		result(o, BP_FIT_CHECK_FAIL, "%s: %s", BPI_ESC(o->node), bpi_region_err_str(e));
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		rr[i] = (struct bpi_region){ fdt + r[i].off, r[i].size };
	rr[count++] = (struct bpi_region){ fdt + fdt_off_dt_strings(fdt), bpi_get_be32(hs + 4) };
	try_keys(sv, &a, rr, count, value, vlen, o, ok);
	if (o->verified)
		check_coverage(c, o);
out:
	free(r);
	free(rr);
	free(ids);
	return ret;
}

static void conf_policy(struct conf_check *c, const struct sig_result *res, size_t n,
			const bool *ok, bpi_sigv_emit fn, void *ctx)
{
	struct bpi_sigv *sv = c->sv;
	char msg[SIGV_MSG], names[256];
	size_t satisfied = 0;

	if (!sv->n_req_conf) {
		if (!n)
			fn(ctx, BP_FIT_CHECK_WARN, c->name, NULL, NULL, NULL, false,
			   "not signed (no key in the control devicetree is required, so U-Boot "
			   "boots it unsigned)");
		return;
	}
	for (size_t k = 0; k < sv->n_keys; k++) {
		bool good = false;

		if (sv->keys[k].required != BP_KEY_REQUIRED_CONF)
			continue;
		for (size_t s = 0; s < n; s++)
			good |= res[s].verified && ok[s * sv->n_keys + k];
		satisfied += good;
		if (good || sv->any_mode)
			continue;
		snprintf(msg, sizeof(msg), n ? "not signed by required key '%s'"
					     : "not signed, and key '%s' is required",
			 BPI_ESC(sv->keys[k].name));
		fn(ctx, BP_FIT_CHECK_FAIL, c->name, NULL, NULL, sv->keys[k].name, false, msg);
	}
	if (sv->any_mode && !satisfied) {
		required_names(sv, BP_KEY_REQUIRED_CONF, names, sizeof(names));
		snprintf(msg, sizeof(msg), n ? "not signed by any of the required keys "
			 "(required-mode \"any\"): %s" : "not signed, and one of the required "
			 "keys is needed (required-mode \"any\"): %s", names);
		fn(ctx, BP_FIT_CHECK_FAIL, c->name, NULL, NULL, NULL, false, msg);
	}
}

int bpi_sigv_config(struct bpi_sigv *sv, size_t i, bpi_sigv_emit fn, void *ctx)
{
	const void *fdt = sv->fdt;
	struct conf_check c = { .sv = sv, .conf = sv->conf_node[i] };
	struct sig_result *res;
	bool *ok, verified = false;
	size_t n = 0;
	int sub, ret = 0;

	c.name = fdt_get_name(fdt, c.conf, NULL);
	if (strchr(c.name, '@'))
		fn(ctx, BP_FIT_CHECK_FAIL, c.name, NULL, NULL, NULL, false, "the configuration's "
		   "name has a unit address ('@'): U-Boot refuses to verify it");
	fdt_for_each_subnode(sub, fdt, c.conf)
		n += starts_with(fdt_get_name(fdt, sub, NULL), "signature");
	res = calloc(n + 1, sizeof(*res));
	ok = calloc((n + 1) * (sv->n_keys + 1), sizeof(*ok));
	if (!res || !ok) {
		free(res);
		free(ok);
		return BP_ERR_NOMEM;
	}
	n = 0;
	fdt_for_each_subnode(sub, fdt, c.conf) {
		if (!starts_with(fdt_get_name(fdt, sub, NULL), "signature"))
			continue;
		ret = check_config_sig(&c, sub, &res[n], ok + n * sv->n_keys);
		if (ret)
			break;
		verified |= res[n++].verified;
	}
	for (size_t s = 0; !ret && s < n; s++) {
		struct sig_result o = res[s];

		if (o.unknown && verified)
			o.level = BP_FIT_CHECK_WARN;
		emit_result(&o, c.name, fn, ctx);
	}
	if (!ret)
		conf_policy(&c, res, n, ok, fn, ctx);
	free(res);
	free(ok);
	return ret;
}
