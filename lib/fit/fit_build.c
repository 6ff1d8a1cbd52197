// SPDX-License-Identifier: MIT
/*
 * bp_fit_build(): gather the kernel, ramdisk and DTBs the way make_fit.py
 * does (DTBs de-duplicated by path, in order of first use), then compress
 * them in parallel straight into the writer. Memory stays bounded: the
 * kernel and ramdisk stream from their files, DTBs are read when gathered
 * (for their model and compatible), dropped, and read again a batch at a
 * time for compression.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>
#include <xxhash.h>

#include "codec/codec_impl.h"
#include "fit_internal.h"
#include "hash/hasher.h"
#include "util/util.h"

/* data-size is a u32, so no input can be larger. */
#define INPUT_MAX UINT32_MAX

enum kind { KIND_KERNEL, KIND_RAMDISK, KIND_FDT };

struct src_image {
	enum kind kind;
	const char *path;
	char *owned_path;         /* set when the path came from a .cmd file */
	uint64_t input_len;       /* size when gathered; checked when read again */
	uint64_t input_sum;       /* a DTB's XXH3 when checked; so is what is stored */
	int fd;                   /* kernel, ramdisk: open from gathering on, or -1 */
	struct bp_buf input;      /* kernel, ramdisk that are not regular files */
	struct bp_buf packed;     /* a DTB's stored bytes, held within its batch */
	uint8_t (*hashes)[BP_HASH_MAX_LEN]; /* one per requested algorithm */
};

struct src_config {
	char *model;
	void *compat;
	int compat_len;
	size_t *fdts;
	size_t n_fdts;
};

struct build {
	const struct bp_fit_build_opts *o;
	struct src_image *img;
	size_t n_img, cap_img;
	struct src_config *cfg;
	size_t n_cfg;
	struct bp_diag *d;
};

/*
 * The failure to report from jobs run side by side: the lowest-numbered
 * one's, whatever the thread count (bpi_jobs_run hands out items in order,
 * so every lower item has run). One per run, not one per item: a diagnostic
 * is 4.5 KiB and there may be thousands of DTBs.
 */
struct first_failure {
	pthread_mutex_t lock;
	size_t index;             /* SIZE_MAX while nothing failed */
	struct bp_diag diag;
};

static void first_failure_init(struct first_failure *f)
{
	pthread_mutex_init(&f->lock, NULL);
	f->index = SIZE_MAX;
	f->diag.path[0] = f->diag.msg[0] = '\0';
}

static int first_failure_note(struct first_failure *f, size_t index, int ret,
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
static int first_failure_report(struct first_failure *f, int ret, struct bp_diag *d)
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

/* Make room for one more element in a doubling array. */
static int push(void **arr, size_t n, size_t *cap, size_t elem)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? 2 * *cap : 16) * elem);
	if (!p)
		return BP_ERR_NOMEM;
	*arr = p;
	*cap = *cap ? 2 * *cap : 16;
	return 0;
}

static struct src_image *new_image(struct build *b, enum kind kind, const char *path)
{
	struct src_image *im;

	if (push((void **)&b->img, b->n_img, &b->cap_img, sizeof(*b->img))) {
		bp_diag_set(b->d, BP_ERR_NOMEM, path, "out of memory");
		return NULL;
	}
	im = &b->img[b->n_img++];
	memset(im, 0, sizeof(*im));
	im->kind = kind;
	im->path = path;
	im->fd = -1;
	return im;
}

/*
 * The kernel and ramdisk are streamed later: keep a regular file open (so a
 * rename meanwhile cannot swap it) and read anything else, e.g. a pipe, now.
 */
