// SPDX-License-Identifier: MIT
/*
 * bootpack kexec envelope|info|extract: the ELF container that wraps a zboot
 * kernel, an initrd and a command line for the BPF kexec_file_load parser.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/buf.h>
#include <bootpack/file.h>
#include <bootpack/kexec.h>

#include "cli.h"
#include "json.h"

#define CMD_ENV "kexec envelope"
#define CMD_INFO "kexec info"
#define CMD_EXTRACT "kexec extract"
/* A command line read from a file: far above any kernel's COMMAND_LINE_SIZE. */
#define CMDLINE_FILE_MAX (1u << 20)

enum { OPT_HELP = 'h', OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_JSON };

static const struct cli_opt env_opts[] = {
	{ "output", required_argument, 'o', "OUT", "write the envelope to OUT (required)" },
	{ "kernel", required_argument, OPT_KERNEL, "FILE",
	  "the kernel: a PE/EFI image, normally a zboot\nvmlinuz.efi, stored unchanged "
	  "(required)" },
	{ "initrd", required_argument, OPT_INITRD, "FILE",
	  "the initrd (a regular file); none: an empty\n.initrd" },
	{ "cmdline", required_argument, OPT_CMDLINE, "TEXT",
	  "the kernel command line; --cmdline=@FILE reads\nit from FILE (one final newline "
	  "dropped)" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

struct env_args {
	const char *output, *kernel, *initrd, *cmdline;
};

static void env_help(void)
{
	printf("Usage: bootpack kexec envelope -o OUT --kernel FILE [--initrd FILE]\n"
	       "                               [--cmdline TEXT|@FILE]\n"
	       "Wrap a zboot kernel, an initrd and a command line in the ELF envelope the\n"
	       "BPF kexec_file_load parser reads, byte for byte as the kernel's\n"
	       "tools/kexec/build_zboot_envelop does. The kernel is stored unchanged, so\n"
	       "its Authenticode signature stays valid.\n\n");
	cli_print_options(stdout, env_opts, sizeof(env_opts) / sizeof(env_opts[0]));
}

static int env_set(void *ctx, int key, const char *val)
{
	struct env_args *a = ctx;

	switch (key) {
	case 'o': a->output = val; break;
	case OPT_KERNEL: a->kernel = val; break;
	case OPT_INITRD: a->initrd = val; break;
	case OPT_CMDLINE: a->cmdline = val; break;
	default: return cli_usage_error(CMD_ENV, "unhandled option");
	}
	return 0;
}

/* --cmdline TEXT, or @FILE: the file's text without one final newline. */
static int load_cmdline(const char *arg, struct bp_buf *b, struct bp_kexec_envelope_opts *o)
{
	struct bp_diag d;
	int ret;

	if (arg[0] != '@') {
		o->cmdline = arg;
		o->cmdline_len = strlen(arg);
		return 0;
	}
	ret = bp_buf_read_file(b, arg + 1, CMDLINE_FILE_MAX, &d);
	if (ret)
		return cli_fail(ret, &d);
	if (b->len && b->data[b->len - 1] == '\n')
		b->len--;
	if (b->len && memchr(b->data, 0, b->len)) {
		cli_error(arg + 1, "command line contains a NUL byte");
		return EXIT_FAIL;
	}
	o->cmdline = (const char *)b->data;
	o->cmdline_len = b->len;
	return 0;
}

int cmd_kexec_envelope(int argc, char **argv)
{
	struct bp_kexec_envelope_opts o = BP_KEXEC_ENVELOPE_INIT;
	struct bp_buf cmdline = BP_BUF_INIT;
	struct env_args a = { 0 };
	struct bp_diag d;
	int ret = cli_parse(CMD_ENV, env_opts, sizeof(env_opts) / sizeof(env_opts[0]), argc, argv,
			    env_help, env_set, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind != argc)
		return cli_usage_error(CMD_ENV, "unexpected argument '%s'", CLI_ESC(argv[optind]));
	if (!a.output || !a.kernel) {
		const char *missing[2];
		size_t n = 0;

		if (!a.output)
			missing[n++] = "-o/--output";
		if (!a.kernel)
			missing[n++] = "--kernel";
		return cli_missing_options(CMD_ENV, missing, n);
	}
	o.kernel_path = a.kernel;
	o.initrd_path = a.initrd;
	ret = a.cmdline ? load_cmdline(a.cmdline, &cmdline, &o) : 0;
	if (!ret) {
		ret = bp_kexec_envelope_write(&o, a.output, &d);
		if (ret)
			ret = cli_fail(ret, &d);
	}
	bp_buf_free(&cmdline);
	return ret;
}

static const struct cli_opt info_opts[] = {
	{ "json", no_argument, OPT_JSON, NULL, "print JSON (described in bootpack(1))" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

static void info_help(void)
{
	printf("Usage: bootpack kexec info FILE [--json]\n"
	       "Check a kexec zboot envelope and show its sections, its kernel (machine,\n"
	       "zboot compression, signed or not) and its command line.\n\n");
	cli_print_options(stdout, info_opts, sizeof(info_opts) / sizeof(info_opts[0]));
}

static const char *cmdline_text(const struct bp_kexec_envelope *e)
{
	size_t len;
	const uint8_t *p = bp_kexec_envelope_section(e, BP_KEXEC_CMDLINE, &len);

	/* The reader checked it ends in its only NUL. */
	return p ? (const char *)p : "";
}

static void print_part(const char *name, const struct bp_kexec_part *p)
{
	if (p->present)
		printf("  [%u] %-9s offset %-10" PRIu64 " size %" PRIu64 "\n", p->index, name,
		       p->offset, p->length);
	else
		printf("      %-9s (none)\n", name);
}

static void print_text(const char *path, const struct bp_kexec_envelope *e)
{
	const struct bp_kexec_info *in = bp_kexec_envelope_info(e);
	const char *m = bp_kexec_machine_name(in->machine);

	cli_print_esc(stdout, path, BP_ESC_TEXT);
	printf(": kexec zboot envelope, %" PRIu64 " bytes, %u sections, machine %s (%u)\n",
	       in->file_size, in->n_sections, m ? m : "unknown", in->machine);
	print_part(BP_KEXEC_KERNEL, &in->kernel);
	print_part(BP_KEXEC_INITRD, &in->initrd);
	print_part(BP_KEXEC_CMDLINE, &in->cmdline);
	printf("kernel: PE image, machine 0x%04x, ", in->kernel_pe_machine);
	if (in->kernel_zboot) {
		fputs("zboot, ", stdout);
		cli_print_esc(stdout, in->kernel_compression, BP_ESC_TEXT);
	} else {
		fputs("not zboot", stdout);
	}
	printf(", %s\n", in->kernel_signed ? "signed" : "unsigned");
	fputs("cmdline: \"", stdout);
	cli_print_esc(stdout, cmdline_text(e), BP_ESC_TEXT);
	printf("\"\nlayout: %s\n", in->canonical ? "as build_zboot_envelop writes it"
						 : "not build_zboot_envelop's");
	if (in->machine_mismatch)
		printf("warning: e_machine %u is not the kernel's machine (PE 0x%04x)\n",
		       in->machine, in->kernel_pe_machine);
	if (!in->kernel_zboot)
		puts("warning: .kernel is not a zboot image: the BPF parser refuses it");
	else if (!in->bpf_readable)
		puts("warning: the BPF parser misses a part (it reads section headers 1 to 7 and "
		     "16 bytes of each name)");
}

static void json_part(const char *key, const struct bp_kexec_part *p)
{
	printf(", \"%s\": ", key);
	if (!p->present)
		fputs("null", stdout);
	else
		printf("{\"index\": %u, \"offset\": %" PRIu64 ", \"size\": %" PRIu64 "}", p->index,
		       p->offset, p->length);
}

static void print_json(const char *path, const struct bp_kexec_envelope *e)
{
	const struct bp_kexec_info *in = bp_kexec_envelope_info(e);

	fputs("{\"file\": ", stdout);
	json_str(stdout, path);
	printf(", \"size\": %" PRIu64 ", \"machine\": %u, \"machine_name\": ", in->file_size,
	       in->machine);
	json_str(stdout, bp_kexec_machine_name(in->machine));
	printf(", \"sections\": %u", in->n_sections);
	json_part("kernel", &in->kernel);
	json_part("initrd", &in->initrd);
	json_part("cmdline", &in->cmdline);
	printf(", \"kernel_pe_machine\": %u, \"zboot\": %s, \"compression\": ",
	       in->kernel_pe_machine, in->kernel_zboot ? "true" : "false");
	json_str(stdout, in->kernel_zboot ? in->kernel_compression : NULL);
	printf(", \"signed\": %s, \"cmdline_text\": ", in->kernel_signed ? "true" : "false");
	json_str(stdout, in->cmdline.present ? cmdline_text(e) : NULL);
	printf(", \"machine_mismatch\": %s, \"canonical\": %s, \"bpf_readable\": %s}\n",
	       in->machine_mismatch ? "true" : "false", in->canonical ? "true" : "false",
	       in->bpf_readable ? "true" : "false");
}

int cmd_kexec_info(int argc, char **argv)
{
	struct bp_kexec_envelope *e;
	struct bp_diag d;
	bool json = false;
	int ret = cli_parse(CMD_INFO, info_opts, sizeof(info_opts) / sizeof(info_opts[0]), argc,
			    argv, info_help, cli_set_flag, &json);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind + 1 != argc)
		return cli_usage_error(CMD_INFO, optind < argc ? "give one envelope"
							       : "no envelope given");
	ret = bp_kexec_envelope_open(argv[optind], &e, &d);
	if (ret)
		return cli_fail(ret, &d);
	if (json)
		print_json(argv[optind], e);
	else
		print_text(argv[optind], e);
	bp_kexec_envelope_close(e);
	return EXIT_OK;
}

static const struct cli_opt extract_opts[] = {
	{ "section", required_argument, 's', "NAME",
	  ".kernel, .initrd or .cmdline (required)" },
	{ "output", required_argument, 'o', "OUT", "write the section to OUT (required)" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

struct extract_args {
	const char *section, *output;
};

static void extract_help(void)
{
	printf("Usage: bootpack kexec extract FILE --section NAME -o OUT\n"
	       "Write one part of a kexec zboot envelope to OUT: .kernel and .initrd as\n"
	       "stored (the kernel byte for byte, its signature intact), .cmdline as its\n"
	       "text without the terminating NUL.\n\n");
	cli_print_options(stdout, extract_opts, sizeof(extract_opts) / sizeof(extract_opts[0]));
}

static int extract_set(void *ctx, int key, const char *val)
{
	struct extract_args *a = ctx;

	switch (key) {
	case 's': a->section = val; break;
	case 'o': a->output = val; break;
	default: return cli_usage_error(CMD_EXTRACT, "unhandled option");
	}
	return 0;
}

int cmd_kexec_extract(int argc, char **argv)
{
	struct extract_args a = { 0 };
	struct bp_kexec_envelope *e;
	struct bp_diag d;
	int ret = cli_parse(CMD_EXTRACT, extract_opts,
			    sizeof(extract_opts) / sizeof(extract_opts[0]), argc, argv,
			    extract_help, extract_set, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind + 1 != argc)
		return cli_usage_error(CMD_EXTRACT, optind < argc ? "give one envelope"
								  : "no envelope given");
	if (!a.section || !a.output) {
		const char *missing[2];
		size_t n = 0;

		if (!a.section)
			missing[n++] = "-s/--section";
		if (!a.output)
			missing[n++] = "-o/--output";
		return cli_missing_options(CMD_EXTRACT, missing, n);
	}
	if (strcmp(a.section, BP_KEXEC_KERNEL) && strcmp(a.section, BP_KEXEC_INITRD) &&
	    strcmp(a.section, BP_KEXEC_CMDLINE))
		return cli_usage_error(CMD_EXTRACT, "unknown section '%s' (.kernel, .initrd or "
				       ".cmdline)", CLI_ESC(a.section));
	ret = bp_kexec_envelope_open(argv[optind], &e, &d);
	if (ret)
		return cli_fail(ret, &d);
	ret = bp_kexec_envelope_extract(e, a.section, a.output, &d);
	bp_kexec_envelope_close(e);
	return ret ? cli_fail(ret, &d) : EXIT_OK;
}
