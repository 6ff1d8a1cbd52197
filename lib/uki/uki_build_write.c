// SPDX-License-Identifier: MIT
/*
 * Writing a planned UKI: headers, the stub's data, then each added section
 * zero-padded to FileAlignment. Two jobs, on two threads when asked:
 *
 *   - the writer copies section files to the output file to file inside
 *     the kernel (copy_file_range(), what cat does), never holding them;
 *   - the reader goes over the same bytes in the same order, the files a
 *     chunk at a time through one buffer, for the CheckSum and, when
 *     signing, the Authenticode digest (the whole file but the CheckSum
 *     field and the Security entry: all of it lies in sections, in order).
 *
 * The kernel is opened without bp_pe_open()'s own pass for CheckSum, so
 * that its bytes are read once, by the reader, while the writer copies
 * them. Then the signature is appended, the Security entry and the
 * CheckSum patched in: one pass over the inputs, signed or not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash/hasher.h"
#include "pe/authenticode_internal.h"
#include "uki_build_internal.h"

#define READ_CHUNK (1u << 20)
/* Padding comes from this many zero bytes (FileAlignment is at most 64 KiB). */
#define ZERO_CHUNK (64u << 10)

static const uint8_t zero_block[ZERO_CHUNK];

/* Both jobs walk the image with one of these: a sink for bytes in file order. */
struct walker {
	int (*bytes)(struct walker *w, const uint8_t *p, size_t n);
	int (*file)(struct walker *w, const struct bpi_uki_part *part);
	uint64_t at;
	struct bp_diag *d;
};

struct writer {
	struct walker w;
	struct bpi_output *out;
	uint8_t *buf;
};

struct reader {
	struct walker w;
	struct bpi_pe_csum csum;
	struct bpi_hasher h;
	bool hashing;
	uint32_t checksum_at, secdir_at;
	uint8_t *buf;
};

static int zeros(struct walker *w, uint64_t n)
{
	while (n) {
		size_t k = n < ZERO_CHUNK ? (size_t)n : ZERO_CHUNK;
		int ret = w->bytes(w, zero_block, k);

		if (ret)
			return ret;
		n -= k;
	}
	return 0;
}

static int walk_section(struct walker *w, const struct bpi_uki_sec *s)
{
	int ret = zeros(w, s->raw_off - w->at);

	for (size_t i = 0; !ret && i < s->n_parts; i++) {
		const struct bpi_uki_part *part = &s->parts[i];

		ret = part->fd < 0 ? w->bytes(w, part->mem, (size_t)part->len) : w->file(w, part);
		if (!ret)
			ret = zeros(w, part->pad);
	}
	if (!ret)
		ret = zeros(w, (uint64_t)s->raw_off + s->raw_size - w->at);
	return ret;
}

static int walk(struct walker *w, const struct bpi_uki_layout *l, const struct bpi_uki_sec *secs,
		size_t n)
{
	int ret = w->bytes(w, l->hdr, l->soh);

	if (!ret)
		ret = w->bytes(w, l->body, l->body_len);
	for (size_t i = 0; !ret && i < n; i++)
		ret = walk_section(w, &secs[i]);
	return ret;
}

static int shrank(struct bp_diag *d, const struct bpi_uki_part *part)
{
	return bp_diag_set(d, BP_ERR_IO, part->path, "file shrank while being read (%llu bytes "
			   "expected)", (unsigned long long)part->len);
}

/* @part's file through @buf, a chunk at a time, to @w->bytes. */
static int read_file(struct walker *w, const struct bpi_uki_part *part, uint8_t *buf)
{
	for (uint64_t done = 0; done < part->len;) {
		size_t want = part->len - done < READ_CHUNK ? (size_t)(part->len - done) : READ_CHUNK;
		ssize_t got = pread(part->fd, buf, want, (off_t)done);
		int ret;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return bp_diag_set(w->d, BP_ERR_IO, part->path, "cannot read: %s",
					   strerror(errno));
		if (!got)
			return shrank(w->d, part);
		ret = w->bytes(w, buf, (size_t)got);
		if (ret)
			return ret;
		done += (uint64_t)got;
	}
	return 0;
}

/* ---- The writer ---- */

