// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *path, const char *fmt, ...)
{
	va_list ap;

	fputs("bootpack: ", stderr);
	if (path && *path)
		fprintf(stderr, "'%s': ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_fail(int err, const struct bp_diag *d)
{
	cli_error(d->path, "%s", d->msg[0] ? d->msg : bp_strerror(err));
	return EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bootpack %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'bootpack %s --help' for more information.\n", cmd);
	return EXIT_USAGE;
}

void cli_getopt_tables(const struct cli_opt *opts, size_t n, struct option *longopts,
		       char *shortopts, size_t shortlen)
{
	size_t k = 0;

	/* Leading ':' makes getopt report a missing argument as ':' not '?'. */
	if (shortlen > 1)
		shortopts[k++] = ':';
	for (size_t i = 0; i < n; i++) {
		longopts[i] = (struct option){ opts[i].name, opts[i].has_arg, NULL, opts[i].key };
		if (opts[i].key > 0 && opts[i].key < 256 && k + 3 < shortlen) {
			shortopts[k++] = (char)opts[i].key;
			if (opts[i].has_arg == required_argument)
				shortopts[k++] = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	shortopts[k] = '\0';
}

void cli_print_options(FILE *f, const struct cli_opt *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char left[64];
		int len;

		if (opts[i].key > 0 && opts[i].key < 256)
			len = snprintf(left, sizeof(left), "  -%c, --%s", opts[i].key, opts[i].name);
		else
			len = snprintf(left, sizeof(left), "      --%s", opts[i].name);
		if (opts[i].arg && len > 0 && (size_t)len < sizeof(left))
			snprintf(left + len, sizeof(left) - (size_t)len, " %s", opts[i].arg);
		if (strlen(left) > 28)
			fprintf(f, "%s\n%30s%s\n", left, "", opts[i].help);
		else
			fprintf(f, "%-30s%s\n", left, opts[i].help);
	}
}
