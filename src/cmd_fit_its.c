// SPDX-License-Identifier: MIT
/*
 * bootpack fit build --its: a FIT from an image tree source, as mkimage -f
 * makes it, with mkimage's option letters where they mean the same
 * (-f -E -B -p -k -K -r -D -t), so `mkimage -f X.its [OPTS] OUT` becomes
 * `bootpack fit build -f X.its [OPTS] OUT`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <bootpack/fit.h>

#include "cli.h"
#include "keyopts.h"

#define CMD "fit build --its"

enum { OPT_HELP = 'h', OPT_DTC = 256 };

static const struct cli_opt opts[] = {
	{ "its", required_argument, 'f', "FILE", "the image tree source (required; mkimage -f)" },
	{ "output", required_argument, 'o', "FILE",
	  "write the FIT to FILE (or give FILE last, as\nmkimage takes it)" },
	{ "external", no_argument, 'E', NULL, "place image data after the tree (mkimage -E)" },
	{ "align", required_argument, 'B', "HEX",
	  "align the tree's end and each external image to\nHEX bytes, a power of 2 (mkimage -B; default 4)" },
	{ "external-position", required_argument, 'p', "HEX",
	  "with -E: data at this file offset, data-position\nnodes (mkimage -p)" },
	{ "key-dir", required_argument, 'k', "DIR",
	  "sign each signature-N node with DIR/NAME.key,\nNAME its key-name-hint (mkimage -k)" },
	{ "key-out", required_argument, 'K', "DTB",
	  "write the public keys into control DTB (mkimage -K)" },
	{ "required", no_argument, 'r', NULL, "with -K: mark the keys required (mkimage -r)" },
	{ "dtc-opts", required_argument, 'D', "OPTS",
	  "dtc's options instead of \"-I dts -O dtb -p 500\"\n(mkimage -D; split at blanks)" },
	{ "dtc", required_argument, OPT_DTC, "PROG", "the dtc to run (default: dtc from PATH)" },
	{ "timestamp", no_argument, 't', NULL,
	  "accepted for mkimage -t: the timestamp is always\nset (SOURCE_DATE_EPOCH, else now)" },
	{ "jobs", required_argument, 'j', "N", "hash and sign with N threads (default: all CPUs)" },
	{ "verbose", no_argument, 'v', NULL, "print sizes and counts when done" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct its_args {
	struct bp_fit_its_opts o;
	const char *its, *output;
	bool verbose;
};

static void help(void)
{
	printf("Usage: bootpack fit build --its FILE.its [OPTION]... -o OUT\n"
	       "       bootpack fit build -f FILE.its [OPTION]... OUT\n"
	       "Build a FIT from an image tree source as U-Boot's mkimage -f does: dtc\n"
	       "compiles it, then every hash-N value is computed, every signature-N signed\n"
	       "(with -k), the timestamp set and, with -E, the data placed after the tree.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
	printf("\nSOURCE_DATE_EPOCH sets the timestamp. /incbin/ files must be regular files.\n");
}

static bool parse_hex(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int set_option(void *ctx, int key, const char *val)
{
	struct its_args *a = ctx;
	uint32_t v;

	switch (key) {
	case 'f': a->its = val; break;
	case 'o': a->output = val; break;
	case 'E': a->o.external = true; break;
	case 'k': a->o.keydir = val; break;
	case 'K': a->o.key_out = val; break;
	case 'r': a->o.required = true; break;
	case 'D': a->o.dtc_opts = val; break;
	case OPT_DTC: a->o.dtc = val; break;
	case 't': break;
	case 'v': a->verbose = true; break;
	case 'B':
		if (!parse_hex(val, &v) || v < 4 || (v & (v - 1)))
			return cli_usage_error(CMD, "-B/--align '%s': not a hexadecimal power of 2 of "
					       "at least 4", CLI_ESC(val));
		a->o.align = v;
		break;
	case 'p':
		if (!parse_hex(val, &a->o.position) || !a->o.position)
			return cli_usage_error(CMD, "-p/--external-position '%s': not a hexadecimal "
					       "offset above 0", CLI_ESC(val));
		break;
	case 'j':
		return cli_opt_jobs(CMD, val, &a->o.jobs);
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

static int parse(int argc, char **argv, struct its_args *a)
{
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, a);

	if (ret)
		return ret;
	if (optind < argc && !a->output)
		a->output = argv[optind++];
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", CLI_ESC(argv[optind]));
	if (!a->its)
		return cli_missing_options(CMD, (const char *[]){ "--its" }, 1);
	if (!a->output)
		return cli_missing_options(CMD, (const char *[]){ "-o/--output" }, 1);
	if (!strcmp(a->output, "-"))
		return cli_usage_error(CMD, "'-' is not a file: the FIT goes to a named file");
	if ((a->o.position || a->o.align) && !a->o.external)
		return cli_usage_error(CMD, "-B/--align and -p/--external-position need -E/--external");
	if (a->o.position && !a->o.external)
		return cli_usage_error(CMD, "-p/--external-position needs -E/--external");
	if (a->o.required && !a->o.key_out)
		return cli_usage_error(CMD, "-r/--required needs -K/--key-out");
	if (a->o.key_out && !a->o.keydir)
		return cli_usage_error(CMD, "-K/--key-out needs -k/--key-dir");
	return 0;
}

/* dtc's warnings, escaped: they quote the source. */
static void dtc_message(void *ctx, const char *line)
{
	(void)ctx;
	fputs("bootpack: dtc: ", stderr);
	cli_print_esc(stderr, line, BP_ESC_TEXT);
	fputc('\n', stderr);
}

