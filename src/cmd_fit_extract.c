// SPDX-License-Identifier: MIT
/*
 * bootpack fit extract: one image out of a FIT, named directly or through a
 * configuration (what dumpimage -p does, by name instead of position).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/fit.h>

#include "cli.h"

#define CMD "fit extract"

enum { OPT_HELP = 'h', OPT_RAW = 256, OPT_NO_VERIFY, OPT_CONFIG, OPT_KIND, OPT_INDEX,
       OPT_MAX_SIZE };

static const struct cli_opt opts[] = {
	{ "output", required_argument, 'o', "FILE",
	  "write the image to FILE, or to standard output\nfor - (required)" },
	{ "raw", no_argument, OPT_RAW, NULL, "write the stored bytes; do not decompress" },
	{ "config", required_argument, OPT_CONFIG, "NAME",
	  "take the image from configuration NAME (with --kind)" },
	{ "kind", required_argument, OPT_KIND, "KIND",
	  "with --config: kernel, fdt, ramdisk or loadable" },
	{ "index", required_argument, OPT_INDEX, "N",
	  "with --config: the Nth fdt or loadable, from 1" },
	{ "no-verify", no_argument, OPT_NO_VERIFY, NULL,
	  "extract even when the image's hash does not match" },
	{ "max-size", required_argument, OPT_MAX_SIZE, "SIZE",
	  "refuse to decompress beyond SIZE bytes (K/M/G\nsuffixes; default 1G)" },
	{ "verbose", no_argument, 'v', NULL, "say what was written" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct extract_args {
	struct bp_fit_extract_opts o;
	const char *output, *config, *kind;
	unsigned long index;          /* 0: not given */
	bool verbose;
};

