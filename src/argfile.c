// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int expand(int argc, char **argv, struct argv_list *out, int depth, char *err,
		  size_t errlen);

static int expand_file(const char *path, struct argv_list *out, int depth, char *err,
		       size_t errlen)
{
	struct argv_list inner = { 0 };
	FILE *f = fopen(path, "r");
	char *text;
	size_t len;
	int ret;

	/* gcc keeps an @FILE it cannot open as a literal argument. */
	if (!f)
		return argv_push(out, path - 1, strlen(path - 1));
	if (depth >= ARGFILE_MAX_DEPTH) {
		fclose(f);
		snprintf(err, errlen, "'%s': argument files nested more than %d deep "
			 "(does one include itself?)", path, ARGFILE_MAX_DEPTH);
		return -1;
	}
	ret = read_text(f, &text, &len);
	fclose(f);
	if (ret) {
		snprintf(err, errlen, "'%s': cannot read argument file: %s", path,
			 errno ? strerror(errno) : "too large");
		return -1;
	}
	ret = argfile_split(text, len, &inner);
	free(text);
	if (!ret)
		ret = expand((int)inner.n, inner.v, out, depth + 1, err, errlen);
	argv_free(&inner);
	return ret;
}

static int expand(int argc, char **argv, struct argv_list *out, int depth, char *err,
		  size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		int ret;

		if (argv[i][0] == '@' && argv[i][1])
			ret = expand_file(argv[i] + 1, out, depth, err, errlen);
		else
			ret = argv_push(out, argv[i], strlen(argv[i]));
		if (ret) {
			if (!err[0])
				snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int argfile_expand(int argc, char **argv, struct argv_list *out, char *err, size_t errlen)
{
	err[0] = '\0';
	if (argc < 1)
		return 0;
	if (argv_push(out, argv[0], strlen(argv[0]))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return expand(argc - 1, argv + 1, out, 0, err, errlen);
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
