// SPDX-License-Identifier: MIT
/*
 * Writing a planned UKI: headers, the stub's data, then each added section
 * zero-padded to FileAlignment. Section files go to the output file to file
 * inside the kernel (copy_file_range(), what cat does), never held whole in
 * memory. The CheckSum needs every byte, so the files are also read, a
 * chunk at a time through one buffer, by a second job that sums them: with
 * two threads it runs beside the copy. The kernel needs no reading at all:
 * bp_pe_open() summed it already. The sum is patched in at the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uki_build_internal.h"

#define READ_CHUNK (1u << 20)
/* Padding comes from this many zero bytes (FileAlignment is at most 64 KiB). */
#define ZERO_CHUNK (64u << 10)

struct writer {
	struct bpi_output *out;
	struct bpi_pe_csum csum;    /* of what is written from memory */
	uint64_t at;
	bool sum_files;             /* sum file parts here, in order (no separate job) */
	struct bp_diag *d;
};

struct job {
	struct writer *w;
	const struct bpi_uki_layout *l;
	struct bpi_uki_sec *secs;
	size_t n;
	struct bp_diag *d_sum;
};

static int put(struct writer *w, const uint8_t *p, size_t n)
{
	bpi_pe_csum_add(&w->csum, p, n);
	w->at += n;
	return bpi_output_write(w->out, p, n, w->d);
}

static int zeros(struct writer *w, uint64_t n)
{
	static const uint8_t zero_block[ZERO_CHUNK];

	while (n) {
		size_t k = n < ZERO_CHUNK ? (size_t)n : ZERO_CHUNK;
		int ret = put(w, zero_block, k);

		if (ret)
			return ret;
		n -= k;
	}
	return 0;
}

static int shrank(struct bp_diag *d, const struct bpi_uki_part *part)
{
	return bp_diag_set(d, BP_ERR_IO, part->path, "file shrank while being read (%llu bytes "
			   "expected)", (unsigned long long)part->len);
}

/*
 * Read @part's file through @buf, a chunk at a time: written to @w (and
 * summed there) when @w is set, else summed into @c.
 */
static int read_part(const struct bpi_uki_part *part, uint8_t *buf, struct writer *w,
		     struct bpi_pe_csum *c, struct bp_diag *d)
{
	for (uint64_t done = 0; done < part->len;) {
		size_t want = part->len - done < READ_CHUNK ? (size_t)(part->len - done) : READ_CHUNK;
		ssize_t got = pread(part->fd, buf, want, (off_t)done);
		int ret;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return bp_diag_set(d, BP_ERR_IO, part->path, "cannot read: %s",
					   strerror(errno));
		if (!got)
			return shrank(d, part);
		ret = w ? put(w, buf, (size_t)got) : 0;
		if (!w)
			bpi_pe_csum_add(c, buf, (size_t)got);
		if (ret)
			return ret;
		done += (uint64_t)got;
	}
	return 0;
}

/* @part's file through a buffer: where the kernel cannot copy file to file. */
static int write_read(struct writer *w, const struct bpi_uki_part *part, bool sum)
{
	uint8_t *buf = malloc(READ_CHUNK);
	uint64_t before = w->csum.sum;
	int ret;

	if (!buf)
		return bp_diag_set(w->d, BP_ERR_NOMEM, part->path, "out of memory");
	ret = read_part(part, buf, w, NULL, w->d);
	/* Summed by the other job: put() must not count these bytes twice. */
	if (!sum)
		w->csum.sum = before;
	free(buf);
	return ret;
}

/* @part's file, file to file inside the kernel (copy_file_range()), as cat copies. */
static int write_file(struct writer *w, const struct bpi_uki_part *part)
{
	loff_t in = 0;

	/* Odd offsets: everything is summed here, in file order. */
	if (w->sum_files)
		return write_read(w, part, true);
	while ((uint64_t)in < part->len && !w->out->direct) {
		ssize_t k = copy_file_range(part->fd, &in, w->out->fd, NULL,
					    (size_t)(part->len - (uint64_t)in), 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && !in && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				     errno == EOPNOTSUPP))
			break;
		if (k < 0)
			return bp_diag_set(w->d, BP_ERR_IO, part->path, "cannot copy: %s",
					   strerror(errno));
		if (!k)
			return shrank(w->d, part);
	}
	if (!in || w->out->direct)
		return write_read(w, part, false);
	w->csum.len += part->len;
	w->at += part->len;
	return 0;
}

