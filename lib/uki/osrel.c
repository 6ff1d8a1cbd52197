// SPDX-License-Identifier: MIT
/*
 * os-release(5) values: KEY=VALUE lines, '#' comments, values optionally
 * in single or double quotes, backslash escapes as in the shell (which is
 * what the format is meant to be sourced by). Bounded by the caller's
 * length: nothing here trusts a quote or a newline to come.
 */
#include <stdbool.h>
#include <string.h>

#include "uki/uki_internal.h"

struct cursor {
	const uint8_t *p;
	size_t len, pos;
};

struct value {
	char *out;
	size_t n, len, keep;        /* @keep: length without unquoted trailing blanks */
};

static void put(struct value *v, char c, bool quoted)
{
	if (v->len + 1 < v->n)
		v->out[v->len++] = c;
	if (quoted || (c != ' ' && c != '\t'))
		v->keep = v->len;
}

static bool blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A backslash at c->pos: in double quotes only \" \\ \$ \` escape; outside, anything. */
static void escape(struct cursor *c, struct value *v, uint8_t q)
{
	uint8_t n;

	if (c->pos + 1 >= c->len) {
		c->pos++;
		return;
	}
	n = c->p[c->pos + 1];
	c->pos += 2;
	if (n == '\n')
		return;             /* line continuation */
	if (q == '"' && !strchr("\"\\$`", n))
		put(v, '\\', true);
	put(v, (char)n, true);
}

/* The value starting at c->pos, up to an unquoted newline or the end. */
static void parse_value(struct cursor *c, struct value *v)
{
	uint8_t q = 0;

	while (c->pos < c->len) {
		uint8_t ch = c->p[c->pos];

		if (!q && ch == '\n')
			break;
		if (ch == '\\' && q != '\'') {
			escape(c, v, q);
			continue;
		}
		c->pos++;
		if ((ch == '"' || ch == '\'') && (!q || q == ch))
			q = q ? 0 : ch;
		else
			put(v, (char)ch, q != 0);
	}
	v->len = v->keep;
	v->out[v->len] = '\0';
}

static void skip_line(struct cursor *c)
{
	const uint8_t *nl = memchr(c->p + c->pos, '\n', c->len - c->pos);

	c->pos = nl ? (size_t)(nl - c->p) + 1 : c->len;
}

static bool key_char(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

void bpi_osrel_value(const uint8_t *p, size_t len, const char *key, char *out, size_t n)
{
	const uint8_t *nul = memchr(p, '\0', len);
	struct cursor c = { p, nul ? (size_t)(nul - p) : len, 0 };
	size_t klen = strlen(key);

	out[0] = '\0';
	while (c.pos < c.len) {
		size_t start;

		while (c.pos < c.len && blank(c.p[c.pos]))
			c.pos++;
		start = c.pos;
		while (c.pos < c.len && key_char(c.p[c.pos]))
			c.pos++;
		if (c.pos == c.len || c.p[c.pos] != '=') {
			skip_line(&c);
			continue;
		}
		c.pos++;
		if (c.pos - 1 - start == klen && !memcmp(c.p + start, key, klen)) {
			struct value v = { out, n, 0, 0 };

			parse_value(&c, &v);
		} else {
			/* Not ours, but parsed all the same: a quoted value may span lines. */
			char sink[1];
			struct value v = { sink, sizeof(sink), 0, 0 };

			parse_value(&c, &v);
		}
		skip_line(&c);
	}
}