static int open_streamed(struct build *b, enum kind kind, const char *path)
{
	struct src_image *im = new_image(b, kind, path);
	struct stat st;

	if (!im)
		return BP_ERR_NOMEM;
	im->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im->fd < 0)
		return bp_diag_set(b->d, BP_ERR_IO, path, "cannot open: %s", strerror(errno));
	if (fstat(im->fd, &st) < 0)
		return bp_diag_set(b->d, BP_ERR_IO, path, "cannot stat: %s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > INPUT_MAX)
			return bp_diag_set(b->d, BP_ERR_TOOBIG, path,
					   "file is %llu bytes, more than the limit of %llu",
					   (unsigned long long)st.st_size,
					   (unsigned long long)INPUT_MAX);
		im->input_len = (uint64_t)st.st_size;
		return 0;
	}
	close(im->fd);
	im->fd = -1;
	int ret = bpi_read_file(path, INPUT_MAX, &im->input, b->d);

	im->input_len = im->input.len;
	return ret;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "a\0b\0": at least one string, each non-empty, the last terminated. */
static bool is_string_list(const char *p, int len)
{
	if (len <= 0 || p[0] == '\0' || p[len - 1] != '\0')
		return false;
	for (int i = 1; i < len; i++)
		if (p[i] == '\0' && p[i - 1] == '\0')
			return false;
	return true;
}

static int root_info(const void *fdt, const char *path, struct src_config *c, struct bp_diag *d)
{
	const char *model;
	const void *compat;
	int mlen, clen;

	compat = fdt_getprop(fdt, 0, "compatible", &clen);
	if (!compat)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root has no 'compatible' property, so no "
				   "bootloader could select its configuration");
	/* Copied into the configuration, where U-Boot matches it string by string. */
	if (!is_string_list(compat, clen))
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root 'compatible' (%d bytes) is not a list of "
				   "non-empty NUL-terminated strings", clen);
	model = fdt_getprop(fdt, 0, "model", &mlen);
	if (!model)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root has no 'model' property (make_fit.py uses "
				   "it as the configuration description)");
	if (mlen <= 0 || model[mlen - 1] != '\0' || strlen(model) != (size_t)mlen - 1)
		return bp_diag_set(d, BP_ERR_FORMAT, path,
				   "devicetree root 'model' is not a single string");
	c->model = strdup(model);
	c->compat = malloc((size_t)clen);
	if (!c->model || !c->compat)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	memcpy(c->compat, compat, (size_t)clen);
	c->compat_len = clen;
	return 0;
}

/* ---- DTBs: examined side by side, then linked in command-line order ---- */

/* A DTB file as checked: a different one when read again is refused. */
struct dtb_seen {
	uint64_t size;
	uint64_t sum;
};

/* One DTB argument, examined on any thread. */
struct dtb_arg {
	const char *path;
	struct src_config cfg;    /* model and compatible; fdts filled in when linking */
	char **files;             /* -D: the files stored for it (may be just itself) */
	size_t n_files;           /* 1 without -D */
	struct dtb_seen *seen;    /* of each file stored */
};

struct examine {
	struct dtb_arg *args;
	bool decompose;
	struct first_failure fail;
};

/* The file @a stores at @k: a .cmd naming the DTB itself means "not composite". */
static const char *arg_file(const struct dtb_arg *a, size_t k)
{
	return a->files && strcmp(a->files[k], a->path) ? a->files[k] : a->path;
}

/*
 * Read and check one devicetree. It is read again, a batch at a time, when
 * written; the checksum makes sure the bytes stored are the bytes checked.
 */
static int check_dtb(const char *path, struct dtb_seen *seen, struct src_config *c,
		     struct bp_diag *d)
{
	struct bp_buf buf = BP_BUF_INIT;
	int ret = bpi_read_file(path, INPUT_MAX, &buf, d);

	if (!ret)
		ret = bpi_fdt_check(buf.data, buf.len, path, d);
	if (!ret && c)
		ret = root_info(buf.data, path, c, d);
	seen->size = buf.len;
	seen->sum = XXH3_64bits(buf.data, buf.len);
	bp_buf_free(&buf);
	return ret;
}