static int write_section(struct writer *w, const struct bpi_uki_sec *s)
{
	int ret = zeros(w, s->raw_off - w->at);

	for (size_t i = 0; !ret && i < s->n_parts; i++) {
		const struct bpi_uki_part *part = &s->parts[i];

		ret = part->fd < 0 ? put(w, part->mem, (size_t)part->len) : write_file(w, part);
		if (!ret)
			ret = zeros(w, part->pad);
	}
	if (!ret)
		ret = zeros(w, (uint64_t)s->raw_off + s->raw_size - w->at);
	return ret;
}

static int write_all(struct writer *w, const struct bpi_uki_layout *l,
		     const struct bpi_uki_sec *secs, size_t n)
{
	int ret = put(w, l->hdr, l->soh);

	if (!ret)
		ret = put(w, l->body, l->body_len);
	for (size_t i = 0; !ret && i < n; i++)
		ret = write_section(w, &secs[i]);
	return ret;
}

/*
 * Sum every file part not summed yet (the other job), read through a
 * buffer that stays in the cache: cheaper than summing a mapping.
 */
static int sum_files(struct bpi_uki_sec *secs, size_t n, struct bp_diag *d)
{
	uint8_t *buf = malloc(READ_CHUNK);
	int ret = buf ? 0 : bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");

	for (size_t i = 0; !ret && i < n; i++)
		for (size_t k = 0; !ret && k < secs[i].n_parts; k++) {
			struct bpi_uki_part *part = &secs[i].parts[k];
			struct bpi_pe_csum c = { 0, 0 };

			if (part->fd < 0 || part->have_sum)
				continue;
			ret = read_part(part, buf, NULL, &c, d);
			part->sum = c.sum;
			part->have_sum = !ret;
		}
	free(buf);
	return ret;
}

static int run_job(void *ctx, size_t i)
{
	struct job *j = ctx;

	return i ? sum_files(j->secs, j->n, j->d_sum) : write_all(j->w, j->l, j->secs, j->n);
}

/* Each file part's sum can be taken apart only when it starts at an even offset. */
static bool parts_even(const struct bpi_uki_sec *secs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t at = secs[i].raw_off;

		for (size_t k = 0; k < secs[i].n_parts; k++) {
			if (secs[i].parts[k].fd >= 0 && (at & 1))
				return false;
			at += secs[i].parts[k].len + secs[i].parts[k].pad;
		}
	}
	return true;
}

int bpi_uki_write(const struct bpi_uki_layout *l, struct bpi_uki_sec *secs, size_t n,
		  unsigned int threads, struct bpi_output *out, struct bp_diag *d)
{
	struct writer w = { .out = out, .d = d };
	struct bp_diag d_sum;
	struct job j = { .w = &w, .l = l, .secs = secs, .n = n, .d_sum = &d_sum };
	uint8_t sum[4];
	int ret;

	bp_diag_clear(&d_sum);
	w.sum_files = !parts_even(secs, n);
	ret = w.sum_files ? write_all(&w, l, secs, n) : bpi_jobs_run(2, threads, run_job, &j);
	/* The lower job's failure is the one reported (bpi_jobs_run()'s order). */
	if (ret && d && !d->msg[0])
		*d = d_sum;
	for (size_t i = 0; !ret && !w.sum_files && i < n; i++)
		for (size_t k = 0; k < secs[i].n_parts; k++)
			if (secs[i].parts[k].fd >= 0)
				w.csum.sum += secs[i].parts[k].sum;
	if (!ret && w.at != l->file_size)
		ret = bp_diag_set(d, BP_ERR_INVALID, out->path, "internal error: wrote %llu bytes "
				  "of a planned %llu", (unsigned long long)w.at,
				  (unsigned long long)l->file_size);
	if (!ret) {
		bpi_put_le32(sum, bpi_pe_csum_final(&w.csum));
		ret = bpi_output_pwrite(out, sum, 4, l->checksum_at, d);
	}
	return ret;
}
