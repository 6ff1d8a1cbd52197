// SPDX-License-Identifier: MIT
/*
 * bootpack pe info: what a PE image holds (headers, sections, directories,
 * overlay, signatures, zboot header and inner Image, a UKI's parts) and what
 * EDK2 would refuse. bootpack uki info: the same for an image that must be
 * a readable UKI.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/pe.h>

#include "cli.h"
#include "json.h"
#include "pe_flags.h"
#include "pe_print.h"
#include "uki_print.h"

enum { OPT_HELP = 'h', OPT_JSON = 256 };

static const struct cli_opt info_opts[] = {
	{ "json", no_argument, OPT_JSON, NULL, "print JSON (described in bootpack(1))" },
	{ "help", no_argument, OPT_HELP, NULL, "show this help and exit" },
};

static const char *const dir_names[BP_PE_MAX_DIRS] = {
	"export", "import", "resource", "exception", "certificate", "base-relocation", "debug",
	"architecture", "global-pointer", "tls", "load-config", "bound-import", "iat",
	"delay-import", "clr-runtime", "reserved",
};

static const char *subsystem_name(uint16_t s)
{
	switch (s) {
	case 10: return "EFI application";
	case 11: return "EFI boot service driver";
	case 12: return "EFI runtime driver";
	case 13: return "EFI ROM";
	default: return "not EFI";
	}
}

/* "code,execute,read" for @flags; unknown bits are left to the hex value. */
static void flag_names(uint32_t flags, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n_pe_flag_names; i++)
		if (flags & pe_flag_names[i].flag)
			len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s",
						len ? "," : "", pe_flag_names[i].name);
}

static void print_name(FILE *f, const char *name)
{
	cli_print_esc(f, name, BP_ESC_TEXT);
}

/* What pe info shows besides the PE headers. */
struct extra {
	struct bp_zboot_inner inner;
	struct bp_uki_info uki;
	int uki_ret;
	struct bp_diag uki_diag;
};

static void text(const char *path, const struct bp_pe *pe, const struct extra *x)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);
	const struct bp_zboot_inner *inner = &x->inner;

	printf("File:                    ");
	print_name(stdout, path);
	printf(" (%" PRIu64 " bytes)\n", in->file_size);
	printf("Format:                  %s (magic 0x%x), machine 0x%04x (%s)\n",
	       in->pe32plus ? "PE32+" : "PE32", in->magic, in->machine, pe_machine_name(in->machine));
	printf("PE header:               0x%x (e_lfanew)\n", in->pe_offset);
	printf("Characteristics:         0x%04x\n", in->characteristics);
	printf("Timestamp:               %" PRIu32 "\n", in->timestamp);
	if (in->symbol_table || in->n_symbols)
		printf("Symbol table:            %" PRIu32 " symbols at 0x%x\n", in->n_symbols,
		       in->symbol_table);
	printf("Linker version:          %u.%u\n", in->linker_major, in->linker_minor);
	printf("SizeOfCode:              0x%x\n", in->size_of_code);
	printf("SizeOfInitializedData:   0x%x\n", in->size_of_initialized_data);
	printf("SizeOfUninitializedData: 0x%x\n", in->size_of_uninitialized_data);
	printf("AddressOfEntryPoint:     0x%x\n", in->entry_point);
	printf("BaseOfCode:              0x%x\n", in->base_of_code);
	printf("ImageBase:               0x%" PRIx64 "\n", in->image_base);
	printf("SectionAlignment:        0x%x\n", in->section_alignment);
	printf("FileAlignment:           0x%x\n", in->file_alignment);
	printf("SizeOfImage:             0x%x\n", in->size_of_image);
	printf("SizeOfHeaders:           0x%x\n", in->size_of_headers);
	printf("CheckSum:                0x%08x (computed 0x%08x%s)\n", in->checksum,
	       in->checksum_computed, !in->checksum ? ", not set"
			: in->checksum == in->checksum_computed ? ", matches" : ", DIFFERS");
	printf("Subsystem:               %u (%s)\n", in->subsystem, subsystem_name(in->subsystem));
	printf("DllCharacteristics:      0x%04x\n", in->dll_characteristics);
	printf("Data directories:        %u\n", in->n_rva_and_sizes);
	for (int i = 0; i < BP_PE_MAX_DIRS; i++)
		if (in->dirs[i].address || in->dirs[i].size)
			printf("  %2d %-16s %s 0x%08x size 0x%x\n", i, dir_names[i],
			       i == BP_PE_DIR_SECURITY ? "file" : "RVA ", in->dirs[i].address,
			       in->dirs[i].size);
	printf("Sections:                %u\n", in->n_sections);
	printf("  Idx Name     VirtAddr   VirtSize   RawOffset  RawSize    Flags\n");
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = bp_pe_section_at(pe, i);
		char flags[128];

		flag_names(s->characteristics, flags, sizeof(flags));
		printf("  %-3u ", i);
		print_name(stdout, s->name);
		printf("%*s 0x%08x 0x%08x 0x%08x 0x%08x 0x%08x %s\n",
		       (int)(8 - strnlen(s->name, 8)), "", s->virtual_address, s->virtual_size,
		       s->raw_offset, s->raw_size, s->characteristics, flags);
	}
	if (in->overlay_size)
		printf("Overlay:                 %" PRIu64 " bytes at 0x%" PRIx64 "\n",
		       in->overlay_size, in->overlay_offset);
	else
		printf("Overlay:                 none\n");
	if (in->has_certificates) {
		printf("Certificates:            %u bytes at 0x%x (Authenticode signature)\n",
		       in->dirs[BP_PE_DIR_SECURITY].size, in->dirs[BP_PE_DIR_SECURITY].address);
		pe_sigs_text(pe);
	} else {
		printf("Certificates:            none (not signed)\n");
	}
	if (in->zboot.present) {
		const struct bp_pe_zboot *z = &in->zboot;

		printf("zboot:                   ");
		print_name(stdout, z->compression);
		printf(" payload, 0x%x bytes at 0x%x, %s, %s", z->payload_size,
		       z->payload_offset, z->payload_in_file ? "inside the file" : "OUTSIDE the file",
		       z->payload_section >= 0 ? "inside section " : "in no single section");
		if (z->payload_section >= 0)
			print_name(stdout, bp_pe_section_at(pe, (size_t)z->payload_section)->name);
		putchar('\n');
		printf("LINUX_PE_MAGIC:          0x%08x%s\n", z->linux_pe_magic,
		       z->linux_pe_magic == 0x818223cdu ? "" : " (not set: Linux before 6.2)");
		pe_inner_text(inner);
	}
	uki_text(pe, &x->uki, x->uki_ret, &x->uki_diag);
	printf("Problems:                %zu (%zu error%s)\n", in->n_problems, in->n_errors,
	       in->n_errors == 1 ? "" : "s");
	for (size_t i = 0; i < in->n_problems; i++)
		printf("  %s: %s\n", bp_pe_problem_at(pe, i)->severity == BP_PE_ERROR ? "error" :
		       "warning", CLI_MSG(bp_pe_problem_at(pe, i)->msg));
}

