// SPDX-License-Identifier: MIT
/*
 * pe-gen [options] OUT: write one synthetic PE/COFF image (see pe_gen.h),
 * so that pytest and fuzz-seed rules can make the same images as the unit
 * tests. --layout prints where everything landed as one JSON object.
 * Exit status: 0 written, 1 invalid combination or I/O error, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getopt_long */
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pe_gen.h"

static const char usage[] =
	"usage: pe-gen [options] OUT\n"
	"  --pe32                PE32 instead of PE32+\n"
	"  --machine M           arm64 (default), x64, ia32, riscv64, loongarch64 or a number\n"
	"  --file-align N        FileAlignment (default 0x200)\n"
	"  --section-align N     SectionAlignment (default 0x1000)\n"
	"  --sections N          N sections: .text, .data, .rdata, then .d3, .d4 ... (default 2)\n"
	"  --section NAME:VSIZE[:RAW[:FLAGS[:FILL]]]\n"
	"                        add a section (repeatable; replaces the default list);\n"
	"                        FLAGS is a number or text, data, rodata, bss\n"
	"  --bss                 append a .bss section (no raw data)\n"
	"  --tight-headers       fewer than 40 bytes free after the section table\n"
	"  --spare-headers N     otherwise room for N more section headers (default 2)\n"
	"  --flat                PointerToRawData == VirtualAddress (Linux EFI stub layout)\n"
	"  --overlay N           N bytes after the last section\n"
	"  --debug-dir           CodeView debug directory entry and RSDS record\n"
	"  --cert N              WIN_CERTIFICATE of dwLength N (>= 8) at the end\n"
	"  --checksum            compute the PE CheckSum\n"
	"  --rva-count N         NumberOfRvaAndSizes (default 16)\n"
	"  --zboot COMP          Linux zboot header naming compression COMP\n"
	"  --payload FILE        payload bytes (in .text) from FILE\n"
	"  --payload-size N      N generated payload bytes (default with --zboot: 256,\n"
	"                        in a gzip member for --zboot gzip)\n"
	"  --linux-pe-magic[=N]  write N (default 0x818223cd) at 0x38\n"
	"  --layout              print the layout as JSON on stdout\n";

