// SPDX-License-Identifier: MIT
/*
 * bp_escape(): the two modes byte by byte, the snprintf-style return value,
 * and the documented cut (whole escapes only, then "...", always NUL-ended).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <bootpack/escape.h>

static void check(const char *in, size_t len, unsigned int flags, const char *want)
{
	char out[256];
	size_t n = bp_escape(out, sizeof(out), in, len, flags);

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_true(n < bp_escape_bound(len, flags));
	/* Only the length asked for. */
	assert_int_equal(bp_escape(NULL, 0, in, len, flags), n);
}

static void test_text(void **state)
{
	(void)state;
	check("plain text", 10, BP_ESC_TEXT, "plain text");
	check("a\\b", 3, BP_ESC_TEXT, "a\\\\b");
	check("\x1b[2J\x07\x7f\n", 7, BP_ESC_TEXT, "\\x1b[2J\\x07\\x7f\\x0a");
	check("\0x", 2, BP_ESC_TEXT, "\\x00x");
	/* Every byte >= 0x80, valid UTF-8 (é, U+009B) or not. */
	check("\xc3\xa9\xc2\x9b\xff", 5, BP_ESC_TEXT, "\\xc3\\xa9\\xc2\\x9b\\xff");
	check("", 0, BP_ESC_TEXT, "");
}

static void test_json(void **state)
{
	(void)state;
	check("q\"b\\s/", 6, BP_ESC_JSON, "q\\\"b\\\\s/");
	check("\b\f\n\r\t\x01\x1b\x7f", 8, BP_ESC_JSON,
	      "\\b\\f\\n\\r\\t\\u0001\\u001b\\u007f");
	/* é, the C1 control CSI, a CJK character and an emoji (surrogate pair). */
	check("\xc3\xa9\xc2\x9b\xe6\x97\xa5\xf0\x9f\x98\x80", 11, BP_ESC_JSON,
	      "\\u00e9\\u009b\\u65e5\\ud83d\\ude00");
	/* Invalid: a lone byte, an overlong '/', a surrogate, a cut sequence: U+FFFD per byte. */
	check("\xff", 1, BP_ESC_JSON, "\\ufffd");
	check("\xc0\xaf", 2, BP_ESC_JSON, "\\ufffd\\ufffd");
	check("\xed\xa0\x80", 3, BP_ESC_JSON, "\\ufffd\\ufffd\\ufffd");
	check("\xf0\x9f\x98", 3, BP_ESC_JSON, "\\ufffd\\ufffd\\ufffd");
	check("\xc3(", 2, BP_ESC_JSON, "\\ufffd(");
}

static void test_cut(void **state)
{
	char out[12];
	size_t n;

	(void)state;
	/* "abcdefghijklmnop" needs 16: 8 characters, "..." and the NUL fit in 12. */
	n = bp_escape(out, sizeof(out), "abcdefghijklmnop", 16, BP_ESC_TEXT);
	assert_int_equal(n, 16);
	assert_string_equal(out, "abcdefgh...");
	/* Exactly fitting: no dots. */
	n = bp_escape(out, sizeof(out), "abcdefghijk", 11, BP_ESC_TEXT);
	assert_int_equal(n, 11);
	assert_string_equal(out, "abcdefghijk");
	/* A cut never splits an escape: "\x1b" (4) does not fit after "abcde" (5 + 4 > 8). */
	n = bp_escape(out, sizeof(out), "abcde\x1bxyz", 9, BP_ESC_TEXT);
	assert_int_equal(n, 12);
	assert_string_equal(out, "abcde...");
	/* Tiny buffers: as many dots as fit, always NUL-terminated. */
	n = bp_escape(out, 3, "abcdef", 6, BP_ESC_TEXT);
	assert_int_equal(n, 6);
	assert_string_equal(out, "..");
	n = bp_escape(out, 1, "abcdef", 6, BP_ESC_TEXT);
	assert_string_equal(out, "");
}

static void test_bound(void **state)
{
	(void)state;
	assert_int_equal(bp_escape_bound(10, BP_ESC_TEXT), 41);
	assert_int_equal(bp_escape_bound(10, BP_ESC_JSON), 61);
	assert_int_equal(bp_escape_bound(SIZE_MAX / 2, BP_ESC_JSON), SIZE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
