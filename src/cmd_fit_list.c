// SPDX-License-Identifier: MIT
/* bootpack fit list: what is in a FIT, as text (like dumpimage -l) or JSON. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bootpack/fit.h>

#include "cli.h"
#include "json.h"

#define CMD "fit list"

enum { OPT_HELP = 'h', OPT_JSON = 256 };

static const struct cli_opt opts[] = {
	{ "json", no_argument, OPT_JSON, NULL, "print JSON (described in bootpack(1))" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static void help(void)
{
	printf("Usage: bootpack fit list [--json] FILE...\n"
	       "Show the images and configurations of each FIT: types, compression, sizes,\n"
	       "where the data lies, hash values and any malformed node.\n\n");
	cli_print_options(stdout, opts, N_OPTS);
}

static void field(const char *label, const char *val)
{
	if (!val)
		return;
	printf("  %-15s", label);
	cli_print_esc(stdout, val, BP_ESC_TEXT);
	putchar('\n');
}

/* A library message: its file-borne parts are escaped already. */
static void message(const char *label, const char *msg)
{
	if (msg)
		printf("  %-15s%s\n", label, CLI_MSG(msg));
}

static void print_list(const char *label, const char *const *v, size_t n)
{
	if (!n)
		return;
	printf("  %-15s", label);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", stdout);
		cli_print_esc(stdout, v[i], BP_ESC_TEXT);
	}
	putchar('\n');
}

static void text_image(const struct bp_fit *fit, size_t idx)
{
	const struct bp_fit_image *im = bp_fit_image_at(fit, idx);

	printf(" Image '");
	cli_print_esc(stdout, im->name, BP_ESC_TEXT);
	printf("'\n");
	field("Description:", im->description);
	field("Type:", im->type);
	field("Compression:", im->compression);
	field("Architecture:", im->arch);
	field("OS:", im->os);
	if (im->has_load)
		printf("  %-15s0x%08" PRIx64 "\n", "Load Address:", im->load);
	if (im->has_entry)
		printf("  %-15s0x%08" PRIx64 "\n", "Entry Point:", im->entry);
	if (im->data)
		printf("  %-15s%" PRIu64 " bytes at file offset 0x%" PRIx64 " (%s)\n", "Data:",
		       im->data_size, im->data_file_offset, im->external ? "external" : "embedded");
	for (size_t i = 0; i < im->n_hashes; i++) {
		const struct bp_fit_hash *h = bp_fit_hash_at(fit, idx, i);

		printf("  %-15s", "Hash:");
		cli_print_esc(stdout, h->node, BP_ESC_TEXT);
		putchar(' ');
		cli_print_esc(stdout, h->algo ? h->algo : "(no algo)", BP_ESC_TEXT);
		putchar(' ');
		for (size_t k = 0; h->value && k < h->value_len; k++)
			printf("%02x", h->value[k]);
		puts(h->value ? "" : "(no value)");
	}
	if (im->n_signatures)
		printf("  %-15s%zu (not checked)\n", "Signatures:", im->n_signatures);
	message("Problem:", im->problem);
}

static void text_config(const struct bp_fit_config *c, const char *dflt)
{
	printf(" Configuration '");
	cli_print_esc(stdout, c->name, BP_ESC_TEXT);
	printf("'%s\n", dflt && !strcmp(dflt, c->name) ? " (default)" : "");
	field("Description:", c->description);
	field("Kernel:", c->kernel);
	field("Ramdisk:", c->ramdisk);
	print_list("FDT:", c->fdts, c->n_fdts);
	print_list("Loadables:", c->loadables, c->n_loadables);
	print_list("Compatible:", c->compatibles, c->n_compatibles);
	if (c->n_signatures)
		printf("  %-15s%zu (not checked)\n", "Signatures:", c->n_signatures);
	message("Problem:", c->problem);
}

static void text(const char *path, const struct bp_fit *fit)
{
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	printf("FIT:            ");
	cli_print_esc(stdout, path, BP_ESC_TEXT);
	printf(" (%" PRIu64 " bytes, FDT %" PRIu32 " bytes)\n", info->file_size, info->fdt_size);
	if (info->description) {
		printf("Description:    ");
		cli_print_esc(stdout, info->description, BP_ESC_TEXT);
		putchar('\n');
	}
	if (info->has_timestamp) {
		time_t t = (time_t)info->timestamp;
		struct tm tm;
		char when[64] = "?";

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("Created:        %s (%" PRIu32 ")\n", when, info->timestamp);
	}
	if (info->default_config) {
		printf("Default config: ");
		cli_print_esc(stdout, info->default_config, BP_ESC_TEXT);
		putchar('\n');
	}
	printf("Images: %zu\n", info->n_images);
	for (size_t i = 0; i < info->n_images; i++)
		text_image(fit, i);
	printf("Configurations: %zu\n", info->n_configs);
	for (size_t i = 0; i < info->n_configs; i++)
		text_config(bp_fit_config_at(fit, i), info->default_config);
}

