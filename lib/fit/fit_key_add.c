// SPDX-License-Identifier: MIT
/*
 * bp_fit_key_add(): the public key into U-Boot's control devicetree, as
 * `mkimage -K CONTROL.dtb -r` puts it there. The node itself is lib/sig's
 * (bpi_pubkey_write); this file reads the devicetree (untrusted: checked
 * first), gives it room, and writes the result atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include <bootpack/fit.h>
#include <bootpack/sign.h>

#include "fit_internal.h"
#include "sig/sig.h"
#include "util/util.h"

/* Room for a key node: RSA-4096 needs about 1.2 KiB; the tree grows when it is not enough. */
#define KEY_ROOM 4096

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_key_add_opts, required);

static int add(const struct bp_buf *in, const char *path, const struct bp_key *k,
	       const struct bp_fit_key_add_opts *o, struct bp_buf *out, struct bp_diag *d)
{
	struct bpi_sig_algo a;
	struct bp_diag ld;
	char def[32];
	const char *algo = o->algo;
	int ret;

	if (!algo) {
		ret = bp_key_algo(k, "sha256", def, sizeof(def), &ld);
		if (ret)
			return bp_diag_set(d, ret, path, "%s", ld.msg);
		algo = def;
	}
	ret = bpi_sig_algo_parse(algo, NULL, &a, &ld);
	if (ret)
		return bp_diag_set(d, ret, path, "%s", ld.msg);
	/* libfdt offsets are int: the grown tree must stay below 2 GiB. */
	if (in->len > INT32_MAX - KEY_ROOM)
		return bp_diag_set(d, BP_ERR_TOOBIG, path, "the devicetree is %zu bytes: no room "
				   "for a key below libfdt's 2 GiB limit", in->len);
	ret = BP_ERR_TOOBIG;
	snprintf(ld.msg, sizeof(ld.msg), "the devicetree has no room for the key below libfdt's "
		 "2 GiB limit");
	for (size_t room = in->len + KEY_ROOM; room <= INT32_MAX; room *= 2) {
		if (bp_buf_reserve(out, room))
			return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
		ret = fdt_open_into(in->data, out->data, (int)room);
		if (ret)
			return bp_diag_set(d, BP_ERR_FORMAT, path, "cannot open the devicetree: %s",
					   fdt_strerror(ret));
		ret = bpi_pubkey_write(out->data, k, o->key_name, &a, o->required, &ld);
		if (ret != BP_ERR_TOOBIG)
			break;
	}
	if (ret)
		return bp_diag_set(d, ret, path, "%s", ld.msg);
	/* As small as it can be: U-Boot needs no free space in its control devicetree. */
	fdt_pack(out->data);
	out->len = fdt_totalsize(out->data);
	return 0;
}

int bp_fit_key_add(const char *dtb_in, const struct bp_key *k, const struct bp_fit_key_add_opts *o,
		   const char *out_path, struct bp_diag *d)
{
	struct bp_fit_key_add_opts opts;
	struct bp_buf in = BP_BUF_INIT, out = BP_BUF_INIT;
	int ret;

	bp_diag_clear(d);
	ret = BPI_STRUCT_IN(&opts, opts_v1, o, "bp_fit_key_add_opts", d);
	if (ret)
		return ret;
	if (!dtb_in || !out_path || !k)
		return bp_diag_set(d, BP_ERR_INVALID, "", "a devicetree, a key and an output "
				   "are required");
	if (opts.required != BP_KEY_REQUIRED_NONE && opts.required != BP_KEY_REQUIRED_CONF &&
	    opts.required != BP_KEY_REQUIRED_IMAGE)
		return bp_diag_set(d, BP_ERR_INVALID, "", "unknown 'required' value %d",
				   (int)opts.required);
	/* Refused before reading: the tree and the key node stay below libfdt's 2 GiB. */
	ret = bpi_read_file(dtb_in, INT32_MAX - KEY_ROOM, &in, d);
	if (!ret)
		ret = bpi_fdt_check(in.data, in.len, dtb_in, d);
	if (!ret)
		ret = add(&in, dtb_in, k, &opts, &out, d);
	if (!ret)
		ret = bpi_output_file(out_path, out.data, out.len, d);
	bp_buf_free(&in);
	bp_buf_free(&out);
	return ret;
}
