/* SPDX-License-Identifier: MIT */
/* Just enough JSON output for the --json listings: values, never parsing. */
#ifndef BP_JSON_H
#define BP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * @s as a JSON string, or null when @s is NULL, escaped by bp_escape()'s JSON
 * mode: printable ASCII only; bytes that are not valid UTF-8 (FIT strings are
 * untrusted) become U+FFFD, so the output always parses.
 */
void json_str(FILE *f, const char *s);
/* A JSON array of strings. */
void json_strv(FILE *f, const char *const *v, size_t n);
/* Lower-case hex of @n bytes as a JSON string, or null when @p is NULL. */
void json_hex(FILE *f, const uint8_t *p, size_t n);

#endif