static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "pe-gen: bad number '%s'\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_machine(const char *s, uint16_t *m)
{
	static const struct {
		const char *name;
		uint16_t v;
	} names[] = {
		{ "arm64", PE_GEN_MACHINE_ARM64 }, { "x64", PE_GEN_MACHINE_AMD64 },
		{ "ia32", PE_GEN_MACHINE_I386 },   { "riscv64", PE_GEN_MACHINE_RISCV64 },
		{ "loongarch64", PE_GEN_MACHINE_LOONGARCH64 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*m = names[i].v;
			return 0;
		}
	if (parse_num(s, 0xffff, &v))
		return -1;
	*m = (uint16_t)v;
	return 0;
}

static int parse_flags(const char *s, uint32_t *f)
{
	uint64_t v;

	if (strcmp(s, "text") == 0)
		*f = PE_GEN_SCN_TEXT;
	else if (strcmp(s, "data") == 0)
		*f = PE_GEN_SCN_DATA;
	else if (strcmp(s, "rodata") == 0)
		*f = PE_GEN_SCN_RODATA;
	else if (strcmp(s, "bss") == 0)
		*f = PE_GEN_SCN_BSS;
	else if (parse_num(s, UINT32_MAX, &v))
		return -1;
	else
		*f = (uint32_t)v;
	return 0;
}

/* NAME:VSIZE[:RAW[:FLAGS[:FILL]]]; RAW defaults to VSIZE, FLAGS to data
 * (text for a name starting with ".text"), FILL to 0xdd. */
static int parse_section(char *spec, struct pe_gen_section *s)
{
	char *f[5] = { 0 };
	size_t n = 0;
	uint64_t v;

	for (char *tok = spec; tok && n < 5; n++) {
		f[n] = tok;
		tok = strchr(tok, ':');
		if (tok)
			*tok++ = '\0';
	}
	if (n < 2 || strlen(f[0]) > 8) {
		fprintf(stderr, "pe-gen: bad --section (NAME:VSIZE[:RAW[:FLAGS[:FILL]]], NAME <= 8 chars)\n");
		return -1;
	}
	memset(s, 0, sizeof(*s));
	strcpy(s->name, f[0]);
	if (parse_num(f[1], UINT32_MAX, &v))
		return -1;
	s->vsize = s->raw_size = (uint32_t)v;
	if (f[2] && f[2][0]) {
		if (parse_num(f[2], UINT32_MAX, &v))
			return -1;
		s->raw_size = (uint32_t)v;
	}
	s->flags = strncmp(s->name, ".text", 5) == 0 ? PE_GEN_SCN_TEXT : PE_GEN_SCN_DATA;
	if (f[3] && f[3][0] && parse_flags(f[3], &s->flags))
		return -1;
	s->fill = 0xdd;
	if (f[4] && f[4][0]) {
		if (parse_num(f[4], 0xff, &v))
			return -1;
		s->fill = (uint8_t)v;
	}
	return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		goto fail;
	for (;;) {
		if (*len == cap) {
			uint8_t *nb = realloc(buf, cap ? 2 * cap : 65536);
			if (!nb)
				goto fail;
			buf = nb;
			cap = cap ? 2 * cap : 65536;
		}
		size_t got = fread(buf + *len, 1, cap - *len, f);
		*len += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	return buf;
fail:
	fprintf(stderr, "pe-gen: '%s': %s\n", path, strerror(errno));
	if (f)
		fclose(f);
	free(buf);
	return NULL;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* A real gzip member (RFC 1952) around one stored deflate block (RFC 1951),
 * so that a default "--zboot gzip" payload gunzips without linking zlib. */
static uint8_t *stored_gzip(const uint8_t *data, uint16_t n, size_t *len)
{
	static const uint8_t hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
	uint8_t *g = malloc(10 + 5 + (size_t)n + 8);
	uint32_t crc = crc32_ieee(data, n);

	if (!g)
		return NULL;
	memcpy(g, hdr, 10);
	g[10] = 1; /* BFINAL, BTYPE 00 (stored) */
	g[11] = (uint8_t)n;
	g[12] = (uint8_t)(n >> 8);
	g[13] = (uint8_t)~n;
	g[14] = (uint8_t)(~n >> 8);
	memcpy(g + 15, data, n);
	for (int i = 0; i < 4; i++) {
		g[15 + n + i] = (uint8_t)(crc >> (8 * i));
		g[19 + n + i] = (uint8_t)((uint32_t)n >> (8 * i)); /* ISIZE */
	}
	*len = 10 + 5 + (size_t)n + 8;
	return g;
}

static void print_u32_array(const char *key, const uint32_t *a, size_t n)
{
	printf("  \"%s\": [", key);
	for (size_t i = 0; i < n; i++)
		printf("%s%" PRIu32, i ? ", " : "", a[i]);
	printf("],\n");
}

static void print_layout(const struct pe_gen_layout *l)
{
	/* Decimal numbers: JSON has no hex. */
	const struct {
		const char *key;
		uint64_t v;
	} f[] = {
		{ "pe_offset", l->pe_offset },
		{ "coff_offset", l->coff_offset },
		{ "opt_offset", l->opt_offset },
		{ "opt_size", l->opt_size },
		{ "sect_table_offset", l->sect_table_offset },
		{ "sect_table_end", l->sect_table_end },
		{ "size_of_headers", l->size_of_headers },
		{ "headers_free", l->headers_free },
		{ "size_of_image", l->size_of_image },
		{ "size_of_code", l->size_of_code },
		{ "size_of_init_data", l->size_of_init_data },
		{ "size_of_uninit_data", l->size_of_uninit_data },
		{ "checksum_offset", l->checksum_offset },
		{ "checksum", l->checksum },
		{ "entry_rva", l->entry_rva },
		{ "image_base", l->image_base },
		{ "overlay_offset", l->overlay_offset },
		{ "cert_offset", l->cert_offset },
		{ "cert_table_size", l->cert_table_size },
		{ "debug_dir_rva", l->debug_dir_rva },
		{ "debug_dir_file_offset", l->debug_dir_file_offset },
		{ "debug_data_rva", l->debug_data_rva },
		{ "debug_data_file_offset", l->debug_data_file_offset },
		{ "debug_data_size", l->debug_data_size },
		{ "payload_rva", l->payload_rva },
		{ "zboot_payload_offset", l->zboot_payload_offset },
		{ "n_sections", l->n_sections },
	};

	printf("{\n");
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		printf("  \"%s\": %" PRIu64 ",\n", f[i].key, f[i].v);
	print_u32_array("sect_raw_ptr", l->sect_raw_ptr, l->n_sections);
	print_u32_array("sect_raw_size", l->sect_raw_size, l->n_sections);
	print_u32_array("sect_va", l->sect_va, l->n_sections);
	print_u32_array("sect_vsize", l->sect_vsize, l->n_sections);
	printf("  \"file_len\": %zu\n}\n", l->file_len);
}

enum {
	OPT_PE32 = 256, OPT_MACHINE, OPT_FILE_ALIGN, OPT_SECTION_ALIGN, OPT_SECTIONS, OPT_SECTION,
	OPT_BSS, OPT_TIGHT, OPT_SPARE, OPT_FLAT, OPT_OVERLAY, OPT_DEBUG, OPT_CERT, OPT_CHECKSUM,
	OPT_RVA, OPT_ZBOOT, OPT_PAYLOAD, OPT_PAYLOAD_SIZE, OPT_MAGIC, OPT_LAYOUT, OPT_HELP,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pe32", no_argument, NULL, OPT_PE32 },
		{ "machine", required_argument, NULL, OPT_MACHINE },
		{ "file-align", required_argument, NULL, OPT_FILE_ALIGN },
		{ "section-align", required_argument, NULL, OPT_SECTION_ALIGN },
		{ "sections", required_argument, NULL, OPT_SECTIONS },
		{ "section", required_argument, NULL, OPT_SECTION },
		{ "bss", no_argument, NULL, OPT_BSS },
		{ "tight-headers", no_argument, NULL, OPT_TIGHT },
		{ "spare-headers", required_argument, NULL, OPT_SPARE },
		{ "flat", no_argument, NULL, OPT_FLAT },
		{ "overlay", required_argument, NULL, OPT_OVERLAY },
		{ "debug-dir", no_argument, NULL, OPT_DEBUG },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "checksum", no_argument, NULL, OPT_CHECKSUM },
		{ "rva-count", required_argument, NULL, OPT_RVA },
		{ "zboot", required_argument, NULL, OPT_ZBOOT },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "payload-size", required_argument, NULL, OPT_PAYLOAD_SIZE },
		{ "linux-pe-magic", optional_argument, NULL, OPT_MAGIC },
		{ "layout", no_argument, NULL, OPT_LAYOUT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct pe_gen_opts o;
	struct pe_gen_section custom[PE_GEN_MAX_SECTIONS];
	size_t n_custom = 0, n_default = 2;
	bool bss = false, layout = false, have_payload_size = false;
	const char *payload_path = NULL;
	uint64_t v, payload_size = 0;
	int c, rc = 1;

	pe_gen_defaults(&o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PE32: o.pe32 = true; break;
		case OPT_MACHINE:
			if (parse_machine(optarg, &o.machine))
				return 2;
			break;
		case OPT_FILE_ALIGN:
			if (parse_num(optarg, UINT32_MAX, &v))
				return 2;
			o.file_align = (uint32_t)v;
			break;
		case OPT_SECTION_ALIGN:
			if (parse_num(optarg, UINT32_MAX, &v))
				return 2;
			o.section_align = (uint32_t)v;
			break;
		case OPT_SECTIONS:
			if (parse_num(optarg, PE_GEN_MAX_SECTIONS, &v) || v == 0)
				return 2;
			n_default = (size_t)v;
			break;
		case OPT_SECTION:
			if (n_custom == PE_GEN_MAX_SECTIONS) {
				fprintf(stderr, "pe-gen: at most %d sections\n", PE_GEN_MAX_SECTIONS);
				return 2;
			}
			if (parse_section(optarg, &custom[n_custom++]))
				return 2;
			break;
		case OPT_BSS: bss = true; break;
		case OPT_TIGHT: o.tight_headers = true; break;
		case OPT_SPARE:
			if (parse_num(optarg, UINT32_MAX, &v))
				return 2;
			o.spare_headers = (uint32_t)v;
			break;
		case OPT_FLAT: o.flat = true; break;
		case OPT_OVERLAY:
			if (parse_num(optarg, SIZE_MAX, &v))
				return 2;
			o.overlay = (size_t)v;
			break;
		case OPT_DEBUG: o.debug_dir = true; break;
		case OPT_CERT:
			if (parse_num(optarg, SIZE_MAX, &v))
				return 2;
			o.cert_size = (size_t)v;
			break;
		case OPT_CHECKSUM: o.checksum = true; break;
		case OPT_RVA:
			if (parse_num(optarg, UINT32_MAX, &v))
				return 2;
			o.n_rva_and_sizes = (uint32_t)v;
			break;
		case OPT_ZBOOT: o.zboot_comp = optarg; break;
		case OPT_PAYLOAD: payload_path = optarg; break;
		case OPT_PAYLOAD_SIZE:
			if (parse_num(optarg, SIZE_MAX, &v))
				return 2;
			payload_size = v;
			have_payload_size = true;
			break;
		case OPT_MAGIC:
			v = PE_GEN_LINUX_PE_MAGIC;
			if (optarg && parse_num(optarg, UINT32_MAX, &v))
				return 2;
			o.linux_pe_magic = (uint32_t)v;
			break;
		case OPT_LAYOUT: layout = true; break;
		case OPT_HELP: fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}

	if (n_custom) {
		memcpy(o.sections, custom, n_custom * sizeof(custom[0]));
		o.n_sections = n_custom;
	} else {
		static const char *const names[] = { ".text", ".data", ".rdata" };
		for (size_t i = 2; i < n_default; i++) {
			struct pe_gen_section *s = &o.sections[i];
			memset(s, 0, sizeof(*s));
			if (i < 3)
				strcpy(s->name, names[i]);
			else
				snprintf(s->name, sizeof(s->name), ".d%u", (unsigned)i % 100u);
			s->vsize = s->raw_size = (uint32_t)(0x100 + 0x10 * i);
			s->flags = PE_GEN_SCN_RODATA;
			s->fill = (uint8_t)(0xa0 + i);
		}
		o.n_sections = n_default;
	}
	if (bss) {
		if (o.n_sections == PE_GEN_MAX_SECTIONS) {
			fprintf(stderr, "pe-gen: no room for --bss\n");
			return 2;
		}
		o.sections[o.n_sections++] = (struct pe_gen_section){ ".bss", 0x2000, 0, PE_GEN_SCN_BSS, 0 };
	}

	uint8_t *payload = NULL;
	if (payload_path) {
		payload = read_file(payload_path, &o.payload_len);
		if (!payload)
			return 1;
	} else if (have_payload_size || o.zboot_comp) {
		/* Stand-in bytes, gzip-wrapped for "--zboot gzip"; any other real
		 * stream comes with --payload. */
		size_t n = have_payload_size ? (size_t)payload_size : 256;
		uint8_t *raw = malloc(n ? n : 1);
		if (!raw)
			return 1;
		for (size_t i = 0; i < n; i++)
			raw[i] = (uint8_t)(i * 31 + 7);
		if (!have_payload_size && strcmp(o.zboot_comp, "gzip") == 0) {
			payload = stored_gzip(raw, (uint16_t)n, &o.payload_len);
			free(raw);
			if (!payload)
				return 1;
		} else {
			payload = raw;
			o.payload_len = n;
		}
	}
	o.payload = payload;

	uint8_t *img;
	size_t len;
	struct pe_gen_layout lay;
	if (pe_gen_build(&o, &img, &len, &lay) != 0) {
		fprintf(stderr, "pe-gen: invalid combination of options\n");
		free(payload);
		return 1;
	}
	FILE *f = fopen(argv[optind], "wb");
	bool ok = f && fwrite(img, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "pe-gen: '%s': %s\n", argv[optind], strerror(errno));
	} else {
		if (layout)
			print_layout(&lay);
		rc = 0;
	}
	free(img);
	free(payload);
	return rc;
}
