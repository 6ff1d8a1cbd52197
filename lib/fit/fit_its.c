// SPDX-License-Identifier: MIT
/*
 * bp_fit_build_its(): mkimage 2023.01 -f in one pass.
 *
 * mkimage runs dtc, packs the tree, then sets the timestamp, every hash
 * and every signature with libfdt, starting over with 1 KiB more room each
 * time the tree runs out of it (and giving up at 64 KiB), and last, with -E,
 * moves the data after the tree. Here dtc's output is mapped, the changes
 * are planned in mkimage's order by the signing planner (fit_sign_plan.c,
 * .its mode), and the tree is written once: its totalsize is the one
 * mkimage's retries end at (the packed tree plus the first whole KiB
 * that holds the additions), with no 64 KiB ceiling.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>

#include <bootpack/fit.h>
#include <bootpack/sign.h>

#include "fit_internal.h"
#include "fit_its.h"
#include "fit_sign.h"
#include "util/esc.h"
#include "util/util.h"

#define DTC_DEFAULT_OPTS "-I dts -O dtb -p 500"
#define DTC_TIMEOUT 600
#define GROW_STEP 1024u

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_its_opts, ctx);

struct its {
	struct bp_fit_its_opts o;
	const char *path, *out_path;
	char **argv;               /* dtc's command line */
	size_t argc;
	struct bpi_its_paths paths;
	char *tmp;                 /* dtc's output file, removed once mapped */
	const uint8_t *map;
	size_t map_len;
	uint64_t incbin_bytes;
	struct bpi_its_incbins ib; /* "data = /incbin/(...);" read by bootpack, not dtc */
	char *src_tmp;             /* the source with those replaced by markers */
	struct sg_subst *sub;      /* their files, mapped */
	struct sg_subst_tab tab;
	struct sg_its sg;
	struct bp_diag *d;
};

static int push_arg(struct its *t, const char *a, size_t n)
{
	char **v = realloc(t->argv, (t->argc + 2) * sizeof(*v));

	if (!v)
		return BP_ERR_NOMEM;
	t->argv = v;
	v[t->argc] = strndup(a, n);
	if (!v[t->argc])
		return BP_ERR_NOMEM;
	v[++t->argc] = NULL;
	return 0;
}

/* A path dtc must not take for an option: "-x.its" is passed as "./-x.its". */
static int push_path(struct its *t, const char *path)
{
	size_t n = strlen(path);
	char *p;
	int ret;

	if (path[0] != '-')
		return push_arg(t, path, n);
	p = malloc(n + 3);
	if (!p)
		return BP_ERR_NOMEM;
	memcpy(p, "./", 2);
	memcpy(p + 2, path, n + 1);
	ret = push_arg(t, p, n + 2);
	free(p);
	return ret;
}

/* Put @path (as push_path() would) at argv[@i], the last slot. */
static int push_path_at(struct its *t, size_t i, const char *path)
{
	t->argc = i;
	return push_path(t, path);
}

/* dtc OPTS -o TMP ITS, as mkimage's system() runs it (OPTS split at blanks), and OPTS' -i dirs. */
static int command_line(struct its *t)
{
	const char *q = t->o.dtc_opts ? t->o.dtc_opts : DTC_DEFAULT_OPTS;
	int ret = push_arg(t, t->o.dtc ? t->o.dtc : "dtc", strlen(t->o.dtc ? t->o.dtc : "dtc"));

	while (!ret && *q) {
		size_t n = strcspn(q, " \t\n");

		if (n)
			ret = push_arg(t, q, n);
		q += n;
		q += strspn(q, " \t\n");
	}
	for (size_t i = 1; !ret && i < t->argc; i++) {
		const char *a = t->argv[i], *dir = NULL;

		if ((!strcmp(a, "-i") || !strcmp(a, "--include")) && i + 1 < t->argc)
			dir = t->argv[++i];
		else if (!strncmp(a, "-i", 2))
			dir = a + 2;
		else if (!strncmp(a, "--include=", 10))
			dir = a + 10;
		if (dir) {
			char **v = realloc(t->paths.include, (t->paths.n_include + 1) * sizeof(*v));

			if (!v)
				return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
			t->paths.include = v;
			v[t->paths.n_include++] = (char *)dir;
		}
	}
	if (!ret)
		ret = push_arg(t, "-o", 2);
	if (!ret)
		ret = push_path(t, t->tmp);
	if (!ret)
		ret = push_path(t, t->path);
	return ret ? bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory") : 0;
}