static void json_u(const char *key, uint64_t v, bool comma)
{
	printf("%s\"%s\": %" PRIu64, comma ? ", " : "", key, v);
}

static void json_section(const struct bp_pe_section *s)
{
	char flags[128];

	flag_names(s->characteristics, flags, sizeof(flags));
	printf("    {\"name\": ");
	json_str(stdout, s->name);
	json_u("virtual_address", s->virtual_address, true);
	json_u("virtual_size", s->virtual_size, true);
	json_u("raw_offset", s->raw_offset, true);
	json_u("raw_size", s->raw_size, true);
	json_u("characteristics", s->characteristics, true);
	printf(", \"flags\": [");
	for (size_t i = 0, k = 0; i < n_pe_flag_names; i++)
		if (s->characteristics & pe_flag_names[i].flag)
			printf("%s\"%s\"", k++ ? ", " : "", pe_flag_names[i].name);
	printf("]}");
}

static void json(const char *path, const struct bp_pe *pe, const struct extra *x)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);
	const struct bp_zboot_inner *inner = &x->inner;

	printf("{\"file\": ");
	json_str(stdout, path);
	json_u("file_size", in->file_size, true);
	printf(", \"format\": \"%s\"", in->pe32plus ? "PE32+" : "PE32");
	json_u("pe_offset", in->pe_offset, true);
	json_u("machine", in->machine, true);
	printf(", \"machine_name\": \"%s\"", pe_machine_name(in->machine));
	json_u("characteristics", in->characteristics, true);
	json_u("timestamp", in->timestamp, true);
	json_u("size_of_code", in->size_of_code, true);
	json_u("size_of_initialized_data", in->size_of_initialized_data, true);
	json_u("size_of_uninitialized_data", in->size_of_uninitialized_data, true);
	json_u("entry_point", in->entry_point, true);
	json_u("image_base", in->image_base, true);
	json_u("section_alignment", in->section_alignment, true);
	json_u("file_alignment", in->file_alignment, true);
	json_u("size_of_image", in->size_of_image, true);
	json_u("size_of_headers", in->size_of_headers, true);
	json_u("checksum", in->checksum, true);
	json_u("checksum_computed", in->checksum_computed, true);
	json_u("subsystem", in->subsystem, true);
	json_u("n_rva_and_sizes", in->n_rva_and_sizes, true);
	printf(",\n \"directories\": [");
	for (int i = 0, k = 0; i < BP_PE_MAX_DIRS; i++) {
		if (!in->dirs[i].address && !in->dirs[i].size)
			continue;
		printf("%s{\"index\": %d, \"name\": \"%s\"", k++ ? ", " : "", i, dir_names[i]);
		json_u("address", in->dirs[i].address, true);
		json_u("size", in->dirs[i].size, true);
		putchar('}');
	}
	printf("],\n \"sections\": [\n");
	for (uint32_t i = 0; i < in->n_sections; i++) {
		json_section(bp_pe_section_at(pe, i));
		puts(i + 1 < in->n_sections ? "," : "");
	}
	printf(" ],\n \"overlay\": ");
	if (in->overlay_size)
		printf("{\"offset\": %" PRIu64 ", \"size\": %" PRIu64 "}", in->overlay_offset,
		       in->overlay_size);
	else
		printf("null");
	printf(", \"signed\": %s", in->has_certificates ? "true" : "false");
	pe_sigs_json(pe);
	printf(",\n \"zboot\": ");
	if (in->zboot.present) {
		const struct bp_pe_zboot *z = &in->zboot;

		printf("{\"compression\": ");
		json_str(stdout, z->compression);
		json_u("payload_offset", z->payload_offset, true);
		json_u("payload_size", z->payload_size, true);
		printf(", \"payload_in_file\": %s, \"payload_section\": ",
		       z->payload_in_file ? "true" : "false");
		json_str(stdout, z->payload_section >= 0 ? bp_pe_section_at(pe, (size_t)z->payload_section)->name
							 : NULL);
		json_u("linux_pe_magic", z->linux_pe_magic, true);
		printf(", \"inner_image\": ");
		pe_inner_json(stdout, inner);
		putchar('}');
	} else {
		printf("null");
	}
	printf(",\n \"uki\": ");
	uki_json(pe, &x->uki, x->uki_ret, &x->uki_diag);
	printf(",\n \"problems\": ");
	pe_problems_json(stdout, pe);
	printf("}\n");
}

