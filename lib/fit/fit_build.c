// SPDX-License-Identifier: MIT
/*
 * bp_fit_build(): check the options, gather the inputs (fit_gather.c), check
 * what can be checked before writing, then compress and write
 * (fit_pack.c). Memory stays bounded: the kernel and ramdisk stream from
 * their files, DTBs are read when gathered (for their model and
 * compatible), dropped, and read again a batch at a time for compression.
 */
#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit_build.h"
#include "fit_sign.h"
#include "util/esc.h"
#include "util/util.h"

void bpi_first_failure_init(struct first_failure *f)
{
	pthread_mutex_init(&f->lock, NULL);
	f->index = SIZE_MAX;
	f->diag.path[0] = f->diag.msg[0] = '\0';
}

int bpi_first_failure_note(struct first_failure *f, size_t index, int ret,
			   const struct bp_diag *d)
{
	pthread_mutex_lock(&f->lock);
	if (index < f->index) {
		f->index = index;
		f->diag = *d;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* Hand the recorded failure to the caller's @d and free @f. */
int bpi_first_failure_report(struct first_failure *f, int ret, struct bp_diag *d)
{
	if (ret && f->index != SIZE_MAX) {
		if (d)
			*d = f->diag;
	} else if (ret) {
		bp_diag_set(d, ret, "", "%s", bp_strerror(ret));
	}
	pthread_mutex_destroy(&f->lock);
	return ret;
}

static bool same_file(const struct stat *a, const char *path)
{
	struct stat b;

	return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/*
 * Renaming over an input, or writing into it, would destroy it: refuse, as
 * inputs are never modified.
 */
static int check_output_is_not_input(const struct build *b, const struct bp_sink *s)
{
	const struct bp_fit_build_opts *o = b->o;
	const char *hit = NULL, *out_path = s->name ? s->name : "output";
	struct stat out;

	if (s->kind == BP_SINK_PATH ? stat(s->name, &out) < 0 :
	    s->kind != BP_SINK_FD || fstat(s->fd, &out) < 0)
		return 0;
	for (size_t i = 0; i < b->n_img && !hit; i++)
		if (same_file(&out, b->img[i].path))
			hit = b->img[i].path;
	for (size_t i = 0; i < o->n_dtbs && !hit; i++)
		if (same_file(&out, o->dtbs[i]))
			hit = o->dtbs[i];
	if (!hit)
		return 0;
	return bp_diag_set(b->d, BP_ERR_INVALID, out_path,
			   "output is the input file '%s'; refusing to overwrite it", BPI_ESC(hit));
}

/* Configurations are conf-1..conf-N in DTB order, so the name can be checked before writing. */
static int check_default_config(const struct build *b)
{
	const char *name = b->o->default_config, *end;
	unsigned long long n;

	if (!name)
		return 0;
	if (!strncmp(name, "conf-", 5) && name[5] >= '1' && name[5] <= '9') {
		n = strtoull(name + 5, (char **)&end, 10);
		if (!*end && n <= b->n_cfg)
			return 0;
	}
	if (!b->n_cfg)
		return bp_diag_set(b->d, BP_ERR_INVALID, "",
				   "default configuration '%s' does not exist: no DTBs were "
				   "given, so there are no configurations", BPI_ESC(name));
	if (b->n_cfg == 1)
		return bp_diag_set(b->d, BP_ERR_INVALID, "", "default configuration '%s' does "
				   "not exist: this FIT has only conf-1", BPI_ESC(name));
	return bp_diag_set(b->d, BP_ERR_INVALID, "",
			   "default configuration '%s' does not exist: this FIT has conf-1 to "
			   "conf-%zu", BPI_ESC(name), b->n_cfg);
}

static int alloc_hashes(struct build *b)
{
	for (size_t i = 0; i < b->n_img && b->o->n_hashes; i++) {
		b->img[i].hashes = calloc(b->o->n_hashes, sizeof(*b->img[i].hashes));
		if (!b->img[i].hashes)
			return bp_diag_set(b->d, BP_ERR_NOMEM, b->img[i].path, "out of memory");
	}
	return 0;
}

static void release(struct build *b)
{
	for (size_t i = 0; i < b->n_img; i++) {
		if (b->img[i].fd >= 0)
			close(b->img[i].fd);
		bp_buf_free(&b->img[i].input);
		bp_buf_free(&b->img[i].packed);
		free(b->img[i].hashes);
		free(b->img[i].owned_path);
	}
	for (size_t i = 0; i < b->n_cfg; i++) {
		free(b->cfg[i].model);
		free(b->cfg[i].compat);
		free(b->cfg[i].fdts);
	}
	free(b->img);
	free(b->cfg);
}

static int check_opts(const struct bp_fit_build_opts *o, const struct bp_sink *out,
		      struct bp_diag *d)
{
	if (!out->kind || (out->kind == BP_SINK_PATH && !out->name) || !o->name || !o->arch ||
	    !o->os || !o->kernel)
		return bp_diag_set(d, BP_ERR_INVALID, "",
				   "output, name, arch, os and kernel are required");
	if (!bp_codec_name(o->compress))
		return bp_diag_set(d, BP_ERR_INVALID, "", "unknown compression %d",
				   (int)o->compress);
	if (o->level) {
		int min, max, def;

		bp_codec_levels(o->compress, &min, &max, &def);
		if (!max)
			return bp_diag_set(d, BP_ERR_INVALID, "",
					   "a compression level needs a compression (-c)");
		if (o->level < min || o->level > max)
			return bp_diag_set(d, BP_ERR_INVALID, "",
					   "%s level %d is outside %d..%d",
					   bp_codec_name(o->compress), o->level, min, max);
	}
	if (o->n_dtbs && !o->dtbs)
		return bp_diag_set(d, BP_ERR_INVALID, "", "DTB list is NULL");
	for (size_t i = 0; i < o->n_hashes; i++) {
		if (!bp_hash_name(o->hashes[i]))
			return bp_diag_set(d, BP_ERR_INVALID, "", "unknown hash algorithm %d",
					   (int)o->hashes[i]);
		for (size_t j = 0; j < i; j++)
			if (o->hashes[j] == o->hashes[i])
				return bp_diag_set(d, BP_ERR_INVALID, "",
						   "hash algorithm %s given twice",
						   bp_hash_name(o->hashes[i]));
	}
	if (o->has_entry_address && !o->has_load_address)
		return bp_diag_set(d, BP_ERR_INVALID, "",
				   "an entry address needs a load address (kernel_noload images "
				   "run where they lie)");
	/* mkimage's ALIGN() needs a power of two; below 4 U-Boot would misread it. */
	if (o->align && (o->align < 4 || (o->align & (o->align - 1)) || o->align > (1u << 30)))
		return bp_diag_set(d, BP_ERR_INVALID, "",
				   "alignment %u is not a power of two between 4 and 2^30",
				   o->align);
	return 0;
}

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_fit_build_opts, entry_address);
static const size_t stats_v1 = BPI_SIZE_V1(struct bp_fit_build_stats, fdt_size);

/* Gather and write into @to; @out is where the FIT ends up (@to itself unless signing). */
static int build(struct build *b, const struct bp_sink *out, const struct bp_sink *to,
		 struct bp_fit_build_stats *st)
{
	int ret = bpi_fit_gather(b);

	if (!ret)
		ret = check_default_config(b);
	if (!ret)
		ret = check_output_is_not_input(b, out);
	if (!ret)
		ret = alloc_hashes(b);
	if (ret)
		return ret;
	st->n_files = b->n_img;
	st->n_configs = b->n_cfg;
	for (size_t i = 0; i < b->n_img; i++)
		st->input_bytes += b->img[i].input_len;
	return bpi_fit_pack_write(b, to, st);
}

/*
 * Signing while building: the FIT is built in memory (hashes included, so
 * they are not computed again), then signed into the output, so nothing
 * reaches it unless both succeed.
 */
static int build_signed(struct build *b, const struct bp_sink *out, struct bp_fit_build_stats *st)
{
	static const enum bp_hash_algo sha256[] = { BP_HASH_SHA256 };
	struct bp_fit_build_opts *o = (struct bp_fit_build_opts *)b->o;
	struct bp_fit_sign_opts so = BP_FIT_SIGN_OPTS_INIT;
	struct bp_buf mem = BP_BUF_INIT;
	struct bp_sink ms = BP_SINK_BUF_INIT(&mem, out->name);
	struct bpi_output w;
	uint64_t sizes[2];
	int ret;

	/* U-Boot checks a signed configuration's images through their hashes. */
	if (!o->n_hashes) {
		o->hashes = sha256;
		o->n_hashes = 1;
	}
	so.jobs = o->jobs;
	ret = build(b, out, &ms, st);
	if (!ret)
		ret = bpi_output_open_sink(&w, out, false, b->d);
	if (!ret) {
		ret = bpi_fit_sign_mem(mem.data, mem.len, out->name ? out->name : "output",
				       o->sign_key, o->sign_opts ? o->sign_opts : &so, true, false, &w,
				       NULL,
				       sizes, b->d);
		if (ret)
			bpi_output_abort(&w);
		else
			ret = bpi_output_commit(&w, b->d);
	}
	if (!ret) {
		st->fit_size = sizes[0];
		st->fdt_size = sizes[1];
	}
	bp_buf_free(&mem);
	return ret;
}

int bp_fit_build_to(const struct bp_fit_build_opts *opts, const struct bp_sink *out,
		    struct bp_fit_build_stats *st, struct bp_diag *d)
{
	struct bp_fit_build_opts o;
	struct bp_fit_build_stats stats = BP_FIT_BUILD_STATS_INIT;
	struct bp_sink s;
	struct build b = { .o = &o, .d = d };
	int ret;

	bp_diag_clear(d);
	if (!opts)
		return bp_diag_set(d, BP_ERR_INVALID, "", "no build options given");
	ret = BPI_STRUCT_IN(&o, opts_v1, opts, "bp_fit_build_opts", d);
	if (!ret)
		ret = BPI_STRUCT_IN(&s, BPI_SINK_SIZE_V1, out, "bp_sink", d);
	if (!ret)
		ret = bpi_struct_out_check(st, stats_v1, "bp_fit_build_stats", d);
	if (!ret)
		ret = check_opts(&o, &s, d);
	if (!ret)
		ret = o.sign_key ? build_signed(&b, &s, &stats) : build(&b, &s, &s, &stats);
	release(&b);
	if (!ret)
		bpi_struct_out(st, &stats, sizeof(stats));
	return ret;
}

int bp_fit_build(const struct bp_fit_build_opts *o, const char *out_path,
		 struct bp_fit_build_stats *st, struct bp_diag *d)
{
	struct bp_sink s = BP_SINK_PATH_INIT(out_path);

	if (!out_path) {
		bp_diag_clear(d);
		return bp_diag_set(d, BP_ERR_INVALID, "", "output, name, arch, os and kernel are "
				   "required");
	}
	return bp_fit_build_to(o, &s, st, d);
}
