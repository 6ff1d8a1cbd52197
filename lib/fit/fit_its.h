/* SPDX-License-Identifier: MIT */
/*
 * Building a FIT from an image tree source (bpi_: internal): fit_its_scan.c
 * checks what the source pulls in, fit_its_dtc.c runs dtc, fit_its.c runs
 * mkimage -f's processing on the result (through the signing planner,
 * fit_sign.h).
 */
#ifndef BP_FIT_ITS_H
#define BP_FIT_ITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>
#include <bootpack/fit.h>

#include "fit_sign.h"

/* What the /incbin/ files may add up to: dtc keeps a devicetree's sizes in ints. */
#define BPI_ITS_DATA_MAX ((uint64_t)2 << 30)

/* dtc's command line, split, and the -i directories in it. */
struct bpi_its_paths {
	char **include;
	size_t n_include;
};

/*
 * A "data = /incbin/("FILE");" of the top source: the whole value one file.
 * bootpack reads such a file itself (see fit_its.c); @start and @end delimit
 * the /incbin/(...) text.
 */
struct bpi_its_incbin {
	size_t start, end;
	char *path;                /* resolved as dtc resolves it */
};

struct bpi_its_incbins {
	struct bpi_its_incbin *v;
	size_t n;
};

void bpi_its_incbins_free(struct bpi_its_incbins *ib);

/*
 * Check every /incbin/ and /include/ of @its (see fit_its_scan.c); @total
 * gets their bytes, @ib (may be NULL) the top source's whole-value "data"
 * ones.
 */
int bpi_its_scan(const char *its, const struct bpi_its_paths *paths, uint64_t *total,
		 struct bpi_its_incbins *ib, struct bp_diag *d);

/* A line dtc printed (its warnings), handed to the caller; @ctx is the caller's. */
typedef void (*bpi_its_msg_fn)(void *ctx, const char *line);

/*
 * Run @argv (dtc, its options, "-o", the output, the source) with at most
 * @mem_max bytes of address space and @timeout_s seconds; its messages go
 * to @msg line by line (may be NULL). A failure is BP_ERR_FORMAT naming
 * @its with dtc's first error line.
 */
int bpi_its_run_dtc(char *const *argv, const char *its, uint64_t mem_max, unsigned int timeout_s,
		    bpi_its_msg_fn msg, void *ctx, struct bp_diag *d);

/* One build (fit_its.c), compiled by fit_its_compile.c and fit_its_mark.c. */
struct bpi_its {
	struct bp_fit_its_opts o;
	const char *path, *out_path;
	char **argv;               /* dtc's command line */
	size_t argc;
	struct bpi_its_paths paths;
	char *tmp;                 /* dtc's output file, removed once mapped */
	const uint8_t *map;
	size_t map_len;
	uint64_t incbin_bytes;
	struct bpi_its_incbins ib; /* "data = /incbin/(...);" read by bootpack, not dtc */
	char *src_tmp;             /* the source with those replaced by markers */
	struct sg_subst *sub;      /* their files, mapped */
	struct sg_subst_tab tab;
	struct sg_its sg;
	struct bp_diag *d;
};

/* fit_its_compile.c: dtc's output mapped in t->map, the marked files in t->tab. */
int bpi_its_compile(struct bpi_its *t);

/* fit_its_compile.c: argv[@i] (the last) = @path, "./"-prefixed when it starts with '-'. */
int bpi_its_push_path_at(struct bpi_its *t, size_t i, const char *path);

/* fit_its_mark.c: whether whole-value data /incbin/s are marked (dtc's usual dts-to-dtb run). */
bool bpi_its_can_mark(const struct bpi_its *t);
/* Write the marked copy of the source next to it and point dtc at it (no copy: dtc reads all). */
int bpi_its_mark_source(struct bpi_its *t);
/* dtc's message @line for the caller, the marked copy's name put back to the source's. */
void bpi_its_pass_msg(void *ctx, const char *line);
/* Map the marked files (t->ib) into t->sub, t->tab. */
int bpi_its_map_incbins(struct bpi_its *t);

#endif
