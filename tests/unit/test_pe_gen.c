// SPDX-License-Identifier: MIT
/*
 * The PE/COFF test-image generator checked against itself: every image is
 * re-read here from its bytes alone (not from the layout report) and held
 * to the PE/COFF rules the generator promises, over a matrix of options.
 * If these pass, tests of lib/pe can trust pe_gen's layout as an oracle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "pe_gen.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* The section table as read back from the image. */
struct sect {
	char name[9];
	uint32_t vsize, va, raw_size, raw_ptr, flags;
};

struct image {
	const uint8_t *p;
	size_t len;
	size_t n;
	struct sect s[PE_GEN_MAX_SECTIONS];
	uint32_t opt, dirs, n_rva;
	bool pe32;
};

/* RVA -> file offset through the section table's raw data; 0 if unmapped. */
static uint32_t rva_to_off(const struct image *im, uint32_t rva)
{
	for (size_t i = 0; i < im->n; i++)
		if (rva >= im->s[i].va && rva - im->s[i].va < im->s[i].raw_size)
			return im->s[i].raw_ptr + (rva - im->s[i].va);
	return 0;
}

static uint32_t dir_addr(const struct image *im, int d)
{
	return rd32(im->p + im->dirs + 8 * d);
}

static uint32_t dir_size(const struct image *im, int d)
{
	return rd32(im->p + im->dirs + 8 * d + 4);
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool in_range(uint32_t at, uint32_t start, size_t len)
{
	return at >= start && at - start < len;
}

/* Bytes the generator writes over a section's fill. */
static bool in_special(const struct pe_gen_opts *o, const struct pe_gen_layout *lay, uint32_t at)
{
	if ((o->zboot_comp || o->payload_len) && in_range(at, lay->zboot_payload_offset, o->payload_len))
		return true;
	return o->debug_dir && (in_range(at, lay->debug_dir_file_offset, PE_GEN_DEBUG_DIR_SIZE) ||
				in_range(at, lay->debug_data_file_offset, lay->debug_data_size));
}

/* Every structural rule, from the bytes; returns the parsed view. */
static void check_image(const struct pe_gen_opts *o, const uint8_t *p, size_t len,
			const struct pe_gen_layout *lay, struct image *im)
{
	memset(im, 0, sizeof(*im));
	im->p = p;
	im->len = len;
	assert_int_equal(len, lay->file_len);
	assert_true(len >= 0x40);

	/* DOS header and PE signature. */
	assert_memory_equal(p, "MZ", 2);
	uint32_t pe = rd32(p + 0x3c);
	assert_int_equal(pe, lay->pe_offset);
	assert_int_equal(pe % 8, 0);
	assert_true(pe >= 0x40);
	assert_memory_equal(p + pe, "PE\0\0", 4);
	for (uint32_t i = 0x40; i < pe; i++)
		assert_int_equal(p[i], 0); /* tight headers: the slide leaves zeros */

	/* COFF header. */
	const uint8_t *c = p + pe + 4;
	assert_int_equal(rd16(c), o->machine);
	im->n = rd16(c + 2);
	assert_int_equal(im->n, o->n_sections);
	assert_int_equal(rd32(c + 4), 0);  /* TimeDateStamp */
	assert_int_equal(rd32(c + 8), 0);  /* PointerToSymbolTable */
	assert_int_equal(rd32(c + 12), 0); /* NumberOfSymbols */
	uint16_t opt_size = rd16(c + 16), chars = rd16(c + 18);
	assert_true(chars & 0x0002); /* EXECUTABLE_IMAGE */
	assert_int_equal(!!(chars & 0x0200), !o->debug_dir);
	assert_int_equal(!!(chars & 0x0100), o->pe32);

	/* Optional header: the two layouts. */
	im->opt = pe + 24;
	assert_int_equal(im->opt, lay->opt_offset);
	const uint8_t *h = p + im->opt;
	im->pe32 = rd16(h) == 0x10b;
	assert_int_equal(rd16(h), o->pe32 ? 0x10b : 0x20b);
	const uint32_t base = o->pe32 ? 96 : 112;
	im->n_rva = rd32(h + base - 4);
	assert_int_equal(im->n_rva, o->n_rva_and_sizes);
	assert_int_equal(opt_size, base + 8 * im->n_rva);
	assert_int_equal(opt_size, lay->opt_size);
	im->dirs = im->opt + base;
	uint64_t image_base = o->pe32 ? rd32(h + 28) : rd64(h + 24);
	assert_true(image_base == lay->image_base && image_base % 0x10000 == 0);
	if (!o->pe32)
		assert_true(image_base > 0xffffffffu); /* a 4-byte read would show */
	uint32_t sa = rd32(h + 32), fa = rd32(h + 36);
	assert_int_equal(sa, o->section_align);
	assert_int_equal(fa, o->file_align);
	uint32_t size_of_image = rd32(h + 56), size_of_headers = rd32(h + 60);
	assert_int_equal(rd16(h + 68), 10); /* EFI application */
	if (o->pe32) {
		assert_int_equal(rd32(h + 72), 0x100000); /* stack reserve, 4 bytes */
		assert_int_equal(rd32(h + 76), 0x1000);
		assert_int_equal(rd32(h + 88), 0); /* LoaderFlags */
	} else {
		assert_int_equal(rd64(h + 72), 0x100000); /* stack reserve, 8 bytes */
		assert_int_equal(rd64(h + 80), 0x1000);
		assert_int_equal(rd32(h + 104), 0);
	}

	/* Headers: all inside SizeOfHeaders, which is FileAlignment-aligned. */
	uint32_t table = im->opt + opt_size, table_end = table + (uint32_t)im->n * 40;
	assert_int_equal(table, lay->sect_table_offset);
	assert_int_equal(table_end, lay->sect_table_end);
	assert_int_equal(size_of_headers, lay->size_of_headers);
	assert_true(table_end <= size_of_headers);
	assert_int_equal(size_of_headers % fa, 0);
	assert_int_equal(lay->headers_free, size_of_headers - table_end);
	if (o->tight_headers) {
		assert_true(size_of_headers - table_end < 40);
		assert_int_equal(size_of_headers, align_up(table_end, fa));
	} else {
		assert_true(size_of_headers - table_end >= o->spare_headers * 40);
		if (o->flat)
			assert_int_equal(size_of_headers, rd32(p + table + 12)); /* first VA */
	}
	for (uint32_t i = table_end; i < size_of_headers; i++)
		assert_int_equal(p[i], 0);

	/* Sections: raw data ascending and FileAlignment-aligned, VAs ascending
	 * and SectionAlignment-aligned, the optional-header sums agree. */
	uint32_t code = 0, idata = 0, udata = 0, base_of_code = 0, base_of_data = 0;
	uint32_t prev_raw_end = size_of_headers, prev_va_end = size_of_headers;
	uint32_t code_idx = UINT32_MAX;
	assert_int_equal(lay->n_sections, im->n);
	for (size_t i = 0; i < im->n; i++) {
		const uint8_t *e = p + table + 40 * i;
		struct sect *s = &im->s[i];

		memcpy(s->name, e, 8);
		s->vsize = rd32(e + 8);
		s->va = rd32(e + 12);
		s->raw_size = rd32(e + 16);
		s->raw_ptr = rd32(e + 20);
		s->flags = rd32(e + 36);
		assert_string_equal(s->name, o->sections[i].name);
		assert_int_equal(s->flags, o->sections[i].flags);
		assert_int_equal(rd32(e + 24), 0);
		assert_int_equal(rd32(e + 28), 0);
		assert_int_equal(rd32(e + 32), 0);
		assert_int_equal(s->va, lay->sect_va[i]);
		assert_int_equal(s->vsize, lay->sect_vsize[i]);
		assert_int_equal(s->raw_ptr, lay->sect_raw_ptr[i]);
		assert_int_equal(s->raw_size, lay->sect_raw_size[i]);

		assert_int_equal(s->va % sa, 0);
		assert_true(s->va >= prev_va_end);
		assert_true(s->vsize > 0);
		prev_va_end = s->va + (s->vsize > s->raw_size ? s->vsize : s->raw_size);
		assert_int_equal(s->raw_size % fa, 0);
		assert_true(s->raw_size >= o->sections[i].raw_size);
		if (s->raw_size == 0) {
			assert_int_equal(s->raw_ptr, 0);
		} else {
			assert_int_equal(s->raw_ptr % fa, 0);
			assert_true(s->raw_ptr >= prev_raw_end);
			if (!o->flat)
				assert_int_equal(s->raw_ptr, prev_raw_end); /* back to back */
			else
				assert_int_equal(s->raw_ptr, s->va);
			prev_raw_end = s->raw_ptr + s->raw_size;
			assert_true(prev_raw_end <= len);
			/* Content: fill up to vsize, zero after; only the
			 * payload and the debug records differ. */
			for (uint32_t k = 0; k < s->raw_size; k++) {
				uint32_t at = s->raw_ptr + k;
				if (in_special(o, lay, at))
					continue;
				assert_int_equal(p[at], k < s->vsize ? o->sections[i].fill : 0);
			}
		}
		if (s->flags & PE_GEN_SCN_CNT_CODE) {
			code += s->raw_size;
			if (code_idx == UINT32_MAX) {
				code_idx = (uint32_t)i;
				base_of_code = s->va;
			}
		} else if (!base_of_data) {
			base_of_data = s->va;
		}
		if (s->flags & PE_GEN_SCN_CNT_INITIALIZED_DATA)
			idata += s->raw_size;
		if (s->flags & PE_GEN_SCN_CNT_UNINITIALIZED_DATA)
			udata += align_up(s->vsize, fa);
	}
	assert_int_equal(rd32(h + 4), code);
	assert_int_equal(rd32(h + 8), idata);
	assert_int_equal(rd32(h + 12), udata);
	assert_int_equal(rd32(h + 20), base_of_code);
	if (o->pe32)
		assert_int_equal(rd32(h + 24), base_of_data);
	assert_int_equal(size_of_image % sa, 0);
	assert_int_equal(size_of_image, align_up(prev_va_end, sa));
	assert_int_equal(size_of_image, lay->size_of_image);

	/* Entry point: the start of the first code section. */
	uint32_t entry = rd32(h + 16);
	assert_int_equal(entry, lay->entry_rva);
	if (code_idx != UINT32_MAX) {
		const struct sect *t = &im->s[code_idx];
		assert_true(entry >= t->va && entry < t->va + t->vsize);
	} else {
		assert_int_equal(entry, 0);
	}

	/* Overlay: right after the last raw data, 'O' bytes. */
	assert_int_equal(lay->overlay_offset, prev_raw_end);
	for (size_t k = 0; k < o->overlay; k++)
		assert_int_equal(p[lay->overlay_offset + k], 0x4f);

	/* Certificate table: a file offset, 8-aligned, ending at EOF. */
	if (o->cert_size) {
		uint32_t off = dir_addr(im, PE_GEN_DIR_CERT), size = dir_size(im, PE_GEN_DIR_CERT);
		assert_int_equal(off, lay->cert_offset);
		assert_int_equal(off % 8, 0);
		assert_int_equal(size % 8, 0);
		assert_int_equal((size_t)off + size, len);
		assert_true(off >= lay->overlay_offset + o->overlay);
		assert_true(off - (lay->overlay_offset + o->overlay) < 8);
		for (size_t i = 0; i < im->n; i++)
			assert_true(off >= im->s[i].raw_ptr + im->s[i].raw_size);
		assert_int_equal(rd32(p + off), o->cert_size);
		assert_int_equal(size, align_up((uint32_t)o->cert_size, 8));
		assert_int_equal(rd16(p + off + 4), 0x0200);
		assert_int_equal(rd16(p + off + 6), 0x0002);
		for (size_t k = o->cert_size; k < size; k++)
			assert_int_equal(p[off + k], 0);
	} else if (im->n_rva > PE_GEN_DIR_CERT) {
		assert_int_equal(dir_addr(im, PE_GEN_DIR_CERT), 0);
		assert_int_equal(dir_size(im, PE_GEN_DIR_CERT), 0);
		assert_int_equal(len, lay->overlay_offset + o->overlay);
	}

	/* Debug directory: an RVA; its entry holds both an RVA and a file
	 * offset of the same CodeView record. */
	if (o->debug_dir) {
		uint32_t rva = dir_addr(im, PE_GEN_DIR_DEBUG);
		assert_int_equal(rva, lay->debug_dir_rva);
		assert_int_equal(dir_size(im, PE_GEN_DIR_DEBUG), 28);
		uint32_t off = rva_to_off(im, rva);
		assert_int_not_equal(off, 0);
		assert_int_equal(off, lay->debug_dir_file_offset);
		const uint8_t *d = p + off;
		assert_int_equal(rd32(d + 12), PE_GEN_DEBUG_TYPE_CODEVIEW);
		uint32_t size = rd32(d + 16), data_rva = rd32(d + 20), data_off = rd32(d + 24);
		assert_int_equal(data_off, lay->debug_data_file_offset);
		assert_int_equal(data_rva, lay->debug_data_rva);
		assert_int_equal(rva_to_off(im, data_rva), data_off);
		assert_true((size_t)data_off + size <= len);
		assert_memory_equal(p + data_off, "RSDS", 4);
		assert_int_equal(rd32(p + data_off + 20), 1); /* Age */
		assert_string_equal((const char *)p + data_off + 24, PE_GEN_CV_PDB_NAME);
		assert_int_equal(size, 24 + sizeof(PE_GEN_CV_PDB_NAME));
		/* Both records lie within their section's VirtualSize too. */
		for (size_t i = 0; i < im->n; i++)
			if (rva >= im->s[i].va && rva < im->s[i].va + im->s[i].vsize)
				assert_true(data_rva + size <= im->s[i].va + im->s[i].vsize);
	} else if (im->n_rva > PE_GEN_DIR_DEBUG) {
		assert_int_equal(dir_addr(im, PE_GEN_DIR_DEBUG), 0);
	}

	/* zboot header: fields pointing at the payload inside .text. */
	if (o->zboot_comp) {
		assert_memory_equal(p, "MZ\0\0zimg", 8);
		uint32_t off = rd32(p + 8), size = rd32(p + 12);
		assert_int_equal(off, lay->zboot_payload_offset);
		assert_int_equal(size, o->payload_len);
		assert_int_equal(rd32(p + 0x10), 0);
		assert_int_equal(rd32(p + 0x14), 0);
		assert_string_equal((const char *)p + 0x18, o->zboot_comp);
		assert_true(code_idx != UINT32_MAX);
		const struct sect *t = &im->s[code_idx];
		assert_true(off >= t->raw_ptr && off + size <= t->raw_ptr + t->raw_size);
		assert_true(off - t->raw_ptr + size <= t->vsize);
		assert_int_equal(rva_to_off(im, lay->payload_rva), off);
		assert_true(entry < lay->payload_rva); /* code before the payload */
		if (o->flat)
			assert_int_equal(off, lay->payload_rva);
		if (size)
			assert_memory_equal(p + off, o->payload, size);
	}
	assert_int_equal(rd32(p + 0x38), o->linux_pe_magic);

	/* CheckSum: over the final file, including the certificate. */
	uint32_t sum = rd32(h + 64);
	assert_int_equal(lay->checksum_offset, im->opt + 64);
	assert_int_equal(sum, lay->checksum);
	if (o->checksum)
		assert_int_equal(sum, pe_gen_checksum(p, len, im->opt + 64));
	else
		assert_int_equal(sum, 0);
}

static void build_and_check(const struct pe_gen_opts *o, struct pe_gen_layout *lay)
{
	uint8_t *p = NULL, *q = NULL;
	size_t len = 0, len2 = 0;
	struct image im;
	struct pe_gen_layout tmp;

	assert_int_equal(pe_gen_build(o, &p, &len, lay ? lay : &tmp), 0);
	check_image(o, p, len, lay ? lay : &tmp, &im);
	/* Deterministic: the same options give the same bytes. */
	assert_int_equal(pe_gen_build(o, &q, &len2, NULL), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(p, q, len);
	free(p);
	free(q);
}

static void add_bss(struct pe_gen_opts *o)
{
	o->sections[o->n_sections++] =
		(struct pe_gen_section){ ".bss", 0x2345, 0, PE_GEN_SCN_BSS, 0 };
}

static void test_defaults(void **state)
{
	struct pe_gen_opts o;
	struct pe_gen_layout lay;

	(void)state;
	pe_gen_defaults(&o);
	build_and_check(&o, &lay);
	/* The exact default layout, worked out by hand from the spec. */
	assert_int_equal(lay.pe_offset, 0x40);
	assert_int_equal(lay.opt_size, 240);
	assert_int_equal(lay.sect_table_offset, 0x40 + 24 + 240);
	assert_int_equal(lay.size_of_headers, 0x200);
	assert_int_equal(lay.sect_raw_ptr[0], 0x200);
	assert_int_equal(lay.sect_raw_size[0], 0x1400);
	assert_int_equal(lay.sect_raw_ptr[1], 0x1600);
	assert_int_equal(lay.sect_raw_size[1], 0x600);
	assert_int_equal(lay.sect_va[0], 0x1000);
	assert_int_equal(lay.sect_va[1], 0x3000);
	assert_int_equal(lay.size_of_image, 0x4000);
	assert_int_equal(lay.size_of_code, 0x1400);
	assert_int_equal(lay.size_of_init_data, 0x600);
	assert_int_equal(lay.entry_rva, 0x1000);
	assert_int_equal(lay.file_len, 0x1c00);

	o.pe32 = true;
	o.machine = PE_GEN_MACHINE_I386;
	build_and_check(&o, &lay);
	assert_int_equal(lay.opt_size, 224);
	assert_int_equal(lay.image_base, 0x10000000);
	assert_int_equal(lay.headers_free, 0x200 - (0x40 + 24 + 224 + 80)); /* 3 spare */

	/* More spare headers push SizeOfHeaders to the next FileAlignment unit. */
	o.pe32 = false;
	o.spare_headers = 8;
	build_and_check(&o, &lay);
	assert_int_equal(lay.size_of_headers, 0x400);
	assert_int_equal(lay.sect_raw_ptr[0], 0x400);
}

static void test_matrix(void **state)
{
	static const uint32_t aligns[][2] = { { 0x200, 0x1000 }, { 0x1000, 0x1000 }, { 0x20, 0x20 },
					      { 0x200, 0x10000 } };
	(void)state;
	for (int pe32 = 0; pe32 < 2; pe32++)
		for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++)
			for (int bits = 0; bits < 64; bits++) {
				struct pe_gen_opts o;

				pe_gen_defaults(&o);
				o.pe32 = pe32;
				o.machine = pe32 ? PE_GEN_MACHINE_I386 : PE_GEN_MACHINE_RISCV64;
				o.file_align = aligns[a][0];
				o.section_align = aligns[a][1];
				o.tight_headers = bits & 1;
				o.flat = bits & 2;
				o.debug_dir = bits & 4;
				o.checksum = bits & 8;
				o.overlay = bits & 16 ? 13 : 0; /* odd: the cert needs padding */
				o.cert_size = bits & 32 ? 0x33 : 0;
				if (bits & 4)
					add_bss(&o);
				build_and_check(&o, NULL);
			}
}

static void test_tight_headers(void **state)
{
	(void)state;
	for (int pe32 = 0; pe32 < 2; pe32++)
		for (size_t n = 1; n <= PE_GEN_MAX_SECTIONS; n++)
			for (uint32_t fa = 0x20; fa <= 0x1000; fa <<= 1) {
				struct pe_gen_opts o;
				struct pe_gen_layout lay;

				pe_gen_defaults(&o);
				o.pe32 = pe32;
				o.file_align = fa;
				o.section_align = fa < 0x1000 ? 0x1000 : fa;
				o.tight_headers = true;
				o.n_sections = n;
				for (size_t i = 2; i < n; i++)
					o.sections[i] = (struct pe_gen_section){
						".d", (uint32_t)(0x100 + i), 0x80, PE_GEN_SCN_RODATA,
						(uint8_t)i };
				build_and_check(&o, &lay);
				assert_true(lay.headers_free < 40);
				assert_int_equal(lay.sect_raw_ptr[0], lay.size_of_headers);
			}
}

static void test_rva_count_and_single_section(void **state)
{
	struct pe_gen_opts o;
	struct pe_gen_layout lay;

	(void)state;
	pe_gen_defaults(&o);
	o.n_rva_and_sizes = 7; /* the fewest that still hold the debug directory */
	o.n_sections = 1;      /* debug data falls back to .text */
	o.debug_dir = true;
	o.cert_size = 8;       /* header only */
	o.checksum = true;
	build_and_check(&o, &lay);
	assert_int_equal(lay.opt_size, 112 + 7 * 8);
	assert_true(lay.debug_dir_rva >= lay.sect_va[0]);

	pe_gen_defaults(&o);
	o.n_rva_and_sizes = 0;
	o.pe32 = true;
	build_and_check(&o, &lay);
	assert_int_equal(lay.opt_size, 96);

	/* A data-only image: no entry point, BaseOfCode 0. */
	pe_gen_defaults(&o);
	o.sections[0] = o.sections[1];
	o.n_sections = 1;
	build_and_check(&o, &lay);
	assert_int_equal(lay.entry_rva, 0);
}

/* pefile's formulation: 32-bit dwords with end-around carry, then folded. */
static uint32_t checksum_dwords(const uint8_t *p, size_t len, size_t csum_off)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i += 4) {
		uint32_t d = 0;
		if (i == csum_off)
			continue;
		for (size_t k = 0; k < 4 && i + k < len; k++)
			d |= (uint32_t)p[i + k] << (8 * k);
		sum = (sum & 0xffffffffu) + d + (sum >> 32);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = sum + (sum >> 16);
	return (uint32_t)((sum & 0xffff) + len);
}

