// SPDX-License-Identifier: MIT
/*
 * Writing what fit_gather.c collected, in image order and with bounded
 * memory: the kernel and ramdisk stream from their files through the codec
 * into the writer, DTBs are read again, compressed and hashed a batch at a
 * time on all threads, then written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "codec/codec_impl.h"
#include "fit_build.h"
#include "hash/hasher.h"
#include "util/util.h"

/* Inputs this large are split across all threads where the format allows. */
#define PACK_SPLIT_MIN ((size_t)2 << 20)
/*
 * DTBs compressed together before being written (input bytes): memory stays
 * bounded whatever their count. The first batch is larger when it runs beside
 * a single-threaded kernel, so the other threads stay busy for that long.
 */
#define BATCH_BYTES ((uint64_t)8 << 20)
#define BATCH_BESIDE_STREAM_BYTES ((uint64_t)32 << 20)
#define BATCH_MAX 1024

static bool stored_as_is(const struct build *b, const struct src_image *im)
{
	/* An initrd is stored as given: it is normally compressed already. */
	return im->kind == KIND_RAMDISK || b->o->compress == BP_CODEC_NONE;
}

/* Report a job's failure under its input's name (codec messages carry none). */
static int job_error(const struct src_image *im, int ret, struct bp_diag *d)
{
	char why[BP_DIAG_MSG_MAX];

	if (d->path[0])
		return ret;
	snprintf(why, sizeof(why), "%s", d->msg[0] ? d->msg : bp_strerror(ret));
	return bp_diag_set(d, ret, im->path, "cannot compress: %s", why);
}

/* ---- The kernel and ramdisk: from their file through the codec into the output ---- */

struct file_stream {
	struct bpi_stream s;
	struct src_image *im;
	struct bpi_fit_writer *fw;
	struct bpi_hasher *hashers;
	size_t n_hashers;
	struct bp_buf buf;
};

