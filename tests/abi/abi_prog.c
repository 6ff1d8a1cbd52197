// SPDX-License-Identifier: MIT
/*
 * The ABI growth test (tests/abi/meson.build): one program, built twice.
 *
 * Built without BOOTPACK_ABI_GROWTH_TEST and linked against a library built
 * with it, it is an old program meeting a library whose every growable
 * struct gained a field: building, listing, verifying, extracting, editing
 * and zboot extraction must work and give the expected names, counts and
 * bytes, and the library must not write past the program's smaller stats
 * structs (a canary follows each; ASan's redzones too).
 *
 * Built with it and linked against the normal library, it is a newer
 * program meeting an older library: a non-zero field the library does not
 * know must be refused with BP_ERR_UNSUPPORTED, a zero one must work, and a
 * size below the first version is BP_ERR_INVALID.
 *
 * Usage: abi_prog OUTDIR KERNEL DTB1 DTB2 ZBOOT_EFI
 */
#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/authenticode.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define CANARY 0x5a5a5a5a5a5a5a5aULL

static const char *outdir, *kernel, *dtbs[2], *zboot_efi;
static char fit_path[4096], img_path[4096], pe_path[4096];
static int failures;

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("abi: FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

#define CHECK(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

/*
 * Whether the library filled struct T (@x->size) as this program expects:
 * an older program sees the library's larger struct, a newer one sees no
 * room for the field it has and the library does not (and so leaves it).
 */
#ifdef BOOTPACK_ABI_GROWTH_TEST
#define SIZE_AS_EXPECTED(x, T) ((x)->size == offsetof(T, abi_growth_test))
#else
#define SIZE_AS_EXPECTED(x, T) ((x)->size >= sizeof(T))
#endif

static void check_ret(int ret, int want, const struct bp_diag *d, const char *what)
{
	CHECK(ret == want, "%s returned %d (%s: %s), expected %d", what, ret, d->path, d->msg,
	      want);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(p = malloc((size_t)n + 1)) || fread(p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "abi: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct bp_fit_build_opts build_opts(void)
{
	static const enum bp_hash_algo sha256[] = { BP_HASH_SHA256 };
	struct bp_fit_build_opts o = BP_FIT_BUILD_OPTS_INIT;

	o.name = "abi";
	o.arch = "arm64";
	o.os = "linux";
	o.kernel = kernel;
	o.dtbs = dtbs;
	o.n_dtbs = 2;
	o.compress = BP_CODEC_GZIP;
	o.timestamp = 1;
	o.jobs = 2;
	o.hashes = sha256;
	o.n_hashes = 1;
	o.default_config = "conf-2";
	return o;
}

/* Build to a file and to a buffer: same bytes, stats as expected, canary intact. */
static void test_build(void)
{
	struct bp_fit_build_opts o = build_opts();
	struct { struct bp_fit_build_stats st; uint64_t canary; } s = {
		.st = BP_FIT_BUILD_STATS_INIT, .canary = CANARY };
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink sink = BP_SINK_BUF_INIT(&buf, "memory");
	struct bp_diag d;
	unsigned char *file;
	size_t len;

	check_ret(bp_fit_build(&o, fit_path, &s.st, &d), 0, &d, "bp_fit_build");
	CHECK(s.canary == CANARY, "bp_fit_build wrote past struct bp_fit_build_stats");
	CHECK(s.st.size == sizeof(s.st), "bp_fit_build changed stats.size");
	CHECK(s.st.n_files == 3 && s.st.n_configs == 2, "stats: %zu files, %zu configs",
	      s.st.n_files, s.st.n_configs);
	file = slurp(fit_path, &len);
	CHECK(s.st.fit_size == len, "stats: fit_size %llu, file %zu",
	      (unsigned long long)s.st.fit_size, len);
	check_ret(bp_fit_build_to(&o, &sink, NULL, &d), 0, &d, "bp_fit_build_to");
	CHECK(buf.len == len && !memcmp(buf.data, file, len), "FIT built to a buffer differs");
	bp_buf_free(&buf);
	free(file);
}

static void check_images(const struct bp_fit *fit)
{
	static const char *const names[] = { "kernel", "fdt-1", "fdt-2" };
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	CHECK(SIZE_AS_EXPECTED(info, struct bp_fit_info), "info->size %zu", info->size);
	CHECK(info->n_images == 3, "%zu images", info->n_images);
	for (size_t i = 0; i < info->n_images && i < 3; i++) {
		const struct bp_fit_image *im = bp_fit_image_at(fit, i);
		const struct bp_fit_hash *h = bp_fit_hash_at(fit, i, 0);

		CHECK(SIZE_AS_EXPECTED(im, struct bp_fit_image), "image %zu: size %zu", i, im->size);
		CHECK(!strcmp(im->name, names[i]), "image %zu is '%s', not '%s'", i, im->name,
		      names[i]);
		CHECK(!strcmp(im->compression, "gzip") && !im->problem, "image %s: %s, %s",
		      im->name, im->compression, im->problem ? im->problem : "no problem");
		CHECK(im->n_hashes == 1 && h && SIZE_AS_EXPECTED(h, struct bp_fit_hash) &&
		      !strcmp(h->algo, "sha256") && h->value_len == 32,
		      "image %s: hash node wrong", im->name);
	}
	CHECK(!bp_fit_image_at(fit, 3) && !bp_fit_hash_at(fit, 0, 1),
	      "accessors past the end are not NULL");
}

static void check_configs(const struct bp_fit *fit)
{
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	CHECK(info->n_configs == 2 && !strcmp(info->default_config, "conf-2"),
	      "%zu configurations, default %s", info->n_configs, info->default_config);
	for (size_t i = 0; i < info->n_configs && i < 2; i++) {
		const struct bp_fit_config *c = bp_fit_config_at(fit, i);
		char name[16], fdt[16];

		snprintf(name, sizeof(name), "conf-%zu", i + 1);
		snprintf(fdt, sizeof(fdt), "fdt-%zu", i + 1);
		CHECK(SIZE_AS_EXPECTED(c, struct bp_fit_config) && !strcmp(c->name, name) && c->n_fdts == 1 &&
		      !strcmp(c->fdts[0], fdt) && !strcmp(c->kernel, "kernel"),
		      "configuration %zu wrong", i);
	}
	CHECK(!bp_fit_config_at(fit, 2), "bp_fit_config_at past the end is not NULL");
}

static void on_check(void *ctx, const struct bp_fit_check *c)
{
	CHECK(SIZE_AS_EXPECTED(c, struct bp_fit_check) && c->msg, "bad struct bp_fit_check");
	++*(size_t *)ctx;
}

static void test_verify(const struct bp_fit *fit)
{
	struct bp_fit_verify_opts o = BP_FIT_VERIFY_OPTS_INIT;
	struct { struct bp_fit_verify_stats st; uint64_t canary; } s = {
		.st = BP_FIT_VERIFY_STATS_INIT, .canary = CANARY };
	struct bp_diag d;
	size_t seen = 0;

	o.decompress = true;
	o.jobs = 2;
	check_ret(bp_fit_verify(fit, &o, on_check, &seen, &s.st, &d), 0, &d, "bp_fit_verify");
	CHECK(s.canary == CANARY, "bp_fit_verify wrote past struct bp_fit_verify_stats");
	CHECK(s.st.n_failures == 0 && s.st.n_hashes == 3 &&
	      seen == s.st.n_ok + s.st.n_warnings, "verify: %zu failures, %zu hashes, %zu seen",
	      s.st.n_failures, s.st.n_hashes, seen);
}

/* The kernel, decompressed, equals the input; to a file and to a callback. */
static int collect(void *ctx, const void *p, size_t n)
{
	return bp_buf_append(ctx, p, n);
}

static void test_extract(const struct bp_fit *fit)
{
	struct bp_fit_extract_opts o = BP_FIT_EXTRACT_OPTS_INIT;
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink sink = BP_SINK_FN_INIT(collect, &buf, "callback");
	struct bp_diag d;
	uint64_t written = 0;
	unsigned char *want, *got;
	size_t want_len, got_len;

	o.max_size = 64 << 20;
	check_ret(bp_fit_extract(fit, 0, &o, img_path, &written, &d), 0, &d, "bp_fit_extract");
	want = slurp(kernel, &want_len);
	got = slurp(img_path, &got_len);
	CHECK(written == want_len && got_len == want_len && !memcmp(want, got, want_len),
	      "extracted kernel differs from the input");
	check_ret(bp_fit_extract_to(fit, 0, &o, &sink, NULL, &d), 0, &d, "bp_fit_extract_to");
	CHECK(buf.len == want_len && !memcmp(buf.data, want, want_len),
	      "kernel extracted to a callback differs");
	bp_buf_free(&buf);
	free(want);
	free(got);
}

/* Add a section; the result lists it last with our bytes. Then the zboot payload. */
static void test_pe(void)
{
	static const char blob[] = "abi growth test section data";
	struct bp_pe_edit e = BP_PE_EDIT_INIT;
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink sink = BP_SINK_BUF_INIT(&buf, "memory");
	const struct bp_pe_section *s;
	struct bp_pe *pe, *out;
	struct bp_diag d;
	size_t n, len;
	const uint8_t *p;
	uint64_t written = 0;

	check_ret(bp_pe_open(zboot_efi, &pe, &d), 0, &d, "bp_pe_open");
	if (failures)
		return;
	n = bp_pe_get_info(pe)->n_sections;
	CHECK(SIZE_AS_EXPECTED(bp_pe_get_info(pe), struct bp_pe_info) && n &&
	      SIZE_AS_EXPECTED(bp_pe_section_at(pe, 0), struct bp_pe_section) &&
	      !bp_pe_section_at(pe, n), "bp_pe_info or sections wrong");
	e.op = BP_PE_ADD_SECTION;
	e.name = ".abi";
	e.data = blob;
	e.len = sizeof(blob);
	check_ret(bp_pe_edit(pe, &e, pe_path, &d), 0, &d, "bp_pe_edit");
	check_ret(bp_pe_open(pe_path, &out, &d), 0, &d, "bp_pe_open (edited)");
	if (failures) {
		bp_pe_close(pe);
		return;
	}
	p = bp_pe_data(out, &len);
	s = bp_pe_section_at(out, n);
	CHECK(bp_pe_get_info(out)->n_sections == n + 1 && s && !strcmp(s->name, ".abi") &&
	      s->raw_offset < len && len - s->raw_offset >= sizeof(blob) &&
	      !memcmp(p + s->raw_offset, blob, sizeof(blob)) &&
	      bp_pe_get_info(out)->n_errors == 0 && !bp_pe_problem_at(out, SIZE_MAX),
	      "edited image does not hold the new section");
	check_ret(bp_pe_edit_to(pe, &e, &sink, &d), 0, &d, "bp_pe_edit_to");
	CHECK(buf.len == len && !memcmp(buf.data, p, len), "PE edited into a buffer differs");
	buf.len = 0;
	check_ret(bp_zboot_extract_to(pe, &sink, 0, NULL, &written, &d), 0, &d,
		  "bp_zboot_extract_to");
	CHECK(written == buf.len && buf.len >= 0x40, "zboot payload: %llu bytes",
	      (unsigned long long)written);
	bp_buf_free(&buf);
	bp_pe_close(out);
	bp_pe_close(pe);
}

/*
 * Authenticode on the (unsigned) zboot image: the digest, an empty table,
 * verification with no signature to call back about, and the inner Image
 * found through a caller-sized struct followed by a canary.
 */
static void on_sig_check(void *ctx, const struct bp_pe_sig_check *c)
{
	(void)ctx;
	(void)c;
	fail("bp_pe_verify called back for an unsigned image");
}

static void test_authenticode(void)
{
	struct { struct bp_zboot_inner z; uint64_t canary; } s = {
		.z = BP_ZBOOT_INNER_INIT, .canary = CANARY };
	struct bp_pe_verify_opts vo = BP_PE_VERIFY_OPTS_INIT;
	uint8_t md[BP_HASH_MAX_LEN];
	struct bp_pe *pe;
	struct bp_diag d;
	size_t n = 99, good = 99;

	check_ret(bp_pe_open(zboot_efi, &pe, &d), 0, &d, "bp_pe_open");
	if (failures)
		return;
	check_ret(bp_pe_digest(pe, BP_HASH_SHA256, md, &d), 0, &d, "bp_pe_digest");
	check_ret(bp_pe_signatures(pe, &n, &d), 0, &d, "bp_pe_signatures");
	CHECK(n == 0 && !bp_pe_signature_at(pe, 0), "%zu signatures in an unsigned image", n);
	check_ret(bp_pe_verify(pe, &vo, on_sig_check, NULL, &good, &d), 0, &d, "bp_pe_verify");
	CHECK(good == 0, "%zu good signatures", good);
	check_ret(bp_zboot_inner(pe, 0, &s.z, &d), 0, &d, "bp_zboot_inner");
	CHECK(s.canary == CANARY, "bp_zboot_inner wrote past struct bp_zboot_inner");
	CHECK(s.z.size == sizeof(s.z), "bp_zboot_inner changed size");
	CHECK(s.z.sig != BP_ZBOOT_INNER_UNKNOWN, "inner Image not looked at");
	bp_pe_close(pe);
}

#ifdef BOOTPACK_ABI_GROWTH_TEST
/* A newer program: its extra field set is refused, zero is fine, too small a size is refused. */
static void expect_refused(int ret, const struct bp_diag *d, const char *what)
{
	check_ret(ret, BP_ERR_UNSUPPORTED, d, what);
	CHECK(strstr(d->msg, "unknown to this library version") != NULL, "%s: message '%s'",
	      what, d->msg);
}

static void test_newer_program(const struct bp_fit *fit)
{
	struct bp_fit_build_opts o = build_opts();
	struct bp_fit_verify_opts vo = BP_FIT_VERIFY_OPTS_INIT;
	struct bp_fit_extract_opts eo = BP_FIT_EXTRACT_OPTS_INIT;
	struct bp_fit_verify_stats vs = BP_FIT_VERIFY_STATS_INIT;
	struct bp_pe_edit e = BP_PE_EDIT_INIT;
	struct bp_sink sink = BP_SINK_PATH_INIT(img_path);
	struct bp_pe *pe;
	struct bp_diag d;

	o.abi_growth_test = 1;
	expect_refused(bp_fit_build(&o, fit_path, NULL, &d), &d, "bp_fit_build");
	o.abi_growth_test = 0;
	o.size = 8;
	check_ret(bp_fit_build(&o, fit_path, NULL, &d), BP_ERR_INVALID, &d, "bp_fit_build (size 8)");
	vo.abi_growth_test = 1;
	expect_refused(bp_fit_verify(fit, &vo, NULL, NULL, NULL, &d), &d, "bp_fit_verify");
	/* A larger stats struct is filled as far as the library knows; the rest is the caller's. */
	vs.abi_growth_test = CANARY;
	check_ret(bp_fit_verify(fit, NULL, NULL, NULL, &vs, &d), 0, &d, "bp_fit_verify (stats)");
	CHECK(vs.abi_growth_test == CANARY && vs.n_hashes == 3, "larger stats struct mishandled");
	eo.abi_growth_test = 1;
	expect_refused(bp_fit_extract(fit, 0, &eo, img_path, NULL, &d), &d, "bp_fit_extract");
	sink.abi_growth_test = 1;
	expect_refused(bp_fit_extract_to(fit, 0, NULL, &sink, NULL, &d), &d, "bp_fit_extract_to");
	check_ret(bp_pe_open(zboot_efi, &pe, &d), 0, &d, "bp_pe_open");
	if (failures)
		return;
	e.name = ".abi";
	e.data = "x";
	e.len = 1;
	e.abi_growth_test = 1;
	expect_refused(bp_pe_edit(pe, &e, pe_path, &d), &d, "bp_pe_edit");
	{
		struct bp_pe_verify_opts vo = BP_PE_VERIFY_OPTS_INIT;
		struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
		struct bp_zboot_inner z = BP_ZBOOT_INNER_INIT;

		vo.abi_growth_test = 1;
		expect_refused(bp_pe_verify(pe, &vo, NULL, NULL, NULL, &d), &d, "bp_pe_verify");
		vo.abi_growth_test = 0;
		check_ret(bp_pe_verify(pe, &vo, NULL, NULL, NULL, &d), 0, &d, "bp_pe_verify");
		so.abi_growth_test = 1;
		expect_refused(bp_pe_sign(pe, NULL, &so, pe_path, &d), &d, "bp_pe_sign");
		e.abi_growth_test = 0;
		expect_refused(bp_pe_edit_sign(pe, &e, NULL, &so, pe_path, &d), &d,
			       "bp_pe_edit_sign");
		/* A larger output struct is filled as far as the library knows. */
		z.abi_growth_test = CANARY;
		check_ret(bp_zboot_inner(pe, 0, &z, &d), 0, &d, "bp_zboot_inner");
		CHECK(z.abi_growth_test == CANARY && z.size == sizeof(z),
		      "larger struct bp_zboot_inner mishandled");
	}
	bp_pe_close(pe);
}
#endif

int main(int argc, char **argv)
{
	struct bp_fit *fit;
	struct bp_diag d;

	if (argc != 6) {
		fprintf(stderr, "usage: abi_prog OUTDIR KERNEL DTB1 DTB2 ZBOOT_EFI\n");
		return 2;
	}
	outdir = argv[1];
	kernel = argv[2];
	dtbs[0] = argv[3];
	dtbs[1] = argv[4];
	zboot_efi = argv[5];
	snprintf(fit_path, sizeof(fit_path), "%s/abi.fit", outdir);
	snprintf(img_path, sizeof(img_path), "%s/abi.img", outdir);
	snprintf(pe_path, sizeof(pe_path), "%s/abi.efi", outdir);
	test_build();
	check_ret(bp_fit_open(fit_path, &fit, &d), 0, &d, "bp_fit_open");
	if (!failures) {
		check_images(fit);
		check_configs(fit);
		test_verify(fit);
		test_extract(fit);
		test_pe();
		test_authenticode();
#ifdef BOOTPACK_ABI_GROWTH_TEST
		test_newer_program(fit);
#endif
		bp_fit_close(fit);
	}
	unlink(fit_path);
	unlink(img_path);
	unlink(pe_path);
	if (failures)
		return 1;
	printf("abi: ok (%s program)\n",
#ifdef BOOTPACK_ABI_GROWTH_TEST
	       "newer"
#else
	       "older"
#endif
	);
	return 0;
}
