/* SPDX-License-Identifier: MIT */
/* Reading a whole file into a caller's buffer, with a size limit. */
#ifndef BOOTPACK_FILE_H
#define BOOTPACK_FILE_H

#include <stdint.h>

#include <bootpack/buf.h>
#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Replace the contents of @out with the whole file at @path, at most @max
 * bytes; anything that can be read (a pipe, a character device) is read to
 * its end. Clears @d first. Returns 0; BP_ERR_IO when @path cannot be
 * opened or read or is a directory; BP_ERR_TOOBIG when it holds more than
 * @max bytes; BP_ERR_NOMEM. On failure @out is empty but keeps its storage
 * (release it with bp_buf_free()), and @d names @path and the reason.
 */
int bp_buf_read_file(struct bp_buf *out, const char *path, uint64_t max, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
