// SPDX-License-Identifier: MIT
/*
 * The keys of an .its's signature nodes, found as mkimage -k finds them:
 * KEYDIR/NAME.key for the key-name-hint NAME (KEYDIR/NAME.pem, where
 * mkimage's ECDSA code looks, when there is no .key). Each key is opened
 * once, however many nodes name it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfdt.h>

#include "fit_sign.h"
#include "util/esc.h"

static struct sg_its_key *find(struct sg_its *its, const char *name)
{
	for (size_t i = 0; i < its->n_keys; i++)
		if (!strcmp(its->keys[i].name, name))
			return &its->keys[i];
	return NULL;
}

static int open_key(struct sg_plan *p, const char *name, struct sg_its_key **out)
{
	struct sg_its *its = p->its;
	size_t n = strlen(its->keydir) + strlen(name) + 8;
	char *path = malloc(n);
	struct sg_its_key *v;
	struct bp_diag kd;
	int ret;

	v = path ? realloc(its->keys, (its->n_keys + 1) * sizeof(*its->keys)) : NULL;
	if (!v) {
		free(path);
		return bp_diag_set(p->d, BP_ERR_NOMEM, p->path, "out of memory");
	}
	its->keys = v;
	v = &its->keys[its->n_keys];
	*v = (struct sg_its_key){ .name = strdup(name) };
	snprintf(path, n, "%s/%s.key", its->keydir, name);
	if (access(path, F_OK))
		snprintf(path, n, "%s/%s.pem", its->keydir, name);
	if (access(path, F_OK)) {
		snprintf(path, n, "%s/%s.key", its->keydir, name);
		free(v->name);
		ret = bp_diag_set(p->d, BP_ERR_IO, p->path, "%s: no key file %s (nor .pem) for "
				  "key-name-hint '%s'", p->its_node, BPI_ESC(path), BPI_ESC(name));
		free(path);
		return ret;
	}
	ret = v->name ? bp_key_open(path, NULL, &v->k, &kd) : BP_ERR_NOMEM;
	if (ret) {
		free(v->name);
		ret = bp_diag_set(p->d, ret, p->path, "%s: key '%s': %s", p->its_node, BPI_ESC(name),
				  ret == BP_ERR_NOMEM ? "out of memory" : kd.msg);
	} else {
		its->n_keys++;
		*out = v;
	}
	free(path);
	return ret;
}

int bpi_sg_its_key(struct sg_plan *p, int sig_node, bool config)
{
	int len;
	const char *name = fdt_getprop(p->file, sig_node, "key-name-hint", &len);
	int alen;
	const char *algo = fdt_getprop(p->file, sig_node, "algo", &alen);
	struct sg_its_key *k;
	int ret;

	if (!name || len <= 1 || name[len - 1] || memchr(name, 0, (size_t)len - 1))
		return bpi_sg_fail(p, "%s has no 'key-name-hint' string: mkimage -k names the key "
				   "file after it", p->its_node);
	if (!algo || alen <= 1 || algo[alen - 1])
		return bpi_sg_fail(p, "%s has no 'algo' (e.g. \"sha256,rsa2048\")", p->its_node);
	k = find(p->its, name);
	if (!k) {
		ret = open_key(p, name, &k);
		if (ret)
			return ret;
	}
	k->algo = algo;
	k->conf |= config;
	p->k = k->k;
	p->key_name = k->name;
	return 0;
}