static void test_checksum(void **state)
{
	static const uint8_t v[] = { 0x01, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t one = 0x12;
	uint8_t buf[1031];
	uint32_t x = 12345;

	(void)state;
	/* By hand: ones'-complement adding 0xffff changes nothing. */
	assert_int_equal(pe_gen_checksum(v, sizeof(v), 64), 3 + 8);
	assert_int_equal(pe_gen_checksum(v, sizeof(v), 4), 3 + 8);
	assert_int_equal(pe_gen_checksum(v, sizeof(v), 0), 0xffff + 8);
	assert_int_equal(pe_gen_checksum(v, sizeof(v), 2), 1 + 8);
	assert_int_equal(pe_gen_checksum(&one, 1, 64), 0x12 + 1);

	/* Agrees with the dword formulation on odd and even lengths. */
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t len = 0; len <= sizeof(buf); len += 1 + len / 7)
		for (size_t off = 0; off < 160; off += 4)
			assert_int_equal(pe_gen_checksum(buf, len, off), checksum_dwords(buf, len, off));

	/* In an image: one flipped byte changes it. */
	struct pe_gen_opts o;
	struct pe_gen_layout lay;
	uint8_t *p;
	size_t len;
	pe_gen_defaults(&o);
	o.checksum = true;
	o.cert_size = 100;
	assert_int_equal(pe_gen_build(&o, &p, &len, &lay), 0);
	assert_int_equal(checksum_dwords(p, len, lay.checksum_offset), lay.checksum);
	p[len - 1] ^= 1;
	assert_int_not_equal(pe_gen_checksum(p, len, lay.checksum_offset), lay.checksum);
	free(p);
}