/* Sizes, and the peak memory of bootpack and of dtc apart (a shell's time shows their maximum). */
static void report(const struct its_args *a, const struct bp_fit_build_stats *st)
{
	struct rusage self, dtc;

	cli_print_esc(stdout, a->output, BP_ESC_TEXT);
	printf(": %zu image%s, %zu configuration%s, %llu bytes (tree %llu bytes)\n", st->n_files,
	       st->n_files == 1 ? "" : "s", st->n_configs, st->n_configs == 1 ? "" : "s",
	       (unsigned long long)st->fit_size, (unsigned long long)st->fdt_size);
	if (!getrusage(RUSAGE_SELF, &self) && !getrusage(RUSAGE_CHILDREN, &dtc))
		printf("peak RSS: bootpack %ld KiB, dtc %ld KiB\n", self.ru_maxrss, dtc.ru_maxrss);
}

int cmd_fit_its(int argc, char **argv)
{
	struct its_args a = { .o = BP_FIT_ITS_OPTS_INIT };
	struct bp_fit_build_stats st = BP_FIT_BUILD_STATS_INIT;
	struct bp_diag d;
	bool set;
	int ret;

	/* "fit build --its --help": getopt would take --help for the source's name. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help();
			return EXIT_OK;
		}
	a.o.jobs = cli_online_cpus();
	a.o.dtc_message = dtc_message;
	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (keyopts_source_date_epoch(&set, &a.o.timestamp))
		return EXIT_FAIL;
	if (!set) {
		time_t now = time(NULL);

		a.o.timestamp = now < 0 ? 0 : (uint32_t)now;
	}
	ret = bp_fit_build_its(a.its, &a.o, a.output, &st, &d);
	if (ret)
		return cli_fail(ret, &d);
	if (a.verbose)
		report(&a, &st);
	return EXIT_OK;
}

/* fit build with --its or -f anywhere before "--": this command. */
bool cmd_fit_its_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strncmp(argv[i], "-f", 2) || !strcmp(argv[i], "--its") ||
		    !strncmp(argv[i], "--its=", 6))
			return true;
	return false;
}
