/* SPDX-License-Identifier: MIT */
/*
 * Error codes and diagnostics shared by every bootpack library call.
 *
 * Functions return 0 on success or one negative BP_ERR_* code. When the
 * caller passes a struct bp_diag, the library also records which file and
 * what exactly was wrong, so the CLI can print one precise line. The library
 * itself never prints and never exits. Entry points that say so clear the
 * bp_diag first (codec.h, hash.h, file.h), so it never carries the reason
 * of an earlier call.
 */
#ifndef BOOTPACK_ERROR_H
#define BOOTPACK_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bp_err {
	BP_OK = 0,
	BP_ERR_NOMEM = -1,       /* allocation failed */
	BP_ERR_IO = -2,          /* a file could not be read or written */
	BP_ERR_FORMAT = -3,      /* input is malformed */
	/*
	 * An offset or size read from the input places what it locates outside
	 * the container that must hold it: a zboot payload past the end of the
	 * file or of its section, an image's data-position past the end of the
	 * FIT, a header at e_lfanew past the end of the file. A stream that
	 * merely stops early (a decoder running out of input, a length prefix
	 * longer than the rest of a stream read in order) is truncated input,
	 * BP_ERR_FORMAT; a size over a format's or the caller's limit is
	 * BP_ERR_FORMAT or BP_ERR_TOOBIG.
	 */
	BP_ERR_RANGE = -4,
	BP_ERR_UNSUPPORTED = -5, /* valid, but a feature bootpack does not handle */
	BP_ERR_CODEC = -6,       /* a compression library reported failure */
	BP_ERR_INVALID = -7,     /* bad argument from the caller */
	BP_ERR_NOTFOUND = -8,    /* a named item does not exist */
	BP_ERR_TOOBIG = -9,      /* result would exceed a format limit */
	BP_ERR_SIGNATURE = -10,  /* a signature does not verify, or a required one is missing */
};

/* Static text for a BP_ERR_* code (negative or positive). Never NULL. */
const char *bp_strerror(int err);

#define BP_DIAG_PATH_MAX 4096
#define BP_DIAG_MSG_MAX 512

/* Detail of the last failure: the file concerned (may be empty) and a message. */
struct bp_diag {
	char path[BP_DIAG_PATH_MAX];
	char msg[BP_DIAG_MSG_MAX];
};

/*
 * Record a failure in @d (may be NULL) and return @err, so callers can write
 * "return bp_diag_set(d, BP_ERR_FORMAT, path, "bad magic %#x", m);".
 * A NULL @path keeps the path already recorded.
 */
int bp_diag_set(struct bp_diag *d, int err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Clear @d (may be NULL). */
void bp_diag_clear(struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