static void test_zboot_gzip(void **state)
{
	uint8_t plain[20000], comp[30000], back[sizeof(plain)];
	z_stream z;
	struct pe_gen_opts o;
	struct pe_gen_layout lay;
	uint8_t *p;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)("arm64 zboot "[i % 12] + i / 1000);
	/* A real gzip member, as the kernel's Makefile.zboot makes with gzip -9. */
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = plain;
	z.avail_in = sizeof(plain);
	z.next_out = comp;
	z.avail_out = sizeof(comp);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t comp_len = z.total_out;
	deflateEnd(&z);

	for (int flat = 0; flat < 2; flat++) {
		pe_gen_defaults(&o);
		o.zboot_comp = "gzip";
		o.payload = comp;
		o.payload_len = comp_len;
		o.linux_pe_magic = PE_GEN_LINUX_PE_MAGIC;
		o.flat = flat;
		o.debug_dir = true;
		o.checksum = true;
		build_and_check(&o, &lay);
		assert_int_equal(lay.pe_offset, 0x40); /* as zboot-header.S */

		assert_int_equal(pe_gen_build(&o, &p, &len, &lay), 0);
		/* The payload, found only through the zboot header, inflates back. */
		memset(&z, 0, sizeof(z));
		assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
		z.next_in = p + rd32(p + 8);
		z.avail_in = rd32(p + 12);
		z.next_out = back;
		z.avail_out = sizeof(back);
		assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
		assert_int_equal(z.total_out, sizeof(plain));
		assert_int_equal(z.avail_in, 0);
		inflateEnd(&z);
		assert_memory_equal(back, plain, sizeof(plain));
		/* .text grew to hold it. */
		assert_true(lay.sect_vsize[0] >= PE_GEN_PAYLOAD_OFF + comp_len);
		free(p);
	}

	/* Longest name, empty payload, tight headers, PE32. */
	pe_gen_defaults(&o);
	o.zboot_comp = "0123456789012345678901234567890";
	o.tight_headers = true;
	o.pe32 = true;
	build_and_check(&o, &lay);
	assert_int_equal(lay.zboot_payload_offset, lay.sect_raw_ptr[0] + PE_GEN_PAYLOAD_OFF);
}

