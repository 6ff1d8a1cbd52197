// SPDX-License-Identifier: MIT
/*
 * Before dtc runs: every file an .its pulls in with /incbin/ (and the
 * sources it pulls in with /include/), found where dtc finds it (the
 * directory of the source naming it, then each -i directory in turn), must
 * be a regular file, and all of them together small enough for a FIT. dtc
 * itself reads whatever it is given: a FIFO would hang it and /dev/zero
 * would eat memory until the machine gives out, so such names stop the
 * build here, with the source line naming them.
 *
 * The scan is lexical, as dtc's own lexer is for these two keywords:
 * comments and string literals are skipped, nothing else is interpreted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fit_its.h"
#include "util/esc.h"
#include "util/util.h"

#define ITS_MAX_DEPTH 16
#define ITS_SRC_MAX ((uint64_t)64 << 20)

struct scan {
	const struct bpi_its_paths *paths;
	uint64_t total;
	struct bpi_its_incbins *ib;  /* the top source's "data = /incbin/(...);" */
	struct bp_diag *d;
};

/* dtc's try_open(): @name as given when absolute or @dir is NULL, else DIR/NAME. */
static char *join(const char *dir, const char *name)
{
	size_t n;
	char *p;

	if (!dir || name[0] == '/')
		return strdup(name);
	n = strlen(dir) + strlen(name) + 2;
	p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* The directory of @path as dtc's get_dirname() takes it, NULL when it has no '/'. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (!slash)
		return NULL;
	dir = strndup(path, (size_t)(slash - path) + (slash == path));
	return dir;
}

/* Where dtc opens @name named in a source in @dir: the first candidate that exists. */
static char *resolve(const struct scan *s, const char *dir, const char *name)
{
	char *p = join(dir, name);
	struct stat st;

	for (size_t i = 0; p && stat(p, &st) && errno == ENOENT && i < s->paths->n_include; i++) {
		free(p);
		p = join(s->paths->include[i], name);
	}
	return p;
}

static const char *kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISDIR(m))
		return "a directory";
	return "not a regular file";
}

static int scan_file(struct scan *s, const char *path, int depth);

/* A quoted name at @q (after the keyword and, for /incbin/, its '('), unescaped into @out. */
static const char *quoted(const char *q, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	if (q >= end || *q != '"')
		return NULL;
	for (q++; q < end && *q != '"' && *q != '\n'; q++) {
		if (*q == '\\' && q + 1 < end)
			q++;
		if (n + 1 < cap)
			out[n++] = *q;
	}
	out[n] = 0;
	return q < end && *q == '"' ? q + 1 : NULL;
}

static const char *skip_ws(const char *q, const char *end)
{
	while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
		q++;
	return q;
}

static int at_name(struct scan *s, const char *src, unsigned int line, const char *dir,
		   const char *name, bool include, int depth, char **keep)
{
	char *full = resolve(s, dir, name);
	struct stat st;
	int ret = 0;

	if (!full)
		return bp_diag_set(s->d, BP_ERR_NOMEM, src, "out of memory");
	if (stat(full, &st))
		ret = bp_diag_set(s->d, BP_ERR_IO, src, "line %u: %s(\"%s\"): %s", line,
				  include ? "/include/" : "/incbin/", BPI_ESC(name), strerror(errno));
	else if (!S_ISREG(st.st_mode))
		ret = bp_diag_set(s->d, BP_ERR_FORMAT, src, "line %u: %s(\"%s\"): %s, not a regular "
				  "file: dtc would read it without end", line,
				  include ? "/include/" : "/incbin/", BPI_ESC(name), kind(st.st_mode));
	else if (include)
		ret = scan_file(s, full, depth + 1);
	else if ((s->total += (uint64_t)st.st_size) > BPI_ITS_DATA_MAX)
		ret = bp_diag_set(s->d, BP_ERR_TOOBIG, src, "line %u: /incbin/(\"%s\"): the files "
				  "pulled in pass %llu MiB, more than a FIT can hold", line,
				  BPI_ESC(name), (unsigned long long)(BPI_ITS_DATA_MAX >> 20));
	if (!ret && keep) {
		*keep = full;
		return 0;
	}
	free(full);
	return ret;
}

