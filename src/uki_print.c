// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "pe_print.h"
#include "uki_print.h"

/* Text shown of a command line or SBAT table; the sizes say when there is more. */
#define SHOW_MAX 4096
/* SBAT lines listed (a real table has a handful). */
#define SBAT_LINES_MAX 64

/* The bytes of @p up to its first NUL, at most SHOW_MAX, as a C string in @buf. */
static const char *part_text(const struct bp_pe *pe, const struct bp_uki_part *p,
			     char buf[SHOW_MAX + 1])
{
	size_t len;
	const uint8_t *data = bp_pe_data(pe, &len);
	size_t n = p->len < SHOW_MAX ? (size_t)p->len : SHOW_MAX;
	const uint8_t *nul;

	/* bp_uki_inspect() checked offset + len against the file. */
	memcpy(buf, data + p->offset, n);
	nul = memchr(buf, '\0', n);
	buf[nul ? (size_t)(nul - (const uint8_t *)buf) : n] = '\0';
	return buf;
}

/* Whether section @i is a devicetree of the base profile (what n_dtbs counts). */
static bool base_dtb(const struct bp_pe *pe, size_t i, bool *base)
{
	const char *name = bp_pe_section_at(pe, i)->name;

	if (!strcmp(name, ".profile"))
		*base = false;
	return *base && (!strcmp(name, ".dtb") || !strcmp(name, ".dtbauto"));
}

static uint64_t section_len(const struct bp_pe_section *s)
{
	return s->virtual_size < s->raw_size ? s->virtual_size : s->raw_size;
}

/* The stub's release from "#### LoaderInfo: systemd-stub 252.19 ####", else all of it. */
static void stub_text(const char *v)
{
	static const char pre[] = "#### LoaderInfo: ", post[] = " ####";
	size_t n = strlen(v);
	char buf[sizeof(((struct bp_uki_info *)0)->stub_version)];

	if (!strncmp(v, pre, sizeof(pre) - 1) && n >= sizeof(pre) - 1 + sizeof(post) - 1 &&
	    !strcmp(v + n - (sizeof(post) - 1), post)) {
		n -= sizeof(pre) - 1 + sizeof(post) - 1;
		memcpy(buf, v + sizeof(pre) - 1, n);
		buf[n] = '\0';
		v = buf;
	}
	cli_print_esc(stdout, v, BP_ESC_TEXT);
}

static void part_line(const char *label, const struct bp_uki_part *p)
{
	if (p->present)
		printf("  %-23s%" PRIu64 " bytes at 0x%" PRIx64 "\n", label, p->len, p->offset);
	else
		printf("  %-23snone\n", label);
}

static void string_line(const char *label, const char *s, bool present)
{
	printf("  %-23s", label);
	if (present)
		cli_print_esc(stdout, s, BP_ESC_TEXT);
	else
		fputs("none", stdout);
	putchar('\n');
}

static void sbat_text(const struct bp_pe *pe, const struct bp_uki_part *p)
{
	char buf[SHOW_MAX + 1];
	const char *s = p->present ? part_text(pe, p, buf) : "";
	size_t shown = 0, total = 0;

	if (!p->present) {
		part_line("SBAT:", p);
		return;
	}
	for (const char *l = s; *l; l += strcspn(l, "\n"), l += *l == '\n')
		total += l[0] != '\n';
	printf("  %-23s%" PRIu64 " bytes, %zu line%s%s\n", "SBAT:", p->len, total,
	       total == 1 ? "" : "s", p->len > SHOW_MAX ? " in the first 4096 bytes" : "");
	for (const char *l = s; *l && shown < SBAT_LINES_MAX; l += *l == '\n') {
		size_t n = strcspn(l, "\n");
		char line[SHOW_MAX + 1];

		if (n) {
			memcpy(line, l, n);
			line[n] = '\0';
			fputs("    ", stdout);
			cli_print_esc(stdout, line, BP_ESC_TEXT);
			putchar('\n');
			shown++;
		}
		l += n;
	}
	if (total > shown)
		printf("    ... %zu more\n", total - shown);
}

static void kernel_text(const struct bp_uki_info *u)
{
	printf("  %-23s%" PRIu64 " bytes at 0x%" PRIx64 ", ", "Kernel:", u->linux_part.len,
	       u->linux_part.offset);
	if (u->linux_machine)
		printf("PE machine 0x%04x (%s)%s\n", u->linux_machine,
		       pe_machine_name(u->linux_machine), u->linux_is_zboot ? ", zboot" : "");
	else
		printf("NOT a PE image%s\n", u->linux_is_zboot ? " (zboot header)" : "");
}

static void dtbs_text(const struct bp_pe *pe, const struct bp_uki_info *u)
{
	bool base = true;

	printf("  %-23s%zu\n", "Devicetrees:", u->n_dtbs);
	for (size_t i = 0; i < bp_pe_get_info(pe)->n_sections; i++) {
		const struct bp_pe_section *s = bp_pe_section_at(pe, i);

		if (base_dtb(pe, i, &base))
			printf("    %-8s %" PRIu64 " bytes at 0x%x\n", s->name, section_len(s),
			       s->raw_offset);
	}
}

