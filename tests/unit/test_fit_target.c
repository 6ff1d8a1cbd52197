// SPDX-License-Identifier: MIT
/*
 * The bootloader target table and its checks: the table's own invariants,
 * the edge cases of the checks on trees made here with libfdt (missing,
 * dangling and malformed properties), and the build-option check against
 * struct sizes and each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include <bootpack/fit.h>
#include <bootpack/fit_target.h>
#include <bootpack/sign.h>

#define TREE_MAX 8192

static const char *const prefixes[BP_FIT_TARGET_COUNT] = {
	"u-boot ", "u-boot ", "barebox ", "depthcharge ", "u-root ",
};

static void test_table_invariants(void **state)
{
	(void)state;
	assert_true(bp_fit_target_rule_count() > 20);
	assert_null(bp_fit_target_rule_at(bp_fit_target_rule_count()));
	for (size_t i = 0; i < bp_fit_target_rule_count(); i++) {
		const struct bp_fit_target_rule *r = bp_fit_target_rule_at(i);

		assert_int_equal(r->size, sizeof(*r));
		assert_true(r->targets && !(r->targets >> BP_FIT_TARGET_COUNT));
		assert_true(r->effect == BP_FIT_TARGET_REFUSED || r->effect == BP_FIT_TARGET_MISREAD);
		assert_true(*r->check && *r->message);
		assert_ptr_equal(bp_fit_target_rule_find(r->id), r);   /* ids are unique */
		/* The source names the bootloader of every target the rule is for. */
		for (unsigned t = 0; t < BP_FIT_TARGET_COUNT; t++)
			if (r->targets & (1u << t))
				assert_int_equal(strncmp(r->source, prefixes[t], strlen(prefixes[t])), 0);
	}
	assert_null(bp_fit_target_rule_find("no-such-rule"));
	assert_null(bp_fit_target_rule_find(NULL));
}

static void test_names(void **state)
{
	enum bp_fit_target t;

	(void)state;
	for (unsigned i = 0; i < BP_FIT_TARGET_COUNT; i++) {
		assert_int_equal(bp_fit_target_from_name(bp_fit_target_name(i), &t), 0);
		assert_int_equal(t, i);
		assert_non_null(bp_fit_target_description(i));
	}
	assert_null(bp_fit_target_name(BP_FIT_TARGET_COUNT));
	assert_null(bp_fit_target_description((enum bp_fit_target)-1));
	assert_int_equal(bp_fit_target_from_name("U-Boot", &t), BP_ERR_NOTFOUND);
	assert_int_equal(bp_fit_target_from_name(NULL, &t), BP_ERR_NOTFOUND);
}

/* A FIT: kernel_noload (load only), fdt-1 compressed, conf-1 with the given fdt list. */
static size_t make_tree(uint8_t *buf, const char *fdts, int fdts_len, const char *algo,
			int algo_len)
{
	static const uint8_t data[16] = { 0 };

	assert_int_equal(fdt_create(buf, TREE_MAX), 0);
	fdt_finish_reservemap(buf);
	fdt_begin_node(buf, "");
	fdt_property_string(buf, "description", "t");
	fdt_begin_node(buf, "images");
	fdt_begin_node(buf, "kernel");
	fdt_property_string(buf, "type", "kernel_noload");
	fdt_property_string(buf, "compression", "none");
	fdt_property_u32(buf, "load", 0);
	fdt_property(buf, "data", data, sizeof(data));
	fdt_end_node(buf);
	fdt_begin_node(buf, "fdt-1");
	fdt_property_string(buf, "type", "flat_dt");
	fdt_property_string(buf, "compression", "gzip");
	fdt_property(buf, "data", data, sizeof(data));
	fdt_end_node(buf);
	fdt_end_node(buf);
	fdt_begin_node(buf, "configurations");
	fdt_begin_node(buf, "conf-1");
	fdt_property_string(buf, "kernel", "kernel");
	fdt_property(buf, "fdt", fdts, fdts_len);
	fdt_begin_node(buf, "signature-1");
	fdt_property(buf, "algo", algo, algo_len);
	fdt_end_node(buf);
	fdt_end_node(buf);
	fdt_end_node(buf);
	fdt_end_node(buf);
	assert_int_equal(fdt_finish(buf), 0);
	return fdt_totalsize(buf);
}

