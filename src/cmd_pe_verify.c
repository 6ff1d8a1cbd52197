// SPDX-License-Identifier: MIT
/*
 * bootpack pe verify: what EDK2's loader would refuse in a PE image and,
 * given certificates, which of its Authenticode signatures Secure Boot
 * with those certificates in db would accept.
 */
#include <stdlib.h>
#include <string.h>

#include <bootpack/authenticode.h>
#include <bootpack/pe.h>

#include "argfile.h"
#include "cli.h"
#include "json.h"
#include "pe_print.h"

#define CMD "pe verify"

enum { OPT_HELP = 'h', OPT_CERT = 256, OPT_CA, OPT_JSON };

static const struct cli_opt opts[] = {
	{ "cert", required_argument, OPT_CERT, "CERT",
	  "check signatures: trust CERT (PEM or DER), as a\nUEFI db entry (repeatable)" },
	{ "ca", required_argument, OPT_CA, "FILE",
	  "also trust the certificates in FILE (PEM, several\nper file; repeatable)" },
	{ "json", no_argument, OPT_JSON, NULL, "print JSON (described in bootpack(1))" },
	{ "quiet", no_argument, 'q', NULL, "print only problems and failures" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct verify_args {
	bool quiet, json;
	struct argv_list certs;     /* --cert and --ca: one trust list */
};

/* One signature's verdict, kept until the file's verdict decides where it goes. */
struct check {
	struct bp_pe_sig_check c;
	char *msg;
};

struct checks {
	struct check *v;
	size_t n;
	bool nomem;
};

static void help(void)
{
	printf("Usage: bootpack pe verify [OPTION]... FILE...\n"
	       "Check PE/COFF images for what EDK2's loader would refuse (errors) and for\n"
	       "oddities (warnings), including the Linux zboot header. With --cert or\n"
	       "--ca, also check every Authenticode signature against those certificates:\n"
	       "an image passes when one signature is trusted and its digest matches, as\n"
	       "UEFI Secure Boot accepts it. Exit status 1 if any image fails.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct verify_args *a = ctx;

	switch (key) {
	case 'q': a->quiet = true; break;
	case OPT_JSON: a->json = true; break;
	case OPT_CERT:
	case OPT_CA:
		if (argv_push(&a->certs, val, strlen(val)))
			return cli_fail(BP_ERR_NOMEM, &(struct bp_diag){ "", "out of memory" });
		break;
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

static void collect(void *ctx, const struct bp_pe_sig_check *c)
{
	struct checks *cs = ctx;
	struct check *v = realloc(cs->v, (cs->n + 1) * sizeof(*v));

	if (!v) {
		cs->nomem = true;
		return;
	}
	cs->v = v;
	v[cs->n].c = *c;
	v[cs->n].msg = strdup(c->msg ? c->msg : "");
	v[cs->n].c.msg = v[cs->n].msg;
	cs->nomem |= !v[cs->n].msg;
	cs->n++;
}

static void checks_free(struct checks *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i].msg);
	free(cs->v);
}

/* Problems of the image, as pe verify has always printed them. */
static void print_problems(const char *path, const struct bp_pe *pe)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);

	for (size_t k = 0; k < in->n_problems; k++)
		cli_error(path, "%s: %s", bp_pe_problem_at(pe, k)->severity == BP_PE_ERROR ?
			  "error" : "warning", CLI_MSG(bp_pe_problem_at(pe, k)->msg));
}

/*
 * Each signature on its own line: on stdout when the image passes (a bad
 * signature next to a good one is no failure: firmware tries them all), as
 * error lines when it fails.
 */
static void print_checks(const char *path, const struct bp_pe *pe, const struct checks *cs,
			 bool passed, bool quiet)
{
	for (size_t i = 0; i < cs->n; i++) {
		const struct bp_pe_sig_check *c = &cs->v[i].c;

		if (!passed) {
			fflush(stdout);
			fprintf(stderr, "bootpack: '");
			cli_print_esc(stderr, path, BP_ESC_TEXT);
			fprintf(stderr, "': ");
			pe_sig_check_line(stderr, pe, c);
		} else if (!quiet) {
			cli_print_esc(stdout, path, BP_ESC_TEXT);
			printf(": ");
			pe_sig_check_line(stdout, pe, c);
		}
	}
}

static void json_checks(const struct bp_pe *pe, const struct checks *cs)
{
	printf(", \"signatures\": [");
	for (size_t i = 0; i < cs->n; i++) {
		printf("%s\n    ", i ? "," : "");
		pe_sig_check_json(stdout, pe, &cs->v[i].c);
	}
	printf("%s]", cs->n ? "\n   " : "");
}

struct verdict {
	bool checked;               /* signatures were checked (--cert/--ca) */
	size_t n_sigs, n_good;
	struct bp_zboot_inner inner;
	bool has_inner;
};

static void text_verdict(const char *path, const struct bp_pe *pe, const struct verdict *v,
			 bool quiet)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);

	if (in->n_errors) {
		cli_error(path, "FAILED: %zu error%s", in->n_errors, in->n_errors == 1 ? "" : "s");
	} else if (v->checked && !v->n_sigs) {
		cli_error(path, "FAILED: not signed");
	} else if (v->checked && !v->n_good) {
		cli_error(path, "FAILED: no good signature (%zu checked; good is a "
			  "matching digest, a valid signature and a trusted signer)", v->n_sigs);
	} else if (!quiet) {
		cli_print_esc(stdout, path, BP_ESC_TEXT);
		printf(": OK (%s, %u section%s%s, ", in->pe32plus ? "PE32+" : "PE32",
		       in->n_sections, in->n_sections == 1 ? "" : "s",
		       in->zboot.present ? ", zboot" : "");
		if (v->checked)
			printf("%zu of %zu signature%s good, ", v->n_good, v->n_sigs,
			       v->n_sigs == 1 ? "" : "s");
		printf("%zu warning%s)\n", in->n_problems, in->n_problems == 1 ? "" : "s");
	}
}