static void help(void)
{
	printf("Usage: bootpack fit extract FILE IMAGE -o OUT [OPTION]...\n"
	       "       bootpack fit extract FILE --config NAME --kind KIND [--index N] -o OUT\n"
	       "Write one image of a FIT to OUT, decompressed unless --raw, after checking\n"
	       "its hash nodes.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct extract_args *a = ctx;
	char *end;

	switch (key) {
	case 'o': a->output = val; break;
	case 'v': a->verbose = true; break;
	case OPT_RAW: a->o.raw = true; break;
	case OPT_NO_VERIFY: a->o.no_verify = true; break;
	case OPT_CONFIG: a->config = val; break;
	case OPT_KIND: a->kind = val; break;
	case OPT_INDEX:
		errno = 0;
		a->index = strtoul(val, &end, 10);
		if (errno || *end || !*val || *val == '-' || !a->index || a->index > 1000000)
			return cli_usage_error(CMD, "--index '%s': expected a number from 1",
					       CLI_ESC(val));
		break;
	case OPT_MAX_SIZE:
		return cli_opt_size(CMD, val, &a->o.max_size);
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

/* Pick the image a configuration names for @kind; prints the error. */
static int resolve(const char *path, const struct bp_fit *fit, const struct extract_args *a,
		   const char **image)
{
	const struct bp_fit_config *c;
	const char *const *list;
	size_t n;
	int ci = bp_fit_find_config(fit, a->config);

	if (ci < 0) {
		cli_error(path, "no configuration '%s' in /configurations", CLI_ESC(a->config));
		return EXIT_FAIL;
	}
	c = bp_fit_config_at(fit, (size_t)ci);
	/* A malformed reference reads as absent; say what is wrong instead. */
	if (c->problem) {
		cli_error(path, "configuration '%s': %s", CLI_ESC(a->config),
			  CLI_MSG(c->problem));
		return EXIT_FAIL;
	}
	if (!strcmp(a->kind, "kernel")) {
		list = &c->kernel;
		n = c->kernel != NULL;
	} else if (!strcmp(a->kind, "ramdisk")) {
		list = &c->ramdisk;
		n = c->ramdisk != NULL;
	} else if (!strcmp(a->kind, "fdt")) {
		list = c->fdts;
		n = c->n_fdts;
	} else {
		list = c->loadables;
		n = c->n_loadables;
	}
	if (!n) {
		cli_error(path, "configuration '%s' names no %s image", CLI_ESC(a->config),
			  a->kind);
		return EXIT_FAIL;
	}
	if (a->index > n) {
		cli_error(path, "configuration '%s' names %zu %s image%s; --index %lu is past "
			  "the end", CLI_ESC(a->config), n, a->kind, n == 1 ? "" : "s", a->index);
		return EXIT_FAIL;
	}
	if (!a->index && n > 1) {
		cli_error(path, "configuration '%s' names %zu %s images; choose one with "
			  "--index 1 to %zu", CLI_ESC(a->config), n, a->kind, n);
		return EXIT_FAIL;
	}
	*image = list[a->index ? a->index - 1 : 0];
	return 0;
}

static int check_args(const struct extract_args *a, int nops)
{
	static const char *const kinds[] = { "kernel", "fdt", "ramdisk", "loadable" };
	bool known = false;

	if (!a->output)
		return cli_usage_error(CMD, "missing required option -o/--output");
	if (nops < 1)
		return cli_usage_error(CMD, "no FIT file given");
	if (a->config && nops > 1)
		return cli_usage_error(CMD, "give either an IMAGE or --config, not both");
	if (!a->config && nops != 2)
		return cli_usage_error(CMD, nops < 2 ? "no IMAGE given (or use --config NAME "
				       "--kind KIND)" : "too many arguments");
	if (!a->config && (a->kind || a->index))
		return cli_usage_error(CMD, "--kind and --index need --config");
	if (a->config && !a->kind)
		return cli_usage_error(CMD, "--config needs --kind (kernel, fdt, ramdisk or "
				       "loadable)");
	for (size_t i = 0; a->kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		known |= !strcmp(a->kind, kinds[i]);
	if (a->kind && !known)
		return cli_usage_error(CMD, "--kind '%s': expected kernel, fdt, ramdisk or "
				       "loadable", CLI_ESC(a->kind));
	if (a->index && a->kind && (!strcmp(a->kind, "kernel") || !strcmp(a->kind, "ramdisk")))
		return cli_usage_error(CMD, "--index applies to --kind fdt or loadable");
	return 0;
}

int cmd_fit_extract(int argc, char **argv)
{
	struct extract_args a = { .o = BP_FIT_EXTRACT_OPTS_INIT };
	const char *path, *image;
	struct bp_sink out;
	struct bp_fit *fit;
	struct bp_diag d;
	uint64_t written = 0;
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a), idx;

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = check_args(&a, argc - optind);
	if (ret)
		return ret;
	path = argv[optind];
	image = a.config ? NULL : argv[optind + 1];
	ret = bp_fit_open(path, &fit, &d);
	if (ret)
		return cli_fail(ret, &d);
	if (a.config)
		ret = resolve(path, fit, &a, &image);
	if (ret)
		goto out;
	idx = bp_fit_find_image(fit, image);
	if (idx < 0 && a.config) {
		cli_error(path, "configuration '%s': %s '%s' is not an image in /images",
			  CLI_ESC(a.config), a.kind, CLI_ESC(image));
		ret = EXIT_FAIL;
		goto out;
	}
	if (idx < 0) {
		cli_error(path, "no image '%s' in /images", CLI_ESC(image));
		ret = EXIT_FAIL;
		goto out;
	}
	out = cli_output(a.output);
	ret = bp_fit_extract_to(fit, (size_t)idx, &a.o, &out, &written, &d);
	if (ret) {
		ret = cli_fail(ret, &d);
		goto out;
	}
	if (a.verbose)
		fprintf(cli_report_stream(a.output), "%s: image '%s', %" PRIu64 " bytes\n",
			CLI_ESC(a.output), CLI_ESC(image), written);
out:
	bp_fit_close(fit);
	return ret;
}