struct seen {
	size_t n;
	char rules[16][48];
	char msgs[16][256];
};

static void collect(void *ctx, const struct bp_fit_check *c)
{
	struct seen *s = ctx;

	assert_non_null(c->rule);
	assert_int_equal(c->level, BP_FIT_CHECK_FAIL);
	if (s->n < 16) {
		snprintf(s->rules[s->n], sizeof(s->rules[0]), "%s", c->rule->id);
		snprintf(s->msgs[s->n], sizeof(s->msgs[0]), "%s: %s", c->node, c->msg);
	}
	s->n++;
}

static bool has(const struct seen *s, const char *rule, const char *msg_start)
{
	for (size_t i = 0; i < s->n && i < 16; i++)
		if (!strcmp(s->rules[i], rule) && !strncmp(s->msgs[i], msg_start, strlen(msg_start)))
			return true;
	return false;
}

static struct bp_fit *open_tree(uint8_t *buf, size_t len)
{
	struct bp_fit *fit;
	struct bp_diag d;

	assert_int_equal(bp_fit_open_mem(buf, len, "t.fit", &fit, &d), 0);
	return fit;
}

static void test_checks_edge_cases(void **state)
{
	static const char unterminated[] = { 's', 'h', 'a', '5' };
	uint8_t *buf = malloc(TREE_MAX);
	struct bp_fit *fit;
	struct seen s = { 0 };
	struct bp_diag d;
	size_t n = 99;

	(void)state;
	/* No entry: named alone; an unterminated algo is left to the base checks. */
	fit = open_tree(buf, make_tree(buf, "fdt-1", 6, unterminated, sizeof(unterminated)));
	assert_int_equal(bp_fit_target_check(fit, BP_FIT_TARGET_UBOOT, BP_FIT_CHECK_FAIL, 0,
					     collect, &s, &n, &d), 0);
	assert_true(has(&s, "u-boot-noload-addresses", "kernel: kernel_noload without 'entry':"));
	assert_true(has(&s, "u-boot-compressed-fdt", "conf-1: no 'compatible' and its fdt"));
	assert_int_equal(n, s.n);
	memset(&s, 0, sizeof(s));
	assert_int_equal(bp_fit_target_check(fit, BP_FIT_TARGET_BAREBOX, BP_FIT_CHECK_FAIL, 0,
					     collect, &s, &n, &d), 0);
	assert_false(has(&s, "barebox-signature-algo", ""));
	bp_fit_close(fit);

	/* A dangling fdt reference and an fdt list of two: no crash, overlays counted. */
	memset(&s, 0, sizeof(s));
	fit = open_tree(buf, make_tree(buf, "nope\0fdt-1", 11, "sha512,rsa4096", 15));
	assert_int_equal(bp_fit_target_check(fit, BP_FIT_TARGET_BAREBOX, BP_FIT_CHECK_FAIL, 0,
					     collect, &s, NULL, &d), 0);
	assert_true(has(&s, "barebox-overlays", "conf-1: 1 overlay after the base fdt"));
	assert_true(has(&s, "barebox-signature-algo", "conf-1: signature-1 algo \"sha512,rsa4096\""));
	assert_false(has(&s, "barebox-compressed-fdt", ""));   /* the first fdt does not exist */

	/* No callback: still counted. Bad target or level: refused. */
	assert_int_equal(bp_fit_target_check(fit, BP_FIT_TARGET_BAREBOX, BP_FIT_CHECK_WARN, 0,
					     NULL, NULL, &n, &d), 0);
	assert_int_equal(n, s.n);
	assert_int_equal(bp_fit_target_check(fit, BP_FIT_TARGET_COUNT, BP_FIT_CHECK_WARN, 0,
					     NULL, NULL, &n, &d), BP_ERR_INVALID);
	assert_int_equal(bp_fit_target_check(fit, BP_FIT_TARGET_UBOOT, BP_FIT_CHECK_OK, 0,
					     NULL, NULL, &n, &d), BP_ERR_INVALID);
	bp_fit_close(fit);
	free(buf);
}

