// SPDX-License-Identifier: MIT
/* bootpack zboot extract: the kernel Image inside a Linux EFI zboot vmlinuz.efi. */
#include <inttypes.h>
#include <stdlib.h>

#include <bootpack/pe.h>

#include "cli.h"

#define CMD "zboot extract"

enum { OPT_HELP = 'h', OPT_MAX_SIZE = 256 };

static const struct cli_opt opts[] = {
	{ "output", required_argument, 'o', "IMAGE",
	  "write the kernel Image to IMAGE, or to standard\noutput for - (required)" },
	{ "max-size", required_argument, OPT_MAX_SIZE, "SIZE",
	  "refuse to decompress beyond SIZE bytes (K/M/G\nsuffixes; default 1G)" },
	{ "quiet", no_argument, 'q', NULL, "do not report what was written" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct zargs {
	const char *output;
	uint64_t max;
	bool quiet;
};

static void help(void)
{
	printf("Usage: bootpack zboot extract IN -o IMAGE [OPTION]...\n"
	       "Decompress the kernel held by a Linux EFI zboot image (gzip, lz4, lzma,\n"
	       "lzo, xzkern, zstd22 or zstd), check it is an arm64, riscv or LoongArch kernel\n"
	       "Image, and write it to IMAGE.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct zargs *a = ctx;

	switch (key) {
	case 'o': a->output = val; break;
	case 'q': a->quiet = true; break;
	case OPT_MAX_SIZE:
		return cli_opt_size(CMD, val, &a->max);
	default: return cli_usage_error(CMD, "unhandled option");
	}
	return 0;
}

int cmd_zboot_extract(int argc, char **argv)
{
	struct zargs a = { 0 };
	enum bp_kernel_kind kind;
	uint64_t written;
	struct bp_pe *pe;
	struct bp_diag d;
	struct bp_sink out;
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind + 1 != argc)
		return cli_usage_error(CMD, optind < argc ? "give one input image"
							  : "no input image given");
	if (!a.output)
		return cli_usage_error(CMD, "missing required option -o/--output");
	ret = bp_pe_open(argv[optind], &pe, &d);
	if (ret)
		return cli_fail(ret, &d);
	out = cli_output(a.output);
	ret = bp_zboot_extract_to(pe, &out, a.max, &kind, &written, &d);
	if (ret)
		ret = cli_fail(ret, &d);
	else if (!a.quiet)
		fprintf(cli_report_stream(a.output), "%s: %s kernel Image, %" PRIu64 " bytes, from "
			"the %s payload\n", CLI_ESC(a.output), bp_kernel_kind_name(kind), written,
			CLI_ESC(bp_pe_get_info(pe)->zboot.compression));
	bp_pe_close(pe);
	return ret;
}