static bool passed(const struct bp_pe *pe, const struct verdict *v)
{
	return !bp_pe_get_info(pe)->n_errors && (!v->checked || v->n_good);
}

/* Signature checks of one image; 0, or EXIT_FAIL when they could not run. */
static int check_signatures(const struct bp_pe *pe, const struct verify_args *a,
			    struct checks *cs, struct verdict *v, struct bp_diag *d)
{
	struct bp_pe_verify_opts o = BP_PE_VERIFY_OPTS_INIT;
	int ret;

	o.certs = (const char *const *)a->certs.v;
	o.n_certs = a->certs.n;
	ret = bp_pe_verify(pe, &o, collect, cs, &v->n_good, d);
	if (!ret && cs->nomem)
		ret = bp_diag_set(d, BP_ERR_NOMEM, "", "out of memory");
	v->checked = true;
	v->n_sigs = cs->n;
	/* Only a decompressor that calls LoadImage() makes the inner signature matter. */
	v->has_inner = !ret && pe_inner_image(pe, true, &v->inner);
	return ret;
}

static void report(const char *path, const struct bp_pe *pe, const struct verify_args *a,
		   const struct checks *cs, const struct verdict *v)
{
	bool ok = passed(pe, v);

	if (a->json) {
		printf("  {\"file\": ");
		json_str(stdout, path);
		printf(", \"ok\": %s, \"signatures_checked\": %s, \"good_signatures\": %zu",
		       ok ? "true" : "false", v->checked ? "true" : "false", v->n_good);
		json_checks(pe, cs);
		printf(", \"inner_image\": ");
		pe_inner_json(stdout, v->has_inner ? &v->inner : NULL);
		printf(", \"problems\": ");
		pe_problems_json(stdout, pe);
		putchar('}');
	} else {
		print_problems(path, pe);
		print_checks(path, pe, cs, ok, a->quiet);
	}
	/* A warning, on stderr in either mode: JSON readers see "inner_image". */
	if (v->has_inner)
		pe_inner_warn(path, &v->inner);
	if (!a->json)
		text_verdict(path, pe, v, a->quiet);
}

/*
 * --json for a file that could not be checked: the error (also on stderr),
 * naming the certificate file when that is what failed.
 */
static void json_error(const char *path, const struct bp_diag *d)
{
	char msg[sizeof(d->path) + sizeof(d->msg) + 4];

	snprintf(msg, sizeof(msg), "%s%s%s", strcmp(d->path, path) && *d->path ? d->path : "",
		 strcmp(d->path, path) && *d->path ? ": " : "", d->msg);
	printf("  {\"file\": ");
	json_str(stdout, path);
	printf(", \"ok\": false, \"error\": ");
	json_str(stdout, msg);
	printf("}");
}

/*
 * 0 when @path passes, EXIT_FAIL when it does not; *@fatal when a
 * certificate file is at fault, which no further image would change.
 */
static int verify_file(const char *path, const struct verify_args *a, bool *fatal)
{
	struct verdict v = { .inner = BP_ZBOOT_INNER_INIT };
	struct checks cs = { 0 };
	struct bp_pe *pe = NULL;
	struct bp_diag d;
	int ret = bp_pe_open(path, &pe, &d);

	if (!ret && a->certs.n)
		ret = check_signatures(pe, a, &cs, &v, &d);
	if (ret) {
		*fatal = *d.path && strcmp(d.path, path);
		if (a->json)
			json_error(path, &d);
		ret = cli_fail(ret, &d);
	} else {
		report(path, pe, a, &cs, &v);
		ret = passed(pe, &v) ? EXIT_OK : EXIT_FAIL;
	}
	if (pe)
		bp_pe_close(pe);
	checks_free(&cs);
	return ret;
}

int cmd_pe_verify(int argc, char **argv)
{
	struct verify_args a = { 0 };
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a), status = EXIT_OK;
	bool fatal = false;

	if (!ret && optind >= argc)
		ret = cli_usage_error(CMD, "no FILE given");
	if (ret) {
		argv_free(&a.certs);
		return ret < 0 ? EXIT_OK : ret;
	}
	if (a.json)
		printf("[\n");
	for (int i = optind, n = 0; i < argc && !fatal; i++) {
		if (a.json && n++)
			printf(",\n");
		if (verify_file(argv[i], &a, &fatal))
			status = EXIT_FAIL;
	}
	if (a.json)
		printf("\n]\n");
	argv_free(&a.certs);
	return status;
}