/* Whether the /incbin/ at @q (its "(...)" ending at @r) is the whole value of a "data" property. */
static bool whole_data(const char *text, const char *q, const char *r, const char *end)
{
	const char *b = q;

	r = skip_ws(r, end);
	if (r >= end || *r != ')' || (r = skip_ws(r + 1, end)) >= end || *r != ';')
		return false;
	while (b > text && strchr(" \t\r\n", b[-1]))
		b--;
	if (b == text || *--b != '=')
		return false;
	while (b > text && strchr(" \t\r\n", b[-1]))
		b--;
	return b - text >= 5 && !memcmp(b - 4, "data", 4) && strchr(" \t\r\n;{}", b[-5]);
}

static int keep_incbin(struct scan *s, size_t start, size_t stop, char *path)
{
	struct bpi_its_incbin *v = realloc(s->ib->v, (s->ib->n + 1) * sizeof(*v));

	if (!v) {
		free(path);
		return bp_diag_set(s->d, BP_ERR_NOMEM, "", "out of memory");
	}
	s->ib->v = v;
	v[s->ib->n++] = (struct bpi_its_incbin){ start, stop, path };
	return 0;
}

static int scan_text(struct scan *s, const char *src, const char *text, const char *end,
		     int depth)
{
	const char *q = text;
	char *dir = dir_of(src), name[4096];
	unsigned int line = 1;
	int ret = 0;

	while (q < end && !ret) {
		bool inc = end - q >= 9 && !memcmp(q, "/include/", 9);

		if (*q == '\n') {
			line++;
			q++;
		} else if (end - q >= 2 && q[0] == '/' && q[1] == '/') {
			while (q < end && *q != '\n')
				q++;
		} else if (end - q >= 2 && q[0] == '/' && q[1] == '*') {
			for (q += 2; q < end && !(end - q >= 2 && q[0] == '*' && q[1] == '/'); q++)
				line += *q == '\n';
			q += 2;
		} else if (*q == '"') {
			const char *r = quoted(q, end, name, sizeof(name));

			q = r ? r : q + 1;
		} else if (inc || (end - q >= 8 && !memcmp(q, "/incbin/", 8))) {
			const char *r = skip_ws(q + (inc ? 9 : 8), end);

			if (!inc && r < end && *r == '(')
				r = skip_ws(r + 1, end);
			r = quoted(r, end, name, sizeof(name));
			if (r && !inc && !depth && s->ib && whole_data(text, q, r, end)) {
				char *full = NULL;
				const char *close = skip_ws(r, end) + 1;

				ret = at_name(s, src, line, dir, name, false, depth, &full);
				if (!ret)
					ret = keep_incbin(s, (size_t)(q - text), (size_t)(close - text),
							  full);
			} else if (r) {
				ret = at_name(s, src, line, dir, name, inc, depth, NULL);
			}
			q = r ? r : q + 1;
		} else {
			q++;
		}
	}
	free(dir);
	return ret;
}

static int scan_file(struct scan *s, const char *path, int depth)
{
	struct bp_buf text = BP_BUF_INIT;
	int ret;

	if (depth > ITS_MAX_DEPTH)
		return bp_diag_set(s->d, BP_ERR_FORMAT, path, "/include/ nested more than %d deep",
				   ITS_MAX_DEPTH);
	ret = bpi_read_file(path, ITS_SRC_MAX, &text, s->d);
	if (!ret)
		ret = scan_text(s, path, (const char *)text.data, (const char *)text.data + text.len,
				depth);
	bp_buf_free(&text);
	return ret;
}

void bpi_its_incbins_free(struct bpi_its_incbins *ib)
{
	for (size_t i = 0; i < ib->n; i++)
		free(ib->v[i].path);
	free(ib->v);
	ib->v = NULL;
	ib->n = 0;
}

int bpi_its_scan(const char *its, const struct bpi_its_paths *paths, uint64_t *total,
		 struct bpi_its_incbins *ib, struct bp_diag *d)
{
	struct scan s = { .paths = paths, .ib = ib, .d = d };
	struct stat st;
	int ret;

	if (stat(its, &st))
		return bp_diag_set(d, BP_ERR_IO, its, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bp_diag_set(d, BP_ERR_FORMAT, its, "%s, not a regular file", kind(st.st_mode));
	ret = scan_file(&s, its, 0);
	*total = s.total;
	return ret;
}
