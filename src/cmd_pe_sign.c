// SPDX-License-Identifier: MIT
/*
 * bootpack pe sign / pe hash: Authenticode signatures as UEFI Secure Boot
 * and kexec_file_load check them, reproducible unlike sbsign's (no signing
 * time unless asked for), and the digest they sign as pesign -h prints it.
 */
#include <stdlib.h>
#include <string.h>

#include <bootpack/authenticode.h>
#include <bootpack/pe.h>
#include <bootpack/sign.h>

#include "cli.h"
#include "pe_signopts.h"

#define CMD_SIGN "pe sign"
#define CMD_HASH "pe hash"

enum { OPT_HELP = 'h', OPT_APPEND = 256, OPT_REPLACE };

static const struct cli_opt sign_opts[] = {
	{ "output", required_argument, 'o', "FILE",
	  "write the signed image to FILE (default: sign IN\nin place)" },
	PE_SIGN_CLI_OPTS,
	{ "append", no_argument, OPT_APPEND, NULL,
	  "add a signature to an image already signed" },
	{ "replace", no_argument, OPT_REPLACE, NULL,
	  "drop the signatures of an image already signed" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_SIGN_OPTS (sizeof(sign_opts) / sizeof(sign_opts[0]))

struct sign_args {
	struct pe_signopts s;
	const char *output;
	enum bp_pe_sign_mode mode;
	bool append, replace;
};

static void sign_help(void)
{
	printf("Usage: bootpack pe sign IN --key KEY --cert CERT [-o OUT] [OPTION]...\n"
	       "Add an Authenticode signature to the PE/COFF (EFI) image IN, as UEFI Secure\n"
	       "Boot and kexec_file_load check it: a PKCS#7 SignedData over the image's\n"
	       "digest, in a certificate table at the end of the image; CheckSum is\n"
	       "recomputed. The same inputs give the same bytes. An image already signed\n"
	       "needs --append or --replace.\n\n");
	cli_print_options(stdout, sign_opts, N_SIGN_OPTS);
}

static int sign_set(void *ctx, int key, const char *val)
{
	struct sign_args *a = ctx;
	int ret = pe_signopts_set(&a->s, CMD_SIGN, key, val);

	if (ret != PE_SIGNOPTS_NOT_MINE)
		return ret;
	switch (key) {
	case 'o': a->output = val; break;
	case OPT_APPEND: a->append = true; break;
	case OPT_REPLACE: a->replace = true; break;
	default: return cli_usage_error(CMD_SIGN, "unhandled option '%c'", key);
	}
	return 0;
}

static int sign_parse(int argc, char **argv, struct sign_args *a, const char **in)
{
	int ret = cli_parse(CMD_SIGN, sign_opts, N_SIGN_OPTS, argc, argv, sign_help, sign_set, a);

	if (ret)
		return ret;
	if (optind >= argc)
		return cli_usage_error(CMD_SIGN, "no input image given");
	if (optind + 1 < argc)
		return cli_usage_error(CMD_SIGN, "one image at a time: unexpected '%s'",
				       CLI_ESC(argv[optind + 1]));
	*in = argv[optind];
	a->s.any = true;
	ret = pe_signopts_check(&a->s, CMD_SIGN);
	if (ret)
		return ret;
	if (a->output && !strcmp(a->output, "-"))
		return cli_usage_error(CMD_SIGN, "'-' is not a file: pe sign writes in place or "
				       "to a named file");
	if (a->append && a->replace)
		return cli_usage_error(CMD_SIGN, "--append and --replace do not go together");
	a->mode = a->append ? BP_PE_SIGN_APPEND : a->replace ? BP_PE_SIGN_REPLACE
							      : BP_PE_SIGN_NEW;
	return 0;
}

static int sign(const char *in, const struct sign_args *a)
{
	struct bp_pe_sign_opts o = BP_PE_SIGN_OPTS_INIT;
	struct bp_key *k = NULL;
	struct bp_pe *pe;
	struct bp_diag d;
	int ret = bp_pe_open(in, &pe, &d);

	if (ret)
		return cli_fail(ret, &d);
	/* Said here, not by the library: it knows no option names. */
	if (a->mode == BP_PE_SIGN_NEW && bp_pe_get_info(pe)->has_certificates) {
		cli_error(in, "already signed: --append adds a signature, --replace replaces "
			  "the existing ones");
		ret = EXIT_FAIL;
		goto out;
	}
	ret = pe_signopts_prepare(&a->s, &o, &k);
	if (ret)
		goto out;
	o.mode = a->mode;
	ret = bp_pe_sign(pe, k, &o, a->output ? a->output : in, &d);
	if (ret)
		ret = cli_fail(ret, &d);
	else
		pe_warn_inner_unsigned(in, pe);
out:
	if (k)
		bp_key_close(k);
	bp_pe_close(pe);
	return ret;
}

int cmd_pe_sign(int argc, char **argv)
{
	struct sign_args a = { .s = PE_SIGNOPTS_INIT };
	const char *in = NULL;
	int ret = sign_parse(argc, argv, &a, &in);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	return sign(in, &a);
}

/* ---- pe hash ---- */

static const struct cli_opt hash_opts[] = {
	{ "digest", required_argument, PE_OPT_DIGEST, "ALGO",
	  "sha256 (default), sha1, sha384 or sha512" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_HASH_OPTS (sizeof(hash_opts) / sizeof(hash_opts[0]))

static void hash_help(void)
{
	printf("Usage: bootpack pe hash [--digest ALGO] FILE\n"
	       "Print the Authenticode digest of the PE/COFF image FILE, the value a\n"
	       "signature signs, as pesign -h prints it (\"hash: \" and lower-case hex).\n\n");
	cli_print_options(stdout, hash_opts, N_HASH_OPTS);
}

static int hash_set(void *ctx, int key, const char *val)
{
	if (key != PE_OPT_DIGEST)
		return cli_usage_error(CMD_HASH, "unhandled option '%c'", key);
	return pe_digest_opt(CMD_HASH, val, true, ctx);
}

int cmd_pe_hash(int argc, char **argv)
{
	enum bp_hash_algo algo = BP_HASH_SHA256;
	uint8_t digest[BP_HASH_MAX_LEN];
	struct bp_pe *pe;
	struct bp_diag d;
	int ret = cli_parse(CMD_HASH, hash_opts, N_HASH_OPTS, argc, argv, hash_help, hash_set,
			    &algo);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind + 1 != argc)
		return cli_usage_error(CMD_HASH, optind < argc ? "give one FILE" : "no FILE given");
	ret = bp_pe_open(argv[optind], &pe, &d);
	if (ret)
		return cli_fail(ret, &d);
	ret = bp_pe_digest(pe, algo, digest, &d);
	if (ret) {
		ret = cli_fail(ret, &d);
	} else {
		printf("hash: ");
		for (size_t i = 0; i < bp_hash_len(algo); i++)
			printf("%02x", digest[i]);
		putchar('\n');
	}
	bp_pe_close(pe);
	return ret;
}
