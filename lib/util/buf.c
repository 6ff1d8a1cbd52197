// SPDX-License-Identifier: MIT
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/buf.h>
#include <bootpack/error.h>

int bp_buf_reserve(struct bp_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len)
		return BP_ERR_NOMEM;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return BP_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int bp_buf_append(struct bp_buf *b, const void *p, size_t n)
{
	int ret;

	if (!n)
		return 0;
	ret = bp_buf_reserve(b, n);
	if (ret)
		return ret;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void bp_buf_shrink(struct bp_buf *b)
{
	uint8_t *p;

	if (!b->len || b->len == b->cap)
		return;
	p = realloc(b->data, b->len);
	if (p) {
		b->data = p;
		b->cap = b->len;
	}
}

void bp_buf_free(struct bp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