static void test_invalid_opts(void **state)
{
	struct pe_gen_opts o;
	uint8_t *p = NULL;
	size_t len = 0;

	(void)state;
#define BAD(stmt)                                                          \
	do {                                                               \
		pe_gen_defaults(&o);                                       \
		stmt;                                                      \
		assert_int_equal(pe_gen_build(&o, &p, &len, NULL), -1);    \
		assert_null(p);                                            \
	} while (0)
	BAD(o.n_sections = 0);
	BAD(o.n_sections = PE_GEN_MAX_SECTIONS + 1);
	BAD(o.file_align = 0x300);
	BAD(o.file_align = 4);
	BAD(o.section_align = 0x100);
	BAD(o.n_rva_and_sizes = 17);
	BAD(o.cert_size = 7);
	BAD((o.cert_size = 16, o.n_rva_and_sizes = 4));
	BAD((o.debug_dir = true, o.n_rva_and_sizes = 6));
	BAD(o.zboot_comp = "01234567890123456789012345678901");
	BAD(memcpy(o.sections[0].name, ".textlong", 9));
	BAD((o.sections[1].vsize = 0, o.sections[1].raw_size = 0));
	BAD((o.zboot_comp = "gzip", o.sections[0].flags = PE_GEN_SCN_DATA));
	BAD(o.payload_len = 4);
#undef BAD
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_tight_headers),
		cmocka_unit_test(test_rva_count_and_single_section),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_zboot_gzip),
		cmocka_unit_test(test_invalid_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