static int out_bytes(struct walker *w, const uint8_t *p, size_t n)
{
	struct writer *wr = (struct writer *)w;

	w->at += n;
	return bpi_output_write(wr->out, p, n, w->d);
}

static int out_file(struct walker *w, const struct bpi_uki_part *part)
{
	struct writer *wr = (struct writer *)w;
	loff_t in = 0;

	while ((uint64_t)in < part->len && !wr->out->direct) {
		ssize_t k = copy_file_range(part->fd, &in, wr->out->fd, NULL,
					    (size_t)(part->len - (uint64_t)in), 0);

		if (k < 0 && errno == EINTR)
			continue;
		/* Not between these files (another file system, a pipe...): through a buffer. */
		if (k < 0 && !in && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				     errno == EOPNOTSUPP || errno == EBADF))
			break;
		if (k < 0)
			return bp_diag_set(w->d, BP_ERR_IO, part->path, "cannot copy: %s",
					   strerror(errno));
		if (!k)
			return shrank(w->d, part);
	}
	if (in && !wr->out->direct) {
		w->at += part->len;
		return 0;
	}
	if (!wr->buf && !(wr->buf = malloc(READ_CHUNK)))
		return bp_diag_set(w->d, BP_ERR_NOMEM, part->path, "out of memory");
	return read_file(w, part, wr->buf);
}

/* ---- The reader ---- */

/* Hash @p (at file offset r->w.at), leaving out the CheckSum field and the Security entry. */
static int hash_bytes(struct reader *r, const uint8_t *p, size_t n)
{
	const uint64_t skip[2][2] = { { r->checksum_at, 4 }, { r->secdir_at, 8 } };
	uint64_t at = r->w.at, end = at + n;
	int ret = 0;

	for (int i = 0; i < 2 && !ret; i++) {
		uint64_t from = skip[i][0], to = skip[i][0] + skip[i][1];

		if (to <= at || from >= end)
			continue;
		if (from > at)
			ret = bpi_hasher_update(&r->h, p, (size_t)(from - at), r->w.d);
		p += (to < end ? to : end) - at;
		at = to < end ? to : end;
	}
	if (!ret && end > at)
		ret = bpi_hasher_update(&r->h, p, (size_t)(end - at), r->w.d);
	return ret;
}

static int in_bytes(struct walker *w, const uint8_t *p, size_t n)
{
	struct reader *r = (struct reader *)w;
	int ret = r->hashing ? hash_bytes(r, p, n) : 0;

	bpi_pe_csum_add(&r->csum, p, n);
	w->at += n;
	return ret;
}

static int in_file(struct walker *w, const struct bpi_uki_part *part)
{
	struct reader *r = (struct reader *)w;

	return read_file(w, part, r->buf);
}

/* ---- Both, and the signature ---- */

struct jobs {
	struct writer *wr;
	struct reader *rd;
	const struct bpi_uki_layout *l;
	const struct bpi_uki_sec *secs;
	size_t n;
};

static int run_job(void *ctx, size_t i)
{
	struct jobs *j = ctx;

	return walk(i ? &j->rd->w : &j->wr->w, j->l, j->secs, j->n);
}

/* Add @n bytes that sit at file offset @at to @c, whatever the parity of @at. */
static void csum_at(struct bpi_pe_csum *c, uint64_t at, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->sum += (uint64_t)p[i] << (8 * ((at + i) & 1));
}

/*
 * Sign: the digest (zero padding to 8 included, as it becomes image data),
 * then the padding and one WIN_CERTIFICATE after the image, the Security
 * entry pointing at it; all of it summed for the CheckSum.
 */
