// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "argfile.h"

/* Argument files are text listing paths; refuse anything absurdly large. */
#define ARGFILE_MAX_BYTES (64u << 20)

int argv_push(struct argv_list *l, const char *s, size_t len)
{
	char *copy;

	if (l->n + 1 >= l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	l->v[l->n++] = copy;
	l->v[l->n] = NULL;
	return 0;
}

void argv_free(struct argv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int argfile_split(const char *text, size_t len, struct argv_list *out)
{
	char *arg = malloc(len + 1);
	size_t i = 0;
	int ret = 0;

	if (!arg)
		return -1;
	while (i < len && !ret) {
		size_t k = 0;
		char quote = 0;

		while (i < len && is_space(text[i]))
			i++;
		if (i == len)
			break;
		/* One argument: runs until unquoted, unescaped whitespace. */
		for (; i < len; i++) {
			char c = text[i];

			if (c == '\\' && i + 1 < len) {
				arg[k++] = text[++i];
			} else if (quote) {
				if (c == quote)
					quote = 0;
				else
					arg[k++] = c;
			} else if (c == '\'' || c == '"') {
				quote = c;
			} else if (is_space(c)) {
				break;
			} else if (c != '\\') {
				arg[k++] = c;
			}
		}
		ret = argv_push(out, arg, k);
	}
	free(arg);
	return ret;
}

static int read_text(FILE *f, char **text, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0 || n == cap) {
			if (ferror(f) || n > ARGFILE_MAX_BYTES)
				break;
			if (feof(f)) {
				*text = buf;
				*len = n;
				return 0;
			}
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	return -1;
}

/* The argument files being read, outermost first, to name a loop when one closes. */
struct open_file {
	const char *path;
	dev_t dev;
	ino_t ino;
};

struct expansion {
	struct argv_list *out;
	struct open_file open[ARGFILE_MAX_DEPTH];
	int depth;
	char *err;
	size_t errlen;
};

static int expand(struct expansion *x, int argc, char **argv);

/* Say which files form the loop that reopens open[@k], named @path this time. */
static void loop_error(struct expansion *x, int k, const char *path)
{
	const char *inner = x->open[x->depth - 1].path;
	size_t n;

	if (k == x->depth - 1 && !strcmp(path, inner)) {
		snprintf(x->err, x->errlen, "'%s': argument file includes itself", inner);
		return;
	}
	if (k == x->depth - 1) {
		snprintf(x->err, x->errlen, "'%s': argument file includes itself (as '%s')", inner,
			 path);
		return;
	}
	n = (size_t)snprintf(x->err, x->errlen, "'%s': argument files include each other: ",
			     inner);
	for (int i = k; i < x->depth && n < x->errlen; i++)
		n += (size_t)snprintf(x->err + n, x->errlen - n, "%s -> ", x->open[i].path);
	if (n < x->errlen)
		snprintf(x->err + n, x->errlen - n, "%s", path);
}

/* Open @path as the next nested argument file, refusing loops and missing files. */
static FILE *open_argfile(struct expansion *x, const char *path)
{
	FILE *f = fopen(path, "r");
	struct stat st;

	if (!f) {
		/* An @FILE given but not there is a mistake, as make_fit.py's argparse says. */
		if (x->depth)
			snprintf(x->err, x->errlen, "'%s': cannot open argument file (named in "
				 "'%s'): %s", path, x->open[x->depth - 1].path, strerror(errno));
		else
			snprintf(x->err, x->errlen, "'%s': cannot open argument file: %s", path,
				 strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0) {
		snprintf(x->err, x->errlen, "'%s': cannot read argument file: %s", path,
			 strerror(errno));
		fclose(f);
		return NULL;
	}
	for (int k = 0; k < x->depth; k++) {
		if (x->open[k].dev == st.st_dev && x->open[k].ino == st.st_ino) {
			fclose(f);
			loop_error(x, k, path);
			return NULL;
		}
	}
	if (x->depth >= ARGFILE_MAX_DEPTH) {
		fclose(f);
		snprintf(x->err, x->errlen, "'%s': argument files nested more than %d deep",
			 path, ARGFILE_MAX_DEPTH);
		return NULL;
	}
	x->open[x->depth++] = (struct open_file){ path, st.st_dev, st.st_ino };
	return f;
}

static int expand_file(struct expansion *x, const char *path)
{
	struct argv_list inner = { 0 };
	FILE *f = open_argfile(x, path);
	char *text;
	size_t len;
	int ret;

	if (!f)
		return -1;
	errno = 0;
	ret = read_text(f, &text, &len);
	fclose(f);
	if (ret) {
		snprintf(x->err, x->errlen, "'%s': cannot read argument file: %s", path,
			 errno ? strerror(errno) : "too large");
		return -1;
	}
	ret = argfile_split(text, len, &inner);
	free(text);
	if (!ret)
		ret = expand(x, (int)inner.n, inner.v);
	argv_free(&inner);
	x->depth--;
	return ret;
}

/*
 * Options whose value may be "@FILE" meaning "the text of FILE" (uki build,
 * kexec envelope): the argument after one of them is its value, passed on
 * as it is, so "--cmdline @FILE" reads like "--cmdline=@FILE".
 */
static const char *const text_options[] = { "--cmdline", "--os-release", "--sbat" };

static bool takes_text(const struct argv_list *out)
{
	const char *prev = out->n ? out->v[out->n - 1] : "";

	for (size_t i = 0; i < sizeof(text_options) / sizeof(text_options[0]); i++)
		if (!strcmp(prev, text_options[i]))
			return true;
	return false;
}

static int expand(struct expansion *x, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int ret;

		if (argv[i][0] == '@' && argv[i][1] && !takes_text(x->out))
			ret = expand_file(x, argv[i] + 1);
		else
			ret = argv_push(x->out, argv[i], strlen(argv[i]));
		if (ret) {
			if (!x->err[0])
				snprintf(x->err, x->errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int argfile_expand(int argc, char **argv, struct argv_list *out, char *err, size_t errlen)
{
	struct expansion *x;
	int ret;

	err[0] = '\0';
	if (argc < 1)
		return 0;
	x = calloc(1, sizeof(*x));
	if (!x || argv_push(out, argv[0], strlen(argv[0]))) {
		free(x);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*x = (struct expansion){ .out = out, .err = err, .errlen = errlen };
	ret = expand(x, argc - 1, argv + 1);
	free(x);
	return ret;
}

int argfile_read_lines(const char *path, struct argv_list *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text, *p, *end;
	size_t len;
	int ret;

	if (!f) {
		snprintf(err, errlen, "'%s': cannot open: %s", path, strerror(errno));
		return -1;
	}
	ret = read_text(f, &text, &len);
	fclose(f);
	if (ret) {
		snprintf(err, errlen, "'%s': cannot read: %s", path,
			 errno ? strerror(errno) : "too large");
		return -1;
	}
	for (p = text, end = text + len; p < end && !ret;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n && p[n - 1] == '\r')
			n--;
		if (n)
			ret = argv_push(out, p, n);
		p += (nl ? (size_t)(nl - p) + 1 : n);
		if (!nl)
			break;
	}
	free(text);
	if (ret)
		snprintf(err, errlen, "out of memory");
	return ret;
}
