// SPDX-License-Identifier: MIT
/* Response-file expansion: quoting, nesting, missing files, -T lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "argfile.h"

static char tmpdir[] = "/tmp/bp-argfile-XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *in_tmp(const char *prefix, const char *name)
{
	static char buf[4][256];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, 256, "%s%s/%s", prefix, tmpdir, name);
	return p;
}

static void assert_args(const struct argv_list *l, const char *const *want, size_t n)
{
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->v[i], want[i]);
	assert_null(l->v[n]);
}

static void test_split_quotes(void **state)
{
	static const char text[] = "  a 'b c'  \"d e\" f\\ g 'h\\'i' \"\" x\"y z\"w \\\\ tail\\";
	static const char *const want[] = { "a", "b c", "d e", "f g", "h'i", "", "xy zw", "\\",
					    "tail" };
	struct argv_list l = { 0 };

	(void)state;
	assert_int_equal(argfile_split(text, strlen(text), &l), 0);
	assert_args(&l, want, 9);
	argv_free(&l);
}

static void test_split_newlines_are_whitespace(void **state)
{
	static const char text[] = "one\ntwo\r\n\tthree\n\n";
	static const char *const want[] = { "one", "two", "three" };
	struct argv_list l = { 0 };

	(void)state;
	assert_int_equal(argfile_split(text, strlen(text), &l), 0);
	assert_args(&l, want, 3);
	argv_free(&l);
}

static void test_expand_nested_and_missing(void **state)
{
	struct argv_list l = { 0 };
	char err[256];
	char *argv[] = { "prog", "-o", NULL, "last", NULL };
	char *missing[] = { "prog", "@/nonexistent/file", NULL };
	static char outer[256];

	(void)state;
	write_file("inner", "x.dtb 'y z.dtb'\n");
	snprintf(outer, sizeof(outer), "-v @%s/inner w.dtb", tmpdir);
	write_file("outer", outer);
	argv[2] = in_tmp("@", "outer");
	assert_int_equal(argfile_expand(4, argv, &l, err, sizeof(err)), 0);
	const char *want[] = { "prog", "-o", "-v", "x.dtb", "y z.dtb", "w.dtb", "last" };
	assert_args(&l, want, 7);
	argv_free(&l);
	/* Unlike gcc's, a missing @FILE is an error, as in make_fit.py. */
	assert_int_equal(argfile_expand(2, missing, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "'/nonexistent/file': cannot open argument file: No such file "
			    "or directory");
	argv_free(&l);
}

static void test_expand_loop_is_an_error(void **state)
{
	struct argv_list l = { 0 };
	char err[256], text[256];
	char *argv[] = { "prog", NULL };

	(void)state;
	snprintf(text, sizeof(text), "a @%s/self", tmpdir);
	write_file("self", text);
	argv[1] = in_tmp("@", "self");
	assert_int_equal(argfile_expand(2, argv, &l, err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "'%s/self': argument file includes itself", tmpdir);
	assert_string_equal(err, text);
	argv_free(&l);
}

static void test_lone_at_is_literal(void **state)
{
	struct argv_list l = { 0 };
	char err[64];
	char *argv[] = { "prog", "@", NULL };
	const char *want[] = { "prog", "@" };

	(void)state;
	assert_int_equal(argfile_expand(2, argv, &l, err, sizeof(err)), 0);
	assert_args(&l, want, 2);
	argv_free(&l);
}

static void test_read_lines(void **state)
{
	struct argv_list l = { 0 };
	char err[256];
	const char *want[] = { "a b.dtb", "'q'.dtb", "c.dtb" };

	(void)state;
	write_file("list", "a b.dtb\r\n\n'q'.dtb\nc.dtb");
	assert_int_equal(argfile_read_lines(in_tmp("", "list"), &l, err, sizeof(err)), 0);
	assert_args(&l, want, 3);
	argv_free(&l);
	assert_int_equal(argfile_read_lines(in_tmp("", "missing"), &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open: No such file or directory"));
	argv_free(&l);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_quotes),
		cmocka_unit_test(test_split_newlines_are_whitespace),
		cmocka_unit_test(test_expand_nested_and_missing),
		cmocka_unit_test(test_expand_loop_is_an_error),
		cmocka_unit_test(test_lone_at_is_literal),
		cmocka_unit_test(test_read_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
