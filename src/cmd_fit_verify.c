// SPDX-License-Identifier: MIT
/*
 * bootpack fit verify: hashes, data bounds, references and (with --key)
 * signatures checked as U-Boot checks them, so a FIT can be judged without a
 * board: the fit_check_sign Debian does not ship. Exit 1 on any failure.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/buf.h>
#include <bootpack/file.h>
#include <bootpack/fit.h>

#include "argfile.h"
#include "cli.h"
#include "fit_target_cli.h"
#include "json.h"

#define CMD "fit verify"

/* A control devicetree is a few KiB; anything near this is not one. */
#define KEYS_MAX (64u << 20)

enum { OPT_HELP = 'h', OPT_DECOMPRESS = 256, OPT_MAX_SIZE, OPT_CONFIG, OPT_JSON, OPT_TARGET,
       OPT_STRICT };

static const struct cli_opt opts[] = {
	{ "key", required_argument, 'k', "DTB",
	  "check signatures against the public keys in\nU-Boot's control devicetree DTB, with its policy" },
	{ "config", required_argument, OPT_CONFIG, "NAME",
	  "check configuration NAME only (repeatable)" },
	{ "target", required_argument, OPT_TARGET, "NAME", FIT_TARGET_HELP },
	{ "strict", no_argument, OPT_STRICT, NULL,
	  "with --target: what the bootloader refuses or\nmisreads is a failure, not a warning" },
	{ "json", no_argument, OPT_JSON, NULL, "print JSON (described in bootpack(1))" },
	{ "decompress", no_argument, OPT_DECOMPRESS, NULL,
	  "also decompress each image and check its contents" },
	{ "max-size", required_argument, OPT_MAX_SIZE, "SIZE",
	  "decompression limit per image (K/M/G suffixes;\ndefault 1G)" },
	{ "jobs", required_argument, 'j', "N", "check with N threads (default: all CPUs)" },
	{ "quiet", no_argument, 'q', NULL, "print only warnings and failures" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct verify_args {
	struct bp_fit_verify_opts o;
	bool quiet, json, strict;
	const char *keys;
	const char *target;         /* --target NAME, or NULL */
	enum bp_fit_target t;
	struct argv_list configs;
};

static void help(void)
{
	printf("Usage: bootpack fit verify [OPTION]... FILE...\n"
	       "Check each FIT as U-Boot would before booting it: structure, external data\n"
	       "bounds, every hash node, configuration references, that plain arm64\n"
	       "kernels and devicetrees are what they claim and, with --key, signatures.\n"
	       "With --target, also what that bootloader refuses or misreads (warnings,\n"
	       "or failures with --strict).\n"
	       "Passing checks go to stdout, warnings and failures to stderr. Exit status\n"
	       "1 if anything failed.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static int set_option(void *ctx, int key, const char *val)
{
	struct verify_args *a = ctx;

	switch (key) {
	case 'q': a->quiet = true; break;
	case 'k': a->keys = val; break;
	case OPT_JSON: a->json = true; break;
	case OPT_TARGET: a->target = val; break;
	case OPT_STRICT: a->strict = true; break;
	case OPT_CONFIG:
		if (argv_push(&a->configs, val, strlen(val)))
			return cli_fail(BP_ERR_NOMEM, &(struct bp_diag){ "", "out of memory" });
		break;
	case OPT_DECOMPRESS: a->o.decompress = true; break;
	case OPT_MAX_SIZE:
		return cli_opt_size(CMD, val, &a->o.max_decompressed);
	case 'j':
		return cli_opt_jobs(CMD, val, &a->o.jobs);
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

struct sink {
	const char *path;
	bool quiet, json;
	enum bp_fit_target t;       /* for findings of --target */
	size_t n;                   /* findings so far (JSON separators) */
};

static const char *const level_names[] = { "ok", "warning", "failure" };

static void json_check(struct sink *s, const struct bp_fit_check *c)
{
	bool sig = c->size >= offsetof(struct bp_fit_check, key_name) + sizeof(c->key_name);

	printf("%s\n    {\"level\": \"%s\", \"node\": ", s->n ? "," : "", level_names[c->level]);
	json_str(stdout, c->node);
	printf(", \"message\": ");
	json_str(stdout, c->msg);
	printf(", \"signature\": ");
	json_str(stdout, sig ? c->signature : NULL);
	printf(", \"algo\": ");
	json_str(stdout, sig ? c->algo : NULL);
	printf(", \"key\": ");
	json_str(stdout, sig ? c->key_name : NULL);
	fit_target_json_fields(c);
	putchar('}');
}

/*
 * The node name comes from the file; the message is the library's, escaped
 * already (a signature finding's starts with the signature node's name).
 */
static void on_check(void *ctx, const struct bp_fit_check *c)
{
	struct sink *s = ctx;
	const char *sep = *c->node ? ": " : "";

	if (s->json) {
		json_check(s, c);
	} else if (c->size >= offsetof(struct bp_fit_check, rule) + sizeof(c->rule) && c->rule) {
		fit_target_print_finding(s->path, s->t, c);
	} else if (c->level == BP_FIT_CHECK_OK) {
		if (!s->quiet)
			printf("%s%s%s\n", CLI_ESC(c->node), sep, CLI_MSG(c->msg));
	} else {
		/* The "bootpack: 'PATH': ..." form, with the node first. */
		fflush(stdout);
		cli_error(s->path, "%s%s%s%s", c->level == BP_FIT_CHECK_WARN ? "warning: " : "",
			  CLI_ESC(c->node), sep, CLI_MSG(c->msg));
	}
	s->n++;
}

static void json_summary(const struct bp_fit_info *info, const struct bp_fit_verify_stats *st,
			 const struct verify_args *a)
{
	printf("\n   ], \"ok\": %s, \"images\": %zu, \"configurations\": %zu, \"hashes\": %zu, "
	       "\"warnings\": %zu, \"failures\": %zu", st->n_failures ? "false" : "true",
	       info->n_images, info->n_configs, st->n_hashes, st->n_warnings, st->n_failures);
	if (a->keys)
		printf(", \"signatures_ok\": %zu, \"signatures_bad\": %zu", st->n_signatures_ok,
		       st->n_signatures_bad);
	if (a->target)
		printf(", \"target\": \"%s\"", bp_fit_target_name(a->t));
	printf("}");
}

/* --json for a file that could not be checked: the error, also on stderr. */
static void json_error(const char *path, const struct bp_diag *d)
{
	printf("  {\"file\": ");
	json_str(stdout, path);
	printf(", \"ok\": false, \"error\": ");
	json_str(stdout, d->msg);
	printf("}");
}

static void text_summary(const char *path, const struct bp_fit_info *info,
			 const struct bp_fit_verify_stats *st, const struct verify_args *a)
{
	cli_print_esc(stdout, path, BP_ESC_TEXT);
	printf(": OK (%zu image%s, %zu configuration%s, %zu hash%s checked, ", info->n_images,
	       info->n_images == 1 ? "" : "s", info->n_configs, info->n_configs == 1 ? "" : "s",
	       st->n_hashes, st->n_hashes == 1 ? "" : "es");
	if (a->keys)
		printf("%zu signature%s verified, ", st->n_signatures_ok,
		       st->n_signatures_ok == 1 ? "" : "s");
	printf("%zu warning%s)\n", st->n_warnings, st->n_warnings == 1 ? "" : "s");
}

/*
 * Problems in the FIT are findings; a malformed input bp_fit_verify() fails
 * on is the control devicetree, which the library knows by no name.
 */
static void blame_keys(int ret, const struct verify_args *a, struct bp_diag *d)
{
	static const char prefix[] = "control devicetree: ";

	if (ret != BP_ERR_FORMAT || !a->keys || d->path[0])
		return;
	snprintf(d->path, sizeof(d->path), "%s", a->keys);
	if (!strncmp(d->msg, prefix, sizeof(prefix) - 1))
		memmove(d->msg, d->msg + sizeof(prefix) - 1, strlen(d->msg) - sizeof(prefix) + 2);
}

/* --target: the bootloader's rules, after U-Boot's checks; counted as warnings or failures. */
static int check_target(const struct bp_fit *fit, const struct verify_args *a, struct sink *s,
			struct bp_fit_verify_stats *st, struct bp_diag *d)
{
	enum bp_fit_check_level level = a->strict ? BP_FIT_CHECK_FAIL : BP_FIT_CHECK_WARN;
	size_t n = 0;
	int ret = bp_fit_target_check(fit, a->t, level, a->o.max_decompressed, on_check, s, &n, d);

	if (a->strict)
		st->n_failures += n;
	else
		st->n_warnings += n;
	return ret;
}

static int verify_file(const char *path, const struct verify_args *a, size_t index)
{
	struct sink s = { path, a->quiet, a->json, a->t, 0 };
	struct bp_fit_verify_stats st = BP_FIT_VERIFY_STATS_INIT;
	const struct bp_fit_info *info;
	struct bp_fit *fit;
	struct bp_diag d;
	int ret = bp_fit_open(path, &fit, &d);

	if (a->json)
		fputs(index ? ",\n" : "", stdout);
	if (ret) {
		if (a->json)
			json_error(path, &d);
		return cli_fail(ret, &d);
	}
	if (a->json) {
		printf("  {\"file\": ");
		json_str(stdout, path);
		printf(", \"checks\": [");
	}
	ret = bp_fit_verify(fit, &a->o, on_check, &s, &st, &d);
	if (!ret && a->target)
		ret = check_target(fit, a, &s, &st, &d);
	info = bp_fit_get_info(fit);
	if (ret)
		blame_keys(ret, a, &d);
	if (ret) {
		if (a->json) {
			printf("\n   ], \"ok\": false, \"error\": ");
			json_str(stdout, d.msg);
			putchar('}');
		}
		ret = cli_fail(ret, &d);
	} else if (a->json) {
		json_summary(info, &st, a);
		ret = st.n_failures ? EXIT_FAIL : 0;
	} else if (st.n_failures) {
		cli_error(path, "FAILED: %zu problem%s found", st.n_failures,
			  st.n_failures == 1 ? "" : "s");
		ret = EXIT_FAIL;
	} else if (!a->quiet) {
		text_summary(path, info, &st, a);
	}
	bp_fit_close(fit);
	return ret;
}

/* --key: the control devicetree, read whole; the library checks its structure. */
static int read_keys(struct verify_args *a, struct bp_buf *keys)
{
	struct bp_diag d;
	int ret;

	if (!a->keys)
		return 0;
	ret = bp_buf_read_file(keys, a->keys, KEYS_MAX, &d);
	if (ret)
		return cli_fail(ret, &d);
	a->o.keys_fdt = keys->data;
	a->o.keys_fdt_len = keys->len;
	return 0;
}

int cmd_fit_verify(int argc, char **argv)
{
	struct verify_args a = { .o = BP_FIT_VERIFY_OPTS_INIT };
	struct bp_buf keys = BP_BUF_INIT;
	int ret, status = 0;

	a.o.jobs = cli_online_cpus();
	ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_option, &a);
	if (!ret && a.target && fit_target_is_help(a.target)) {
		fit_target_print_help(a.json);
		goto out;
	}
	if (!ret && a.target)
		ret = fit_target_parse(CMD, a.target, &a.t);
	if (!ret && a.strict && !a.target)
		ret = cli_usage_error(CMD, "--strict needs --target");
	if (!ret && optind >= argc)
		ret = cli_usage_error(CMD, "no FIT file given");
	if (!ret)
		ret = read_keys(&a, &keys);
	if (ret) {
		status = ret < 0 ? EXIT_OK : ret;
		goto out;
	}
	a.o.configs = a.configs.n ? (const char *const *)a.configs.v : NULL;
	a.o.n_configs = a.configs.n;
	if (a.json)
		printf("[\n");
	for (int i = optind; i < argc; i++)
		if (verify_file(argv[i], &a, (size_t)(i - optind)))
			status = EXIT_FAIL;
	if (a.json)
		printf("\n]\n");
out:
	bp_buf_free(&keys);
	argv_free(&a.configs);
	return status;
}
