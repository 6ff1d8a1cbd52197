// SPDX-License-Identifier: MIT
/*
 * bp_fit_build() end to end on DTBs made here with libfdt: the tree it
 * writes (order, values), the external-data layout, and what happens on
 * bad input (exact error, no output, existing output untouched).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/fit.h>
#include "util/util.h"

static char dir[] = "/tmp/bp-fitbuild-XXXXXX";

static const char *path_of(const char *name)
{
	static char buf[64][512];
	static int k;
	char *p = buf[k++ % 64];

	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static void write_bytes(const char *name, const void *p, size_t n)
{
	FILE *f = fopen(path_of(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* A DTB with the given root model/compatible (NULL leaves it out). */
static void make_dtb(const char *name, const char *model, const char *compat, size_t compat_len)
{
	char buf[4096];

	assert_int_equal(fdt_create(buf, sizeof(buf)), 0);
	assert_int_equal(fdt_finish_reservemap(buf), 0);
	assert_int_equal(fdt_begin_node(buf, ""), 0);
	if (model)
		assert_int_equal(fdt_property_string(buf, "model", model), 0);
	if (compat)
		assert_int_equal(fdt_property(buf, "compatible", compat, (int)compat_len), 0);
	assert_int_equal(fdt_begin_node(buf, "memory@40000000"), 0);
	assert_int_equal(fdt_property_string(buf, "device_type", "memory"), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_finish(buf), 0);
	write_bytes(name, buf, fdt_totalsize(buf));
}

static struct bp_buf slurp(const char *path)
{
	struct bp_buf b = BP_BUF_INIT;

	assert_int_equal(bpi_read_file(path, 1u << 30, &b, NULL), 0);
	return b;
}

static struct bp_fit_build_opts base_opts(const char *const *dtbs, size_t n)
{
	struct bp_fit_build_opts o = {
		.size = sizeof(o), .name = "Linux-test", .arch = "arm64", .os = "linux",
		.kernel = path_of("Image"), .dtbs = dtbs, .n_dtbs = n,
		.compress = BP_CODEC_NONE, .timestamp = 1234, .jobs = 2,
	};
	return o;
}

static void assert_prop_names(const void *fit, int node, const char *const *names, size_t n)
{
	size_t i = 0;
	int off;

	fdt_for_each_property_offset(off, fit, node) {
		const char *name;

		assert_non_null(fdt_getprop_by_offset(fit, off, &name, NULL));
		assert_true(i < n);
		assert_string_equal(name, names[i]);
		i++;
	}
	assert_int_equal(i, n);
}

static void assert_str(const void *fit, const char *path, const char *prop, const char *want)
{
	int node = fdt_path_offset(fit, path);
	const char *v;

	assert_true(node >= 0);
	v = fdt_getprop(fit, node, prop, NULL);
	assert_non_null(v);
	assert_string_equal(v, want);
}

static const char compat_a[] = "vendor,board-a\0vendor,soc";

