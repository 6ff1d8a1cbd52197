// SPDX-License-Identifier: MIT
/*
 * Reading a kexec zboot envelope from untrusted bytes. Every field is read
 * through bounds-checked views (the file is never cast to ELF structs);
 * each check below names the attack it stops. The result describes the
 * three payload sections; anything that would make two readers disagree
 * about their bytes (overlaps, duplicates, names outside the string table)
 * is refused rather than guessed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bootpack/pe.h>

#include "kexec_internal.h"
#include "pe/pe_internal.h"
#include "util/esc.h"

struct shdr {
	uint32_t name, type;
	uint64_t off, size;
	const char *str;            /* the name in the string table */
};

struct parse {
	struct bp_kexec_envelope *e;
	uint16_t n;                 /* e_shnum */
	uint16_t strndx;
	uint64_t shoff;
	struct shdr sh[BP_KEXEC_MAX_SECTIONS];
	bool bpf_misses;            /* the BPF parser would not see a part */
};

/* zboot_parser_bpf.c (v7) reads section headers 1 to 7 and 16 bytes of each name. */
#define BPF_SCAN_MAX 8
#define BPF_NAME_READ 16

static const uint8_t *bytes(const struct bp_kexec_envelope *e, uint64_t off, uint64_t len)
{
	if (!e->data || !bpi_range_ok(e->len, off, len))
		return NULL;
	return e->data + off;
}

/* Whether the section is in the file (SHT_NOBITS and SHT_NULL are not). */
static bool in_file(const struct shdr *s)
{
	return s->type != ELF_SHT_NOBITS && s->type != ELF_SHT_NULL;
}

/* Whether it occupies file bytes: in the file and not empty. */
static bool has_data(const struct shdr *s)
{
	return in_file(s) && s->size;
}

static int read_ehdr(struct parse *p, struct bp_diag *d)
{
	struct bp_kexec_envelope *e = p->e;
	const uint8_t *h = bytes(e, 0, ELF_EHDR_SIZE);
	uint16_t entsize;

	if (!h)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "not a kexec envelope: file is %zu "
				   "bytes, shorter than the 64-byte ELF header", e->len);
	if (memcmp(h, "\x7f" "ELF", 4))
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "not a kexec envelope: no ELF "
				   "magic (7f 45 4c 46) at offset 0");
	if (h[ELF_EI_CLASS] != ELF_CLASS64 || h[ELF_EI_DATA] != ELF_DATA2LSB)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "ELF class %u, data encoding %u: "
				   "not ELF64 little-endian", h[ELF_EI_CLASS], h[ELF_EI_DATA]);
	if (bpi_get_le16(h + ELF_E_TYPE) != ELF_ET_EXEC)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "e_type %u, not ET_EXEC (2)",
				   bpi_get_le16(h + ELF_E_TYPE));
	/* Another entry size would shift every header after the first. */
	entsize = bpi_get_le16(h + ELF_E_SHENTSIZE);
	if (entsize != ELF_SHDR_SIZE)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "e_shentsize %u, not 64", entsize);
	p->n = bpi_get_le16(h + ELF_E_SHNUM);
	p->shoff = bpi_get_le64(h + ELF_E_SHOFF);
	p->strndx = bpi_get_le16(h + ELF_E_SHSTRNDX);
	e->info.machine = bpi_get_le16(h + ELF_E_MACHINE);
	e->info.n_sections = p->n;
	/* 0 means "count in section 0" (extended numbering): never written by the reference. */
	if (!p->n)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "no section headers (e_shnum 0)");
	if (p->n > BP_KEXEC_MAX_SECTIONS)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "e_shnum %u: more than %d sections",
				   p->n, BP_KEXEC_MAX_SECTIONS);
	if (!bytes(e, p->shoff, (uint64_t)p->n * ELF_SHDR_SIZE))
		return bp_diag_set(d, BP_ERR_RANGE, e->name, "section headers (%u x 64 bytes at "
				   "0x%llx) lie past the end of the file (%zu bytes)", p->n,
				   (unsigned long long)p->shoff, e->len);
	if (!p->strndx || p->strndx >= p->n)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "e_shstrndx %u is not a section "
				   "(e_shnum %u)", p->strndx, p->n);
	return 0;
}

