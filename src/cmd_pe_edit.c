// SPDX-License-Identifier: MIT
/*
 * bootpack pe add-section / replace-section / remove-section: the edits
 * objcopy gets wrong for EFI images (and the kexec zboot builder's job),
 * done so the result is still a valid PE with a correct zboot header; with
 * --key, signed again in the same write (kexec's .bpf section in one step).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/authenticode.h>
#include <bootpack/file.h>
#include <bootpack/pe.h>
#include <bootpack/sign.h>

#include "cli.h"
#include "pe_flags.h"
#include "pe_signopts.h"

/* Section data larger than this is refused before reading it. */
#define DATA_MAX ((size_t)1 << 30)

enum { OPT_HELP = 'h', OPT_NAME = 256, OPT_FILE, OPT_FLAGS, OPT_STRIP, OPT_FORCE };

static const struct cli_opt opts[] = {
	{ "output", required_argument, 'o', "FILE", "write the edited image to FILE (required;\n"
	  "may be the input), or to standard output for -" },
	{ "name", required_argument, OPT_NAME, "NAME", "section name, at most 8 bytes (required)" },
	{ "file", required_argument, OPT_FILE, "DATA", "new section contents (add, replace)" },
	{ "flags", required_argument, OPT_FLAGS, "FLAGS",
	  "add: comma-separated code, data, bss, read, write,\nexecute, discardable, shared, "
	  "or a hex value\n(default: data,read)" },
	{ "strip-signature", no_argument, OPT_STRIP, NULL,
	  "remove the certificate table of a signed image\ninstead of refusing it" },
	{ "force", no_argument, OPT_FORCE, NULL,
	  "remove: allow removing code or writable sections" },
	PE_SIGN_CLI_OPTS,
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct edit_args {
	const char *cmd;
	enum bp_pe_edit_op op;
	const char *output, *name, *file, *flags;
	bool strip, force;
	struct pe_signopts s;       /* --key...: sign the result */
};

static const struct edit_args *help_for;

static void help(void)
{
	const struct edit_args *a = help_for;

	printf("Usage: bootpack %s IN -o OUT --name NAME%s [OPTION]...\n", a->cmd,
	       a->op == BP_PE_REMOVE_SECTION ? "" : " --file DATA");
	printf("%s a section of a PE/COFF image. Existing sections keep their\n"
	       "addresses; SizeOfImage, SizeOfHeaders, the size sums, CheckSum, debug\n"
	       "directory file offsets, the overlay and a Linux zboot header are kept right.\n\n",
	       a->op == BP_PE_ADD_SECTION ? "Add" : a->op == BP_PE_REPLACE_SECTION ? "Replace"
									: "Remove");
	cli_print_options(stdout, opts, N_OPTS);
	printf("\nA signed image is refused unless --strip-signature drops its signatures,\n"
	       "or --key and --cert sign the result (old signatures dropped) in the same\n"
	       "write. The signing options are those of bootpack pe sign.\n");
}

static int set_option(void *ctx, int key, const char *val)
{
	struct edit_args *a = ctx;
	int ret = pe_signopts_set(&a->s, a->cmd, key, val);

	if (ret != PE_SIGNOPTS_NOT_MINE)
		return ret;
	switch (key) {
	case 'o': a->output = val; break;
	case OPT_NAME: a->name = val; break;
	case OPT_FILE: a->file = val; break;
	case OPT_FLAGS: a->flags = val; break;
	case OPT_STRIP: a->strip = true; break;
	case OPT_FORCE: a->force = true; break;
	default: return cli_usage_error(a->cmd, "unhandled option");
	}
	return 0;
}

static int parse_flags(const char *cmd, const char *s, uint32_t *out)
{
	char *list, *save = NULL, *end;
	int ret = 0;

	*out = 0;
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2)) {
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 16);
		if (errno || *end || !v || v > UINT32_MAX)
			return cli_usage_error(cmd, "--flags '%s': not a non-zero 32-bit hex value",
					       CLI_ESC(s));
		*out = (uint32_t)v;
		return 0;
	}
	list = strdup(s);
	if (!list)
		return cli_fail(BP_ERR_NOMEM, &(struct bp_diag){ "", "out of memory" });
	for (char *tok = strtok_r(list, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < n_pe_flag_names && strcmp(tok, pe_flag_names[i].name))
			i++;
		if (i == n_pe_flag_names)
			ret = cli_usage_error(cmd, "--flags: unknown flag '%s' (expected code, data, "
					      "bss, read, write, execute, discardable, shared or "
					      "a hex value)", CLI_ESC(tok));
		else
			*out |= pe_flag_names[i].flag;
	}
	if (!ret && !*out)
		ret = cli_usage_error(cmd, "--flags '%s': no flag given", CLI_ESC(s));
	free(list);
	return ret;
}

