/* SPDX-License-Identifier: MIT */
/* --target for fit verify and fit build: the bootloader rules of <bootpack/fit_target.h>. */
#ifndef BP_FIT_TARGET_CLI_H
#define BP_FIT_TARGET_CLI_H

#include <stdbool.h>

#include <bootpack/fit.h>
#include <bootpack/fit_target.h>

/* The --help line of --target. */
#define FIT_TARGET_HELP "check against bootloader NAME's rules (--target\nhelp lists them)"

/*
 * --target NAME: 0 with @t set; EXIT_USAGE (printed) for an unknown name.
 * "help" is no target: callers test fit_target_is_help() first.
 */
int fit_target_parse(const char *cmd, const char *name, enum bp_fit_target *t);
bool fit_target_is_help(const char *name);

/* --target help: every target and every rule, as text or as JSON. */
void fit_target_print_help(bool json);

/* A finding of bp_fit_target_check() about @path, on stderr. */
void fit_target_print_finding(const char *path, enum bp_fit_target t, const struct bp_fit_check *c);

/* The JSON fields of a finding's rule: ", \"rule\": ..., \"source\": ..." (nothing without). */
void fit_target_json_fields(const struct bp_fit_check *c);

#endif