static const char *refusal(enum bp_fit_target t, const struct bp_fit_build_opts *o)
{
	const struct bp_fit_target_rule *rule = NULL;
	const char *option = NULL;
	struct bp_diag d;
	int ret = bp_fit_target_build_check(t, o, &rule, &option, &d);

	if (!ret)
		return (assert_null(rule), assert_null(option), "");
	assert_int_equal(ret, BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, rule->message));
	return rule->id;
}

static void test_build_check(void **state)
{
	static const char *const dtbs[] = { "a.dtbo" };
	struct bp_fit_sign_opts so = BP_FIT_SIGN_OPTS_INIT;
	struct bp_fit_build_opts o = BP_FIT_BUILD_OPTS_INIT;
	struct bp_diag d;

	(void)state;
	o.dtbs = dtbs;
	o.n_dtbs = 1;
	assert_string_equal(refusal(BP_FIT_TARGET_DEPTHCHARGE, &o), "depthcharge-kernel-fdt");
	o.compress = BP_CODEC_ZSTD;
	assert_string_equal(refusal(BP_FIT_TARGET_BAREBOX, &o), "");
	assert_string_equal(refusal(BP_FIT_TARGET_UBOOT, &o), "");
	assert_string_equal(refusal(BP_FIT_TARGET_UBOOT_2023, &o), "u-boot-noload-compressed");
	o.has_load_address = true;
	assert_string_equal(refusal(BP_FIT_TARGET_UBOOT_2023, &o), "");
	assert_string_equal(refusal(BP_FIT_TARGET_LINUXBOOT, &o), "linuxboot-kernel-compression");
	o.external = true;   /* external is named before compression */
	assert_string_equal(refusal(BP_FIT_TARGET_LINUXBOOT, &o), "linuxboot-external");
	o.external = false;
	o.compress = BP_CODEC_NONE;
	o.decompose = true;
	assert_string_equal(refusal(BP_FIT_TARGET_BAREBOX, &o), "barebox-overlays");
	o.decompose = false;
	so.algo = "sha384,rsa3072";
	o.sign_opts = &so;
	assert_string_equal(refusal(BP_FIT_TARGET_BAREBOX, &o), "");   /* no key: not signing */
	o.sign_key = (const struct bp_key *)&so;                       /* only tested for NULL */
	assert_string_equal(refusal(BP_FIT_TARGET_BAREBOX, &o), "barebox-signature-algo");
	so.algo = "sha256,ecdsa256";
	assert_string_equal(refusal(BP_FIT_TARGET_BAREBOX, &o), "");

	/* A first-version struct is read; unknown non-zero bytes past ours are refused. */
	o.size = offsetof(struct bp_fit_build_opts, entry_address) + sizeof(o.entry_address);
	o.size = (o.size + 7) & ~(size_t)7;
	assert_string_equal(refusal(BP_FIT_TARGET_BAREBOX, &o), "");
	o.size = 8;
	assert_int_equal(bp_fit_target_build_check(BP_FIT_TARGET_BAREBOX, &o, NULL, NULL, &d),
			 BP_ERR_INVALID);
	assert_int_equal(bp_fit_target_build_check(BP_FIT_TARGET_COUNT, &o, NULL, NULL, &d),
			 BP_ERR_INVALID);
	assert_int_equal(bp_fit_target_build_check(BP_FIT_TARGET_UBOOT, NULL, NULL, NULL, &d),
			 BP_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_invariants),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_checks_edge_cases),
		cmocka_unit_test(test_build_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
