// SPDX-License-Identifier: MIT
/*
 * Fuzz target: argument files. The input is split at NUL bytes into up to
 * three files, a, b and c, in a scratch directory that is the working
 * directory, so "@b" inside a names b: splitting (quotes, escapes,
 * whitespace), nesting, loops and missing files are all reachable. "@a" is
 * then expanded and a is read as a -T list.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "a", "b", "c" };

static char scratch[] = "/tmp/bp-fuzzarg-XXXXXX";

static void remove_scratch_dir(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(names[i]);
	if (chdir("/") == 0)
		rmdir(scratch);
}

/* A private working directory, made once: the harness only ever writes a, b and c in it. */
static void enter_scratch_dir(void)
{
	static bool made;

	if (made)
		return;
	if (!mkdtemp(scratch) || chdir(scratch) || atexit(remove_scratch_dir))
		abort();
	made = true;
}

static void write_files(const uint8_t *data, size_t size)
{
	size_t at = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const uint8_t *nul = at < size ? memchr(data + at, '\0', size - at) : NULL;
		size_t n = nul ? (size_t)(nul - (data + at)) : size - (at < size ? at : size);
		FILE *f;

		unlink(names[i]);
		if (at > size || (i && at == size))
			continue;
		f = fopen(names[i], "wb");
		if (!f || fwrite(data + at, 1, n, f) != n || fclose(f))
			abort();
		at += n + 1;
	}
}

static void check(const struct argv_list *l, int ret, const char *err)
{
	/* A refusal names its reason; a success is a proper NULL-ended list. */
	if (ret && !err[0])
		abort();
	if (!ret && l->v && l->v[l->n])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char arg0[] = "bootpack", arg1[] = "@a", err[512] = "";
	char *argv[] = { arg0, arg1, NULL };
	struct argv_list l = { 0 };
	int ret;

	if (argfile_split((const char *)data, size, &l) == 0) {
		size_t total = 0;

		/* Splitting never produces more bytes than it was given. */
		for (size_t i = 0; i < l.n; i++)
			total += strlen(l.v[i]);
		if (total > size || (l.v && l.v[l.n]))
			abort();
	}
	argv_free(&l);

	enter_scratch_dir();
	write_files(data, size);
	ret = argfile_expand(2, argv, &l, err, sizeof(err));
	check(&l, ret, err);
	argv_free(&l);
	err[0] = '\0';
	ret = argfile_read_lines("a", &l, err, sizeof(err));
	check(&l, ret, err);
	argv_free(&l);
	return 0;
}
