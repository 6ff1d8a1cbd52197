// SPDX-License-Identifier: MIT
/*
 * bootpack fit build: the command line of the kernel's scripts/make_fit.py,
 * so Kbuild runs it unchanged with MAKE_FIT="bootpack fit build".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bootpack/fit.h>

#include "argfile.h"
#include "cli.h"
#include "fit_target_cli.h"
#include "keyopts.h"

#define CMD "fit build"

enum { OPT_HELP = 'h', OPT_HASH = 256, OPT_DEFAULT_CONFIG, OPT_LOAD, OPT_ENTRY, OPT_LEVEL,
       OPT_SIGN, OPT_KEY_NAME, OPT_ALGO, OPT_PADDING, OPT_PIN, OPT_TARGET };

static const struct cli_opt opts[] = {
	{ "output", required_argument, 'o', "FILE",
	  "write the FIT to FILE (required); - is standard\noutput, if it is a regular file" },
	{ "arch", required_argument, 'A', "ARCH", "FIT architecture, e.g. arm64 (required)" },
	{ "os", required_argument, 'O', "OS", "FIT operating system, e.g. linux (required)" },
	{ "name", required_argument, 'n', "NAME", "kernel description, e.g. Linux-6.12 (required)" },
	{ "kernel", required_argument, 'k', "FILE", "uncompressed kernel image (required)" },
	{ "ramdisk", required_argument, 'r', "FILE", "initrd, stored as given (not compressed)" },
	{ "compress", required_argument, 'c', "ALGO",
	  "none (default), gzip, bzip2, lz4, lzma, lzo or zstd" },
	{ "level", required_argument, OPT_LEVEL, "N",
	  "compression level (default: the command-line tool's:\ngzip 6, bzip2 9, lz4 1, lzma 6, lzo 3, zstd 3)" },
	{ "external", no_argument, 'E', NULL, "place image data after the FDT (as mkimage -E)" },
	{ "align", required_argument, 'B', "HEX",
	  "align external data to HEX bytes (as mkimage -B; default 4)" },
	{ "decompose-dtbs", no_argument, 'D', NULL,
	  "store composite DTBs as base + overlays (reads .NAME.dtb.cmd)" },
	{ "files-from", required_argument, 'T', "FILE", "read DTB paths from FILE, one per line" },
	{ "jobs", required_argument, 'j', "N", "compress with N threads (default: all CPUs)" },
	{ "hash", required_argument, OPT_HASH, "ALGO[,ALGO]...",
	  "add hash-N nodes to every image (crc16-ccitt, crc32,\nmd5, sha1, sha256, sha384, sha512)" },
	{ "default-config", required_argument, OPT_DEFAULT_CONFIG, "NAME",
	  "write /configurations/default = NAME (e.g. conf-1)" },
	{ "load-address", required_argument, OPT_LOAD, "ADDR",
	  "store the kernel as type \"kernel\" loaded at ADDR\n"
	  "(hex), not kernel_noload: U-Boot before v2024.04\n"
	  "boots a compressed kernel only that way" },
	{ "entry-address", required_argument, OPT_ENTRY, "ADDR",
	  "kernel entry point (default: the load address)" },
	{ "sign", required_argument, OPT_SIGN, "KEY",
	  "sign every configuration with KEY (a PEM private\nkey or a pkcs11: URI); images lacking a hash\nget a sha256 one" },
	{ "key-name", required_argument, OPT_KEY_NAME, "NAME",
	  "with --sign: the key-name-hint (default: KEY's\nfile name without .key/.pem, or the URI's object)" },
	{ "algo", required_argument, OPT_ALGO, "ALGO",
	  "with --sign: HASH or HASH,CIPHER as U-Boot names\nit (default sha256 and KEY's type)" },
	{ "padding", required_argument, OPT_PADDING, "PAD", "with --sign: pkcs-1.5 (default) or pss" },
	{ "pin", required_argument, OPT_PIN, "PIN", "with --sign: the PKCS#11 token's user PIN" },
	{ "target", required_argument, OPT_TARGET, "NAME",
	  "build for bootloader NAME: refuse options it cannot\nboot, warn of what it misreads (--target help\nlists them)" },
	{ "verbose", no_argument, 'v', NULL, "print sizes and counts when done" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct build_args {
	struct bp_fit_build_opts o;
	const char *output;
	const char *compress;
	const char *level;
	bool verbose;
	struct argv_list dtbs;
	enum bp_hash_algo hashes[BP_HASH_COUNT];
	const char *sign, *key_name, *algo, *padding, *pin;
	const char *target;        /* --target NAME, or NULL */
	enum bp_fit_target t;
};