/* A private file next to the output for dtc to write (same file system, like mkimage's .tmp). */
static int make_tmp(struct its *t)
{
	const char *slash = strrchr(t->out_path, '/');
	size_t dlen = slash ? (size_t)(slash - t->out_path) + 1 : 0;
	int fd;

	t->tmp = malloc(dlen + 32);
	if (!t->tmp)
		return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	memcpy(t->tmp, t->out_path, dlen);
	memcpy(t->tmp + dlen, ".bootpack-dtc-XXXXXX", sizeof(".bootpack-dtc-XXXXXX"));
	fd = mkstemp(t->tmp);
	if (fd < 0) {
		int e = errno;

		free(t->tmp);
		t->tmp = NULL;
		return bp_diag_set(t->d, BP_ERR_IO, t->out_path, "cannot create a file next to it: "
				   "%s", strerror(e));
	}
	close(fd);
	return 0;
}

/* dtc's memory: it holds each /incbin/ file a few times over while it builds the blob. */
static uint64_t dtc_mem_max(uint64_t incbin)
{
	return ((uint64_t)1 << 30) + incbin * 6;
}

/* dtc's lines name the source it was given: the original's name, not the marked copy's. */
static void pass_msg(void *ctx, const char *line)
{
	const struct its *t = ctx;
	const char *from = t->src_tmp, *hit = from ? strstr(line, from) : NULL;
	char buf[8192];

	if (!t->o.dtc_message)
		return;
	if (!hit) {
		t->o.dtc_message(t->o.ctx, line);
		return;
	}
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(hit - line), line, t->path,
		 hit + strlen(from));
	t->o.dtc_message(t->o.ctx, buf);
}

/*
 * Whole-value "data = /incbin/(FILE);" properties are compiled as a
 * 16-byte marker and their files read by bootpack, mapped, where dtc would
 * read them into memory twice over and write them out again: the tree is
 * the same, dtc's time and memory shrink to the tree's. Files found as dtc
 * finds them (fit_its_scan.c). Only for dtc's usual dts-to-dtb run; the
 * marked copy sits next to the source, so relative paths resolve alike.
 */
static bool can_mark(const struct its *t)
{
	const char *o = t->o.dtc_opts;

	return !o || (strstr(o, "-I dts") && strstr(o, "-O dtb"));
}

static int write_marked(struct its *t, int fd)
{
	struct bp_buf text = BP_BUF_INIT, out = BP_BUF_INIT;
	size_t prev = 0;
	int ret = bpi_read_file(t->path, (uint64_t)64 << 20, &text, t->d);
	char hex[BPI_SG_MARK_LEN * 3 + 3];
	uint8_t mark[BPI_SG_MARK_LEN];

	for (size_t i = 0; !ret && i < t->ib.n; i++) {
		const struct bpi_its_incbin *x = &t->ib.v[i];
		size_t at = 1;

		bpi_sg_mark(mark, (uint32_t)i);
		hex[0] = '[';
		for (size_t k = 0; k < sizeof(mark); k++)
			at += (size_t)snprintf(hex + at, sizeof(hex) - at, k ? " %02x" : "%02x",
					       mark[k]);
		hex[at++] = ']';
		if (x->start < prev || x->end > text.len ||
		    bp_buf_append(&out, text.data + prev, x->start - prev) ||
		    bp_buf_append(&out, hex, at))
			ret = bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
		prev = x->end;
	}
	if (!ret && bp_buf_append(&out, text.data + prev, text.len - prev))
		ret = bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	if (!ret && write(fd, out.data, out.len) != (ssize_t)out.len)
		ret = bp_diag_set(t->d, BP_ERR_IO, t->path, "cannot write its marked copy: %s",
				  strerror(errno));
	bp_buf_free(&text);
	bp_buf_free(&out);
	return ret;
}

