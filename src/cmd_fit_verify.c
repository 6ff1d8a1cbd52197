// SPDX-License-Identifier: MIT
/*
 * bootpack fit verify: hashes, data bounds and references checked as U-Boot
 * checks them, so a FIT can be judged without a board. Exit 1 on any failure.
 */
#include <stdlib.h>
#include <string.h>

#include <bootpack/fit.h>

#include "cli.h"

#define CMD "fit verify"

enum { OPT_HELP = 'h', OPT_DECOMPRESS = 256, OPT_MAX_SIZE };

static const struct cli_opt opts[] = {
	{ "decompress", no_argument, OPT_DECOMPRESS, NULL,
	  "also decompress each image and check its contents" },
	{ "max-size", required_argument, OPT_MAX_SIZE, "SIZE",
	  "decompression limit per image (K/M/G suffixes;\ndefault 1G)" },
	{ "jobs", required_argument, 'j', "N", "check with N threads (default: all CPUs)" },
	{ "quiet", no_argument, 'q', NULL, "print only warnings and failures" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct verify_args {
	struct bp_fit_verify_opts o;
	bool quiet;
};

static void help(void)
{
	printf("Usage: bootpack fit verify [OPTION]... FILE...\n"
	       "Check each FIT as U-Boot would before booting it: structure, external data\n"
	       "bounds, every hash node, configuration references, and that plain arm64\n"
	       "kernels and devicetrees are what they claim. Passing checks go to stdout,\n"
	       "warnings and failures to stderr. Exit status 1 if anything failed.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct verify_args *a = ctx;

	switch (key) {
	case 'q': a->quiet = true; break;
	case OPT_DECOMPRESS: a->o.decompress = true; break;
	case OPT_MAX_SIZE:
		return cli_opt_size(CMD, val, &a->o.max_decompressed);
	case 'j':
		return cli_opt_jobs(CMD, val, &a->o.jobs);
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

struct sink {
	const char *path;
	bool quiet;
};

/* The node name comes from the file; the message is the library's, escaped already. */
static void on_check(void *ctx, const struct bp_fit_check *c)
{
	const struct sink *s = ctx;
	const char *sep = *c->node ? ": " : "";

	if (c->level == BP_FIT_CHECK_OK) {
		if (!s->quiet)
			printf("%s%s%s\n", CLI_ESC(c->node), sep, CLI_MSG(c->msg));
		return;
	}
	/* The "bootpack: 'PATH': ..." form, with the node first. */
	fflush(stdout);
	cli_error(s->path, "%s%s%s%s", c->level == BP_FIT_CHECK_WARN ? "warning: " : "",
		  CLI_ESC(c->node), sep, CLI_MSG(c->msg));
}

static int verify_file(const char *path, const struct verify_args *a)
{
	struct sink s = { path, a->quiet };
	struct bp_fit_verify_stats st = BP_FIT_VERIFY_STATS_INIT;
	const struct bp_fit_info *info;
	struct bp_fit *fit;
	struct bp_diag d;
	int ret = bp_fit_open(path, &fit, &d);

	if (ret)
		return cli_fail(ret, &d);
	ret = bp_fit_verify(fit, &a->o, on_check, &s, &st, &d);
	info = bp_fit_get_info(fit);
	if (ret) {
		ret = cli_fail(ret, &d);
	} else if (st.n_failures) {
		cli_error(path, "FAILED: %zu problem%s found", st.n_failures,
			  st.n_failures == 1 ? "" : "s");
		ret = EXIT_FAIL;
	} else if (!a->quiet) {
		cli_print_esc(stdout, path, BP_ESC_TEXT);
		printf(": OK (%zu image%s, %zu configuration%s, %zu hash%s checked, "
		       "%zu warning%s)\n", info->n_images, info->n_images == 1 ? "" : "s",
		       info->n_configs, info->n_configs == 1 ? "" : "s", st.n_hashes,
		       st.n_hashes == 1 ? "" : "es", st.n_warnings, st.n_warnings == 1 ? "" : "s");
	}
	bp_fit_close(fit);
	return ret;
}

int cmd_fit_verify(int argc, char **argv)
{
	struct verify_args a = { .o = BP_FIT_VERIFY_OPTS_INIT };
	int ret, status = 0;

	a.o.jobs = cli_online_cpus();
	ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind >= argc)
		return cli_usage_error(CMD, "no FIT file given");
	for (int i = optind; i < argc; i++)
		if (verify_file(argv[i], &a))
			status = EXIT_FAIL;
	return status;
}
