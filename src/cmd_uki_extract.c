// SPDX-License-Identifier: MIT
/* bootpack uki extract: one section of a UKI (the kernel, initrd, command line...). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/uki.h>

#include "cli.h"

#define CMD "uki extract"

enum { OPT_HELP = 'h' };

static const struct cli_opt opts[] = {
	{ "section", required_argument, 's', "NAME",
	  "the section to write: .linux, .initrd, .cmdline,\n.osrel, .dtb, .uname, .splash, .sbat or any\nother (required)" },
	{ "output", required_argument, 'o', "FILE",
	  "write it to FILE, or to standard output for -\n(required)" },
	{ "quiet", no_argument, 'q', NULL, "do not report what was written" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct xargs {
	const char *section, *output;
	bool quiet;
};

static void help(void)
{
	printf("Usage: bootpack uki extract UKI --section NAME -o FILE [OPTION]...\n"
	       "Write the bytes of one section of a Unified Kernel Image (or any PE\n"
	       "image) exactly as systemd-stub reads them: the smaller of VirtualSize\n"
	       "and SizeOfRawData, from PointerToRawData.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct xargs *a = ctx;

	switch (key) {
	case 's': a->section = val; break;
	case 'o': a->output = val; break;
	case 'q': a->quiet = true; break;
	default: return cli_usage_error(CMD, "unhandled option");
	}
	return 0;
}

static int check_args(const struct xargs *a, int argc)
{
	const char *missing[2];
	size_t n = 0;

	if (optind + 1 != argc)
		return cli_usage_error(CMD, optind < argc ? "give one input image"
							  : "no input image given");
	if (!a->section)
		missing[n++] = "-s/--section";
	if (!a->output)
		missing[n++] = "-o/--output";
	if (n)
		return cli_missing_options(CMD, missing, n);
	if (!a->section[0] || strlen(a->section) > 8)
		return cli_usage_error(CMD, "section name '%s' is not 1 to 8 bytes long",
				       CLI_ESC(a->section));
	return 0;
}

int cmd_uki_extract(int argc, char **argv)
{
	struct xargs a = { 0 };
	uint64_t written;
	struct bp_pe *pe;
	struct bp_diag d;
	struct bp_sink out;
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = check_args(&a, argc);
	if (ret)
		return ret;
	ret = bp_pe_open(argv[optind], &pe, &d);
	if (ret)
		return cli_fail(ret, &d);
	out = cli_output(a.output);
	ret = bp_uki_extract_to(pe, a.section, &out, &written, &d);
	if (ret)
		ret = cli_fail(ret, &d);
	else if (!a.quiet)
		fprintf(cli_report_stream(a.output), "%s: %" PRIu64 " bytes of section '%s'\n",
			CLI_ESC(a.output), written, CLI_ESC(a.section));
	bp_pe_close(pe);
	return ret;
}
