// SPDX-License-Identifier: MIT
/*
 * Compiling an .its as mkimage -f compiles it: dtc OPTS -o TMP SOURCE, with
 * mkimage's options unless -D replaces them, the output a private file next
 * to the FIT (as mkimage's .tmp), mapped once dtc is done and then removed.
 * Before dtc runs, every /incbin/ is checked (fit_its_scan.c); whole-value
 * data payloads are read by bootpack instead (fit_its_mark.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>

#include "fit_internal.h"
#include "fit_its.h"
#include "fit_sign.h"
#include "util/esc.h"
#include "util/util.h"

#define DTC_DEFAULT_OPTS "-I dts -O dtb -p 500"
#define DTC_TIMEOUT 600

static int push_arg(struct bpi_its *t, const char *a, size_t n)
{
	char **v = realloc(t->argv, (t->argc + 2) * sizeof(*v));

	if (!v)
		return BP_ERR_NOMEM;
	t->argv = v;
	v[t->argc] = strndup(a, n);
	if (!v[t->argc])
		return BP_ERR_NOMEM;
	v[++t->argc] = NULL;
	return 0;
}

/* A path dtc must not take for an option: "-x.its" is passed as "./-x.its". */
static int push_path(struct bpi_its *t, const char *path)
{
	size_t n = strlen(path);
	char *p;
	int ret;

	if (path[0] != '-')
		return push_arg(t, path, n);
	p = malloc(n + 3);
	if (!p)
		return BP_ERR_NOMEM;
	memcpy(p, "./", 2);
	memcpy(p + 2, path, n + 1);
	ret = push_arg(t, p, n + 2);
	free(p);
	return ret;
}

/* Put @path (as push_path() would) at argv[@i], the last slot. */
int bpi_its_push_path_at(struct bpi_its *t, size_t i, const char *path)
{
	t->argc = i;
	return push_path(t, path);
}

/* dtc OPTS -o TMP ITS, as mkimage's system() runs it (OPTS split at blanks), and OPTS' -i dirs. */
static int command_line(struct bpi_its *t)
{
	const char *q = t->o.dtc_opts ? t->o.dtc_opts : DTC_DEFAULT_OPTS;
	int ret = push_arg(t, t->o.dtc ? t->o.dtc : "dtc", strlen(t->o.dtc ? t->o.dtc : "dtc"));

	while (!ret && *q) {
		size_t n = strcspn(q, " \t\n");

		if (n)
			ret = push_arg(t, q, n);
		q += n;
		q += strspn(q, " \t\n");
	}
	for (size_t i = 1; !ret && i < t->argc; i++) {
		const char *a = t->argv[i], *dir = NULL;

		if ((!strcmp(a, "-i") || !strcmp(a, "--include")) && i + 1 < t->argc)
			dir = t->argv[++i];
		else if (!strncmp(a, "-i", 2))
			dir = a + 2;
		else if (!strncmp(a, "--include=", 10))
			dir = a + 10;
		if (dir) {
			char **v = realloc(t->paths.include, (t->paths.n_include + 1) * sizeof(*v));

			if (!v)
				return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
			t->paths.include = v;
			v[t->paths.n_include++] = (char *)dir;
		}
	}
	if (!ret)
		ret = push_arg(t, "-o", 2);
	if (!ret)
		ret = push_path(t, t->tmp);
	if (!ret)
		ret = push_path(t, t->path);
	return ret ? bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory") : 0;
}

/* A private file next to the output for dtc to write (same file system, like mkimage's .tmp). */
static int make_tmp(struct bpi_its *t)
{
	const char *slash = strrchr(t->out_path, '/');
	size_t dlen = slash ? (size_t)(slash - t->out_path) + 1 : 0;
	int fd;

	t->tmp = malloc(dlen + 32);
	if (!t->tmp)
		return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	memcpy(t->tmp, t->out_path, dlen);
	memcpy(t->tmp + dlen, ".bootpack-dtc-XXXXXX", sizeof(".bootpack-dtc-XXXXXX"));
	fd = mkstemp(t->tmp);
	if (fd < 0) {
		int e = errno;

		free(t->tmp);
		t->tmp = NULL;
		return bp_diag_set(t->d, BP_ERR_IO, t->out_path, "cannot create a file next to it: "
				   "%s", strerror(e));
	}
	close(fd);
	return 0;
}

/* dtc's memory: it holds each /incbin/ file a few times over while it builds the blob. */
static uint64_t dtc_mem_max(uint64_t incbin)
{
	return ((uint64_t)1 << 30) + incbin * 6;
}

static int run_dtc(struct bpi_its *t)
{
	return bpi_its_run_dtc(t->argv, t->path, dtc_mem_max(t->incbin_bytes),
			       t->o.dtc_timeout ? t->o.dtc_timeout : DTC_TIMEOUT, bpi_its_pass_msg, t, t->d);
}

int bpi_its_compile(struct bpi_its *t)
{
	int ret = make_tmp(t);

	if (!ret)
		ret = command_line(t);
	if (!ret)
		ret = bpi_its_scan(t->path, &t->paths, &t->incbin_bytes,
				   bpi_its_can_mark(t) ? &t->ib : NULL, t->d);
	if (!ret && t->ib.n)
		ret = bpi_its_mark_source(t);
	if (!ret)
		ret = run_dtc(t);
	if (ret && t->src_tmp) {
		/* The error as dtc gives it on the source itself, line numbers and all. */
		struct bp_diag first = *t->d;

		unlink(t->src_tmp);
		free(t->argv[t->argc - 1]);
		if (bpi_its_push_path_at(t, t->argc - 1, t->path) || !run_dtc(t))
			*t->d = first;
	}
	if (t->src_tmp) {
		unlink(t->src_tmp);
		free(t->src_tmp);
		t->src_tmp = NULL;
	}
	if (!ret) {
		struct bp_diag md;

		ret = bpi_map_file(t->tmp, BP_FIT_READ_MAX, &t->map, &t->map_len, &md);
		if (ret)
			ret = bp_diag_set(t->d, ret, t->path, "dtc's output: %s", md.msg);
	}
	if (t->tmp) {
		unlink(t->tmp);
		free(t->tmp);
		t->tmp = NULL;
	}
	if (!ret && t->ib.n)
		ret = bpi_its_map_incbins(t);
	return ret;
}
