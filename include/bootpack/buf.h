/* SPDX-License-Identifier: MIT */
/* A growable byte buffer owned by the caller. */
#ifndef BOOTPACK_BUF_H
#define BOOTPACK_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_buf {
	uint8_t *data;
	size_t len; /* bytes in use */
	size_t cap; /* bytes allocated */
};

#define BP_BUF_INIT { NULL, 0, 0 }

/* Make room for at least @extra more bytes. Returns 0 or BP_ERR_NOMEM. */
int bp_buf_reserve(struct bp_buf *b, size_t extra);

/* Append @n bytes. Returns 0 or BP_ERR_NOMEM. */
int bp_buf_append(struct bp_buf *b, const void *p, size_t n);

/* Give back unused capacity (best effort: the buffer stays valid either way). */
void bp_buf_shrink(struct bp_buf *b);

/* Release the storage and reset to empty. */
void bp_buf_free(struct bp_buf *b);

#ifdef __cplusplus
}
#endif

#endif