static int read_shdrs(struct parse *p, struct bp_diag *d)
{
	for (uint16_t i = 0; i < p->n; i++) {
		const uint8_t *h = bytes(p->e, p->shoff + (uint64_t)i * ELF_SHDR_SIZE, ELF_SHDR_SIZE);
		struct shdr *s = &p->sh[i];

		s->name = bpi_get_le32(h + ELF_SH_NAME);
		s->type = bpi_get_le32(h + ELF_SH_TYPE);
		s->off = bpi_get_le64(h + ELF_SH_OFFSET);
		s->size = bpi_get_le64(h + ELF_SH_SIZE);
		/* An empty section, too: an offset past the end is nonsense to report. */
		if (i && in_file(s) && !bytes(p->e, s->off, s->size))
			return bp_diag_set(d, BP_ERR_RANGE, p->e->name, "section %u: data (%llu bytes "
					   "at 0x%llx) lies past the end of the file (%zu bytes)", i,
					   (unsigned long long)s->size, (unsigned long long)s->off,
					   p->e->len);
	}
	return 0;
}

/* Names: the string table must end in NUL, so every name inside it is a C string. */
static int read_names(struct parse *p, struct bp_diag *d)
{
	const struct shdr *st = &p->sh[p->strndx];
	const char *tab;

	if (st->type != ELF_SHT_STRTAB)
		return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "e_shstrndx %u: section of type "
				   "%u, not SHT_STRTAB (3)", p->strndx, st->type);
	if (!st->size)
		return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "section name string table is "
				   "empty");
	tab = (const char *)p->e->data + st->off;
	if (tab[st->size - 1])
		return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "section name string table "
				   "(%llu bytes at 0x%llx) does not end in a NUL byte",
				   (unsigned long long)st->size, (unsigned long long)st->off);
	for (uint16_t i = 1; i < p->n; i++) {
		if (p->sh[i].name >= st->size)
			return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "section %u: sh_name %u is "
					   "outside the string table (%llu bytes)", i, p->sh[i].name,
					   (unsigned long long)st->size);
		p->sh[i].str = tab + p->sh[i].name;
	}
	for (uint16_t i = 1; i < p->n; i++)
		for (uint16_t j = i + 1; j < p->n; j++)
			if (*p->sh[i].str && !strcmp(p->sh[i].str, p->sh[j].str))
				return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "two sections "
						   "named \"%s\" (%u and %u)",
						   BPI_ESC(p->sh[i].str), i, j);
	return 0;
}

struct region {
	uint64_t off, size;
	const char *what;
	uint16_t index;             /* section index; 0 for the headers */
};

static bool overlap(const struct region *a, const struct region *b)
{
	return a->off < b->off + b->size && b->off < a->off + a->size;
}

static int describe(char *buf, size_t n, const struct region *r)
{
	if (r->index)
		return snprintf(buf, n, "section %u (\"%s\")", r->index, BPI_ESC(r->what));
	return snprintf(buf, n, "the %s", r->what);
}

/* Two readers must never disagree on whose a byte is: no section shares one. */
static int check_overlaps(struct parse *p, struct bp_diag *d)
{
	struct region r[BP_KEXEC_MAX_SECTIONS + 1];
	size_t n = 0;

	r[n++] = (struct region){ 0, ELF_EHDR_SIZE, "ELF header", 0 };
	r[n++] = (struct region){ p->shoff, (uint64_t)p->n * ELF_SHDR_SIZE, "section headers", 0 };
	for (uint16_t i = 1; i < p->n; i++)
		if (has_data(&p->sh[i]))
			r[n++] = (struct region){ p->sh[i].off, p->sh[i].size, p->sh[i].str, i };
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			char a[BPI_ESC_MAX + 32], b[BPI_ESC_MAX + 32];

			if (!overlap(&r[i], &r[j]))
				continue;
			describe(a, sizeof(a), &r[i]);
			describe(b, sizeof(b), &r[j]);
			return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "%s and %s overlap", a, b);
		}
	return 0;
}

