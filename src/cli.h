/* SPDX-License-Identifier: MIT */
/* Shared CLI plumbing: exit codes, error lines, option tables. */
#ifndef BP_CLI_H
#define BP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <bootpack/error.h>
#include <bootpack/experimental.h>
#include <bootpack/escape.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* One option: drives getopt_long and the --help text alike. */
struct cli_opt {
	const char *name;   /* long name */
	int has_arg;        /* no_argument / required_argument */
	int key;            /* short letter, or a value > 255 for long-only */
	const char *arg;    /* argument name shown in --help, or NULL */
	const char *help;
};

struct cli_cmd {
	const char *object;   /* "fit" */
	const char *command;  /* "build", or "key add": the command parses the second word */
	const char *summary;
	int (*run)(int argc, char **argv);
};

/*
 * "bootpack: 'PATH': MSG" (or "bootpack: MSG" without a path) on stderr.
 * PATH is escaped here; arguments of @fmt that came from a file must be
 * passed through CLI_ESC(), while library messages (bp_diag) are already safe.
 */
void cli_error(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "bootpack: MSG" for a CLI message that quotes paths as they are: escapes all of it. */
void cli_error_text(const char *msg);
/* Print a library failure from its diagnostics; returns EXIT_FAIL. */
int cli_fail(int err, const struct bp_diag *d);
/* "bootpack CMD: MSG" + a pointer to --help on stderr; returns EXIT_USAGE. As for cli_error(). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill getopt_long tables from @opts; @longopts has n + 1 entries. */
/*
 * "missing required option -o/--output" or "missing required options -A/--arch
 * and -O/--os" for the @n names in @missing, as a usage error of @cmd.
 */
int cli_missing_options(const char *cmd, const char *const *missing, size_t n);

void cli_getopt_tables(const struct cli_opt *opts, size_t n, struct option *longopts,
		       char *shortopts, size_t shortlen);
void cli_print_options(FILE *f, const struct cli_opt *opts, size_t n);

#define CLI_OPTS_MAX 32

/*
 * Untrusted text (anything read from an input file or an argument file) goes
 * to the terminal only through bp_escape() (bootpack/escape.h), once.
 * cli_print_esc() writes all of @s (may be NULL: "(null)") in mode @flags.
 */
void cli_print_esc(FILE *f, const char *s, unsigned int flags);

/* @s escaped (text mode) for a message argument, cut with "..." past 127 characters. */
#define CLI_ESC_MAX 128
const char *cli_esc(char *buf, size_t size, const char *s);
/* The buffer is a compound literal: it lives until the end of the enclosing block. */
#define CLI_ESC(s) cli_esc((char[CLI_ESC_MAX]){ 0 }, CLI_ESC_MAX, (s))

/*
 * A library message as it will be printed: @msg itself, since the library
 * escapes what it quotes from files, unless a byte outside printable ASCII
 * shows that a call site did not; then all of @msg escaped, so a missed
 * escape costs a doubled backslash, never a raw control byte.
 */
#define CLI_MSG_MAX (4 * BP_DIAG_MSG_MAX + 1)
const char *cli_msg(char *buf, size_t size, const char *msg);
#define CLI_MSG(m) cli_msg((char[CLI_MSG_MAX]){ 0 }, CLI_MSG_MAX, (m))

/* Where -o PATH writes: "-" is standard output (written in place), anything else a file. */
struct bp_sink cli_output(const char *path);
/* Where a command's report goes: stderr when its output is standard output. */
FILE *cli_report_stream(const char *output);
/* The CLI's default thread count: every online CPU (the library's is 1). */
unsigned int cli_online_cpus(void);

/* A positive byte count: digits with an optional K, M, G or T (KiB...) suffix. */
bool cli_parse_size(const char *s, uint64_t *out);
/* The shared option values, each printing its usage error (returns 0 or EXIT_USAGE). */
int cli_opt_jobs(const char *cmd, const char *val, unsigned int *out);
int cli_opt_size(const char *cmd, const char *val, uint64_t *out);
/* A cli_parse() setter for commands whose only option sets the bool at @ctx. */
int cli_set_flag(void *ctx, int key, const char *val);

/*
 * Parse options with getopt_long, calling set(ctx, key, optarg) for each
 * ('h' shows help()). Returns 0 with optind at the first operand, -1 after
 * --help, or the exit code of a usage error.
 */
int cli_parse(const char *cmd, const struct cli_opt *opts, size_t n, int argc, char **argv,
	      void (*help)(void), int (*set)(void *ctx, int key, const char *val), void *ctx);

int cmd_fit_build(int argc, char **argv);
/* fit build --its (cmd_fit_its.c): wanted when argv holds --its or -f. */
int cmd_fit_its(int argc, char **argv);
bool cmd_fit_its_wanted(int argc, char **argv);
int cmd_fit_list(int argc, char **argv);
int cmd_fit_extract(int argc, char **argv);
int cmd_fit_verify(int argc, char **argv);
int cmd_fit_sign(int argc, char **argv);
int cmd_fit_key(int argc, char **argv);
int cmd_pe_info(int argc, char **argv);
int cmd_pe_verify(int argc, char **argv);
int cmd_pe_sign(int argc, char **argv);
int cmd_pe_hash(int argc, char **argv);
int cmd_pe_add_section(int argc, char **argv);
int cmd_pe_replace_section(int argc, char **argv);
int cmd_pe_remove_section(int argc, char **argv);
int cmd_zboot_extract(int argc, char **argv);
int cmd_uki_build(int argc, char **argv);
int cmd_kexec_envelope(int argc, char **argv);
int cmd_kexec_info(int argc, char **argv);
int cmd_kexec_extract(int argc, char **argv);
int cmd_uki_info(int argc, char **argv);
int cmd_uki_extract(int argc, char **argv);

#endif