static int setup(void **state)
{
	uint8_t kernel[3000];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < sizeof(kernel); i++)
		kernel[i] = (uint8_t)(i * 7 + (i >> 5));
	write_bytes("Image", kernel, sizeof(kernel));
	write_bytes("initrd", "ramdisk-bytes", 13);
	make_dtb("a.dtb", "Board A", compat_a, sizeof(compat_a));
	make_dtb("b.dtb", "Board B", "vendor,board-b", 15);
	make_dtb("nocompat.dtb", "Board X", NULL, 0);
	make_dtb("nomodel.dtb", NULL, "vendor,x", 9);
	write_bytes("junk.dtb", "this is not a devicetree blob at all, clearly.", 46);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_tree_matches_make_fit(void **state)
{
	const char *dtbs[] = { path_of("a.dtb"), path_of("b.dtb"), path_of("ignored.dtbo") };
	struct bp_fit_build_opts o = base_opts(dtbs, 3);
	struct bp_fit_build_stats st = BP_FIT_BUILD_STATS_INIT;
	struct bp_diag d;
	struct bp_buf fit, kernel;
	static const char *const root[] = { "description", "#address-cells", "timestamp" };
	static const char *const kern[] = { "description", "type", "arch", "os", "compression",
					    "data", "load", "entry" };
	static const char *const rd[] = { "description", "type", "arch", "os", "compression",
					  "data", "load" };
	static const char *const fdt[] = { "description", "type", "arch", "compression", "data" };
	static const char *const conf[] = { "compatible", "description", "fdt", "kernel",
					    "ramdisk" };
	const void *v;
	int len;

	(void)state;
	o.ramdisk = path_of("initrd");
	assert_int_equal(bp_fit_build(&o, path_of("out.fit"), &st, &d), 0);
	assert_int_equal(st.n_files, 4);
	assert_int_equal(st.n_configs, 2);
	fit = slurp(path_of("out.fit"));
	assert_int_equal(fdt_check_full(fit.data, fit.len), 0);
	assert_int_equal(fit.len, fdt_totalsize(fit.data));
	assert_prop_names(fit.data, 0, root, 3);
	assert_str(fit.data, "/", "description", "Linux-test with devicetree set");
	assert_int_equal(fdt32_ld(fdt_getprop(fit.data, 0, "timestamp", NULL)), 1234);
	assert_prop_names(fit.data, fdt_path_offset(fit.data, "/images/kernel"), kern, 8);
	assert_prop_names(fit.data, fdt_path_offset(fit.data, "/images/ramdisk"), rd, 7);
	assert_prop_names(fit.data, fdt_path_offset(fit.data, "/images/fdt-2"), fdt, 5);
	assert_prop_names(fit.data, fdt_path_offset(fit.data, "/configurations/conf-1"), conf, 5);
	assert_true(fdt_path_offset(fit.data, "/images/fdt-3") < 0);
	assert_str(fit.data, "/images/kernel", "type", "kernel_noload");
	assert_str(fit.data, "/images/ramdisk", "compression", "none");
	assert_str(fit.data, "/images/fdt-1", "description", "a.dtb");
	assert_str(fit.data, "/configurations/conf-2", "description", "Board B");
	assert_str(fit.data, "/configurations/conf-2", "fdt", "fdt-2");
	v = fdt_getprop(fit.data, fdt_path_offset(fit.data, "/configurations/conf-1"),
			"compatible", &len);
	assert_int_equal(len, sizeof(compat_a));
	assert_memory_equal(v, compat_a, sizeof(compat_a));
	kernel = slurp(path_of("Image"));
	v = fdt_getprop(fit.data, fdt_path_offset(fit.data, "/images/kernel"), "data", &len);
	assert_int_equal(len, kernel.len);
	assert_memory_equal(v, kernel.data, kernel.len);
	bp_buf_free(&fit);
	bp_buf_free(&kernel);
}

/* Resolve an external image as U-Boot does; check alignment and bounds. */
static const uint8_t *ext_data(const struct bp_buf *fit, const char *path, uint32_t align,
			       uint32_t *size)
{
	int node = fdt_path_offset(fit->data, path);
	uint32_t off = fdt32_ld(fdt_getprop(fit->data, node, "data-offset", NULL));
	uint64_t base = BPI_ALIGN_UP((uint64_t)fdt_totalsize(fit->data), 4);

	*size = fdt32_ld(fdt_getprop(fit->data, node, "data-size", NULL));
	assert_null(fdt_getprop(fit->data, node, "data", NULL));
	assert_true(base + off + *size <= fit->len);
	assert_int_equal((base + off) % align, 0);
	return fit->data + base + off;
}