static int examine_one(struct examine *e, struct dtb_arg *a, struct bp_diag *d)
{
	struct dtb_seen seen = { 0, 0 };
	int ret;

	if (!has_suffix(a->path, ".dtb"))
		return bp_diag_set(d, BP_ERR_FORMAT, a->path,
				   "not a devicetree: only .dtb files (and .dtbo overlays, which "
				   "are used through -D) are accepted");
	ret = check_dtb(a->path, &seen, &a->cfg, d);
	if (!ret && e->decompose)
		ret = bpi_decompose_dtb(a->path, &a->files, d);
	for (a->n_files = 0; a->files && a->files[a->n_files]; a->n_files++)
		;
	if (!a->files)
		a->n_files = 1;
	if (!ret && !(a->seen = calloc(a->n_files, sizeof(*a->seen))))
		ret = bp_diag_set(d, BP_ERR_NOMEM, a->path, "out of memory");
	for (size_t k = 0; k < a->n_files && !ret; k++) {
		if (arg_file(a, k) == a->path)
			a->seen[k] = seen;
		else
			ret = check_dtb(arg_file(a, k), &a->seen[k], NULL, d);
	}
	return ret;
}

static int examine_dtb(void *ctx, size_t i)
{
	struct examine *e = ctx;
	struct bp_diag d;
	int ret = examine_one(e, &e->args[i], &d);

	return ret ? first_failure_note(&e->fail, i, ret, &d) : 0;
}

/* DTB paths to image indices (open addressing), so linking stays linear. */
static uint64_t path_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* The slot holding @path, or the empty slot where it belongs. */
static size_t *path_slot(const struct build *b, size_t *table, size_t mask, const char *path)
{
	size_t at = (size_t)path_hash(path) & mask;

	while (table[at] && strcmp(b->img[table[at] - 1].path, path))
		at = (at + 1) & mask;
	return &table[at];
}

/* Store each file once (in order of first use) and point every configuration at its files. */
static int link_dtbs(struct build *b, struct dtb_arg *args, size_t n)
{
	size_t total = 1, mask, *table, *slot;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		total += args[i].n_files;
	for (mask = 1; mask < 2 * total; mask <<= 1)
		;
	table = calloc(mask--, sizeof(*table));
	if (!table || !(b->cfg = calloc(n + 1, sizeof(*b->cfg))))
		ret = bp_diag_set(b->d, BP_ERR_NOMEM, "", "out of memory");
	for (size_t i = 0; i < n && !ret; i++) {
		struct dtb_arg *a = &args[i];
		struct src_config *c = &b->cfg[b->n_cfg++];

		*c = a->cfg;
		memset(&a->cfg, 0, sizeof(a->cfg));
		if (!(c->fdts = calloc(a->n_files, sizeof(*c->fdts))))
			ret = bp_diag_set(b->d, BP_ERR_NOMEM, a->path, "out of memory");
		for (size_t k = 0; k < a->n_files && !ret; k++) {
			const char *file = arg_file(a, k);
			struct src_image *im;

			slot = path_slot(b, table, mask, file);
			if (!*slot) {
				im = new_image(b, KIND_FDT, file);
				if (im && file != a->path && !(im->owned_path = strdup(file)))
					im = NULL;
				if (!im) {
					ret = bp_diag_set(b->d, BP_ERR_NOMEM, file, "out of memory");
					break;
				}
				/* A component named by a .cmd file: own the path. */
				if (im->owned_path)
					im->path = im->owned_path;
				im->input_len = a->seen[k].size;
				im->input_sum = a->seen[k].sum;
				*slot = b->n_img;
			}
			c->fdts[c->n_fdts++] = *slot - 1;
		}
	}
	free(table);
	return ret;
}

static int gather_dtbs(struct build *b)
{
	const struct bp_fit_build_opts *o = b->o;
	struct dtb_arg *args = calloc(o->n_dtbs + 1, sizeof(*args));
	struct examine e = { .args = args, .decompose = o->decompose };
	size_t n = 0;
	int ret;

	if (!args)
		return bp_diag_set(b->d, BP_ERR_NOMEM, "", "out of memory");
	/* make_fit.py stores overlays only as parts of composite DTBs (-D). */
	for (size_t i = 0; i < o->n_dtbs; i++)
		if (!has_suffix(o->dtbs[i], ".dtbo"))
			args[n++].path = o->dtbs[i];
	/* The error reported is the first in argument order. */
	first_failure_init(&e.fail);
	ret = first_failure_report(&e.fail, bpi_jobs_run(n, o->jobs, examine_dtb, &e), b->d);
	if (!ret)
		ret = link_dtbs(b, args, n);
	for (size_t i = 0; i < n; i++) {
		free(args[i].cfg.model);
		free(args[i].cfg.compat);
		bpi_strv_free(args[i].files);
		free(args[i].seen);
	}
	free(args);
	return ret;
}

