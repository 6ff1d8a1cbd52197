/* SPDX-License-Identifier: MIT */
/*
 * Experimental API: outputs other than a named file (a file descriptor, a
 * caller's buffer, a write callback) and reading from a file descriptor.
 *
 * No ABI promise: these functions live in the BOOTPACK_EXPERIMENTAL symbol
 * version node and may change or go away in any release, without a new
 * soname. A program opts in by defining BOOTPACK_EXPERIMENTAL before
 * including this header. The structs follow the size rules at the top of
 * <bootpack/fit.h> all the same.
 */
#ifndef BOOTPACK_EXPERIMENTAL_H
#define BOOTPACK_EXPERIMENTAL_H

#ifndef BOOTPACK_EXPERIMENTAL
#error "define BOOTPACK_EXPERIMENTAL before including <bootpack/experimental.h>: this API may change in any release"
#endif

#include <stddef.h>
#include <stdint.h>

#include <bootpack/buf.h>
#include <bootpack/error.h>
#include <bootpack/fit.h>
#include <bootpack/pe.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bp_sink_kind {
	/* A named file, replaced atomically as by the path functions. */
	BP_SINK_PATH = 1,
	/*
	 * An open file descriptor, written from its current offset and left
	 * open. A FIT build patches sizes and hashes after the data, so for it
	 * the descriptor must be seekable and not O_APPEND (a pipe is refused
	 * before anything is written); the other outputs also go to pipes. On
	 * failure the descriptor may hold part of the output.
	 */
	BP_SINK_FD,
	/* A struct bp_buf the output is appended to; on failure it is left as it was. */
	BP_SINK_BUF,
	/*
	 * A callback given the output in order, never asked to seek. A FIT build
	 * assembles the file in memory first (it is patched after the data), so
	 * it holds the whole FIT; the other outputs are in memory anyway. A
	 * negative BP_ERR_* returned by the callback stops the call, which
	 * returns it (anything else non-zero becomes BP_ERR_IO); the callback
	 * may have received part of the output by then.
	 */
	BP_SINK_FN,
};

/* Return 0, or a negative BP_ERR_* to stop. */
typedef int (*bp_sink_write_fn)(void *ctx, const void *p, size_t n);

struct bp_sink {
	size_t size;                /* sizeof(struct bp_sink) */
	enum bp_sink_kind kind;
	const char *name;           /* PATH: the file; otherwise the name in messages */
	int fd;                     /* BP_SINK_FD */
	struct bp_buf *buf;         /* BP_SINK_BUF */
	bp_sink_write_fn write;     /* BP_SINK_FN */
	void *ctx;                  /* passed to @write */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only (see <bootpack/fit.h>) */
#endif
};

#define BP_SINK_PATH_INIT(path) \
	{ .size = sizeof(struct bp_sink), .kind = BP_SINK_PATH, .name = (path), .fd = -1 }
#define BP_SINK_FD_INIT(fd_, name_) \
	{ .size = sizeof(struct bp_sink), .kind = BP_SINK_FD, .name = (name_), .fd = (fd_) }
#define BP_SINK_BUF_INIT(buf_, name_) \
	{ .size = sizeof(struct bp_sink), .kind = BP_SINK_BUF, .name = (name_), .fd = -1, \
	  .buf = (buf_) }
#define BP_SINK_FN_INIT(fn_, ctx_, name_) \
	{ .size = sizeof(struct bp_sink), .kind = BP_SINK_FN, .name = (name_), .fd = -1, \
	  .write = (fn_), .ctx = (ctx_) }

/* bp_fit_build(), bp_fit_extract(), bp_pe_edit(), bp_zboot_extract() into @out. */
int bp_fit_build_to(const struct bp_fit_build_opts *o, const struct bp_sink *out,
		    struct bp_fit_build_stats *st, struct bp_diag *d);
int bp_fit_extract_to(const struct bp_fit *fit, size_t index, const struct bp_fit_extract_opts *o,
		      const struct bp_sink *out, uint64_t *written, struct bp_diag *d);
int bp_pe_edit_to(const struct bp_pe *pe, const struct bp_pe_edit *e, const struct bp_sink *out,
		  struct bp_diag *d);
int bp_zboot_extract_to(const struct bp_pe *pe, const struct bp_sink *out, uint64_t max,
			enum bp_kernel_kind *kind, uint64_t *written, struct bp_diag *d);
/* bp_uki_extract() (<bootpack/uki.h>) into @out. */
int bp_uki_extract_to(const struct bp_pe *pe, const char *name, const struct bp_sink *out,
		      uint64_t *written, struct bp_diag *d);

/*
 * bp_fit_open() and bp_pe_open() reading @fd to its end (a pipe is fine);
 * @name is used in messages. @fd stays open.
 */
int bp_fit_open_fd(int fd, const char *name, struct bp_fit **out, struct bp_diag *d);
int bp_pe_open_fd(int fd, const char *name, struct bp_pe **out, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
