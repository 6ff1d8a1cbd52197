// SPDX-License-Identifier: MIT
/*
 * bootpack fit sign: U-Boot verified-boot signatures on an existing FIT, as
 * `mkimage -F -k KEYDIR [-K CONTROL.dtb -r]` writes them, without an .its.
 */
#include <stdlib.h>
#include <string.h>

#include <bootpack/fit.h>
#include <bootpack/sign.h>

#include "argfile.h"
#include "cli.h"
#include "keyopts.h"

#define CMD "fit sign"

enum { OPT_HELP = 'h', OPT_KEY_NAME = 256, OPT_ALGO, OPT_PADDING, OPT_CONFIG, OPT_IMAGES,
       OPT_KEY_OUT, OPT_REQUIRED, OPT_PIN };

static const struct cli_opt opts[] = {
	{ "output", required_argument, 'o', "FILE", "write the signed FIT to FILE (default: sign\nFIT in place)" },
	{ "key", required_argument, 'k', "KEY",
	  "the private key: a PEM file (RSA, EC P-256/P-384)\nor a pkcs11: URI (required)" },
	{ "key-name", required_argument, OPT_KEY_NAME, "NAME",
	  "key-name-hint (default: KEY's file name without\n.key/.pem, or the URI's object)" },
	{ "algo", required_argument, OPT_ALGO, "ALGO",
	  "HASH or HASH,CIPHER as U-Boot names it, e.g.\nsha384 or sha256,rsa4096 (default: sha256 and\nKEY's type)" },
	{ "padding", required_argument, OPT_PADDING, "PAD", "RSA padding: pkcs-1.5 (default) or pss" },
	{ "config", required_argument, OPT_CONFIG, "NAME",
	  "sign configuration NAME (repeatable; default: all)" },
	{ "images", no_argument, OPT_IMAGES, NULL,
	  "sign every image instead of the configurations" },
	{ "key-out", required_argument, OPT_KEY_OUT, "DTB",
	  "also write the public key into U-Boot's control\ndevicetree DTB (as mkimage -K)" },
	{ "required", required_argument, OPT_REQUIRED, "WHAT",
	  "with --key-out: mark the key required for conf\nor image (as mkimage -r)" },
	{ "pin", required_argument, OPT_PIN, "PIN", "the PKCS#11 token's user PIN" },
	{ "jobs", required_argument, 'j', "N", "sign with N threads (default: all CPUs)" },
	{ "verbose", no_argument, 'v', NULL, "say what was signed" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct sign_args {
	struct bp_fit_sign_opts o;
	const char *output, *key, *key_out, *pin;
	enum bp_key_required required;
	bool has_required, verbose;
	struct argv_list configs;
};

static void help(void)
{
	printf("Usage: bootpack fit sign FIT --key KEY [-o OUT] [OPTION]...\n"
	       "Sign every configuration of FIT (or those given with --config, or with\n"
	       "--images every image) for U-Boot verified boot, replacing a signature by\n"
	       "the same key. Images lacking a hash node get a sha256 one.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
	printf("\nSOURCE_DATE_EPOCH sets the signatures' timestamp (default: the FIT's).\n");
}

static int set_option(void *ctx, int key, const char *val)
{
	struct sign_args *a = ctx;

	switch (key) {
	case 'o': a->output = val; break;
	case 'k': a->key = val; break;
	case 'v': a->verbose = true; break;
	case OPT_PIN: a->pin = val; break;
	case OPT_IMAGES: a->o.what = BP_FIT_SIGN_IMAGES; break;
	case OPT_KEY_OUT: a->key_out = val; break;
	case OPT_KEY_NAME:
		a->o.key_name = val;
		return keyopts_key_name(CMD, val);
	case OPT_ALGO:
		a->o.algo = val;
		return keyopts_algo(CMD, val);
	case OPT_PADDING:
		a->o.padding = val;
		return keyopts_padding(CMD, val);
	case OPT_REQUIRED:
		a->has_required = true;
		return keyopts_required(CMD, val, &a->required);
	case OPT_CONFIG:
		if (argv_push(&a->configs, val, strlen(val)))
			return cli_fail(BP_ERR_NOMEM, &(struct bp_diag){ "", "out of memory" });
		break;
	case 'j':
		return cli_opt_jobs(CMD, val, &a->o.jobs);
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

static int parse(int argc, char **argv, struct sign_args *a, const char **fit)
{
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, a);

	if (ret)
		return ret;
	if (optind >= argc)
		return cli_usage_error(CMD, "no FIT file given");
	if (optind + 1 < argc)
		return cli_usage_error(CMD, "one FIT at a time: unexpected '%s'",
				       CLI_ESC(argv[optind + 1]));
	*fit = argv[optind];
	if (!a->key)
		return cli_missing_options(CMD, (const char *[]){ "-k/--key" }, 1);
	if ((a->output && !strcmp(a->output, "-")) || (a->key_out && !strcmp(a->key_out, "-")))
		return cli_usage_error(CMD, "'-' is not a file: fit sign writes its outputs in place "
				       "or to a named file");
	if (a->has_required && !a->key_out)
		return cli_usage_error(CMD, "--required needs --key-out");
	if (a->configs.n && a->o.what == BP_FIT_SIGN_IMAGES)
		return cli_usage_error(CMD, "--config and --images do not go together: --images "
				       "signs every image");
	return 0;
}

/*
 * --key-out: the same algorithm and name as the signatures. Run once into
 * /dev/null before signing, so that a control devicetree that cannot take
 * the key stops the command before the FIT is written.
 */
static int add_key(const struct sign_args *a, const struct bp_key *k, const char *out)
{
	struct bp_fit_key_add_opts ko = BP_FIT_KEY_ADD_OPTS_INIT;
	struct bp_diag d;
	int ret;

	ko.key_name = a->o.key_name;
	ko.algo = a->o.algo;
	ko.required = a->required;
	ret = bp_fit_key_add(a->key_out, k, &ko, out, &d);
	return ret ? cli_fail(ret, &d) : 0;
}

static void report(const char *out, const struct sign_args *a, const struct bp_key *k,
		   const struct bp_fit_sign_stats *st)
{
	char algo[KEYOPTS_ALGO_MAX] = "";
	struct bp_diag d;

	if (!a->o.algo && bp_key_algo(k, "sha256", algo, sizeof(algo), &d))
		snprintf(algo, sizeof(algo), "?");
	cli_print_esc(stdout, out, BP_ESC_TEXT);
	printf(": %zu signature%s (%s, key '", st->n_signed, st->n_signed == 1 ? "" : "s",
	       a->o.algo ? a->o.algo : algo);
	cli_print_esc(stdout, a->o.key_name ? a->o.key_name : bp_key_name(k), BP_ESC_TEXT);
	printf("'), %zu replaced, %zu hash node%s added\n", st->n_replaced, st->n_hashes_added,
	       st->n_hashes_added == 1 ? "" : "s");
	if (a->key_out) {
		cli_print_esc(stdout, a->key_out, BP_ESC_TEXT);
		printf(": public key added\n");
	}
}

static int sign(const char *fit, struct sign_args *a)
{
	struct bp_fit_sign_stats st = BP_FIT_SIGN_STATS_INIT;
	const char *out = a->output ? a->output : fit;
	char algo[KEYOPTS_ALGO_MAX];
	struct bp_key *k = NULL;
	struct bp_diag d;
	int ret = keyopts_source_date_epoch(&a->o.has_timestamp, &a->o.timestamp);

	if (!ret)
		ret = keyopts_open(a->key, a->pin, false, &k);
	if (!ret)
		ret = keyopts_resolve_algo(k, a->o.algo, algo, sizeof(algo), &a->o.algo);
	if (!ret && a->key_out)
		ret = add_key(a, k, "/dev/null");
	if (ret)
		goto out;
	a->o.configs = a->configs.n ? (const char *const *)a->configs.v : NULL;
	a->o.n_configs = a->configs.n;
	ret = bp_fit_sign(fit, k, &a->o, out, &st, &d);
	if (ret) {
		ret = cli_fail(ret, &d);
		goto out;
	}
	if (a->key_out)
		ret = add_key(a, k, a->key_out);
	if (!ret && a->verbose)
		report(out, a, k, &st);
out:
	if (k)
		bp_key_close(k);
	return ret;
}

int cmd_fit_sign(int argc, char **argv)
{
	struct sign_args a = { .o = BP_FIT_SIGN_OPTS_INIT };
	const char *fit = NULL;
	int ret;

	a.o.jobs = cli_online_cpus();
	ret = parse(argc, argv, &a, &fit);
	if (!ret)
		ret = sign(fit, &a);
	argv_free(&a.configs);
	return ret < 0 ? EXIT_OK : ret;
}
