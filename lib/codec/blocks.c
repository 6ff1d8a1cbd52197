// SPDX-License-Identifier: MIT
/*
 * One stream cut into fixed-size blocks compressed side by side: a window
 * of blocks is read, compressed on the thread pool and pushed in order.
 * Block boundaries depend on the block size only, never on the thread
 * count, so neither do the bytes.
 */
#include <stdlib.h>

#include "codec_impl.h"
#include "util/util.h"

/*
 * Blocks in flight: at least one per thread, two when that stays under
 * WINDOW_BYTES, so a thread finishing early finds more work in the window.
 */
#define WINDOW_BYTES ((size_t)8 << 20)

struct block_out {
	struct bp_buf out;
	uint32_t sum;
};

struct window {
	const struct bpi_blocks *b;
	const uint8_t *src;
	size_t len, n;
	bool final;
	struct block_out *blocks;
};

static int block_job(void *ctx, size_t i)
{
	struct window *w = ctx;
	size_t start = i * w->b->block;
	size_t n = w->len - start < w->b->block ? w->len - start : w->b->block;

	w->blocks[i].out.len = 0;
	return w->b->pack(w->b->ctx, w->src + start, n, w->final && i + 1 == w->n,
			  &w->blocks[i].out, &w->blocks[i].sum);
}

static int window_run(struct bpi_stream *s, struct window *w, unsigned int threads,
		      struct bp_diag *d)
{
	const struct bpi_blocks *b = w->b;
	int ret = bpi_jobs_run(w->n, threads, block_job, w);

	if (ret)
		return bp_diag_set(d, ret, NULL, "%s failed on a block (%s)", b->name,
				   bp_strerror(ret));
	for (size_t i = 0; i < w->n && !ret; i++) {
		size_t start = i * b->block;
		size_t n = w->len - start < b->block ? w->len - start : b->block;

		if (b->seen)
			b->seen(b->ctx, w->src + start, n, w->blocks[i].sum);
		ret = s->write(s, w->blocks[i].out.data, w->blocks[i].out.len, d);
	}
	return ret;
}

int bpi_blocks_run(struct bpi_stream *s, const struct bpi_blocks *b, struct bp_diag *d)
{
	unsigned int threads = s->split ? bpi_jobs_threads(s->threads) : 1;
	size_t per = 2 * (size_t)threads * b->block <= WINDOW_BYTES ? 2 * (size_t)threads : threads;
	struct window w = { .b = b };
	const uint8_t *p;
	size_t n;
	int ret = 0;

	w.blocks = calloc(per, sizeof(*w.blocks));
	if (!w.blocks)
		ret = bp_diag_set(d, BP_ERR_NOMEM, NULL, "%s: out of memory", b->name);
	while (!ret) {
		ret = bpi_stream_next(s, per * b->block, &p, &n, d);
		if (ret || !n)
			break;
		w.src = p;
		w.len = n;
		w.n = (n + b->block - 1) / b->block;
		w.final = s->done == s->size;
		ret = window_run(s, &w, threads, d);
	}
	for (size_t i = 0; w.blocks && i < per; i++)
		bp_buf_free(&w.blocks[i].out);
	free(w.blocks);
	return ret;
}
