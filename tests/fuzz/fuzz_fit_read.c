// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the FIT reader behind fit list/verify/extract. The input is
 * opened from memory, every field listed, verified (decompressing, with a
 * small cap) and each image extracted, decoded and raw. Then it is verified
 * again with itself as the control devicetree (fit verify --key): the signed
 * seed (make-signed-seed) carries its public keys in /signature, so one
 * input exercises signature nodes, key nodes and the policy together.
 * Last, every bootloader target's rules (fit verify --target).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootpack/fit.h>
#include <bootpack/fit_target.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *ctx, const struct bp_fit_check *c)
{
	/* Every finding must name something readable. */
	if (!c->msg[0] || strlen(c->node) > 4096)
		abort();
	++*(size_t *)ctx;
}

/* Touch every string and byte the listing would print. */
static size_t walk(const struct bp_fit *fit)
{
	const struct bp_fit_info *info = bp_fit_get_info(fit);
	size_t n = 0;

	for (size_t i = 0; i < info->n_images; i++) {
		const struct bp_fit_image *im = bp_fit_image_at(fit, i);

		n += strlen(im->name) + (im->type ? strlen(im->type) : 0);
		for (uint64_t k = 0; im->data && k < im->data_size; k += 4096)
			n += im->data[k];
		for (size_t h = 0; h < im->n_hashes; h++) {
			const struct bp_fit_hash *hn = bp_fit_hash_at(fit, i, h);

			n += (hn->algo ? strlen(hn->algo) : 0) + (hn->value_len ? hn->value[0] : 0);
		}
	}
	for (size_t i = 0; i < info->n_configs; i++) {
		const struct bp_fit_config *c = bp_fit_config_at(fit, i);

		for (size_t k = 0; k < c->n_fdts; k++)
			n += strlen(c->fdts[k]);
		for (size_t k = 0; k < c->n_compatibles; k++)
			n += strlen(c->compatibles[k]);
	}
	return n;
}

/* Each target's rules: every finding names its rule, and the count agrees. */
static void check_targets(const struct bp_fit *fit)
{
	for (unsigned t = 0; t < BP_FIT_TARGET_COUNT; t++) {
		struct bp_diag d;
		size_t findings = 0, n = 0;

		if (bp_fit_target_check(fit, (enum bp_fit_target)t, BP_FIT_CHECK_WARN, 1 << 20,
					count, &findings, &n, &d) || n != findings)
			abort();
	}
}

/* Signatures checked against the keys in @data itself. */
static void verify_keyed(const struct bp_fit *fit, const uint8_t *data, size_t size)
{
	struct bp_fit_verify_opts o = { .size = sizeof(o), .jobs = 1, .keys_fdt = data,
					.keys_fdt_len = size };
	struct bp_fit_verify_stats st = BP_FIT_VERIFY_STATS_INIT;
	struct bp_diag d;
	size_t findings = 0;
	int ret = bp_fit_verify(fit, &o, count, &findings, &st, &d);

	if (ret == 0 && (findings != st.n_ok + st.n_warnings + st.n_failures ||
			 st.n_signatures_ok + st.n_signatures_bad > findings))
		abort();
	if (ret && !d.msg[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bp_fit_verify_opts vo = { .size = sizeof(vo), .decompress = true, .max_decompressed = 1 << 20,
					 .jobs = 1 };
	struct bp_fit_extract_opts eo = { .size = sizeof(eo), .max_size = 1 << 20 };
	char dir[] = "/tmp/bp-fuzzfit-XXXXXX", out[64];
	struct bp_fit_verify_stats st = BP_FIT_VERIFY_STATS_INIT;
	struct bp_fit *fit;
	struct bp_diag d;
	size_t findings = 0;

	if (bp_fit_open_mem(data, size, "fuzz.fit", &fit, &d)) {
		if (!d.msg[0])
			abort();
		return 0;
	}
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	(void)walk(fit);
	if (bp_fit_verify(fit, &vo, count, &findings, &st, &d) == 0 &&
	    findings != st.n_ok + st.n_warnings + st.n_failures)
		abort();
	verify_keyed(fit, data, size);
	check_targets(fit);
	if (!mkdtemp(dir))
		abort();
	snprintf(out, sizeof(out), "%s/out", dir);
	for (size_t i = 0; i < info->n_images && i < 8; i++) {
		eo.raw = i & 1;
		if (bp_fit_extract(fit, i, &eo, out, NULL, &d) && !d.msg[0])
			abort();
		unlink(out);
	}
	rmdir(dir);
	bp_fit_close(fit);
	return 0;
}