static int mark_source(struct its *t)
{
	const char *slash = strrchr(t->path, '/');
	size_t dlen = slash ? (size_t)(slash - t->path) + 1 : 0;
	char *name = malloc(dlen + 40);
	int fd, ret;

	if (!name)
		return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	memcpy(name, t->path, dlen);
	memcpy(name + dlen, ".bootpack-its-XXXXXX", sizeof(".bootpack-its-XXXXXX"));
	fd = mkstemp(name);
	if (fd < 0) {
		/* A directory bootpack cannot write to: dtc reads the files itself. */
		free(name);
		bpi_its_incbins_free(&t->ib);
		return 0;
	}
	t->src_tmp = name;
	ret = write_marked(t, fd);
	close(fd);
	if (!ret) {
		free(t->argv[t->argc - 1]);
		if (push_path_at(t, t->argc - 1, name))
			ret = bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	}
	return ret;
}

static int run_dtc(struct its *t)
{
	return bpi_its_run_dtc(t->argv, t->path, dtc_mem_max(t->incbin_bytes),
			       t->o.dtc_timeout ? t->o.dtc_timeout : DTC_TIMEOUT, pass_msg, t, t->d);
}

static int map_incbins(struct its *t)
{
	t->sub = calloc(t->ib.n + 1, sizeof(*t->sub));
	if (!t->sub)
		return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	for (size_t i = 0; i < t->ib.n; i++) {
		const uint8_t *p = NULL;
		size_t len = 0;
		struct bp_diag md;
		int ret = bpi_map_file(t->ib.v[i].path, BPI_ITS_DATA_MAX, &p, &len, &md);

		if (ret == BP_ERR_UNSUPPORTED) {
			/* An empty file has nothing to map; anything else changed since the scan. */
			struct stat st;

			if (!stat(t->ib.v[i].path, &st) && S_ISREG(st.st_mode) && !st.st_size)
				ret = 0;
			else
				snprintf(md.msg, sizeof(md.msg), "not a regular file any more");
		}
		if (ret)
			return bp_diag_set(t->d, ret, t->path, "/incbin/(\"%s\"): %s",
					   BPI_ESC(t->ib.v[i].path), md.msg);
		t->sub[i] = (struct sg_subst){ p ? p : (const uint8_t *)"", len };
	}
	t->tab = (struct sg_subst_tab){ t->sub, t->ib.n };
	return 0;
}

static int compile(struct its *t)
{
	int ret = make_tmp(t);

	if (!ret)
		ret = command_line(t);
	if (!ret)
		ret = bpi_its_scan(t->path, &t->paths, &t->incbin_bytes,
				   can_mark(t) ? &t->ib : NULL, t->d);
	if (!ret && t->ib.n)
		ret = mark_source(t);
	if (!ret)
		ret = run_dtc(t);
	if (ret && t->src_tmp) {
		/* The error as dtc gives it on the source itself, line numbers and all. */
		struct bp_diag first = *t->d;

		unlink(t->src_tmp);
		free(t->argv[t->argc - 1]);
		if (push_path_at(t, t->argc - 1, t->path) || !run_dtc(t))
			*t->d = first;
	}
	if (t->src_tmp) {
		unlink(t->src_tmp);
		free(t->src_tmp);
		t->src_tmp = NULL;
	}
	if (!ret) {
		struct bp_diag md;

		ret = bpi_map_file(t->tmp, BP_FIT_READ_MAX, &t->map, &t->map_len, &md);
		if (ret)
			ret = bp_diag_set(t->d, ret, t->path, "dtc's output: %s", md.msg);
	}
	if (t->tmp) {
		unlink(t->tmp);
		free(t->tmp);
		t->tmp = NULL;
	}
	if (!ret && t->ib.n)
		ret = map_incbins(t);
	return ret;
}

/* ---- What mkimage leaves for U-Boot to trip over, refused here ---- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every image name a configuration lists is one of @names (@n, sorted): one lookup each. */
static int check_refs(struct its *t, int conf, const char **names, size_t n)
{
	const void *fdt = t->map;

	for (size_t i = 0; i < BPI_FIT_N_IMAGE_PROPS; i++) {
		const char *prop = bpi_fit_image_props[i];
		int count = fdt_stringlist_count(fdt, conf, prop);

		for (int k = 0; k < count; k++) {
			const char *name = fdt_stringlist_get(fdt, conf, prop, k, NULL);

			if (name && !bsearch(&name, names, n, sizeof(*names), cmp_name))
				return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "/configurations/%s: "
						   "%s '%s' is not an image in /images",
						   BPI_ESC(fdt_get_name(fdt, conf, NULL)), prop,
						   BPI_ESC(name));
		}
	}
	return 0;
}