static int fs_read(struct bpi_stream *s, size_t want, const uint8_t **p, struct bp_diag *d)
{
	struct file_stream *fs = (struct file_stream *)s;
	struct src_image *im = fs->im;
	size_t got = 0;
	ssize_t r;

	if (im->fd < 0) {
		*p = im->input.data + s->done;
		return 0;
	}
	fs->buf.len = 0;
	if (bp_buf_reserve(&fs->buf, want))
		return bp_diag_set(d, BP_ERR_NOMEM, im->path, "out of memory");
	while (got < want) {
		r = read(im->fd, fs->buf.data + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return bp_diag_set(d, BP_ERR_IO, im->path, "cannot read: %s",
					   strerror(errno));
		if (r == 0)
			return bp_diag_set(d, BP_ERR_IO, im->path,
					   "file shrank while bootpack was reading it");
		got += (size_t)r;
	}
	*p = fs->buf.data;
	return 0;
}

static int fs_write(struct bpi_stream *s, const void *p, size_t n, struct bp_diag *d)
{
	struct file_stream *fs = (struct file_stream *)s;
	int ret = 0;

	for (size_t h = 0; h < fs->n_hashers && !ret; h++)
		ret = bpi_hasher_update(&fs->hashers[h], p, n, d);
	return ret ? ret : bpi_fit_writer_data(fs->fw, p, n, d);
}

static int check_at_end(struct src_image *im, struct bp_diag *d)
{
	uint8_t c;
	ssize_t r;

	if (im->fd < 0)
		return 0;
	do
		r = read(im->fd, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return bp_diag_set(d, BP_ERR_IO, im->path, "cannot read: %s", strerror(errno));
	if (r > 0)
		return bp_diag_set(d, BP_ERR_IO, im->path,
				   "file grew while bootpack was reading it");
	return 0;
}

/*
 * Whether a large image is compressed over all threads: gzip chunks, zstd
 * workers, lz4 and lzop blocks. bzip2 and lzma run single-threaded.
 */
static bool split_stream(const struct build *b, const struct src_image *im)
{
	enum bp_codec c = b->o->compress;

	return !stored_as_is(b, im) && im->input_len >= PACK_SPLIT_MIN &&
	       (c == BP_CODEC_GZIP || c == BP_CODEC_ZSTD || c == BP_CODEC_LZ4 ||
		c == BP_CODEC_LZO);
}

static int stream_image(struct build *b, struct bpi_fit_writer *fw, struct src_image *im,
			struct bp_diag *d)
{
	bool as_is = stored_as_is(b, im);
	struct file_stream fs = {
		.s = { .read = fs_read, .write = fs_write, .size = im->input_len,
		       .level = as_is ? 0 : b->o->level, .split = split_stream(b, im),
		       .threads = b->o->jobs },
		.im = im,
		.fw = fw,
	};
	int ret = 0;

	bp_diag_clear(d);
	fs.hashers = calloc(b->o->n_hashes + 1, sizeof(*fs.hashers));
	if (!fs.hashers)
		return bp_diag_set(d, BP_ERR_NOMEM, im->path, "out of memory");
	for (; fs.n_hashers < b->o->n_hashes && !ret; fs.n_hashers++)
		ret = bpi_hasher_init(&fs.hashers[fs.n_hashers], b->o->hashes[fs.n_hashers], d);
	if (!ret)
		ret = bpi_fit_writer_begin(fw, d);
	if (!ret)
		ret = bpi_compress_stream(as_is ? BP_CODEC_NONE : b->o->compress, &fs.s, d);
	if (!ret)
		ret = check_at_end(im, d);
	for (size_t h = 0; h < fs.n_hashers; h++) {
		if (!ret)
			ret = bpi_hasher_final(&fs.hashers[h], im->hashes[h], d);
		bpi_hasher_free(&fs.hashers[h]);
	}
	if (!ret)
		ret = bpi_fit_writer_end(fw, (const uint8_t (*)[BP_HASH_MAX_LEN])im->hashes, d);
	free(fs.hashers);
	bp_buf_free(&fs.buf);
	return ret ? job_error(im, ret, d) : 0;
}

/* ---- DTBs: read again, compressed and hashed in memory, a batch at a time ---- */

static int pack_fdt(struct build *b, struct src_image *im, struct bp_diag *d)
{
	struct bp_buf input = BP_BUF_INIT;
	int ret;

	bp_diag_clear(d);
	ret = bpi_read_file(im->path, BPI_FIT_INPUT_MAX, &input, d);

	if (!ret && (input.len != im->input_len ||
		     XXH3_64bits(input.data, input.len) != im->input_sum))
		ret = bp_diag_set(d, BP_ERR_IO, im->path,
				  "file changed while bootpack was reading it");
	if (!ret && stored_as_is(b, im)) {
		im->packed = input;
		input = (struct bp_buf)BP_BUF_INIT;
	} else if (!ret) {
		ret = bp_compress_level(b->o->compress, b->o->level, input.data, input.len,
					&im->packed, d);
	}
	bp_buf_free(&input);
	/* Hash values cover the stored bytes, compressed or not, as in mkimage. */
	for (size_t h = 0; h < b->o->n_hashes && !ret; h++)
		ret = bp_hash(b->o->hashes[h], im->packed.data, im->packed.len, im->hashes[h], d);
	return ret ? job_error(im, ret, d) : 0;
}

struct pass {
	struct build *b;
	struct bpi_fit_writer *fw;
	size_t first, n;          /* the DTB batch: images [first, first + n) */
	size_t n_streams;         /* job 0 streams images [0, n_streams) first */
	struct first_failure fail;
};

static int pass_job(void *ctx, size_t i)
{
	struct pass *p = ctx;
	struct bp_diag d;
	int ret = 0;

	if (p->n_streams && i == 0) {
		for (size_t k = 0; k < p->n_streams && !ret; k++)
			ret = stream_image(p->b, p->fw, &p->b->img[k], &d);
	} else {
		ret = pack_fdt(p->b, &p->b->img[p->first + i - (p->n_streams ? 1 : 0)], &d);
	}
	return ret ? bpi_first_failure_note(&p->fail, i, ret, &d) : 0;
}

static size_t batch_end(const struct build *b, size_t first, uint64_t budget)
{
	uint64_t bytes = 0;
	size_t i = first;

	while (i < b->n_img && i - first < BATCH_MAX && bytes < budget)
		bytes += b->img[i++].input_len;
	return i;
}

static int write_batch(struct build *b, struct bpi_fit_writer *fw, size_t first, size_t end)
{
	int ret = 0;

	for (size_t i = first; i < end; i++) {
		struct src_image *im = &b->img[i];

		if (!ret)
			ret = bpi_fit_writer_begin(fw, b->d);
		if (!ret)
			ret = bpi_fit_writer_data(fw, im->packed.data, im->packed.len, b->d);
		if (!ret)
			ret = bpi_fit_writer_end(fw, (const uint8_t (*)[BP_HASH_MAX_LEN])im->hashes,
						 b->d);
		bp_buf_free(&im->packed);
	}
	return ret;
}

/*
 * Images go out in order. The kernel and ramdisk come first; when the codec
 * splits the kernel across all threads, or only copies it, it runs alone,
 * otherwise one thread streams it while the others compress the first DTB
 * batch.
 */
static int pack_and_write(struct build *b, struct bpi_fit_writer *fw)
{
	size_t n_streams = 0, first, end;
	bool alone = b->o->compress == BP_CODEC_NONE, pending;
	int ret = 0;

	while (n_streams < b->n_img && b->img[n_streams].kind != KIND_FDT)
		alone |= split_stream(b, &b->img[n_streams++]);
	for (size_t k = 0; alone && k < n_streams && !ret; k++) {
		struct bp_diag d;

		ret = stream_image(b, fw, &b->img[k], &d);
		if (ret && b->d)
			*b->d = d;
	}
	/* Streams not run alone ride along with the first batch, even an empty one. */
	pending = n_streams && !alone;
	for (first = n_streams; !ret && (first < b->n_img || pending); first = end) {
		struct pass p = { .b = b, .fw = fw, .first = first };

		end = batch_end(b, first, pending ? BATCH_BESIDE_STREAM_BYTES : BATCH_BYTES);
		p.n = end - first;
		p.n_streams = pending ? n_streams : 0;
		pending = false;
		bpi_first_failure_init(&p.fail);
		ret = bpi_jobs_run(p.n + (p.n_streams ? 1 : 0), b->o->jobs, pass_job, &p);
		ret = bpi_first_failure_report(&p.fail, ret, b->d);
		if (!ret)
			ret = write_batch(b, fw, first, end);
		for (size_t i = first; i < end; i++)
			bp_buf_free(&b->img[i].packed);
	}
	return ret;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void describe(const struct build *b, struct bpi_fit_image *out, size_t *fdt_seq, size_t i)
{
	const struct src_image *im = &b->img[i];

	memset(out, 0, sizeof(*out));
	out->compression = bp_codec_name(b->o->compress);
	switch (im->kind) {
	case KIND_KERNEL:
		snprintf(out->node, sizeof(out->node), "kernel");
		out->description = b->o->name;
		out->type = b->o->has_load_address ? "kernel" : "kernel_noload";
		out->has_os = out->has_load = out->has_entry = true;
		out->load = b->o->has_load_address ? b->o->load_address : 0;
		out->entry = b->o->has_entry_address ? b->o->entry_address : out->load;
		break;
	case KIND_RAMDISK:
		snprintf(out->node, sizeof(out->node), "ramdisk");
		out->description = "Ramdisk";
		out->type = "ramdisk";
		out->compression = "none";
		out->has_os = out->has_load = true;
		break;
	case KIND_FDT:
		snprintf(out->node, sizeof(out->node), "fdt-%zu", ++*fdt_seq);
		out->description = base_name(im->path);
		out->type = "flat_dt";
		out->is_fdt = true;
		break;
	}
}

int bpi_fit_pack_write(struct build *b, const struct bp_sink *out, struct bp_fit_build_stats *st)
{
	const struct bp_fit_build_opts *o = b->o;
	struct bpi_fit_image *images = calloc(b->n_img, sizeof(*images));
	struct bpi_fit_config *configs = calloc(b->n_cfg ? b->n_cfg : 1, sizeof(*configs));
	size_t fdt_seq = 0;
	int ret;

	if (!images || !configs) {
		free(images);
		free(configs);
		return bp_diag_set(b->d, BP_ERR_NOMEM, "", "out of memory");
	}
	for (size_t i = 0; i < b->n_img; i++)
		describe(b, &images[i], &fdt_seq, i);
	for (size_t i = 0; i < b->n_cfg; i++) {
		configs[i].description = b->cfg[i].model;
		configs[i].compatible = b->cfg[i].compat;
		configs[i].compatible_len = b->cfg[i].compat_len;
		configs[i].fdts = b->cfg[i].fdts;
		configs[i].n_fdts = b->cfg[i].n_fdts;
	}
	struct bpi_fit f = {
		.name = o->name, .arch = o->arch, .os = o->os, .timestamp = o->timestamp,
		.images = images, .n_images = b->n_img,
		.configs = configs, .n_configs = b->n_cfg,
		.has_ramdisk = o->ramdisk != NULL,
		.external = o->external,
		.align = o->align ? o->align : BP_FIT_EXTERNAL_ALIGN,
		.hashes = o->hashes, .n_hashes = o->n_hashes,
		.default_config = o->default_config,
		.address_cells = o->load_address > UINT32_MAX ||
				 (o->has_entry_address && o->entry_address > UINT32_MAX) ? 2 : 1,
	};
	struct bpi_fit_writer *fw;

	ret = bpi_fit_writer_open(&fw, &f, out, b->d);
	if (!ret)
		ret = pack_and_write(b, fw);
	if (!ret)
		ret = bpi_fit_writer_finish(fw, st, b->d);
	else
		bpi_fit_writer_abort(fw);
	free(images);
	free(configs);
	return ret;
}
