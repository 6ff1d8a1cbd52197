// SPDX-License-Identifier: MIT
#include <bootpack/escape.h>

#include "cli.h"
#include "json.h"

void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	cli_print_esc(f, s, BP_ESC_JSON);
	fputc('"', f);
}

void json_strv(FILE *f, const char *const *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, v[i]);
	}
	fputc(']', f);
}

void json_hex(FILE *f, const uint8_t *p, size_t n)
{
	if (!p) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}