static int check_configs(struct its *t, int images, int confs)
{
	const void *fdt = t->map;
	const char **names = NULL;
	size_t n = 0, cap = 0;
	int node, ret = 0;

	fdt_for_each_subnode(node, fdt, images) {
		if (n == cap) {
			const char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				free(names);
				return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
			}
			names = v;
		}
		names[n++] = fdt_get_name(fdt, node, NULL);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	fdt_for_each_subnode(node, fdt, confs) {
		ret = check_refs(t, node, names, n);
		if (ret)
			break;
	}
	free(names);
	return ret;
}

static int check_tree(struct its *t)
{
	const void *fdt = t->map;
	int ret = bpi_fdt_check(t->map, t->map_len, t->path, t->d);
	int images, confs, node, len;
	const char *def;

	if (ret)
		return ret;
	images = fdt_path_offset(fdt, "/images");
	if (images < 0)
		return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "no /images node: not a FIT source");
	fdt_for_each_subnode(node, fdt, images)
		if (!fdt_getprop(fdt, node, "data", NULL))
			return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "/images/%s has no 'data' "
					   "(data = /incbin/(\"FILE\");)",
					   BPI_ESC(fdt_get_name(fdt, node, NULL)));
	confs = fdt_path_offset(fdt, "/configurations");
	if (confs < 0)
		return 0;
	ret = check_configs(t, images, confs);
	if (ret)
		return ret;
	def = fdt_getprop(fdt, confs, "default", &len);
	if (def && (len <= 0 || def[len - 1] || fdt_subnode_offset(fdt, confs, def) < 0))
		return bp_diag_set(t->d, BP_ERR_FORMAT, t->path, "/configurations: default '%s' is "
				   "not a configuration", def && len > 0 && !def[len - 1] ?
				   BPI_ESC(def) : "?");
	return 0;
}

/* ---- The output ---- */

/* mkimage's size: the packed tree grown by whole KiB until the additions fit. */
static uint64_t embedded_total(const struct sg_plan *p)
{
	uint64_t packed = (uint64_t)((int64_t)fdt_off_dt_strings(p->file) +
				     fdt_size_dt_strings(p->file) + p->tree.subst_growth);
	uint64_t used = p->tree.blob.len + p->tree.data_bytes;

	return used <= packed ? packed : packed + BPI_ALIGN_UP(used - packed, GROW_STEP);
}

static int write_external(struct its *t, struct sg_plan *p, struct bpi_output *out)
{
	uint64_t align = t->sg.align;
	uint64_t total = BPI_ALIGN_UP((uint64_t)p->tree.blob.len, align), at = total;
	int ret;

	if (t->o.position) {
		if (t->o.position < total)
			return bp_diag_set(t->d, BP_ERR_INVALID, t->path, "external data position "
					   "0x%x overlaps the tree (0x%llx bytes)", t->o.position,
					   (unsigned long long)total);
		at = t->o.position;
	}
	ret = bpi_sg_tree_write(&p->tree, (uint32_t)total, NULL, 0, true, out, t->d);
	if (!ret && at > total)
		ret = bpi_output_zero(out, (size_t)(at - total), t->d);
	for (size_t i = 0; !ret && i < p->tree.n_ext; i++) {
		const struct sg_data *x = &p->tree.ext[i];

		ret = bpi_sg_write_mapped(out, x->src, x->len, true, t->d);
		if (!ret)
			ret = bpi_output_zero(out, BPI_ALIGN_UP(x->len, align) - x->len, t->d);
		at += BPI_ALIGN_UP(x->len, align);
	}
	p->sizes[0] = at;
	p->sizes[1] = total;
	return ret;
}

static int write_fit(struct its *t, struct sg_plan *p, struct bpi_output *out)
{
	uint64_t total;

	if (t->o.external)
		return write_external(t, p, out);
	total = embedded_total(p);
	if (total > INT32_MAX)
		return bp_diag_set(t->d, BP_ERR_TOOBIG, t->path, "the FIT would pass 2 GiB: "
				   "store the data externally (-E)");
	p->sizes[0] = p->sizes[1] = total;
	return bpi_sg_tree_write(&p->tree, (uint32_t)total, NULL, 0, true, out, t->d);
}