static int find_part(struct parse *p, const char *name, struct bp_kexec_part *part,
		     struct bp_diag *d)
{
	for (uint16_t i = 1; i < p->n; i++) {
		const struct shdr *s = &p->sh[i];

		if (strcmp(s->str, name))
			continue;
		if (s->type != ELF_SHT_PROGBITS)
			return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "section %s is of type %u, "
					   "not SHT_PROGBITS (1)", name, s->type);
		*part = (struct bp_kexec_part){ true, i, s->off, s->size };
		/* What zboot_parser_bpf.c scans (ELF_SCAN_MAX) and compares. */
		if (s->size && (i >= BPF_SCAN_MAX ||
				p->sh[p->strndx].size - s->name < BPF_NAME_READ))
			p->bpf_misses = true;
		return 0;
	}
	return 0;
}

/* What the kernel gets: text up to a NUL that ends the section and nothing after. */
static int check_cmdline(struct parse *p, struct bp_diag *d)
{
	const struct bp_kexec_part *c = &p->e->info.cmdline;
	const uint8_t *s = p->e->data + c->offset, *nul;

	if (!c->present || !c->length)
		return 0;
	nul = memchr(s, 0, (size_t)c->length);
	if (!nul)
		return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "section .cmdline (%llu bytes) "
				   "does not end in a NUL byte", (unsigned long long)c->length);
	if ((uint64_t)(nul - s) != c->length - 1)
		return bp_diag_set(d, BP_ERR_FORMAT, p->e->name, "section .cmdline has a NUL byte "
				   "at %zu, before its end (%llu bytes): the kernel would ignore "
				   "what follows", (size_t)(nul - s), (unsigned long long)c->length);
	return 0;
}

static int open_kernel(struct parse *p, struct bp_diag *d)
{
	struct bp_kexec_envelope *e = p->e;
	struct bp_kexec_info *in = &e->info;
	const struct bp_pe_info *pi;
	char why[BP_DIAG_MSG_MAX];
	int ret;

	if (!in->kernel.present)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "no .kernel section");
	if (!in->kernel.length)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "section .kernel is empty");
	ret = bp_pe_open_mem(e->data + in->kernel.offset, (size_t)in->kernel.length, e->name,
			     &e->kernel, d);
	if (ret == BP_ERR_NOMEM)
		return ret;
	if (ret)
		return bp_diag_set(d, BP_ERR_FORMAT, e->name, "section .kernel is not a PE/EFI "
				   "image: %s", bpi_kexec_pe_reason(d, why, sizeof(why)));
	pi = bp_pe_get_info(e->kernel);
	in->kernel_pe_machine = pi->machine;
	in->kernel_zboot = pi->zboot.present;
	if (pi->zboot.present)
		snprintf(in->kernel_compression, sizeof(in->kernel_compression), "%s",
			 pi->zboot.compression);
	in->kernel_signed = pi->has_certificates;
	in->machine_mismatch = !bpi_kexec_elf_machine(pi->machine) ||
			       bpi_kexec_elf_machine(pi->machine) != in->machine;
	return 0;
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Byte for byte what bp_kexec_envelope_write() gives for these parts. */
static bool canonical(const struct bp_kexec_envelope *e)
{
	const struct bp_kexec_info *in = &e->info;
	uint8_t hdr[ENV_HEADERS_SIZE];
	struct bpi_kexec_layout l;

	if (!in->initrd.present || !in->cmdline.present || !in->cmdline.length ||
	    bpi_kexec_layout(&l, in->machine, in->kernel.length, in->initrd.length,
			     in->cmdline.length, NULL) ||
	    l.total != e->len)
		return false;
	bpi_kexec_headers(&l, hdr);
	/* Equal headers mean every offset and size is the layout's: the gaps are in the file. */
	return !memcmp(hdr, e->data, sizeof(hdr)) &&
	       all_zero(e->data + l.off[ENV_INITRD] + l.size[ENV_INITRD], l.pad[ENV_INITRD]) &&
	       all_zero(e->data + l.off[ENV_CMDLINE] + l.size[ENV_CMDLINE], l.pad[ENV_CMDLINE]) &&
	       !memcmp(e->data + l.off[ENV_SHSTRTAB], ENV_STRTAB_BYTES, ENV_STRTAB_SIZE);
}