static int gather(struct build *b)
{
	const struct bp_fit_build_opts *o = b->o;
	int ret = open_streamed(b, KIND_KERNEL, o->kernel);

	if (!ret && o->ramdisk)
		ret = open_streamed(b, KIND_RAMDISK, o->ramdisk);
	return ret ? ret : gather_dtbs(b);
}

static bool same_file(const struct stat *a, const char *path)
{
	struct stat b;

	return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* Renaming over an input would destroy it: refuse, as inputs are never modified. */
static int check_output_is_not_input(const struct build *b, const char *out_path)
{
	const struct bp_fit_build_opts *o = b->o;
	const char *hit = NULL;
	struct stat out;

	if (stat(out_path, &out) < 0)
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
			   "output is the input file '%s'; refusing to overwrite it", hit);
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
				   "given, so there are no configurations", name);
	if (b->n_cfg == 1)
		return bp_diag_set(b->d, BP_ERR_INVALID, "", "default configuration '%s' does "
				   "not exist: this FIT has only conf-1", name);
	return bp_diag_set(b->d, BP_ERR_INVALID, "",
			   "default configuration '%s' does not exist: this FIT has conf-1 to "
			   "conf-%zu", name, b->n_cfg);
}

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
	ret = bpi_read_file(im->path, INPUT_MAX, &input, d);

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
	return ret ? first_failure_note(&p->fail, i, ret, &d) : 0;
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
		first_failure_init(&p.fail);
		ret = bpi_jobs_run(p.n + (p.n_streams ? 1 : 0), b->o->jobs, pass_job, &p);
		ret = first_failure_report(&p.fail, ret, b->d);
		if (!ret)
			ret = write_batch(b, fw, first, end);
		for (size_t i = first; i < end; i++)
			bp_buf_free(&b->img[i].packed);
	}
	return ret;
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

static int write_fit(struct build *b, const char *out_path, struct bp_fit_build_stats *st)
{
	const struct bp_fit_build_opts *o = b->o;
	struct bpi_fit_image *images = calloc(b->n_img, sizeof(*images));
	struct bpi_fit_config *configs = calloc(b->n_cfg ? b->n_cfg : 1, sizeof(*configs));
	size_t fdt_seq = 0;
	int ret;

	if (!images || !configs) {
		free(images);
		free(configs);
		return bp_diag_set(b->d, BP_ERR_NOMEM, out_path, "out of memory");
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

	ret = bpi_fit_writer_open(&fw, &f, out_path, b->d);
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

static int check_opts(const struct bp_fit_build_opts *o, const char *out_path,
		      struct bp_diag *d)
{
	if (!o || !out_path || !o->name || !o->arch || !o->os || !o->kernel)
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

int bp_fit_build(const struct bp_fit_build_opts *o, const char *out_path,
		 struct bp_fit_build_stats *st, struct bp_diag *d)
{
	struct build b = { .o = o, .d = d };
	int ret;

	bp_diag_clear(d);
	ret = check_opts(o, out_path, d);
	if (ret)
		return ret;
	ret = gather(&b);
	if (!ret)
		ret = check_default_config(&b);
	if (!ret)
		ret = check_output_is_not_input(&b, out_path);
	if (!ret)
		ret = alloc_hashes(&b);
	if (!ret && st) {
		memset(st, 0, sizeof(*st));
		st->n_files = b.n_img;
		st->n_configs = b.n_cfg;
		for (size_t i = 0; i < b.n_img; i++)
			st->input_bytes += b.img[i].input_len;
	}
	if (!ret)
		ret = write_fit(&b, out_path, st);
	release(&b);
	return ret;
}