static void test_external_layout(void **state)
{
	const char *dtbs[] = { path_of("a.dtb"), path_of("b.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 2);
	static const char *const kern[] = { "data-size", "data-offset", "description", "type",
					    "arch", "os", "compression", "load", "entry" };
	struct bp_diag d;
	struct bp_buf fit, a;
	const uint8_t *p;
	uint32_t n;

	(void)state;
	o.external = true;
	o.ramdisk = path_of("initrd");   /* 13 bytes: forces padding before fdt-1 */
	assert_int_equal(bp_fit_build(&o, path_of("ext.fit"), NULL, &d), 0);
	fit = slurp(path_of("ext.fit"));
	assert_int_equal(fdt_totalsize(fit.data) % 4, 0);
	assert_prop_names(fit.data, fdt_path_offset(fit.data, "/images/kernel"), kern, 9);
	ext_data(&fit, "/images/kernel", 4, &n);
	assert_int_equal(n, 3000);
	p = ext_data(&fit, "/images/ramdisk", 4, &n);
	assert_int_equal(n, 13);
	assert_memory_equal(p, "ramdisk-bytes", 13);
	/* Padding after the ramdisk, up to the 8-aligned DTB, is zero. */
	for (const uint8_t *q = p + 13; q < ext_data(&fit, "/images/fdt-1", 8, &n); q++)
		assert_int_equal(*q, 0);
	a = slurp(path_of("a.dtb"));
	assert_int_equal(n, a.len);
	assert_memory_equal(ext_data(&fit, "/images/fdt-1", 8, &n), a.data, a.len);
	ext_data(&fit, "/images/fdt-2", 8, &n);
	assert_int_equal(fit.len % 4, 0);
	bp_buf_free(&fit);

	o.align = 4096;
	assert_int_equal(bp_fit_build(&o, path_of("ext4k.fit"), NULL, &d), 0);
	fit = slurp(path_of("ext4k.fit"));
	assert_int_equal(fdt_totalsize(fit.data) % 4096, 0);
	ext_data(&fit, "/images/kernel", 4096, &n);
	ext_data(&fit, "/images/ramdisk", 4096, &n);
	ext_data(&fit, "/images/fdt-2", 4096, &n);
	assert_memory_equal(ext_data(&fit, "/images/fdt-1", 4096, &n), a.data, a.len);
	assert_int_equal(fit.len % 4096, 0);
	bp_buf_free(&fit);
	bp_buf_free(&a);
}

static void test_compressed_round_trip(void **state)
{
	const char *dtbs[] = { path_of("a.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);
	struct bp_buf fit, out = BP_BUF_INIT, a = slurp(path_of("a.dtb"));
	struct bp_diag d;
	const void *v;
	int len;

	(void)state;
	for (int c = BP_CODEC_GZIP; c < BP_CODEC_COUNT; c++) {
		o.compress = (enum bp_codec)c;
		assert_int_equal(bp_fit_build(&o, path_of("c.fit"), NULL, &d), 0);
		fit = slurp(path_of("c.fit"));
		assert_str(fit.data, "/images/fdt-1", "compression", bp_codec_name(o.compress));
		v = fdt_getprop(fit.data, fdt_path_offset(fit.data, "/images/fdt-1"), "data", &len);
		out.len = 0;
		if (bp_decompress(o.compress, v, (size_t)len, 1 << 20, &out, &d))
			fail_msg("%s: %s", bp_codec_name(o.compress), d.msg);
		assert_int_equal(out.len, a.len);
		assert_memory_equal(out.data, a.data, a.len);
		bp_buf_free(&fit);
	}
	bp_buf_free(&out);
	bp_buf_free(&a);
}

static void test_same_bytes_any_thread_count(void **state)
{
	const char *dtbs[] = { path_of("a.dtb"), path_of("b.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 2);
	struct bp_buf one, many;
	struct bp_diag d;

	(void)state;
	o.compress = BP_CODEC_ZSTD;
	o.jobs = 1;
	assert_int_equal(bp_fit_build(&o, path_of("j1.fit"), NULL, &d), 0);
	o.jobs = 8;
	assert_int_equal(bp_fit_build(&o, path_of("j8.fit"), NULL, &d), 0);
	one = slurp(path_of("j1.fit"));
	many = slurp(path_of("j8.fit"));
	assert_int_equal(one.len, many.len);
	assert_memory_equal(one.data, many.data, one.len);
	bp_buf_free(&one);
	bp_buf_free(&many);
}

/* Run a build expected to fail; check the error, the path, and no output. */
static void expect_failure(struct bp_fit_build_opts *o, const char *out, int err,
			   const char *path, const char *msg)
{
	struct bp_diag d;
	struct stat st;

	assert_int_equal(bp_fit_build(o, out, NULL, &d), err);
	assert_string_equal(d.path, path);
	if (!strstr(d.msg, msg))
		fail_msg("message '%s' lacks '%s'", d.msg, msg);
	assert_int_not_equal(stat(out, &st), 0);
}

static void test_bad_inputs(void **state)
{
	const char *dtbs[1] = { NULL };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);
	const char *out = path_of("bad.fit");
	uint8_t buf[4096];
	struct bp_buf a = slurp(path_of("a.dtb"));

	(void)state;
	dtbs[0] = path_of("nocompat.dtb");
	expect_failure(&o, out, BP_ERR_FORMAT, dtbs[0], "no 'compatible' property");
	dtbs[0] = path_of("nomodel.dtb");
	expect_failure(&o, out, BP_ERR_FORMAT, dtbs[0], "no 'model' property");
	dtbs[0] = path_of("junk.dtb");
	expect_failure(&o, out, BP_ERR_FORMAT, dtbs[0], "bad magic 0x74686973");
	dtbs[0] = path_of("missing.dtb");
	expect_failure(&o, out, BP_ERR_IO, dtbs[0], "cannot open: No such file or directory");
	dtbs[0] = path_of("notes.txt");
	expect_failure(&o, out, BP_ERR_FORMAT, dtbs[0], "only .dtb files");
	/* Truncated: the header promises more than the file holds. */
	write_bytes("short.dtb", a.data, a.len - 1);
	dtbs[0] = path_of("short.dtb");
	expect_failure(&o, out, BP_ERR_FORMAT, dtbs[0], "truncated: header totalsize is");
	write_bytes("tiny.dtb", a.data, 20);
	dtbs[0] = path_of("tiny.dtb");
	expect_failure(&o, out, BP_ERR_FORMAT, dtbs[0], "shorter than the 40-byte header");
	/* Structure block pointing past the end. */
	memcpy(buf, a.data, a.len);
	((uint32_t *)buf)[2] = cpu_to_fdt32(0x7ffffff0);   /* off_dt_struct */
	write_bytes("badstruct.dtb", buf, a.len);
	dtbs[0] = path_of("badstruct.dtb");
	/* An offset read from the input places a block outside its container. */
	expect_failure(&o, out, BP_ERR_RANGE, dtbs[0],
		       "devicetree header is invalid: off_dt_struct 2147483632 is past totalsize");
	/* -D without the .cmd file. */
	dtbs[0] = path_of("a.dtb");
	o.decompose = true;
	expect_failure(&o, out, BP_ERR_IO, path_of(".a.dtb.cmd"), "-D needs Kbuild's .cmd file");
	o.decompose = false;
	o.kernel = path_of("nokernel");
	expect_failure(&o, out, BP_ERR_IO, o.kernel, "cannot open");
	o.kernel = path_of("Image");
	expect_failure(&o, path_of("nodir/x.fit"), BP_ERR_IO, path_of("nodir/x.fit"),
		       "cannot create output");
	o.align = 6;
	expect_failure(&o, out, BP_ERR_INVALID, "", "not a power of two");
	bp_buf_free(&a);
}

static void test_existing_output_untouched(void **state)
{
	const char *dtbs[] = { path_of("junk.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);
	struct bp_diag d;
	struct bp_buf b;

	(void)state;
	write_bytes("keep.fit", "previous", 8);
	assert_int_equal(bp_fit_build(&o, path_of("keep.fit"), NULL, &d), BP_ERR_FORMAT);
	b = slurp(path_of("keep.fit"));
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "previous", 8);
	bp_buf_free(&b);
}

static void test_decompose(void **state)
{
	const char *dtbs[] = { path_of("comp.dtb"), path_of("b.dtb"), path_of("comp2.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 3);
	struct bp_diag d;
	struct bp_buf fit;
	char cmd[1024];
	const char *v;
	int len;

	(void)state;
	make_dtb("comp.dtb", "Composite", "vendor,comp", 12);
	make_dtb("comp2.dtb", "Composite 2", "vendor,comp2", 13);
	make_dtb("ov.dtbo", "overlay", "x", 2);
	snprintf(cmd, sizeof(cmd), "savedcmd_%s := ./scripts/dtc/fdtoverlay -o %s -i %s %s\n",
		 dtbs[0], dtbs[0], path_of("a.dtb"), path_of("ov.dtbo"));
	write_bytes(".comp.dtb.cmd", cmd, strlen(cmd));
	snprintf(cmd, sizeof(cmd), "savedcmd_x := ./scripts/dtc/fdtoverlay -o x -i %s %s\n",
		 path_of("a.dtb"), path_of("ov.dtbo"));
	write_bytes(".comp2.dtb.cmd", cmd, strlen(cmd));
	snprintf(cmd, sizeof(cmd), "savedcmd_b := gcc -E ...; ./scripts/dtc/dtc -O dtb -o b\n");
	write_bytes(".b.dtb.cmd", cmd, strlen(cmd));
	o.decompose = true;
	assert_int_equal(bp_fit_build(&o, path_of("dec.fit"), NULL, &d), 0);
	fit = slurp(path_of("dec.fit"));
	assert_str(fit.data, "/images/fdt-1", "description", "a.dtb");
	assert_str(fit.data, "/images/fdt-2", "description", "ov.dtbo");
	assert_str(fit.data, "/images/fdt-3", "description", "b.dtb");
	assert_true(fdt_path_offset(fit.data, "/images/fdt-4") < 0);
	v = fdt_getprop(fit.data, fdt_path_offset(fit.data, "/configurations/conf-3"), "fdt", &len);
	assert_int_equal(len, 12);
	assert_memory_equal(v, "fdt-1\0fdt-2\0", 12);
	assert_str(fit.data, "/configurations/conf-3", "description", "Composite 2");
	assert_str(fit.data, "/configurations/conf-2", "fdt", "fdt-3");
	bp_buf_free(&fit);
}


/* ---- Outputs other than a path, and the size fields (experimental.h) ---- */

struct sink_log {
	struct bp_buf got;
	size_t calls;
	size_t fail_at;           /* fail the call with this number (from 1); 0 = never */
	int err;
};

static int log_write(void *ctx, const void *p, size_t n)
{
	struct sink_log *l = ctx;

	if (++l->calls == l->fail_at)
		return l->err;
	return bp_buf_append(&l->got, p, n);
}

/* A build to an fd, a buffer and a callback gives the bytes of a build to a path. */
static void test_build_outputs_same_bytes(void **state)
{
	const char *dtbs[] = { path_of("a.dtb"), path_of("b.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 2);
	struct bp_buf want, buf = BP_BUF_INIT, file;
	struct sink_log log = { .got = BP_BUF_INIT };
	struct bp_sink to_buf = BP_SINK_BUF_INIT(&buf, "memory");
	struct bp_sink to_fn = BP_SINK_FN_INIT(log_write, &log, "callback");
	struct bp_diag d;
	int fd;

	(void)state;
	for (int external = 0; external < 2; external++) {
		o.external = external;
		o.compress = external ? BP_CODEC_GZIP : BP_CODEC_NONE;
		assert_int_equal(bp_fit_build(&o, path_of("path.fit"), NULL, &d), 0);
		want = slurp(path_of("path.fit"));
		/* An fd is written from its offset: here after 5 bytes already there. */
		fd = open(path_of("fd.fit"), O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "head:", 5), 5);
		struct bp_sink to_fd = BP_SINK_FD_INIT(fd, "fd");

		assert_int_equal(bp_fit_build_to(&o, &to_fd, NULL, &d), 0);
		close(fd);
		file = slurp(path_of("fd.fit"));
		assert_int_equal(file.len, want.len + 5);
		assert_memory_equal(file.data, "head:", 5);
		assert_memory_equal(file.data + 5, want.data, want.len);
		/* A buffer is appended to. */
		assert_int_equal(bp_buf_append(&buf, "xy", 2), 0);
		assert_int_equal(bp_fit_build_to(&o, &to_buf, NULL, &d), 0);
		assert_int_equal(buf.len, want.len + 2);
		assert_memory_equal(buf.data + 2, want.data, want.len);
		assert_int_equal(bp_fit_build_to(&o, &to_fn, NULL, &d), 0);
		assert_int_equal(log.got.len, want.len);
		assert_memory_equal(log.got.data, want.data, want.len);
		buf.len = log.got.len = 0;
		bp_buf_free(&want);
		bp_buf_free(&file);
	}
	bp_buf_free(&buf);
	bp_buf_free(&log.got);
}

/* A callback's error is returned as is; a buffer is left as it was on failure. */
static void test_build_sink_errors(void **state)
{
	const char *dtbs[] = { path_of("a.dtb"), path_of("junk.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);
	struct sink_log log = { .got = BP_BUF_INIT, .fail_at = 1, .err = BP_ERR_NOMEM };
	struct bp_sink to_fn = BP_SINK_FN_INIT(log_write, &log, "callback");
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink to_buf = BP_SINK_BUF_INIT(&buf, "memory");
	struct bp_diag d;
	int pipefd[2];

	(void)state;
	assert_int_equal(bp_fit_build_to(&o, &to_fn, NULL, &d), BP_ERR_NOMEM);
	assert_string_equal(d.path, "callback");
	assert_non_null(strstr(d.msg, "the output callback failed"));
	log.err = 42;   /* not a BP_ERR_*: reported as an I/O error */
	log.calls = 0;
	assert_int_equal(bp_fit_build_to(&o, &to_fn, NULL, &d), BP_ERR_IO);
	o.n_dtbs = 2;   /* junk.dtb fails the build after the buffer got "keep" */
	assert_int_equal(bp_buf_append(&buf, "keep", 4), 0);
	assert_int_equal(bp_fit_build_to(&o, &to_buf, NULL, &d), BP_ERR_FORMAT);
	assert_int_equal(buf.len, 4);
	bp_buf_free(&buf);
	/* A pipe cannot take the patches: refused before anything is written. */
	o.n_dtbs = 1;
	assert_int_equal(pipe(pipefd), 0);
	struct bp_sink to_pipe = BP_SINK_FD_INIT(pipefd[1], "pipe");

	assert_int_equal(bp_fit_build_to(&o, &to_pipe, NULL, &d), BP_ERR_IO);
	assert_non_null(strstr(d.msg, "cannot write a FIT to a pipe"));
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &log, 1), 0);
	close(pipefd[0]);
	bp_buf_free(&log.got);
}

/* Size fields: too small is a caller bug, unknown bytes set are refused, zero tail is fine. */
static void test_build_size_fields(void **state)
{
	const char *dtbs[] = { path_of("a.dtb") };
	struct {
		struct bp_fit_build_opts o;
		uint64_t newer_field;
	} big = { .o = base_opts(dtbs, 1) };
	struct {
		struct bp_fit_build_stats st;
		uint64_t newer_field;
	} stats = { .st = BP_FIT_BUILD_STATS_INIT, .newer_field = 77 };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);
	struct bp_fit_build_stats small = BP_FIT_BUILD_STATS_INIT;
	struct bp_sink s = BP_SINK_PATH_INIT(path_of("size.fit"));
	struct bp_diag d;

	(void)state;
	o.size = sizeof(size_t);
	assert_int_equal(bp_fit_build(&o, path_of("size.fit"), NULL, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "bp_fit_build_opts: size 8 is smaller than its first"));
	o.size = 0;
	assert_int_equal(bp_fit_build(&o, path_of("size.fit"), NULL, &d), BP_ERR_INVALID);
	o.size = sizeof(o);
	small.size = 16;
	assert_int_equal(bp_fit_build(&o, path_of("size.fit"), &small, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "bp_fit_build_stats"));
	big.o.size = sizeof(big);
	big.newer_field = 1;
	assert_int_equal(bp_fit_build(&big.o, path_of("size.fit"), NULL, &d), BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "option field unknown to this library version"));
	big.newer_field = 0;
	stats.st.size = sizeof(stats);
	assert_int_equal(bp_fit_build(&big.o, path_of("size.fit"), &stats.st, &d), 0);
	/* Filled as far as this library knows; the rest is the caller's. */
	assert_int_equal(stats.st.size, sizeof(stats));
	assert_int_equal(stats.st.n_configs, 1);
	assert_int_equal(stats.newer_field, 77);
	s.size = 4;
	assert_int_equal(bp_fit_build_to(&o, &s, NULL, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "bp_sink"));
}

/* A library starts no threads unless asked. */
static void test_library_jobs_default(void **state)
{
	(void)state;
	assert_int_equal(bpi_jobs_threads(0), 1);
	assert_int_equal(bpi_jobs_threads(3), 3);
}

/* An empty kernel cannot boot: refused, nothing written. */
static void test_empty_kernel(void **state)
{
	const char *dtbs[] = { path_of("a.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);

	(void)state;
	write_bytes("empty", "", 0);
	o.kernel = path_of("empty");
	expect_failure(&o, path_of("empty.fit"), BP_ERR_FORMAT, path_of("empty"),
		       "kernel is empty: U-Boot cannot boot it");
}

/* Extracting to a buffer, an fd and a callback gives the bytes of a file; fd input too. */
static void test_extract_outputs(void **state)
{
	const char *dtbs[] = { path_of("a.dtb") };
	struct bp_fit_build_opts o = base_opts(dtbs, 1);
	struct bp_fit_extract_opts eo = BP_FIT_EXTRACT_OPTS_INIT;
	struct bp_buf want, buf = BP_BUF_INIT, file;
	struct sink_log log = { .got = BP_BUF_INIT, .fail_at = 1, .err = BP_ERR_CODEC };
	struct bp_sink to_buf = BP_SINK_BUF_INIT(&buf, "memory");
	struct bp_sink to_fn = BP_SINK_FN_INIT(log_write, &log, "callback");
	struct bp_fit *fit;
	struct bp_diag d;
	uint64_t written = 0;
	int fd, pipefd[2];

	(void)state;
	o.compress = BP_CODEC_ZSTD;
	assert_int_equal(bp_fit_build(&o, path_of("x.fit"), NULL, &d), 0);
	fd = open(path_of("x.fit"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(bp_fit_open_fd(fd, "x.fit", &fit, &d), 0);
	close(fd);
	assert_int_equal(bp_fit_extract(fit, 0, &eo, path_of("x.img"), NULL, &d), 0);
	want = slurp(path_of("x.img"));
	file = slurp(path_of("Image"));
	assert_int_equal(file.len, want.len);
	assert_memory_equal(want.data, file.data, want.len);
	bp_buf_free(&file);
	assert_int_equal(bp_fit_extract_to(fit, 0, &eo, &to_buf, &written, &d), 0);
	assert_int_equal(written, want.len);
	assert_int_equal(buf.len, want.len);
	assert_memory_equal(buf.data, want.data, want.len);
	/* An fd may be a pipe: nothing is patched. */
	assert_int_equal(pipe(pipefd), 0);
	struct bp_sink to_pipe = BP_SINK_FD_INIT(pipefd[1], "pipe");

	eo.raw = true;
	assert_int_equal(bp_fit_extract_to(fit, 1, &eo, &to_pipe, &written, &d), 0);
	close(pipefd[1]);
	/* Raw: the stored (zstd) bytes of fdt-1. */
	const struct bp_fit_image *im = bp_fit_image_at(fit, 1);

	assert_string_equal(im->name, "fdt-1");
	assert_int_equal(written, im->data_size);
	bp_buf_free(&buf);
	assert_int_equal(bp_buf_reserve(&buf, im->data_size + 1), 0);
	assert_int_equal(read(pipefd[0], buf.data, im->data_size + 1), (ssize_t)im->data_size);
	assert_memory_equal(buf.data, im->data, im->data_size);
	close(pipefd[0]);
	assert_int_equal(bp_fit_extract_to(fit, 0, NULL, &to_fn, NULL, &d), BP_ERR_CODEC);
	eo.size = 3;
	assert_int_equal(bp_fit_extract(fit, 0, &eo, path_of("x.img"), NULL, &d), BP_ERR_INVALID);
	bp_fit_close(fit);
	bp_buf_free(&want);
	bp_buf_free(&buf);
	bp_buf_free(&log.got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_matches_make_fit),
		cmocka_unit_test(test_external_layout),
		cmocka_unit_test(test_compressed_round_trip),
		cmocka_unit_test(test_same_bytes_any_thread_count),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_existing_output_untouched),
		cmocka_unit_test(test_decompose),
		cmocka_unit_test(test_build_outputs_same_bytes),
		cmocka_unit_test(test_build_sink_errors),
		cmocka_unit_test(test_build_size_fields),
		cmocka_unit_test(test_empty_kernel),
		cmocka_unit_test(test_library_jobs_default),
		cmocka_unit_test(test_extract_outputs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
