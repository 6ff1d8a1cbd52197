// SPDX-License-Identifier: MIT
/*
 * bootpack uki build: a Unified Kernel Image from systemd-stub, a kernel and
 * what goes with it (initrds, command line, os-release, devicetrees...), as
 * systemd's ukify builds one, optionally signed for Secure Boot.
 */
#include <stdlib.h>
#include <string.h>

#include <bootpack/buf.h>
#include <bootpack/file.h>
#include <bootpack/pe.h>
#include <bootpack/sign.h>
#include <bootpack/uki.h>

#include "cli.h"
#include "pe_signopts.h"

#define CMD "uki build"
/* Text options read from @FILE are small: a cap keeps a wrong file from filling memory. */
#define TEXT_FILE_MAX (16u << 20)

enum {
	OPT_HELP = 'h', OPT_STUB = 256, OPT_LINUX, OPT_INITRD, OPT_CMDLINE, OPT_OS_RELEASE,
	OPT_DTB, OPT_UNAME, OPT_NO_UNAME, OPT_SPLASH, OPT_SBAT, OPT_SECTION, OPT_STRIP,
};

static const struct cli_opt opts[] = {
	{ "output", required_argument, 'o', "FILE", "write the UKI to FILE (required)" },
	{ "stub", required_argument, OPT_STUB, "STUB",
	  "systemd-stub, e.g. /usr/lib/systemd/boot/efi/\nlinuxx64.efi.stub (required)" },
	{ "linux", required_argument, OPT_LINUX, "KERNEL",
	  "the kernel: an EFI-stub or zboot PE image\n(required)" },
	{ "initrd", required_argument, OPT_INITRD, "FILE",
	  "an initrd; several are concatenated in order" },
	{ "cmdline", required_argument, OPT_CMDLINE, "TEXT|@FILE",
	  "kernel command line (TEXT: whitespace runs\nbecome one space; @FILE: as is)" },
	{ "os-release", required_argument, OPT_OS_RELEASE, "TEXT|@FILE", "os-release data" },
	{ "dtb", required_argument, OPT_DTB, "FILE",
	  "a devicetree (several: .dtbauto, systemd 257\nstubs only)" },
	{ "uname", required_argument, OPT_UNAME, "TEXT",
	  "kernel release for .uname (default: read from\nthe kernel)" },
	{ "no-uname", no_argument, OPT_NO_UNAME, NULL, "add no .uname section" },
	{ "splash", required_argument, OPT_SPLASH, "BMP", "splash image (BMP)" },
	{ "sbat", required_argument, OPT_SBAT, "TEXT|@FILE",
	  "SBAT entries merged with the stub's and the\nkernel's own" },
	{ "section", required_argument, OPT_SECTION, "NAME:FILE",
	  "add section NAME with the contents of FILE" },
	{ "strip-stub-signature", no_argument, OPT_STRIP, NULL,
	  "drop a signed stub's signature instead of\nrefusing it" },
	{ "jobs", required_argument, 'j', "N",
	  "read the inputs for the CheckSum on a second\nthread when N > 1 (default: all CPUs)" },
	PE_SIGN_CLI_OPTS,
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct args {
	struct pe_signopts s;
	struct bp_uki_build_opts o;
	const char *output, *cmdline, *os_release, **initrds, **dtbs, **sbats;
	struct bp_uki_section *extra;
	size_t n_initrds, n_dtbs, n_sbats, n_extra;
};

static void help(void)
{
	printf("Usage: bootpack uki build -o OUT --stub STUB --linux KERNEL [OPTION]...\n"
	       "Build a Unified Kernel Image: systemd-stub with the kernel, initrds, command\n"
	       "line and more in sections of their own (.osrel .cmdline .dtb .uname .splash\n"
	       ".initrd, extra sections, .sbat, .linux last), laid out as the UAPI UKI\n"
	       "specification and systemd-stub require. Inputs are streamed, not held in\n"
	       "memory. The same inputs give the same bytes, signed too.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set(void *ctx, int key, const char *val)
{
	struct args *a = ctx;
	int ret = pe_signopts_set(&a->s, CMD, key, val);
	const char *colon;

	if (ret != PE_SIGNOPTS_NOT_MINE)
		return ret;
	switch (key) {
	case 'o': a->output = val; break;
	case 'j': return cli_opt_jobs(CMD, val, &a->o.jobs);
	case OPT_STUB: a->o.stub = val; break;
	case OPT_LINUX: a->o.linux_path = val; break;
	case OPT_INITRD: a->initrds[a->n_initrds++] = val; break;
	case OPT_CMDLINE: a->cmdline = val; break;
	case OPT_OS_RELEASE: a->os_release = val; break;
	case OPT_DTB: a->dtbs[a->n_dtbs++] = val; break;
	case OPT_UNAME: a->o.uname = val; break;
	case OPT_NO_UNAME: a->o.no_uname = true; break;
	case OPT_SPLASH: a->o.splash = val; break;
	case OPT_SBAT: a->sbats[a->n_sbats++] = val; break;
	case OPT_STRIP: a->o.strip_stub_signature = true; break;
	case OPT_SECTION:
		colon = strchr(val, ':');
		if (!colon || colon == val || !colon[1])
			return cli_usage_error(CMD, "--section '%s': expected NAME:FILE",
					       CLI_ESC(val));
		a->extra[a->n_extra].name = strndup(val, (size_t)(colon - val));
		if (!a->extra[a->n_extra].name)
			return cli_usage_error(CMD, "out of memory");
		a->extra[a->n_extra++].path = colon + 1;
		break;
	default: return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

static int parse(int argc, char **argv, struct args *a)
{
	const char *missing[3];
	size_t n = 0;
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set, a);

	if (ret)
		return ret;
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", CLI_ESC(argv[optind]));
	if (!a->output)
		missing[n++] = "-o/--output";
	if (!a->o.stub)
		missing[n++] = "--stub";
	if (!a->o.linux_path)
		missing[n++] = "--linux";
	if (n)
		return cli_missing_options(CMD, missing, n);
	if (!strcmp(a->output, "-"))
		return cli_usage_error(CMD, "'-' is not a file: the UKI goes to a named file");
	if (a->o.uname && a->o.no_uname)
		return cli_usage_error(CMD, "--uname and --no-uname do not go together");
	return pe_signopts_check(&a->s, CMD);
}

static int nomem(void)
{
	struct bp_diag d;

	return cli_fail(bp_diag_set(&d, BP_ERR_NOMEM, CMD, "out of memory"), &d);
}

/* TEXT, or the contents of FILE for @FILE, into @b (NUL-terminated; its length without it). */
static int text_arg(const char *val, struct bp_buf *b, size_t *len)
{
	struct bp_diag d;
	int ret;

	if (val[0] != '@')
		return bp_buf_append(b, val, strlen(val) + 1) ? nomem() : 0;
	ret = bp_buf_read_file(b, val + 1, TEXT_FILE_MAX, &d);
	if (!ret && bp_buf_append(b, "", 1))
		ret = BP_ERR_NOMEM;
	if (ret)
		return cli_fail(ret, &d);
	*len = b->len - 1;
	return 0;
}

/* ukify's --cmdline TEXT: whitespace runs carry no meaning there, so they become one space. */
static size_t squeeze_spaces(char *s)
{
	size_t w = 0;

	for (char *tok = strtok(s, " \t\n\r\v\f"); tok; tok = strtok(NULL, " \t\n\r\v\f")) {
		size_t n = strlen(tok);

		if (w)
			s[w++] = ' ';
		memmove(s + w, tok, n);
		w += n;
	}
	s[w] = '\0';
	return w;
}

static int texts(struct args *a, struct bp_buf *bufs)
{
	size_t len = 0;
	int ret = 0;

	if (a->cmdline && !(ret = text_arg(a->cmdline, &bufs[0], &len))) {
		a->o.cmdline = (const char *)bufs[0].data;
		a->o.cmdline_len = a->cmdline[0] == '@' ? len :
				   squeeze_spaces((char *)bufs[0].data);
	}
	if (!ret && a->os_release && !(ret = text_arg(a->os_release, &bufs[1], &len))) {
		a->o.os_release_text = (const char *)bufs[1].data;
		a->o.os_release_len = a->os_release[0] == '@' ? len : strlen(a->os_release);
	}
	for (size_t i = 0; !ret && i < a->n_sbats; i++)
		if (!(ret = text_arg(a->sbats[i], &bufs[2 + i], &len)))
			a->sbats[i] = (const char *)bufs[2 + i].data;
	return ret;
}

/*
 * systemd-stub vouches for the kernel it loads, but a zboot decompressor
 * before Linux 6.2 hands its unsigned inner Image to LoadImage() once more,
 * and Secure Boot refuses that (as pe sign warns).
 */
static void warn_inner_unsigned(const char *kernel)
{
	struct bp_pe *pe;
	struct bp_diag d;

	if (bp_pe_open(kernel, &pe, &d))
		return;
	pe_warn_inner_unsigned(kernel, pe);
	bp_pe_close(pe);
}

static int build(struct args *a)
{
	struct bp_pe_sign_opts so = BP_PE_SIGN_OPTS_INIT;
	struct bp_buf *bufs = calloc(a->n_sbats + 2, sizeof(*bufs));
	struct bp_key *k = NULL;
	struct bp_diag d;
	int ret = bufs ? texts(a, bufs) : nomem();

	if (!ret && a->s.any)
		ret = pe_signopts_prepare(&a->s, &so, &k);
	if (!ret) {
		a->o.initrds = a->initrds;
		a->o.n_initrds = a->n_initrds;
		a->o.dtbs = a->dtbs;
		a->o.n_dtbs = a->n_dtbs;
		a->o.sbats = a->sbats;
		a->o.n_sbats = a->n_sbats;
		a->o.extra = a->extra;
		a->o.n_extra = a->n_extra;
		a->o.key = k;
		a->o.sign = k ? &so : NULL;
		ret = bp_uki_build(&a->o, a->output, &d);
		if (ret)
			ret = cli_fail(ret, &d);
	}
	if (!ret && k)
		warn_inner_unsigned(a->o.linux_path);
	if (k)
		bp_key_close(k);
	for (size_t i = 0; bufs && i < a->n_sbats + 2; i++)
		bp_buf_free(&bufs[i]);
	free(bufs);
	return ret;
}

int cmd_uki_build(int argc, char **argv)
{
	struct args a = { .s = PE_SIGNOPTS_INIT, .o = BP_UKI_BUILD_OPTS_INIT };
	size_t n = (size_t)argc + 1;
	int ret;

	a.o.jobs = cli_online_cpus();
	/* No option occurs more often than there are arguments. */
	a.initrds = calloc(n, sizeof(*a.initrds));
	a.dtbs = calloc(n, sizeof(*a.dtbs));
	a.sbats = calloc(n, sizeof(*a.sbats));
	a.extra = calloc(n, sizeof(*a.extra));
	if (!a.initrds || !a.dtbs || !a.sbats || !a.extra)
		ret = nomem();
	else
		ret = parse(argc, argv, &a);
	if (!ret)
		ret = build(&a);
	else if (ret < 0)
		ret = EXIT_OK;
	for (size_t i = 0; a.extra && i < a.n_extra; i++)
		free((char *)a.extra[i].name);
	free(a.initrds);
	free(a.dtbs);
	free(a.sbats);
	free(a.extra);
	return ret;
}