static void json_u64(const char *key, bool present, uint64_t v)
{
	if (present)
		printf(", \"%s\": %" PRIu64, key, v);
	else
		printf(", \"%s\": null", key);
}

static void json_image(const struct bp_fit *fit, size_t idx)
{
	const struct bp_fit_image *im = bp_fit_image_at(fit, idx);

	printf("    {\"name\": ");
	json_str(stdout, im->name);
	printf(", \"description\": ");
	json_str(stdout, im->description);
	printf(", \"type\": ");
	json_str(stdout, im->type);
	printf(", \"arch\": ");
	json_str(stdout, im->arch);
	printf(", \"os\": ");
	json_str(stdout, im->os);
	printf(", \"compression\": ");
	json_str(stdout, im->compression);
	json_u64("load", im->has_load, im->load);
	json_u64("entry", im->has_entry, im->entry);
	printf(", \"external\": %s", im->external ? "true" : "false");
	json_u64("data_size", im->data != NULL, im->data_size);
	json_u64("data_offset", im->data != NULL, im->data_file_offset);
	printf(", \"hashes\": [");
	for (size_t i = 0; i < im->n_hashes; i++) {
		const struct bp_fit_hash *h = bp_fit_hash_at(fit, idx, i);

		printf("%s{\"node\": ", i ? ", " : "");
		json_str(stdout, h->node);
		printf(", \"algo\": ");
		json_str(stdout, h->algo);
		printf(", \"value\": ");
		json_hex(stdout, h->value, h->value_len);
		putchar('}');
	}
	printf("], \"signatures\": %zu, \"problem\": ", im->n_signatures);
	json_str(stdout, im->problem);
	putchar('}');
}

static void json_config(const struct bp_fit_config *c)
{
	printf("    {\"name\": ");
	json_str(stdout, c->name);
	printf(", \"description\": ");
	json_str(stdout, c->description);
	printf(", \"kernel\": ");
	json_str(stdout, c->kernel);
	printf(", \"ramdisk\": ");
	json_str(stdout, c->ramdisk);
	printf(", \"fdt\": ");
	json_strv(stdout, c->fdts, c->n_fdts);
	printf(", \"loadables\": ");
	json_strv(stdout, c->loadables, c->n_loadables);
	printf(", \"compatible\": ");
	json_strv(stdout, c->compatibles, c->n_compatibles);
	printf(", \"signatures\": %zu, \"problem\": ", c->n_signatures);
	json_str(stdout, c->problem);
	putchar('}');
}

static void json(const char *path, const struct bp_fit *fit)
{
	const struct bp_fit_info *info = bp_fit_get_info(fit);

	printf("  {\"file\": ");
	json_str(stdout, path);
	printf(", \"file_size\": %" PRIu64 ", \"fdt_size\": %" PRIu32 ", \"description\": ",
	       info->file_size, info->fdt_size);
	json_str(stdout, info->description);
	json_u64("timestamp", info->has_timestamp, info->timestamp);
	printf(", \"default_config\": ");
	json_str(stdout, info->default_config);
	printf(",\n   \"images\": [\n");
	for (size_t i = 0; i < info->n_images; i++) {
		json_image(fit, i);
		puts(i + 1 < info->n_images ? "," : "");
	}
	printf("   ],\n   \"configurations\": [\n");
	for (size_t i = 0; i < info->n_configs; i++) {
		json_config(bp_fit_config_at(fit, i));
		puts(i + 1 < info->n_configs ? "," : "");
	}
	printf("   ]}");
}

int cmd_fit_list(int argc, char **argv)
{
	bool as_json = false;
	int ret = cli_parse(CMD, opts, N_OPTS, argc, argv, help, cli_set_flag, &as_json), status;
	size_t shown = 0;

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind >= argc)
		return cli_usage_error(CMD, "no FIT file given");
	status = EXIT_OK;
	if (as_json)
		printf("[\n");
	for (int i = optind; i < argc; i++) {
		struct bp_fit *fit;
		struct bp_diag d;

		ret = bp_fit_open(argv[i], &fit, &d);
		if (ret) {
			status = cli_fail(ret, &d);
			continue;
		}
		if (as_json) {
			fputs(shown ? ",\n" : "", stdout);
			json(argv[i], fit);
		} else {
			fputs(shown ? "\n" : "", stdout);
			text(argv[i], fit);
		}
		shown++;
		bp_fit_close(fit);
	}
	if (as_json)
		printf("%s]\n", shown ? "\n" : "");
	return status;
}