static int parse(struct bp_kexec_envelope *e, struct bp_diag *d)
{
	struct parse *p = calloc(1, sizeof(*p));
	struct bp_kexec_info *in = &e->info;
	bool bpf_misses;
	int ret;

	if (!p)
		return bp_diag_set(d, BP_ERR_NOMEM, e->name, "out of memory");
	p->e = e;
	in->file_size = e->len;
	ret = read_ehdr(p, d);
	if (!ret)
		ret = read_shdrs(p, d);
	if (!ret)
		ret = read_names(p, d);
	if (!ret)
		ret = check_overlaps(p, d);
	if (!ret)
		ret = find_part(p, BP_KEXEC_KERNEL, &in->kernel, d);
	if (!ret)
		ret = find_part(p, BP_KEXEC_INITRD, &in->initrd, d);
	if (!ret)
		ret = find_part(p, BP_KEXEC_CMDLINE, &in->cmdline, d);
	if (!ret)
		ret = check_cmdline(p, d);
	if (!ret)
		ret = open_kernel(p, d);
	bpf_misses = p->bpf_misses;
	free(p);
	if (!ret) {
		in->canonical = canonical(e);
		in->bpf_readable = !bpf_misses && in->kernel_zboot;
		in->size = sizeof(*in);
	}
	return ret;
}

static int finish_open(struct bp_kexec_envelope *e, const char *name,
		       struct bp_kexec_envelope **out, struct bp_diag *d)
{
	int ret;

	e->name = strdup(name);
	ret = e->name ? parse(e, d) : bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	if (ret) {
		bp_kexec_envelope_close(e);
		return ret;
	}
	*out = e;
	return 0;
}

int bp_kexec_envelope_open(const char *path, struct bp_kexec_envelope **out, struct bp_diag *d)
{
	struct bp_kexec_envelope *e = calloc(1, sizeof(*e));
	struct bp_buf b = BP_BUF_INIT;
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!e)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	ret = bpi_map_file(path, BP_KEXEC_READ_MAX, &e->data, &e->len, d);
	e->mapped = !ret;
	/* A pipe or an empty file cannot be mapped: read it. */
	if (ret == BP_ERR_UNSUPPORTED) {
		ret = bpi_read_file(path, BP_KEXEC_READ_MAX, &b, d);
		e->data = b.data;
		e->len = b.len;
	}
	if (ret) {
		bp_kexec_envelope_close(e);
		return ret;
	}
	return finish_open(e, path, out, d);
}

int bp_kexec_envelope_open_mem(const void *data, size_t len, const char *name,
			       struct bp_kexec_envelope **out, struct bp_diag *d)
{
	struct bp_kexec_envelope *e = calloc(1, sizeof(*e));
	uint8_t *copy = malloc(len ? len : 1);

	bp_diag_clear(d);
	*out = NULL;
	if (!name)
		name = "input";
	if (!e || !copy) {
		free(e);
		free(copy);
		return bp_diag_set(d, BP_ERR_NOMEM, name, "out of memory");
	}
	if (len)
		memcpy(copy, data, len);
	e->data = copy;
	e->len = len;
	return finish_open(e, name, out, d);
}

void bp_kexec_envelope_close(struct bp_kexec_envelope *e)
{
	if (!e)
		return;
	if (e->mapped)
		bpi_unmap(e->data, e->len);
	else
		free((void *)e->data);
	bp_pe_close(e->kernel);
	free(e->name);
	free(e);
}

const struct bp_kexec_info *bp_kexec_envelope_info(const struct bp_kexec_envelope *e)
{
	return &e->info;
}
