// SPDX-License-Identifier: MIT
/*
 * The one escaper for untrusted strings (include/bootpack/escape.h gives the
 * rules). The output is printable ASCII in both modes, so neither a terminal
 * nor a JSON consumer ever sees a raw control byte or an invalid sequence.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bootpack/escape.h>

#include "util/esc.h"

/* Longest escape of one unit: a surrogate pair "\ud83d\ude00". */
#define UNIT_MAX 12

/*
 * Decode the valid UTF-8 sequence of 2 to 4 bytes at @p (at most @n bytes)
 * into *@cp and return its length, or return 0 when it is not valid UTF-8.
 */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* The two-character JSON escape of @c, or 0 when it has none. */
static char json_short(unsigned char c)
{
	switch (c) {
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	case '"': return '"';
	case '\\': return '\\';
	}
	return 0;
}

/* One JSON unit at @p: its escape in @u, its width returned, bytes used in *@used. */
static size_t json_unit(const unsigned char *p, size_t n, char *u, size_t *used)
{
	uint32_t cp;

	*used = 1;
	if (p[0] >= 0x80) {
		*used = utf8_decode(p, n, &cp);
		if (!*used) {
			*used = 1;
			cp = 0xfffd;
		}
		if (cp < 0x10000)
			return (size_t)snprintf(u, UNIT_MAX + 1, "\\u%04x", (unsigned int)cp);
		cp -= 0x10000;
		return (size_t)snprintf(u, UNIT_MAX + 1, "\\u%04x\\u%04x",
					(unsigned int)(0xd800 | cp >> 10),
					(unsigned int)(0xdc00 | (cp & 0x3ff)));
	}
	if (json_short(p[0])) {
		u[0] = '\\';
		u[1] = json_short(p[0]);
		return 2;
	}
	if (p[0] < 0x20 || p[0] == 0x7f)
		return (size_t)snprintf(u, UNIT_MAX + 1, "\\u%04x", p[0]);
	u[0] = (char)p[0];
	return 1;
}

static size_t text_unit(const unsigned char *p, char *u, size_t *used)
{
	*used = 1;
	if (p[0] == '\\') {
		u[0] = u[1] = '\\';
		return 2;
	}
	if (p[0] < 0x20 || p[0] >= 0x7f)
		return (size_t)snprintf(u, UNIT_MAX + 1, "\\x%02x", p[0]);
	u[0] = (char)p[0];
	return 1;
}

static size_t unit(const unsigned char *p, size_t n, unsigned int flags, char *u, size_t *used)
{
	return flags == BP_ESC_JSON ? json_unit(p, n, u, used) : text_unit(p, u, used);
}

static size_t escaped_len(const unsigned char *p, size_t len, unsigned int flags)
{
	char u[UNIT_MAX + 1];
	size_t total = 0, used;

	for (size_t i = 0; i < len; i += used)
		total += unit(p + i, len - i, flags, u, &used);
	return total;
}

size_t bp_escape(char *out, size_t outsz, const void *in, size_t len, unsigned int flags)
{
	const unsigned char *p = in;
	size_t total = escaped_len(p, len, flags), k = 0, used;
	/* When cut, stop early enough to leave room for "..." and the NUL. */
	size_t room = total < outsz ? outsz - 1 : outsz > 4 ? outsz - 4 : 0;
	char u[UNIT_MAX + 1];

	if (!outsz)
		return total;
	for (size_t i = 0; i < len; i += used) {
		size_t w = unit(p + i, len - i, flags, u, &used);

		if (w > room - k)
			break;
		memcpy(out + k, u, w);
		k += w;
	}
	if (total >= outsz)
		for (int dots = 0; dots < 3 && k < outsz - 1; dots++)
			out[k++] = '.';
	out[k] = '\0';
	return total;
}

size_t bp_escape_bound(size_t len, unsigned int flags)
{
	size_t per = flags == BP_ESC_JSON ? 6 : 4;

	if (len > (SIZE_MAX - 1) / per)
		return SIZE_MAX;
	return per * len + 1;
}

const char *bpi_esc(char *buf, size_t size, const char *s)
{
	if (!s)
		s = "(null)";
	bp_escape(buf, size, s, strlen(s), BP_ESC_TEXT);
	return buf;
}
