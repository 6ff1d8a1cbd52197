// SPDX-License-Identifier: MIT
/*
 * --target: the bootloader rules, listed from the library's table (so the
 * list, the man page and the checks share one source) and printed as
 * "bootpack: 'FIT': warning: NODE: TARGET: what: what it does [rule; source]".
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fit_target_cli.h"
#include "json.h"

static const char *const effects[] = { "", "refused", "misread" };

bool fit_target_is_help(const char *name)
{
	return !strcmp(name, "help");
}

int fit_target_parse(const char *cmd, const char *name, enum bp_fit_target *t)
{
	char list[256] = "";

	if (!bp_fit_target_from_name(name, t))
		return 0;
	for (unsigned i = 0; i < BP_FIT_TARGET_COUNT; i++) {
		strcat(list, i ? ", " : "");
		strcat(list, bp_fit_target_name((enum bp_fit_target)i));
	}
	return cli_usage_error(cmd, "--target '%s': unknown bootloader (known: %s)",
			       CLI_ESC(name), list);
}

/* The names of the targets in @mask, comma-separated. */
static void print_targets(uint32_t mask, bool json)
{
	bool first = true;

	for (unsigned i = 0; i < BP_FIT_TARGET_COUNT; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (json)
			printf("%s\"%s\"", first ? "" : ", ", bp_fit_target_name((enum bp_fit_target)i));
		else
			printf("%s%s", first ? "" : ", ", bp_fit_target_name((enum bp_fit_target)i));
		first = false;
	}
}

/* ", \"KEY\": VALUE" with @val as a JSON string. */
static void json_kv(const char *key, const char *val)
{
	printf(", \"%s\": ", key);
	json_str(stdout, val);
}

static void json_help(void)
{
	printf("{\"targets\": [");
	for (unsigned i = 0; i < BP_FIT_TARGET_COUNT; i++) {
		printf("%s\n  {\"name\": \"%s\"", i ? "," : "",
		       bp_fit_target_name((enum bp_fit_target)i));
		json_kv("description", bp_fit_target_description((enum bp_fit_target)i));
		putchar('}');
	}
	printf("],\n \"rules\": [");
	for (size_t i = 0; i < bp_fit_target_rule_count(); i++) {
		const struct bp_fit_target_rule *r = bp_fit_target_rule_at(i);

		printf("%s\n  {\"id\": \"%s\", \"targets\": [", i ? "," : "", r->id);
		print_targets(r->targets, true);
		printf("], \"effect\": \"%s\"", effects[r->effect]);
		json_kv("check", r->check);
		json_kv("message", r->message);
		json_kv("source", r->source);
		putchar('}');
	}
	printf("]}\n");
}

void fit_target_print_help(bool json)
{
	if (json) {
		json_help();
		return;
	}
	printf("Targets:\n");
	for (unsigned i = 0; i < BP_FIT_TARGET_COUNT; i++)
		printf("  %-15s %s\n", bp_fit_target_name((enum bp_fit_target)i),
		       bp_fit_target_description((enum bp_fit_target)i));
	printf("\nRules (id: targets; effect):\n");
	for (size_t i = 0; i < bp_fit_target_rule_count(); i++) {
		const struct bp_fit_target_rule *r = bp_fit_target_rule_at(i);

		printf("  %s: ", r->id);
		print_targets(r->targets, false);
		printf("; %s\n    if: %s\n    then: %s\n    source: %s\n", effects[r->effect],
		       r->check, r->message, r->source);
	}
}

void fit_target_print_finding(const char *path, enum bp_fit_target t, const struct bp_fit_check *c)
{
	bool has_rule = c->size >= offsetof(struct bp_fit_check, rule) + sizeof(c->rule) && c->rule;

	fflush(stdout);
	cli_error(path, "%s%s%s%s: %s [%s; %s]", c->level == BP_FIT_CHECK_WARN ? "warning: " : "",
		  CLI_ESC(c->node), *c->node ? ": " : "", bp_fit_target_name(t), CLI_MSG(c->msg),
		  has_rule ? c->rule->id : "?", has_rule ? c->rule->source : "?");
}

void fit_target_json_fields(const struct bp_fit_check *c)
{
	if (c->size < offsetof(struct bp_fit_check, rule) + sizeof(c->rule) || !c->rule)
		return;
	json_kv("rule", c->rule->id);
	json_kv("effect", effects[c->rule->effect]);
	json_kv("source", c->rule->source);
}