static void help(void)
{
	printf("Usage: bootpack fit build -o FILE -A ARCH -O OS -n NAME -k KERNEL [OPTION]... [DTB]...\n"
	       "Build a FIT holding a kernel, an optional ramdisk and devicetrees, with one\n"
	       "configuration per DTB. Same interface and tree as the kernel's make_fit.py.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
	printf("\nDTB arguments ending in .dtbo are ignored (overlays are stored through -D).\n"
	       "@FILE arguments are expanded from FILE. SOURCE_DATE_EPOCH sets the timestamp.\n"
	       "With --its FILE.its (or -f FILE.its): build from an image tree source as\n"
	       "mkimage -f does, with mkimage's options (bootpack fit build --its --help).\n");
}

/* Parse an unsigned number in @base; false unless all of @s is used. */
static bool parse_u32(const char *s, int base, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* SOURCE_DATE_EPOCH, else the clock: make_fit.py's root timestamp. */
static int timestamp(uint32_t *out)
{
	bool set;
	time_t now;

	if (keyopts_source_date_epoch(&set, out))
		return EXIT_FAIL;
	if (set)
		return 0;
	now = time(NULL);
	*out = now < 0 ? 0 : (uint32_t)now;
	return 0;
}

/* An address in hexadecimal, with or without 0x, as mkimage -a reads it. */
static bool parse_addr(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* "sha256,crc32": each algorithm once, in the order given (hash-1, hash-2...). */
static int parse_hashes(struct build_args *a, const char *val)
{
	char *list = strdup(val), *save = NULL;
	int ret = 0;

	if (!list)
		return cli_fail(BP_ERR_NOMEM, &(struct bp_diag){ "", "out of memory" });
	a->o.n_hashes = 0;
	for (char *tok = strtok_r(list, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		enum bp_hash_algo h;
		struct bp_diag d;

		if (bp_hash_from_name(tok, &h, &d)) {
			ret = cli_usage_error(CMD, "--hash '%s': %s", CLI_ESC(tok), d.msg);
			break;
		}
		for (size_t i = 0; i < a->o.n_hashes; i++)
			if (a->hashes[i] == h)
				ret = cli_usage_error(CMD, "--hash: '%s' is given twice",
						     CLI_ESC(tok));
		if (!ret)
			a->hashes[a->o.n_hashes++] = h;
	}
	if (!ret && !a->o.n_hashes)
		ret = cli_usage_error(CMD, "--hash '%s': no algorithm given", CLI_ESC(val));
	free(list);
	a->o.hashes = a->hashes;
	return ret;
}

static int set_option(struct build_args *a, int key, const char *val)
{
	char err[512];
	uint32_t n;

	switch (key) {
	case 'o': a->output = val; break;
	case 'A': a->o.arch = val; break;
	case 'O': a->o.os = val; break;
	case 'n': a->o.name = val; break;
	case 'k': a->o.kernel = val; break;
	case 'r': a->o.ramdisk = val; break;
	case 'c': a->compress = val; break;
	case 'E': a->o.external = true; break;
	case 'D': a->o.decompose = true; break;
	case 'v': a->verbose = true; break;
	case 'B':
		/* mkimage reads -B as hexadecimal, with or without 0x. */
		if (!parse_u32(val, 16, &n) || n < 4 || (n & (n - 1)) || n > (1u << 30))
			return cli_usage_error(CMD, "--align '%s': expected a power of two in hex, "
					       "from 4 to 40000000 (e.g. 1000 for 4 KiB)",
					       CLI_ESC(val));
		a->o.align = n;
		break;
	case 'j':
		return cli_opt_jobs(CMD, val, &a->o.jobs);
	case OPT_HASH:
		return parse_hashes(a, val);
	case OPT_DEFAULT_CONFIG: a->o.default_config = val; break;
	case OPT_LEVEL: a->level = val; break;
	case OPT_SIGN: a->sign = val; break;
	case OPT_PIN: a->pin = val; break;
	case OPT_TARGET: a->target = val; break;
	case OPT_KEY_NAME:
		a->key_name = val;
		return keyopts_key_name(CMD, val);
	case OPT_ALGO:
		a->algo = val;
		return keyopts_algo(CMD, val);
	case OPT_PADDING:
		a->padding = val;
		return keyopts_padding(CMD, val);
	case OPT_LOAD:
		if (!parse_addr(val, &a->o.load_address))
			return cli_usage_error(CMD, "--load-address '%s': expected an address "
					       "(e.g. 0x40200000)", CLI_ESC(val));
		a->o.has_load_address = true;
		break;
	case OPT_ENTRY:
		if (!parse_addr(val, &a->o.entry_address))
			return cli_usage_error(CMD, "--entry-address '%s': expected an address "
					       "(e.g. 0x40200000)", CLI_ESC(val));
		a->o.has_entry_address = true;
		break;
	case 'T':
		if (argfile_read_lines(val, &a->dtbs, err, sizeof(err))) {
			cli_error_text(err);
			return EXIT_FAIL;
		}
		break;
	default:
		return cli_usage_error(CMD, "unhandled option '%c'", key);
	}
	return 0;
}

static int set_cb(void *ctx, int key, const char *val)
{
	return set_option(ctx, key, val);
}

static int parse(int argc, char **argv, struct build_args *a)
{
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, set_cb, a);

	if (!ret && a->target && !fit_target_is_help(a->target))
		ret = fit_target_parse(CMD, a->target, &a->t);
	if (ret || (a->target && fit_target_is_help(a->target)))
		return ret;
	for (int i = optind; i < argc; i++)
		if (argv_push(&a->dtbs, argv[i], strlen(argv[i])))
			return cli_fail(BP_ERR_NOMEM, &(struct bp_diag){ "", "out of memory" });
	if (!a->output || !a->o.arch || !a->o.os || !a->o.name || !a->o.kernel) {
		const char *missing[5];
		size_t n = 0;

		if (!a->output)
			missing[n++] = "-o/--output";
		if (!a->o.arch)
			missing[n++] = "-A/--arch";
		if (!a->o.os)
			missing[n++] = "-O/--os";
		if (!a->o.name)
			missing[n++] = "-n/--name";
		if (!a->o.kernel)
			missing[n++] = "-k/--kernel";
		return cli_missing_options(CMD, missing, n);
	}
	if (a->o.has_entry_address && !a->o.has_load_address)
		return cli_usage_error(CMD, "--entry-address needs --load-address");
	if (!a->sign && (a->key_name || a->algo || a->padding || a->pin))
		return cli_usage_error(CMD, "%s needs --sign", a->key_name ? "--key-name" :
				       a->algo ? "--algo" : a->padding ? "--padding" : "--pin");
	return 0;
}

/* The level is checked against the codec, which may be given after it. */
static int parse_level(struct build_args *a)
{
	int min, max, def;
	long n;
	char *end;

	if (!a->level)
		return 0;
	bp_codec_levels(a->o.compress, &min, &max, &def);
	if (!max)
		return cli_usage_error(CMD, "--level needs a compression (-c): '%s' has no levels",
				       CLI_ESC(a->compress));
	errno = 0;
	n = strtol(a->level, &end, 10);
	if (!*a->level || *end || errno || n < min || n > max)
		return cli_usage_error(CMD, "--level '%s': %s levels are %d to %d (default %d)",
				       CLI_ESC(a->level), CLI_ESC(a->compress), min, max, def);
	a->o.level = (int)n;
	return 0;
}

static void report(const struct build_args *a, const struct bp_fit_build_stats *st)
{
	FILE *f = cli_report_stream(a->output);

	fprintf(f, "FIT size %#" PRIx64 "/%.1f MB", st->fit_size, st->fit_size / 1048576.0);
	if (a->o.external)
		fprintf(f, ", header %#" PRIx64 "/%.1f KB", st->fdt_size, st->fdt_size / 1024.0);
	fprintf(f, ", %zu files, uncompressed %.1f MB\n", st->n_files,
		st->input_bytes / 1048576.0);
}

/*
 * make_fit.py writes such a FIT without a word; it boots only by image name,
 * which is rarely what was meant (a DTB list that came out empty).
 */
static void warn_no_configs(const char *output)
{
	fputs("bootpack: warning: '", stderr);
	cli_print_esc(stderr, output, BP_ESC_TEXT);
	fputs("': no configurations (no .dtb given): U-Boot can boot this FIT only by image "
	      "name (bootm ADDR:kernel)\n", stderr);
}

/*
 * A FIT is patched after its data, so standard output must be a file that
 * can seek; refused before anything is read.
 */
static int check_stdout(const char *output)
{
	if (strcmp(output, "-"))
		return 0;
	if (fcntl(STDOUT_FILENO, F_GETFL) & O_APPEND)
		return cli_usage_error(CMD, "-o -: standard output is opened for appending (>>); "
				       "a FIT is patched after its data is written, so redirect "
				       "it with > or give -o FILE");
	if (lseek(STDOUT_FILENO, 0, SEEK_CUR) >= 0)
		return 0;
	return cli_usage_error(CMD, "-o -: standard output is a pipe or terminal; a FIT is "
			       "patched after its data is written, so redirect it to a "
			       "regular file or give -o FILE");
}

/* --sign: the key and the signature options; the timestamp is the root's. */
static int open_sign_key(struct build_args *a, struct bp_fit_sign_opts *so, char *algo,
			 struct bp_key **k)
{
	int ret = keyopts_open(a->sign, a->pin, false, k);

	if (!ret)
		ret = keyopts_resolve_algo(*k, a->algo, algo, KEYOPTS_ALGO_MAX, &so->algo);
	if (ret)
		return ret;
	so->padding = a->padding;
	so->key_name = a->key_name;
	so->has_timestamp = true;
	so->timestamp = a->o.timestamp;
	so->jobs = a->o.jobs;
	a->o.sign_key = *k;
	a->o.sign_opts = so;
	return 0;
}

static void print_finding(void *ctx, const struct bp_fit_check *c)
{
	const struct build_args *a = ctx;

	fit_target_print_finding(a->output, a->t, c);
}

/* --target help lists the targets (returns -1: done). */
static int target_help(struct build_args *a)
{
	if (!a->target)
		return 0;
	if (fit_target_is_help(a->target)) {
		fit_target_print_help(false);
		return -1;
	}
	return 0;
}

/* Whether a .dtb (not a .dtbo, which is ignored) is given: then conf-1 exists. */
static bool has_dtb(const struct build_args *a)
{
	for (size_t i = 0; i < a->dtbs.n; i++) {
		size_t len = strlen(a->dtbs.v[i]);

		if (len < 5 || strcmp(a->dtbs.v[i] + len - 5, ".dtbo"))
			return true;
	}
	return false;
}

/*
 * --target: refuse what the bootloader cannot boot, naming the rule. The
 * choice made for it: u-root's fitboot boots /configurations/default, so
 * without --default-config it is the first configuration. Compression is
 * never chosen: "none" is read by every target.
 */
static int target_options(struct build_args *a)
{
	const struct bp_fit_target_rule *rule;
	const char *option;
	struct bp_diag d;

	if (bp_fit_target_build_check(a->t, &a->o, &rule, &option, &d))
		return cli_usage_error(CMD, "--target %s: %s [%s; %s]", bp_fit_target_name(a->t),
				       d.msg, rule ? rule->id : "?", rule ? rule->source : "?");
	if (a->t == BP_FIT_TARGET_LINUXBOOT && !a->o.default_config && has_dtb(a))
		a->o.default_config = "conf-1";
	return 0;
}

/* What the target misreads in the FIT just written (standard output is not read back). */
static void target_warnings(const struct build_args *a)
{
	struct bp_fit *fit;
	struct bp_diag d;

	if (!strcmp(a->output, "-") || bp_fit_open(a->output, &fit, &d))
		return;
	bp_fit_target_check(fit, a->t, BP_FIT_CHECK_WARN, 0, print_finding, (void *)a, NULL, &d);
	bp_fit_close(fit);
}

int cmd_fit_build(int argc, char **argv)
{
	struct build_args a = { .o = BP_FIT_BUILD_OPTS_INIT, .compress = "none" };
	struct bp_fit_build_stats st = BP_FIT_BUILD_STATS_INIT;
	struct bp_fit_sign_opts so = BP_FIT_SIGN_OPTS_INIT;
	char algo[KEYOPTS_ALGO_MAX];
	struct bp_key *key = NULL;
	struct bp_sink out;
	struct bp_diag d;
	int ret;

	if (cmd_fit_its_wanted(argc, argv))
		return cmd_fit_its(argc, argv);
	a.o.jobs = cli_online_cpus();
	ret = parse(argc, argv, &a);

	if (ret || (ret = target_help(&a))) {
		argv_free(&a.dtbs);
		return ret < 0 ? EXIT_OK : ret;
	}
	ret = check_stdout(a.output);
	if (ret)
		goto out;
	ret = bp_codec_from_name(a.compress, &a.o.compress, &d);
	if (ret) {
		ret = cli_usage_error(CMD, "-c/--compress '%s': %s", CLI_ESC(a.compress), d.msg);
		goto out;
	}
	ret = parse_level(&a);
	if (!ret)
		ret = timestamp(&a.o.timestamp);
	if (!ret && a.sign)
		ret = open_sign_key(&a, &so, algo, &key);
	if (ret)
		goto out;
	a.o.dtbs = (const char *const *)a.dtbs.v;
	a.o.n_dtbs = a.dtbs.n;
	if (a.target && (ret = target_options(&a)))
		goto out;
	out = cli_output(a.output);
	ret = bp_fit_build_to(&a.o, &out, &st, &d);
	if (ret) {
		ret = cli_fail(ret, &d);
		goto out;
	}
	if (!st.n_configs)
		warn_no_configs(a.output);
	if (a.target)
		target_warnings(&a);
	if (a.verbose)
		report(&a, &st);
out:
	if (key)
		bp_key_close(key);
	argv_free(&a.dtbs);
	return ret;
}