/* Usage errors, the option to blame named (a bad --name is not the image's fault). */
static int check_args(const struct edit_args *a, int argc)
{
	const char *missing[3];
	size_t n = 0;

	if (optind + 1 != argc)
		return cli_usage_error(a->cmd, optind < argc ? "give one input image"
							     : "no input image given");
	if (!a->output)
		missing[n++] = "-o/--output";
	if (!a->name)
		missing[n++] = "--name";
	if (a->op != BP_PE_REMOVE_SECTION && !a->file)
		missing[n++] = "--file";
	if (n)
		return cli_missing_options(a->cmd, missing, n);
	if (!*a->name || strlen(a->name) > 8)
		return cli_usage_error(a->cmd, "--name '%s': a section name is 1 to 8 bytes (PE "
				       "section headers hold 8)", CLI_ESC(a->name));
	if (a->op == BP_PE_REMOVE_SECTION && a->file)
		return cli_usage_error(a->cmd, "--file is not used when removing a section");
	if (a->op != BP_PE_ADD_SECTION && a->flags)
		return cli_usage_error(a->cmd, "--flags applies to add-section only");
	if (a->op != BP_PE_REMOVE_SECTION && a->force)
		return cli_usage_error(a->cmd, "--force applies to remove-section only");
	if (a->s.any && !strcmp(a->output, "-"))
		return cli_usage_error(a->cmd, "'-' is not a file: a signed image is written to a "
				       "named file");
	return pe_signopts_check(&a->s, a->cmd);
}

/* Edit, or with --key edit and sign: the old signatures go either way. */
static int edit(const struct edit_args *a, const struct bp_pe *pe, struct bp_pe_edit *e,
		const char *in)
{
	struct bp_pe_sign_opts o = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = NULL;
	struct bp_sink out;
	struct bp_diag d;
	int ret;

	if (!a->s.any) {
		out = cli_output(a->output);
		ret = bp_pe_edit_to(pe, e, &out, &d);
		return ret ? cli_fail(ret, &d) : 0;
	}
	ret = pe_signopts_prepare(&a->s, &o, &k);
	if (!ret) {
		o.mode = BP_PE_SIGN_REPLACE;
		ret = bp_pe_edit_sign(pe, e, k, &o, a->output, &d);
		if (ret)
			ret = cli_fail(ret, &d);
		else
			pe_warn_inner_unsigned(in, pe);
	}
	if (k)
		bp_key_close(k);
	return ret;
}

static int run(struct edit_args *a, int argc, char **argv)
{
	struct bp_pe_edit e = BP_PE_EDIT_INIT;
	struct bp_buf data = BP_BUF_INIT;
	struct bp_pe *pe;
	struct bp_diag d;
	int ret;

	help_for = a;
	ret = cli_parse(a->cmd, opts, N_OPTS, argc, argv, help, set_option, a);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = check_args(a, argc);
	if (!ret && a->flags)
		ret = parse_flags(a->cmd, a->flags, &e.characteristics);
	if (ret)
		return ret;
	e.op = a->op;
	e.name = a->name;
	e.strip_signature = a->strip;
	e.force = a->force;
	if (a->file) {
		ret = bp_buf_read_file(&data, a->file, DATA_MAX, &d);
		if (ret) {
			bp_buf_free(&data);
			return cli_fail(ret, &d);
		}
		e.data = data.data;
		e.len = data.len;
	}
	ret = bp_pe_open(argv[optind], &pe, &d);
	if (ret) {
		bp_buf_free(&data);
		return cli_fail(ret, &d);
	}
	ret = edit(a, pe, &e, argv[optind]);
	bp_pe_close(pe);
	bp_buf_free(&data);
	return ret;
}

int cmd_pe_add_section(int argc, char **argv)
{
	struct edit_args a = { .cmd = "pe add-section", .op = BP_PE_ADD_SECTION,
			      .s = PE_SIGNOPTS_INIT };

	return run(&a, argc, argv);
}

int cmd_pe_replace_section(int argc, char **argv)
{
	struct edit_args a = { .cmd = "pe replace-section", .op = BP_PE_REPLACE_SECTION,
			      .s = PE_SIGNOPTS_INIT };

	return run(&a, argc, argv);
}

int cmd_pe_remove_section(int argc, char **argv)
{
	struct edit_args a = { .cmd = "pe remove-section", .op = BP_PE_REMOVE_SECTION,
			      .s = PE_SIGNOPTS_INIT };

	return run(&a, argc, argv);
}