/* mkimage -K: each key once, in the order first used; "required" as the last use says. */
static int add_keys(struct its *t, const char *dest)
{
	for (size_t i = 0; i < t->sg.n_keys; i++) {
		const struct sg_its_key *k = &t->sg.keys[i];
		struct bp_fit_key_add_opts ko = BP_FIT_KEY_ADD_OPTS_INIT;
		int ret;

		ko.key_name = k->name;
		ko.algo = k->algo;
		if (t->o.required)
			ko.required = k->conf ? BP_KEY_REQUIRED_CONF : BP_KEY_REQUIRED_IMAGE;
		ret = bp_fit_key_add(t->o.key_out, k->k, &ko, dest, t->d);
		if (ret)
			return ret;
	}
	return 0;
}

static int build(struct its *t, struct bp_fit_build_stats *st)
{
	struct bp_fit_sign_opts so = BP_FIT_SIGN_OPTS_INIT;
	struct sg_plan p = { .file = t->map, .len = t->map_len, .path = t->path, .d = t->d,
			     .mapped = true, .its = &t->sg, .subst = t->ib.n ? &t->tab : NULL,
			     .st = BP_FIT_SIGN_STATS_INIT };
	struct bp_fit_build_stats s = BP_FIT_BUILD_STATS_INIT;
	struct bpi_output out;
	int ret;

	so.has_timestamp = true;
	so.timestamp = t->o.timestamp;
	so.jobs = t->o.jobs;
	t->sg = (struct sg_its){ .keydir = t->o.keydir, .extract = t->o.external,
				 .position = t->o.position,
				 .align = t->o.align ? t->o.align : BP_FIT_EXTERNAL_ALIGN };
	ret = bpi_sg_run(&p, &so);
	if (!ret && t->o.key_out)
		ret = add_keys(t, "/dev/null");
	if (!ret)
		ret = bpi_output_open(&out, t->out_path, t->d);
	if (!ret) {
		ret = write_fit(t, &p, &out);
		if (ret)
			bpi_output_abort(&out);
		else
			ret = bpi_output_commit(&out, t->d);
	}
	if (!ret && t->o.key_out)
		ret = add_keys(t, t->o.key_out);
	if (!ret && st) {
		int confs = fdt_path_offset(t->map, "/configurations"), c;

		s.n_files = p.n_img;
		if (confs >= 0)
			fdt_for_each_subnode(c, t->map, confs)
				s.n_configs++;
		s.input_bytes = t->incbin_bytes;
		s.fit_size = p.sizes[0];
		s.fdt_size = p.sizes[1];
		bpi_struct_out(st, &s, sizeof(s));
	}
	bpi_sg_release(&p);
	for (size_t i = 0; i < t->sg.n_keys; i++) {
		free(t->sg.keys[i].name);
		bp_key_close(t->sg.keys[i].k);
	}
	free(t->sg.keys);
	return ret;
}

int bp_fit_build_its(const char *its, const struct bp_fit_its_opts *o, const char *out_path,
		     struct bp_fit_build_stats *st, struct bp_diag *d)
{
	struct its t = { .path = its, .out_path = out_path, .d = d };
	int ret;

	bp_diag_clear(d);
	if (!its || !out_path)
		return bp_diag_set(d, BP_ERR_INVALID, "", "the .its and output paths are required");
	ret = BPI_STRUCT_IN(&t.o, opts_v1, o, "bp_fit_its_opts", d);
	if (!ret && t.o.align && (t.o.align < 4 || (t.o.align & (t.o.align - 1))))
		ret = bp_diag_set(d, BP_ERR_INVALID, "", "external data alignment %u is not a power "
				  "of 2 of at least 4", t.o.align);
	if (!ret)
		ret = bpi_struct_out_check(st, BPI_SIZE_V1(struct bp_fit_build_stats, fdt_size),
					   "bp_fit_build_stats", d);
	if (!ret)
		ret = compile(&t);
	if (!ret)
		ret = check_tree(&t);
	if (!ret)
		ret = build(&t, st);
	for (size_t i = 0; i < t.argc; i++)
		free(t.argv[i]);
	free(t.argv);
	free(t.paths.include);
	bpi_unmap(t.map, t.map_len);
	for (size_t i = 0; t.sub && i < t.ib.n; i++)
		if (t.sub[i].len)
			bpi_unmap(t.sub[i].src, (size_t)t.sub[i].len);
	free(t.sub);
	bpi_its_incbins_free(&t.ib);
	return ret;
}