static void info_help(void)
{
	printf("Usage: bootpack pe info [--json] FILE\n"
	       "Show a PE/COFF image: headers, sections, data directories, overlay,\n"
	       "CheckSum, Authenticode signatures (signer, digest; not whether they are\n"
	       "trusted: see pe verify), the Linux zboot header and inner Image, the\n"
	       "parts of a Unified Kernel Image, and what EDK2 would refuse.\n\n");
	cli_print_options(stdout, info_opts, sizeof(info_opts) / sizeof(info_opts[0]));
}

static void uki_info_help(void)
{
	printf("Usage: bootpack uki info [--json] UKI\n"
	       "Show a Unified Kernel Image as pe info does (its parts: stub, kernel,\n"
	       "command line, os-release, initrd, devicetrees, splash, SBAT), failing\n"
	       "when the file is not a UKI or a part of it is unreadable.\n\n");
	cli_print_options(stdout, info_opts, sizeof(info_opts) / sizeof(info_opts[0]));
}

/* What uki info refuses that pe info only reports. */
static int uki_check(const char *path, const struct extra *x)
{
	if (x->uki_ret)
		return cli_fail(x->uki_ret, &x->uki_diag);
	if (!x->uki.is_uki) {
		cli_error(path, "not a UKI: no .linux section");
		return EXIT_FAIL;
	}
	if (!x->uki.linux_machine) {
		cli_error(path, "UKI section '.linux' (%" PRIu64 " bytes at 0x%" PRIx64 ") is not a "
			  "PE image: the stub cannot start it", x->uki.linux_part.len,
			  x->uki.linux_part.offset);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int show(const char *cmd, bool uki, void (*help)(void), int argc, char **argv)
{
	struct extra x = { .inner = BP_ZBOOT_INNER_INIT, .uki = BP_UKI_INFO_INIT };
	bool as_json = false;
	struct bp_pe *pe;
	struct bp_diag d;
	int ret = cli_parse(cmd, info_opts, sizeof(info_opts) / sizeof(info_opts[0]), argc,
			    argv, help, cli_set_flag, &as_json);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind + 1 != argc)
		return cli_usage_error(cmd, optind < argc ? "give one FILE" : "no FILE given");
	ret = bp_pe_open(argv[optind], &pe, &d);
	if (ret)
		return cli_fail(ret, &d);
	x.uki_ret = bp_uki_inspect(pe, &x.uki, &x.uki_diag);
	if (uki && (ret = uki_check(argv[optind], &x))) {
		bp_pe_close(pe);
		return ret;
	}
	/* Decompressed even for 6.2 on: "which kernel, signed or not" is info's job. */
	pe_inner_image(pe, false, &x.inner);
	if (as_json)
		json(argv[optind], pe, &x);
	else
		text(argv[optind], pe, &x);
	/* Only a signature makes the inner one matter: no warning for unsigned images. */
	if (bp_pe_get_info(pe)->has_certificates)
		pe_inner_warn(argv[optind], &x.inner);
	bp_pe_close(pe);
	return EXIT_OK;
}

int cmd_pe_info(int argc, char **argv)
{
	return show("pe info", false, info_help, argc, argv);
}

int cmd_uki_info(int argc, char **argv)
{
	return show("uki info", true, uki_info_help, argc, argv);
}
