// SPDX-License-Identifier: MIT
/*
 * bp_fit_extract(): one image out of a FIT, checked against its hash nodes
 * first (a corrupt kernel is worse than none) and decompressed with the
 * same decoders, capped, that read any other untrusted stream.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include "fit_internal.h"
#include "util/esc.h"
#include "util/util.h"

static int check_hashes(const struct bp_fit *fit, size_t index, struct bp_diag *d)
{
	const char *name = bpi_fit_name(fit);
	const struct bp_fit_image *im = bp_fit_image_at(fit, index);

	for (size_t i = 0; i < im->n_hashes; i++) {
		const struct bp_fit_hash *h = bp_fit_hash_at(fit, index, i);
		uint8_t sum[BP_HASH_MAX_LEN];
		enum bp_hash_algo a;
		int ret;

		if (!h->algo)
			return bp_diag_set(d, BP_ERR_FORMAT, name,
					   "image '%s': %s: no 'algo' property; cannot check the "
					   "data", BPI_ESC(im->name), BPI_ESC(h->node));
		if (bp_hash_from_name(h->algo, &a, NULL))
			return bp_diag_set(d, BP_ERR_FORMAT, name,
					   "image '%s': %s: unknown hash algorithm '%s'; cannot "
					   "check the data", BPI_ESC(im->name), BPI_ESC(h->node),
					   BPI_ESC(h->algo));
		if (!h->value)
			return bp_diag_set(d, BP_ERR_FORMAT, name,
					   "image '%s': %s: no 'value' property; cannot check the "
					   "data", BPI_ESC(im->name), BPI_ESC(h->node));
		if (h->value_len != bp_hash_len(a))
			return bp_diag_set(d, BP_ERR_FORMAT, name,
					   "image '%s': %s: %s value is %zu bytes; expected %zu",
					   BPI_ESC(im->name), BPI_ESC(h->node), BPI_ESC(h->algo),
					   h->value_len, bp_hash_len(a));
		ret = bp_hash(a, im->data, (size_t)im->data_size, sum, d);
		if (ret)
			return ret;
		if (memcmp(sum, h->value, h->value_len))
			return bp_diag_set(d, BP_ERR_FORMAT, name,
					   "image '%s': %s: %s hash does not match the data",
					   BPI_ESC(im->name), BPI_ESC(h->node), BPI_ESC(h->algo));
	}
	return 0;
}

/*
 * The extracted image must not be renamed over the FIT it came from. (A
 * caller's fd may be that file: the FIT is in memory by now.)
 */
static int check_not_input(const struct bp_fit *fit, const struct bp_sink *s, struct bp_diag *d)
{
	const char *out_path = s->name;
	struct stat in, out;

	if (s->kind != BP_SINK_PATH || !out_path || !bpi_fit_from_file(fit) ||
	    stat(out_path, &out) < 0 ||
	    stat(bpi_fit_name(fit), &in) < 0)
		return 0;
	if (in.st_dev == out.st_dev && in.st_ino == out.st_ino)
		return bp_diag_set(d, BP_ERR_INVALID, out_path,
				   "output is the input FIT; refusing to overwrite it");
	return 0;
}

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_extract_opts, max_size);

int bp_fit_extract_to(const struct bp_fit *fit, size_t index,
		      const struct bp_fit_extract_opts *opts, const struct bp_sink *sink,
		      uint64_t *written, struct bp_diag *d)
{
	struct bp_fit_extract_opts oo;
	const struct bp_fit_extract_opts *o = &oo;
	const char *name = bpi_fit_name(fit);
	const struct bp_fit_image *im = bp_fit_image_at(fit, index);
	struct bp_buf out = BP_BUF_INIT;
	struct bp_sink s;
	uint64_t max;
	enum bp_codec c;
	int ret;

	bp_diag_clear(d);
	ret = BPI_STRUCT_IN(&oo, opts_v1, opts, "bp_fit_extract_opts", d);
	if (!ret)
		ret = BPI_STRUCT_IN(&s, BPI_SINK_SIZE_V1, sink, "bp_sink", d);
	if (ret)
		return ret;
	if (!sink)
		return bp_diag_set(d, BP_ERR_INVALID, name, "no output given");
	if (!im)
		return bp_diag_set(d, BP_ERR_INVALID, name, "image index %zu out of range", index);
	/* Any malformed property may change what the bytes mean (compression, type). */
	if (!im->data || im->problem)
		return bp_diag_set(d, BP_ERR_FORMAT, name, "image '%s': %s", BPI_ESC(im->name),
				   im->problem ? im->problem : "no data");
	ret = check_not_input(fit, &s, d);
	if (!ret && !o->no_verify)
		ret = check_hashes(fit, index, d);
	if (ret)
		return ret;
	if (o->raw || !im->compression || !strcmp(im->compression, "none")) {
		ret = bpi_output_to(&s, im->data, (size_t)im->data_size, d);
		if (!ret && written)
			*written = im->data_size;
		return ret;
	}
	if (bp_codec_from_name(im->compression, &c, NULL))
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, name,
				   "image '%s': unknown compression '%s'; only the stored bytes "
				   "can be extracted", BPI_ESC(im->name),
				   BPI_ESC(im->compression));
	max = o->max_size ? o->max_size : BP_FIT_DECOMPRESS_MAX_DEFAULT;
	ret = bp_decompress(c, im->data, (size_t)im->data_size,
			    max > SIZE_MAX ? SIZE_MAX : (size_t)max, &out, d);
	/*
	 * Going over the limit too is said in the codec's words: only it knows
	 * whether the output or a size declared in the stream went over.
	 */
	if (ret) {
		char why[BP_DIAG_MSG_MAX];

		snprintf(why, sizeof(why), "%s", d ? d->msg : "");
		ret = bp_diag_set(d, ret, name, "image '%s': cannot decompress %s data: %s",
				  BPI_ESC(im->name), BPI_ESC(im->compression), why);
	}
	if (!ret)
		ret = bpi_output_to(&s, out.data, out.len, d);
	if (!ret && written)
		*written = out.len;
	bp_buf_free(&out);
	return ret;
}

int bp_fit_extract(const struct bp_fit *fit, size_t index, const struct bp_fit_extract_opts *o,
		   const char *out_path, uint64_t *written, struct bp_diag *d)
{
	struct bp_sink s = BP_SINK_PATH_INIT(out_path);

	return bp_fit_extract_to(fit, index, o, &s, written, d);
}