static int append_signature(struct writer *wr, struct reader *rd, struct bpi_pe_signer *sg,
			    const struct bpi_uki_layout *l)
{
	uint8_t digest[BP_HASH_MAX_LEN], entry[BPI_WIN_CERT_HDR], dir[8], *der = NULL;
	uint64_t pad = BPI_ALIGN_UP(l->file_size, 8) - l->file_size, table, size;
	size_t len = 0;
	int ret = bpi_hasher_update(&rd->h, zero_block, (size_t)pad, rd->w.d);

	rd->hashing = false;
	if (!ret)
		ret = bpi_hasher_final(&rd->h, digest, rd->w.d);
	else
		bpi_hasher_free(&rd->h);
	if (!ret)
		ret = bpi_pe_signer_sign(sg, digest, &der, &len, wr->w.d);
	if (ret)
		return ret;
	table = l->file_size + pad;
	size = BPI_ALIGN_UP(BPI_WIN_CERT_HDR + (uint64_t)len, 8);
	if (table + size > UINT32_MAX) {
		OPENSSL_free(der);
		return bp_diag_set(wr->w.d, BP_ERR_TOOBIG, wr->out->path, "the signed image would "
				   "exceed the 4 GiB a Security directory can address");
	}
	bpi_put_le32(entry, (uint32_t)(BPI_WIN_CERT_HDR + len));
	bpi_put_le16(entry + 4, BP_WIN_CERT_REVISION_2_0);
	bpi_put_le16(entry + 6, BP_WIN_CERT_TYPE_PKCS_SIGNED_DATA);
	bpi_put_le32(dir, (uint32_t)table);
	bpi_put_le32(dir + 4, (uint32_t)size);
	ret = zeros(&wr->w, pad);
	if (!ret)
		ret = out_bytes(&wr->w, entry, sizeof(entry));
	if (!ret)
		ret = out_bytes(&wr->w, der, len);
	if (!ret)
		ret = zeros(&wr->w, size - BPI_WIN_CERT_HDR - len);
	/* The reader's sum goes on over the same bytes; the entry it summed as zeros. */
	in_bytes(&rd->w, zero_block, (size_t)pad);
	in_bytes(&rd->w, entry, sizeof(entry));
	in_bytes(&rd->w, der, len);
	in_bytes(&rd->w, zero_block, (size_t)(size - BPI_WIN_CERT_HDR - len));
	csum_at(&rd->csum, l->secdir_at, dir, sizeof(dir));
	if (!ret)
		ret = bpi_output_pwrite(wr->out, dir, sizeof(dir), l->secdir_at, wr->w.d);
	OPENSSL_free(der);
	return ret;
}

int bpi_uki_write(const struct bpi_uki_layout *l, const struct bpi_uki_sec *secs, size_t n,
		  struct bpi_pe_signer *sg, unsigned int threads, struct bpi_output *out,
		  struct bp_diag *d)
{
	struct bp_diag d_read;
	struct writer wr = { .w = { out_bytes, out_file, 0, d }, .out = out };
	struct reader rd = { .w = { in_bytes, in_file, 0, &d_read }, .checksum_at = l->checksum_at,
			     .secdir_at = l->secdir_at, .hashing = sg != NULL };
	struct jobs j = { &wr, &rd, l, secs, n };
	uint8_t sum[4];
	int ret = 0;

	bp_diag_clear(&d_read);
	if (sg && (!l->secdir_at || !l->back_to_back))
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, out->path, "cannot sign: %s",
				   l->secdir_at ? "the stub's section data does not lie back to "
				   "back after its headers" : "the stub has no Security directory "
				   "entry to point at a signature");
	rd.buf = malloc(READ_CHUNK);
	if (!rd.buf)
		return bp_diag_set(d, BP_ERR_NOMEM, out->path, "out of memory");
	if (sg)
		ret = bpi_hasher_init(&rd.h, bpi_pe_signer_algo(sg), d);
	if (!ret)
		ret = bpi_jobs_run(2, threads, run_job, &j);
	/* The writer's failure comes first (bpi_jobs_run()'s order); else the reader's. */
	if (ret && d && !d->msg[0])
		*d = d_read;
	if (!ret && (wr.w.at != l->file_size || rd.w.at != l->file_size))
		ret = bp_diag_set(d, BP_ERR_INVALID, out->path, "internal error: wrote %llu bytes "
				  "of a planned %llu", (unsigned long long)wr.w.at,
				  (unsigned long long)l->file_size);
	if (!ret && sg)
		ret = append_signature(&wr, &rd, sg, l);
	else if (sg && rd.hashing)
		bpi_hasher_free(&rd.h);
	if (!ret) {
		bpi_put_le32(sum, bpi_pe_csum_final(&rd.csum));
		ret = bpi_output_pwrite(out, sum, 4, l->checksum_at, d);
	}
	free(rd.buf);
	free(wr.buf);
	return ret;
}