void uki_text(const struct bp_pe *pe, const struct bp_uki_info *u, int ret,
	      const struct bp_diag *d)
{
	char buf[SHOW_MAX + 1];

	if (ret) {
		printf("UKI:                     unreadable: %s\n", CLI_MSG(d->msg));
		return;
	}
	if (!u->is_uki)
		return;
	printf("UKI:                     ");
	if (u->stub_version[0])
		stub_text(u->stub_version);
	else
		fputs("unknown stub (no .sdmagic)", stdout);
	putchar('\n');
	kernel_text(u);
	string_line("Kernel release:", u->uname, u->uname_part.present);
	printf("  %-23s", "Command line:");
	if (u->cmdline.present) {
		putchar('"');
		cli_print_esc(stdout, part_text(pe, &u->cmdline, buf), BP_ESC_TEXT);
		printf("\" (%" PRIu64 " bytes%s)\n", u->cmdline.len,
		       u->cmdline.len > SHOW_MAX ? ", the first 4096 shown" : "");
	} else {
		puts("none");
	}
	string_line("OS release:", u->pretty_name, u->osrel.present);
	part_line("Initrd:", &u->initrd);
	dtbs_text(pe, u);
	part_line("Splash:", &u->splash);
	sbat_text(pe, &u->sbat);
}

static void json_part(const char *key, const struct bp_uki_part *p)
{
	printf(", \"%s\": ", key);
	if (p->present)
		printf("{\"offset\": %" PRIu64 ", \"size\": %" PRIu64 "}", p->offset, p->len);
	else
		fputs("null", stdout);
}

static void json_text(const char *key, const char *s, bool present)
{
	printf(", \"%s\": ", key);
	json_str(stdout, present ? s : NULL);
}

static void sbat_json(const struct bp_pe *pe, const struct bp_uki_part *p)
{
	char buf[SHOW_MAX + 1], line[SHOW_MAX + 1];
	const char *s = p->present ? part_text(pe, p, buf) : "";
	size_t k = 0;

	fputs(", \"sbat_lines\": [", stdout);
	for (const char *l = s; *l; l += *l == '\n') {
		size_t n = strcspn(l, "\n");

		if (n) {
			memcpy(line, l, n);
			line[n] = '\0';
			fputs(k++ ? ", " : "", stdout);
			json_str(stdout, line);
		}
		l += n;
	}
	putchar(']');
}

static void dtbs_json(const struct bp_pe *pe)
{
	bool base = true;
	size_t k = 0;

	fputs(", \"dtbs\": [", stdout);
	for (size_t i = 0; i < bp_pe_get_info(pe)->n_sections; i++) {
		const struct bp_pe_section *s = bp_pe_section_at(pe, i);

		if (!base_dtb(pe, i, &base))
			continue;
		printf("%s{\"name\": \"%s\", \"offset\": %" PRIu32 ", \"size\": %" PRIu64 "}",
		       k++ ? ", " : "", s->name, s->raw_offset, section_len(s));
	}
	putchar(']');
}

void uki_json(const struct bp_pe *pe, const struct bp_uki_info *u, int ret,
	      const struct bp_diag *d)
{
	char buf[SHOW_MAX + 1];

	if (ret) {
		fputs("{\"error\": ", stdout);
		json_str(stdout, d->msg);
		putchar('}');
		return;
	}
	if (!u->is_uki) {
		fputs("null", stdout);
		return;
	}
	fputs("{\"stub_version\": ", stdout);
	json_str(stdout, u->stub_version[0] ? u->stub_version : NULL);
	printf(", \"kernel_machine\": %u, \"kernel_machine_name\": ", u->linux_machine);
	json_str(stdout, u->linux_machine ? pe_machine_name(u->linux_machine) : NULL);
	printf(", \"kernel_zboot\": %s", u->linux_is_zboot ? "true" : "false");
	json_text("kernel_release", u->uname, u->uname_part.present);
	json_text("cmdline", u->cmdline.present ? part_text(pe, &u->cmdline, buf) : NULL,
		  u->cmdline.present);
	json_text("pretty_name", u->pretty_name, u->osrel.present);
	printf(", \"n_dtbs\": %zu", u->n_dtbs);
	dtbs_json(pe);
	sbat_json(pe, &u->sbat);
	printf(",\n  \"sections\": {\"linux\": {\"offset\": %" PRIu64 ", \"size\": %" PRIu64 "}",
	       u->linux_part.offset, u->linux_part.len);
	json_part("initrd", &u->initrd);
	json_part("cmdline", &u->cmdline);
	json_part("osrel", &u->osrel);
	json_part("dtb", &u->dtb);
	json_part("uname", &u->uname_part);
	json_part("splash", &u->splash);
	json_part("sbat", &u->sbat);
	fputs("}}", stdout);
}
