// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootpack/escape.h>

#include "cli.h"

/* Input bytes escaped per call of cli_print_esc(): its buffer is 6x that. */
#define ESC_CHUNK 1024

void cli_error(const char *path, const char *fmt, ...)
{
	va_list ap;

	fputs("bootpack: ", stderr);
	if (path && *path) {
		fputc('\'', stderr);
		cli_print_esc(stderr, path, BP_ESC_TEXT);
		fputs("': ", stderr);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_error_text(const char *msg)
{
	fputs("bootpack: ", stderr);
	cli_print_esc(stderr, msg, BP_ESC_TEXT);
	fputc('\n', stderr);
}

int cli_fail(int err, const struct bp_diag *d)
{
	cli_error(d->path, "%s", d->msg[0] ? CLI_MSG(d->msg) : bp_strerror(err));
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

int cli_missing_options(const char *cmd, const char *const *missing, size_t n)
{
	char list[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					!i ? "" : i + 1 < n ? ", " : " and ", missing[i]);
	return cli_usage_error(cmd, "missing required option%s %s", n > 1 ? "s" : "", list);
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
			fprintf(f, "%s\n%30s", left, "");
		else
			fprintf(f, "%-30s", left);
		/* A newline in the help text continues it in the same column. */
		for (const char *h = opts[i].help; *h; h++) {
			fputc(*h, f);
			if (*h == '\n')
				fprintf(f, "%30s", "");
		}
		fputc('\n', f);
	}
}

int cli_parse(const char *cmd, const struct cli_opt *opts, size_t n, int argc, char **argv,
	      void (*help)(void), int (*set)(void *ctx, int key, const char *val), void *ctx)
{
	struct option longopts[CLI_OPTS_MAX + 1];
	char shortopts[2 * CLI_OPTS_MAX + 2];
	int key;

	if (n > CLI_OPTS_MAX)
		return cli_usage_error(cmd, "internal error: too many options");
	cli_getopt_tables(opts, n, longopts, shortopts, sizeof(shortopts));
	optind = 1;
	opterr = 0;
	while ((key = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int ret;

		if (key == 'h') {
			help();
			return -1;
		}
		if (key == ':')
			return cli_usage_error(cmd, "option '%s' needs an argument",
					       CLI_ESC(argv[optind - 1]));
		if (key == '?')
			return cli_usage_error(cmd, "unknown option '%s'",
					       CLI_ESC(argv[optind - 1]));
		ret = set(ctx, key, optarg);
		if (ret)
			return ret;
	}
	return 0;
}

bool cli_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (*end) {
		u = strchr(units, *end);
		if (!u || !*u || (end[1] && strcmp(end + 1, "iB")))
			return false;
		for (const char *k = units; k <= u; k++) {
			if (v > UINT64_MAX / 1024)
				return false;
			v *= 1024;
		}
	}
	if (!v)
		return false;
	*out = v;
	return true;
}

struct bp_sink cli_output(const char *path)
{
	if (!strcmp(path, "-"))
		return (struct bp_sink)BP_SINK_FD_INIT(STDOUT_FILENO, "<stdout>");
	return (struct bp_sink)BP_SINK_PATH_INIT(path);
}

FILE *cli_report_stream(const char *output)
{
	return strcmp(output, "-") ? stdout : stderr;
}

unsigned int cli_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 256 ? 256 : (unsigned int)n;
}

int cli_opt_jobs(const char *cmd, const char *val, unsigned int *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(val, &end, 10);
	if (!*val || *val == '-' || *end || errno || n > 256)
		return cli_usage_error(cmd, "--jobs '%s': expected a number from 0 (all CPUs) "
				       "to 256", CLI_ESC(val));
	*out = n ? (unsigned int)n : cli_online_cpus();
	return 0;
}

int cli_opt_size(const char *cmd, const char *val, uint64_t *out)
{
	if (!cli_parse_size(val, out))
		return cli_usage_error(cmd, "--max-size '%s': expected a byte count such as 512M "
				       "or 2G", CLI_ESC(val));
	return 0;
}

int cli_set_flag(void *ctx, int key, const char *val)
{
	(void)key;
	(void)val;
	*(bool *)ctx = true;
	return 0;
}

void cli_print_esc(FILE *f, const char *s, unsigned int flags)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
	size_t n = strlen((const char *)p);
	char out[6 * ESC_CHUNK + 1];

	/* In chunks that never split a UTF-8 sequence, so JSON mode decodes it whole. */
	for (size_t i = 0, len; i < n; i += len) {
		len = n - i < ESC_CHUNK ? n - i : ESC_CHUNK;
		for (size_t back = 0; back < 3 && len > 3 && i + len < n &&
		     (p[i + len] & 0xc0) == 0x80; back++)
			len--;
		bp_escape(out, sizeof(out), p + i, len, flags);
		fputs(out, f);
	}
}

const char *cli_esc(char *buf, size_t size, const char *s)
{
	if (!s)
		s = "(null)";
	bp_escape(buf, size, s, strlen(s), BP_ESC_TEXT);
	return buf;
}

const char *cli_msg(char *buf, size_t size, const char *msg)
{
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return cli_esc(buf, size, msg);
	return msg;
}
