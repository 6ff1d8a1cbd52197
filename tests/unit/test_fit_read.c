// SPDX-License-Identifier: MIT
/*
 * Hash algorithms against the published FIPS 180 / RFC 1321 test vectors,
 * and the FIT reader and verifier on trees made here with libfdt: where
 * data is found, what each malformed node turns into, what verify reports.
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
#include <bootpack/hash.h>

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_hash_vectors(void **state)
{
	static const struct {
		const char *algo, *input, *want;
	} v[] = {
		{ "crc32", "123456789", "cbf43926" },
		{ "crc16-ccitt", "123456789", "31c3" },
		{ "md5", "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "sha384", "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
				   "8086072ba1e7cc2358baeca134c825a7" },
		{ "sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
				   "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
		{ "sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t out[BP_HASH_MAX_LEN];
		char got[2 * BP_HASH_MAX_LEN + 1] = "";
		enum bp_hash_algo a;

		assert_int_equal(bp_hash_from_name(v[i].algo, &a, NULL), 0);
		assert_string_equal(bp_hash_name(a), v[i].algo);
		assert_int_equal(bp_hash_len(a) * 2, strlen(v[i].want));
		assert_int_equal(bp_hash(a, v[i].input, strlen(v[i].input), out, NULL), 0);
		hex(got, out, bp_hash_len(a));
		assert_string_equal(got, v[i].want);
	}
}

static void test_hash_unknown(void **state)
{
	struct bp_diag d;
	enum bp_hash_algo a;

	(void)state;
	assert_int_equal(bp_hash_from_name("sha3", &a, &d), BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "crc16-ccitt, crc32, md5, sha1, sha256, sha384 or sha512"));
	assert_int_equal(bp_hash_from_name("SHA256", &a, NULL), BP_ERR_UNSUPPORTED);
	assert_null(bp_hash_name(BP_HASH_COUNT));
	assert_int_equal(bp_hash_len(BP_HASH_COUNT), 0);
}

/* A FIT under construction: the test adds raw properties to one image node. */
struct tree {
	uint8_t buf[8192];
};

static void begin(struct tree *t)
{
	assert_int_equal(fdt_create(t->buf, sizeof(t->buf)), 0);
	assert_int_equal(fdt_finish_reservemap(t->buf), 0);
	assert_int_equal(fdt_begin_node(t->buf, ""), 0);
	assert_int_equal(fdt_property_string(t->buf, "description", "test"), 0);
	assert_int_equal(fdt_property_u32(t->buf, "timestamp", 1234), 0);
	assert_int_equal(fdt_begin_node(t->buf, "images"), 0);
}

static void end_images(struct tree *t)
{
	assert_int_equal(fdt_end_node(t->buf), 0);
}

static size_t finish(struct tree *t)
{
	assert_int_equal(fdt_end_node(t->buf), 0);
	assert_int_equal(fdt_finish(t->buf), 0);
	assert_int_equal(fdt_pack(t->buf), 0);
	return fdt_totalsize(t->buf);
}

static void image(struct tree *t, const char *name, const char *type, const void *data, int len)
{
	assert_int_equal(fdt_begin_node(t->buf, name), 0);
	assert_int_equal(fdt_property_string(t->buf, "type", type), 0);
	assert_int_equal(fdt_property_string(t->buf, "compression", "none"), 0);
	if (data)
		assert_int_equal(fdt_property(t->buf, "data", data, len), 0);
}

static void hash_node(struct tree *t, const char *node, const char *algo, const void *value,
		      int len)
{
	assert_int_equal(fdt_begin_node(t->buf, node), 0);
	if (value)
		assert_int_equal(fdt_property(t->buf, "value", value, len), 0);
	if (algo)
		assert_int_equal(fdt_property_string(t->buf, "algo", algo), 0);
	assert_int_equal(fdt_end_node(t->buf), 0);
}

struct findings {
	char text[4096];
};

