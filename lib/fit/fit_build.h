/* SPDX-License-Identifier: MIT */
/*
 * bp_fit_build() in three parts: fit_gather.c collects the kernel, ramdisk
 * and DTB arguments into images and configurations, fit_pack.c compresses
 * and streams them into the writer (fit_write.c), fit_build.c checks the
 * options and runs the two.
 */
#ifndef BP_FIT_BUILD_H
#define BP_FIT_BUILD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/buf.h>
#include <bootpack/fit.h>
#include <bootpack/hash.h>

#include "fit_internal.h"

/* data-size is a u32, so no input can be larger. */
#define BPI_FIT_INPUT_MAX UINT32_MAX

enum bpi_src_kind { KIND_KERNEL, KIND_RAMDISK, KIND_FDT };

struct src_image {
	enum bpi_src_kind kind;
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
	const struct bp_fit_build_opts *o;   /* the library's copy of the caller's */
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

void bpi_first_failure_init(struct first_failure *f);
/* Keep @d if @index is the lowest failure so far; returns @ret. */
int bpi_first_failure_note(struct first_failure *f, size_t index, int ret,
			   const struct bp_diag *d);
/* Hand the recorded failure to the caller's @d and release @f; returns @ret. */
int bpi_first_failure_report(struct first_failure *f, int ret, struct bp_diag *d);

/* fit_gather.c: the kernel, ramdisk and DTBs into b->img and b->cfg. */
int bpi_fit_gather(struct build *b);

/* fit_pack.c: compress and write every image of @b through a writer into @out. */
int bpi_fit_pack_write(struct build *b, const struct bp_sink *out, struct bp_fit_build_stats *st);

#endif
