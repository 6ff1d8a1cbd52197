// SPDX-License-Identifier: MIT
/*
 * Writing a planned UKI: headers, the stub's data, then each added section
 * streamed from its input file through one fixed buffer (so memory use does
 * not grow with the initrd), zero-padded to FileAlignment. The CheckSum is
 * summed over the bytes as they go out and patched in at the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uki_build_internal.h"

#define COPY_CHUNK (1u << 20)

struct writer {
	struct bpi_output *out;
	struct bpi_pe_csum csum;
	uint8_t *buf;
	uint64_t at;
	struct bp_diag *d;
};

static int put(struct writer *w, const uint8_t *p, size_t n)
{
	bpi_pe_csum_add(&w->csum, p, n);
	w->at += n;
	return bpi_output_write(w->out, p, n, w->d);
}

static int zeros(struct writer *w, uint64_t n)
{
	memset(w->buf, 0, COPY_CHUNK);
	while (n) {
		size_t k = n < COPY_CHUNK ? (size_t)n : COPY_CHUNK;
		int ret = put(w, w->buf, k);

		if (ret)
			return ret;
		n -= k;
	}
	return 0;
}

/* @len bytes of @part's file from its start (it was opened and sized beforehand). */
static int copy_file(struct writer *w, const struct bpi_uki_part *part)
{
	uint64_t done = 0;

	while (done < part->len) {
		size_t want = part->len - done < COPY_CHUNK ? (size_t)(part->len - done) : COPY_CHUNK;
		ssize_t got = pread(part->fd, w->buf, want, (off_t)done);
		int ret;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return bp_diag_set(w->d, BP_ERR_IO, part->path, "cannot read: %s",
					   strerror(errno));
		if (!got)
			return bp_diag_set(w->d, BP_ERR_IO, part->path, "file shrank while being "
					   "read (%llu of %llu bytes)", (unsigned long long)done,
					   (unsigned long long)part->len);
		ret = put(w, w->buf, (size_t)got);
		if (ret)
			return ret;
		done += (uint64_t)got;
	}
	return 0;
}

static int write_section(struct writer *w, const struct bpi_uki_sec *s)
{
	int ret = zeros(w, s->raw_off - w->at);

	for (size_t i = 0; !ret && i < s->n_parts; i++) {
		const struct bpi_uki_part *part = &s->parts[i];

		ret = part->fd >= 0 ? copy_file(w, part) : put(w, part->mem, (size_t)part->len);
		if (!ret)
			ret = zeros(w, part->pad);
	}
	if (!ret)
		ret = zeros(w, (uint64_t)s->raw_off + s->raw_size - w->at);
	return ret;
}

int bpi_uki_write(const struct bpi_uki_layout *l, const struct bpi_uki_sec *secs, size_t n,
		  struct bpi_output *out, struct bp_diag *d)
{
	struct writer w = { .out = out, .d = d };
	uint8_t sum[4];
	int ret;

	w.buf = malloc(COPY_CHUNK);
	if (!w.buf)
		return bp_diag_set(d, BP_ERR_NOMEM, out->path, "out of memory");
	ret = put(&w, l->hdr, l->soh);
	if (!ret)
		ret = put(&w, l->body, l->body_len);
	for (size_t i = 0; !ret && i < n; i++)
		ret = write_section(&w, &secs[i]);
	if (!ret && w.at != l->file_size)
		ret = bp_diag_set(d, BP_ERR_INVALID, out->path, "internal error: wrote %llu bytes "
				  "of a planned %llu", (unsigned long long)w.at,
				  (unsigned long long)l->file_size);
	if (!ret) {
		bpi_put_le32(sum, bpi_pe_csum_final(&w.csum));
		ret = bpi_output_pwrite(out, sum, 4, l->checksum_at, d);
	}
	free(w.buf);
	return ret;
}