static void collect(void *ctx, const struct bp_fit_check *c)
{
	struct findings *f = ctx;
	static const char *const level[] = { "OK", "WARN", "FAIL" };
	size_t n = strlen(f->text);

	snprintf(f->text + n, sizeof(f->text) - n, "%s %s: %s\n", level[c->level], c->node,
		 c->msg);
}

static struct bp_fit *open_ok(const void *p, size_t len)
{
	struct bp_fit *fit = NULL;
	struct bp_diag d;

	assert_int_equal(bp_fit_open_mem(p, len, "t.fit", &fit, &d), 0);
	return fit;
}

static void test_embedded_and_hashes(void **state)
{
	static const uint8_t data[] = "123456789";
	static const uint8_t crc[4] = { 0xcb, 0xf4, 0x39, 0x26 };
	static const uint8_t bad_crc[4] = { 0xcb, 0xf4, 0x39, 0x27 };
	struct bp_fit_verify_stats st = BP_FIT_VERIFY_STATS_INIT;
	struct findings f = { "" };
	struct tree t;
	struct bp_fit *fit;
	size_t len;

	(void)state;
	begin(&t);
	image(&t, "good", "ramdisk", data, 9);
	hash_node(&t, "hash-1", "crc32", crc, 4);
	assert_int_equal(fdt_end_node(t.buf), 0);
	image(&t, "bad", "ramdisk", data, 9);
	hash_node(&t, "hash-1", "crc32", bad_crc, 4);
	hash_node(&t, "hash-2", "sha256", crc, 4);
	hash_node(&t, "hash-3", "whirlpool", crc, 4);
	hash_node(&t, "hash-4", "md5", NULL, 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	end_images(&t);
	len = finish(&t);

	fit = open_ok(t.buf, len);
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	assert_string_equal(info->description, "test");
	assert_true(info->has_timestamp);
	assert_int_equal(info->timestamp, 1234);
	assert_false(info->has_configurations);
	assert_int_equal(info->n_images, 2);
	assert_int_equal(bp_fit_image_at(fit, 0)->data_size, 9);
	assert_memory_equal(bp_fit_image_at(fit, 0)->data, data, 9);
	assert_false(bp_fit_image_at(fit, 0)->external);
	assert_int_equal(bp_fit_image_at(fit, 1)->n_hashes, 4);
	assert_int_equal(bp_fit_find_image(fit, "bad"), 1);
	assert_int_equal(bp_fit_find_image(fit, "nope"), BP_ERR_NOTFOUND);

	assert_int_equal(bp_fit_verify(fit, NULL, collect, &f, &st, NULL), 0);
	assert_int_equal(st.n_failures, 4);
	assert_int_equal(st.n_hashes, 2);
	assert_non_null(strstr(f.text, "OK good: hash-1: crc32 cbf43926\n"));
	assert_non_null(strstr(f.text, "FAIL bad: hash-1: crc32 hash does not match the data "
				       "(stored cbf43927, computed cbf43926)\n"));
	assert_non_null(strstr(f.text, "FAIL bad: hash-2: sha256 value is 4 bytes; expected 32\n"));
	assert_non_null(strstr(f.text, "FAIL bad: hash-3: unknown hash algorithm 'whirlpool'\n"));
	assert_non_null(strstr(f.text, "FAIL bad: hash-4: no 'value' property\n"));
	assert_non_null(strstr(f.text, "WARN : no /configurations node"));
	bp_fit_close(fit);
}

/* External data: data-offset counts from the FDT end rounded to 4, data-position from 0. */
static void test_external(void **state)
{
	uint8_t file[16384];
	struct tree t;
	struct bp_fit *fit;
	struct bp_diag d;
	size_t len, base;

	(void)state;
	begin(&t);
	image(&t, "off", "ramdisk", NULL, 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-offset", 4), 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-size", 3), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	image(&t, "pos", "ramdisk", NULL, 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-position", 8192), 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-size", 2), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	image(&t, "past", "ramdisk", NULL, 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-offset", 0xfffffff0), 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-size", 0x100), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	image(&t, "nosize", "ramdisk", NULL, 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-offset", 0), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	image(&t, "inside", "ramdisk", NULL, 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-position", 0), 0);
	assert_int_equal(fdt_property_u32(t.buf, "data-size", 4), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	end_images(&t);
	len = finish(&t);
	memset(file, 0xee, sizeof(file));
	memcpy(file, t.buf, len);
	base = (len + 3) & ~(size_t)3;
	memcpy(file + base + 4, "abc", 3);
	memcpy(file + 8192, "xy", 2);

	assert_int_equal(bp_fit_open_mem(file, 8194, "t.fit", &fit, &d), 0);
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	assert_int_equal(info->file_size, 8194);
	assert_true(bp_fit_image_at(fit, 0)->external);
	assert_int_equal(bp_fit_image_at(fit, 0)->data_file_offset, base + 4);
	assert_memory_equal(bp_fit_image_at(fit, 0)->data, "abc", 3);
	assert_int_equal(bp_fit_image_at(fit, 1)->data_file_offset, 8192);
	assert_memory_equal(bp_fit_image_at(fit, 1)->data, "xy", 2);
	assert_null(bp_fit_image_at(fit, 2)->data);
	assert_non_null(strstr(bp_fit_image_at(fit, 2)->problem, "extends past the end of the file "
							"(8194 bytes)"));
	assert_null(bp_fit_image_at(fit, 3)->data);
	assert_string_equal(bp_fit_image_at(fit, 3)->problem, "external data has no 'data-size'");
	assert_null(bp_fit_image_at(fit, 4)->data);
	assert_non_null(strstr(bp_fit_image_at(fit, 4)->problem, "lies inside the FDT"));
	bp_fit_close(fit);
}

/* Malformed properties become per-node problems; the rest stays readable. */
static void test_malformed_nodes(void **state)
{
	static const char unterminated[3] = { 'a', 'b', 'c' };
	static const uint8_t addr64[8] = { 0, 0, 0, 8, 0x80, 0, 0, 0 };
	struct bp_fit_verify_stats st = BP_FIT_VERIFY_STATS_INIT;
	struct findings f = { "" };
	struct tree t;
	struct bp_fit *fit;
	size_t len;

	(void)state;
	begin(&t);
	image(&t, "kernel", "kernel", "ARM", 3);
	assert_int_equal(fdt_property(t.buf, "load", addr64, 8), 0);
	assert_int_equal(fdt_property(t.buf, "entry", addr64, 3), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	image(&t, "fdt-1", "flat_dt", "not a dtb", 9);
	assert_int_equal(fdt_property(t.buf, "arch", unterminated, 3), 0);
	hash_node(&t, "hash@1", NULL, NULL, 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	end_images(&t);
	assert_int_equal(fdt_begin_node(t.buf, "configurations"), 0);
	assert_int_equal(fdt_property_string(t.buf, "default", "conf-9"), 0);
	assert_int_equal(fdt_begin_node(t.buf, "conf-1"), 0);
	assert_int_equal(fdt_property_string(t.buf, "kernel", "fdt-1"), 0);
	assert_int_equal(fdt_property(t.buf, "fdt", "fdt-1\0missing", 14), 0);
	assert_int_equal(fdt_property(t.buf, "compatible", unterminated, 3), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	len = finish(&t);

	fit = open_ok(t.buf, len);
	assert_true(bp_fit_image_at(fit, 0)->has_load);
	assert_int_equal(bp_fit_image_at(fit, 0)->load, 0x880000000ULL);
	assert_false(bp_fit_image_at(fit, 0)->has_entry);
	assert_string_equal(bp_fit_image_at(fit, 0)->problem,
			    "property 'entry' is 3 bytes, not one or two 32-bit cells");
	assert_null(bp_fit_image_at(fit, 1)->arch);
	assert_string_equal(bp_fit_image_at(fit, 1)->problem,
			    "property 'arch' is not a NUL-terminated string");
	assert_int_equal(bp_fit_config_at(fit, 0)->n_fdts, 2);
	assert_string_equal(bp_fit_config_at(fit, 0)->fdts[1], "missing");
	assert_int_equal(bp_fit_config_at(fit, 0)->n_compatibles, 0);
	assert_non_null(bp_fit_config_at(fit, 0)->problem);

	assert_int_equal(bp_fit_verify(fit, NULL, collect, &f, &st, NULL), 0);
	assert_non_null(strstr(f.text, "FAIL : default configuration 'conf-9' does not exist\n"));
	assert_non_null(strstr(f.text, "FAIL conf-1: kernel 'fdt-1' has type 'flat_dt'\n"));
	assert_non_null(strstr(f.text, "FAIL conf-1: fdt 'missing' is not an image in /images\n"));
	assert_non_null(strstr(f.text, "FAIL conf-1: property 'compatible' is not a list"));
	assert_non_null(strstr(f.text, "FAIL fdt-1: data is not a usable devicetree"));
	assert_non_null(strstr(f.text, "FAIL fdt-1: hash@1: no 'algo' property\n"));
	assert_non_null(strstr(f.text, "WARN : node 'hash@1' has a unit address ('@')"));
	assert_null(strstr(f.text, "OK conf-1"));
	bp_fit_close(fit);
}

static void test_not_a_fit(void **state)
{
	struct tree t;
	struct bp_fit *fit = (struct bp_fit *)&t;
	struct bp_diag d;

	(void)state;
	assert_int_equal(fdt_create(t.buf, sizeof(t.buf)), 0);
	assert_int_equal(fdt_finish_reservemap(t.buf), 0);
	assert_int_equal(fdt_begin_node(t.buf, ""), 0);
	assert_int_equal(fdt_end_node(t.buf), 0);
	assert_int_equal(fdt_finish(t.buf), 0);
	assert_int_equal(bp_fit_open_mem(t.buf, fdt_totalsize(t.buf), "x.dtb", &fit, &d),
			 BP_ERR_FORMAT);
	assert_null(fit);
	assert_string_equal(d.path, "x.dtb");
	assert_string_equal(d.msg, "not a FIT image: the devicetree has no /images node");
	assert_int_equal(bp_fit_open_mem("hello", 5, "h", &fit, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "shorter than the 40-byte header"));
	assert_int_equal(bp_fit_open("/nonexistent/x.fit", &fit, &d), BP_ERR_IO);
}

/* Regression (fuzz_fit_read): libfdt 1.6.1's fdt_check_full() crashed on version < 16. */
static void test_old_fdt_version(void **state)
{
	struct tree t;
	struct bp_fit *fit;
	struct bp_diag d;
	size_t len;

	(void)state;
	begin(&t);
	image(&t, "kernel", "kernel", "x", 1);
	assert_int_equal(fdt_end_node(t.buf), 0);
	end_images(&t);
	len = finish(&t);
	for (uint32_t v = 1; v < 16; v++) {
		fdt_set_version(t.buf, v);
		assert_int_equal(bp_fit_open_mem(t.buf, len, "old.fit", &fit, &d), BP_ERR_FORMAT);
		assert_non_null(strstr(d.msg, "is not supported (only 16 and 17"));
	}
	fdt_set_version(t.buf, 16);
	assert_int_equal(bp_fit_open_mem(t.buf, len, "v16.fit", &fit, &d), 0);
	bp_fit_close(fit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_hash_unknown),
		cmocka_unit_test(test_embedded_and_hashes),
		cmocka_unit_test(test_external),
		cmocka_unit_test(test_malformed_nodes),
		cmocka_unit_test(test_not_a_fit),
		cmocka_unit_test(test_old_fdt_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
