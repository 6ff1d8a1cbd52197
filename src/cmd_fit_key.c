// SPDX-License-Identifier: MIT
/*
 * bootpack fit key add: a public key into U-Boot's control devicetree at
 * /signature/key-NAME, as `mkimage -K CONTROL.dtb [-r]` writes it.
 */
#include <string.h>

#include <bootpack/sign.h>

#include "cli.h"
#include "keyopts.h"

#define CMD "fit key add"

enum { OPT_HELP = 'h', OPT_KEY_NAME = 256, OPT_ALGO, OPT_REQUIRED, OPT_PIN };

static const struct cli_opt opts[] = {
	{ "key", required_argument, 'k', "KEY",
	  "the key: a PEM private key, public key or X.509\ncertificate, or a pkcs11: URI (required)" },
	{ "required", required_argument, OPT_REQUIRED, "WHAT",
	  "U-Boot must verify every conf (configuration) or\nimage with this key (as mkimage -r)" },
	{ "key-name", required_argument, OPT_KEY_NAME, "NAME",
	  "node /signature/key-NAME and key-name-hint\n(default: KEY's file name without .key/.pem/.crt,\nor the URI's object)" },
	{ "algo", required_argument, OPT_ALGO, "ALGO",
	  "HASH or HASH,CIPHER as U-Boot names it (default:\nsha256 and KEY's type)" },
	{ "output", required_argument, 'o', "FILE",
	  "write the result to FILE (default: change DTB\nin place)" },
	{ "pin", required_argument, OPT_PIN, "PIN", "the PKCS#11 token's user PIN" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct key_args {
	struct bp_fit_key_add_opts o;
	const char *key, *output, *pin;
};

static void help(void)
{
	printf("Usage: bootpack fit key add DTB --key KEY [OPTION]...\n"
	       "Write KEY's public key into U-Boot's control devicetree DTB as U-Boot\n"
	       "reads it (/signature/key-NAME), replacing a key of the same name.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct key_args *a = ctx;

	switch (key) {
	case 'k': a->key = val; break;
	case 'o': a->output = val; break;
	case OPT_PIN: a->pin = val; break;
	case OPT_REQUIRED:
		return keyopts_required(CMD, val, &a->o.required);
	case OPT_KEY_NAME:
		a->o.key_name = val;
		return keyopts_key_name(CMD, val);
	case OPT_ALGO:
		a->o.algo = val;
		return keyopts_algo(CMD, val);
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

static int key_add(int argc, char **argv)
{
	struct key_args a = { .o = BP_FIT_KEY_ADD_OPTS_INIT };
	char algo[KEYOPTS_ALGO_MAX];
	struct bp_key *k = NULL;
	struct bp_diag d;
	const char *dtb;
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind >= argc)
		return cli_usage_error(CMD, "no control devicetree given");
	if (optind + 1 < argc)
		return cli_usage_error(CMD, "one devicetree at a time: unexpected '%s'",
				       CLI_ESC(argv[optind + 1]));
	if (!a.key)
		return cli_missing_options(CMD, (const char *[]){ "-k/--key" }, 1);
	dtb = argv[optind];
	if (a.output && !strcmp(a.output, "-"))
		return cli_usage_error(CMD, "'-' is not a file: fit key add writes the devicetree "
				       "in place or to a named file");
	ret = keyopts_open(a.key, a.pin, true, &k);
	if (!ret)
		ret = keyopts_resolve_algo(k, a.o.algo, algo, sizeof(algo), &a.o.algo);
	if (!ret) {
		ret = bp_fit_key_add(dtb, k, &a.o, a.output ? a.output : dtb, &d);
		if (ret)
			ret = cli_fail(ret, &d);
	}
	if (k)
		bp_key_close(k);
	return ret;
}

/* "fit key" has one subcommand today; the word keeps room for others (list, remove). */
int cmd_fit_key(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return key_add(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: bootpack fit key add DTB --key KEY [OPTION]...\n\n"
		       "Commands:\n  add                 add a public key to U-Boot's control "
		       "devicetree\n\nRun 'bootpack fit key add --help' for its options.\n");
		return EXIT_OK;
	}
	if (argc < 2)
		return cli_usage_error("fit key", "needs a command: add");
	return cli_usage_error("fit key", "unknown command '%s' (the command is add)",
			       CLI_ESC(argv[1]));
}
