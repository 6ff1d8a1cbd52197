// SPDX-License-Identifier: MIT
/*
 * lib/pe against the independent generator in pe_gen.c: what the reader
 * reports equals the generator's layout; every edit leaves a valid image
 * whose file offsets (debug entries, zboot payload, overlay) still name the
 * same bytes; bad edits fail with their exact message; zboot extraction
 * checks sizes and kernel magic.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#define BOOTPACK_EXPERIMENTAL
#include <bootpack/experimental.h>
#include <bootpack/pe.h>

#include "pe/pe_internal.h"
#include "pe_gen.h"

static char dir[] = "/tmp/bp-pe-XXXXXX";
static char out_path[64];

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct image {
	uint8_t *data;
	size_t len;
	struct pe_gen_layout lay;
	struct bp_pe *pe;
};

static void make(struct image *im, const struct pe_gen_opts *o)
{
	struct bp_diag d;

	assert_int_equal(pe_gen_build(o, &im->data, &im->len, &im->lay), 0);
	assert_int_equal(bp_pe_open_mem(im->data, im->len, "gen.efi", &im->pe, &d), 0);
}

static void drop(struct image *im)
{
	bp_pe_close(im->pe);
	free(im->data);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Open what an edit wrote; it must have no errors. */
static struct bp_pe *reopen(void)
{
	struct bp_pe *pe;
	struct bp_diag d;

	assert_int_equal(bp_pe_open(out_path, &pe, &d), 0);
	if (bp_pe_get_info(pe)->n_errors)
		fail_msg("edited image has errors: %s", bp_pe_problem_at(pe, 0)->msg);
	return pe;
}

static void test_reader_matches_layout(void **state)
{
	(void)state;
	for (int variant = 0; variant < 16; variant++) {
		struct pe_gen_opts o;
		struct image im;

		pe_gen_defaults(&o);
		o.pe32 = variant & 1;
		o.tight_headers = variant & 2;
		o.debug_dir = variant & 4;
		o.overlay = variant & 8 ? 77 : 0;
		o.checksum = true;
		make(&im, &o);
		const struct bp_pe_info *in = bp_pe_get_info(im.pe);

		assert_int_equal(in->pe32plus, !o.pe32);
		assert_int_equal(in->pe_offset, im.lay.pe_offset);
		assert_int_equal(in->size_of_headers, im.lay.size_of_headers);
		assert_int_equal(in->size_of_image, im.lay.size_of_image);
		assert_int_equal(in->entry_point, im.lay.entry_rva);
		assert_true(in->image_base == im.lay.image_base);
		assert_int_equal(in->checksum, im.lay.checksum);
		assert_int_equal(in->checksum_computed, im.lay.checksum);
		assert_int_equal(in->n_sections, im.lay.n_sections);
		for (size_t i = 0; i < im.lay.n_sections; i++) {
			assert_int_equal(bp_pe_section_at(im.pe, i)->raw_offset, im.lay.sect_raw_ptr[i]);
			assert_int_equal(bp_pe_section_at(im.pe, i)->raw_size, im.lay.sect_raw_size[i]);
			assert_int_equal(bp_pe_section_at(im.pe, i)->virtual_address, im.lay.sect_va[i]);
		}
		assert_int_equal(in->overlay_size, o.overlay);
		if (o.overlay)
			assert_int_equal(in->overlay_offset, im.lay.overlay_offset);
		assert_int_equal(in->n_errors, 0);
		assert_int_equal(bp_pe_checksum(im.data, im.len, im.lay.checksum_offset),
				 pe_gen_checksum(im.data, im.len, im.lay.checksum_offset));
		drop(&im);
	}
}

static int edit(struct image *im, enum bp_pe_edit_op op, const char *name, const void *data,
		size_t len, bool strip, struct bp_diag *d)
{
	struct bp_pe_edit e = { .size = sizeof(e), .op = op, .name = name, .data = data, .len = len,
				.strip_signature = strip };

	return bp_pe_edit(im->pe, &e, out_path, d);
}

/* The debug entry's PointerToRawData must still lead to the "RSDS" record. */
static void assert_debug_intact(const uint8_t *p, const struct bp_pe *pe)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);
	const struct bp_pe_dir *dir = &in->dirs[BP_PE_DIR_DEBUG];
	uint32_t at = 0;

	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *s = bp_pe_section_at(pe, i);

		if (dir->address >= s->virtual_address && dir->address < s->virtual_address + s->raw_size)
			at = s->raw_offset + (dir->address - s->virtual_address);
	}
	assert_int_not_equal(at, 0);
	assert_memory_equal(p + rd32(p + at + 24), "RSDS", 4);
}

static void test_add_roomy_and_tight(void **state)
{
	static const uint8_t blob[300] = { 1, 2, 3 };

	(void)state;
	for (int tight = 0; tight < 2; tight++) {
		struct pe_gen_opts o;
		struct image im;
		struct bp_diag d;
		struct bp_pe *pe;
		size_t len;

		pe_gen_defaults(&o);
		o.tight_headers = tight;
		o.debug_dir = true;
		o.overlay = 100;
		o.checksum = true;
		o.zboot_comp = "gzip";
		o.payload = (const uint8_t *)"payload-bytes";
		o.payload_len = 13;
		make(&im, &o);
		assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".bpf", blob, sizeof(blob), false, &d), 0);
		pe = reopen();
		const struct bp_pe_info *in = bp_pe_get_info(pe);
		const uint8_t *p = bp_pe_data(pe, &len);
		uint32_t grow = in->size_of_headers - im.lay.size_of_headers;
		const struct bp_pe_section *s = bp_pe_section_at(pe, in->n_sections - 1);

		/* Tight headers grow by one FileAlignment unit, and the data moves with them. */
		assert_int_equal(grow, tight ? o.file_align : 0);
		assert_int_equal(in->n_sections, im.lay.n_sections + 1);
		/* Section bytes are unchanged but for the debug entry's file offset, which moved. */
		uint8_t *want = malloc(im.len);

		assert_non_null(want);
		memcpy(want, im.data, im.len);
		want[im.lay.debug_dir_file_offset + 24] += (uint8_t)grow;
		want[im.lay.debug_dir_file_offset + 25] += (uint8_t)(grow >> 8);
		for (size_t i = 0; i < im.lay.n_sections; i++) {
			assert_int_equal(bp_pe_section_at(pe, i)->raw_offset, im.lay.sect_raw_ptr[i] + grow);
			assert_int_equal(bp_pe_section_at(pe, i)->virtual_address, im.lay.sect_va[i]);
			assert_memory_equal(p + bp_pe_section_at(pe, i)->raw_offset,
					    want + im.lay.sect_raw_ptr[i], im.lay.sect_raw_size[i]);
		}
		free(want);
		assert_string_equal(s->name, ".bpf");
		assert_int_equal(s->characteristics, BP_PE_ADD_DEFAULT_FLAGS);
		assert_int_equal(s->virtual_size, sizeof(blob));
		assert_int_equal(s->virtual_address % o.section_align, 0);
		assert_true(s->virtual_address >= im.lay.size_of_image);
		assert_int_equal(s->raw_size, o.file_align);
		assert_memory_equal(p + s->raw_offset, blob, sizeof(blob));
		assert_int_equal(in->size_of_image, s->virtual_address + o.section_align);
		assert_int_equal(in->size_of_initialized_data, im.lay.size_of_init_data + o.file_align);
		assert_int_equal(in->checksum, pe_gen_checksum(p, len, im.lay.checksum_offset));
		assert_int_equal(in->zboot.payload_offset, im.lay.zboot_payload_offset + grow);
		assert_memory_equal(p + in->zboot.payload_offset, "payload-bytes", 13);
		assert_debug_intact(p, pe);
		/* The overlay is still the last thing in the file, unchanged. */
		assert_int_equal(in->overlay_size, 100);
		assert_memory_equal(p + len - 100, im.data + im.len - 100, 100);
		bp_pe_close(pe);
		drop(&im);
	}
}

/*
 * Linux 6.12's zboot header keeps its CodeView record right after the
 * section table: adding a section moves it down and fixes the debug entry.
 * Unknown bytes there are not moved.
 */
static void test_header_tail_moves_with_debug_entry(void **state)
{
	static const uint8_t blob[64] = { 5 };
	struct pe_gen_opts o;
	struct image im;
	struct bp_diag d;
	struct bp_pe *pe;
	uint32_t tail, ent;
	size_t len;

	(void)state;
	pe_gen_defaults(&o);
	o.debug_dir = true;
	assert_int_equal(pe_gen_build(&o, &im.data, &im.len, &im.lay), 0);
	tail = im.lay.sect_table_end;
	ent = im.lay.debug_dir_file_offset;
	memcpy(im.data + tail, "NB10\0\0\0\0\1\2\3\4\0\0\0\0x.pdb", 20);
	im.data[ent + 16] = 20;                        /* SizeOfData */
	memset(im.data + ent + 20, 0, 4);              /* AddressOfRawData: none, as Linux */
	im.data[ent + 24] = (uint8_t)tail;             /* PointerToRawData */
	im.data[ent + 25] = (uint8_t)(tail >> 8);
	im.data[ent + 26] = im.data[ent + 27] = 0;
	assert_int_equal(bp_pe_open_mem(im.data, im.len, "nb10.efi", &im.pe, &d), 0);
	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".bpf", blob, sizeof(blob), false, &d), 0);
	pe = reopen();
	const uint8_t *p = bp_pe_data(pe, &len);

	assert_int_equal(bp_pe_get_info(pe)->size_of_headers, im.lay.size_of_headers);
	assert_memory_equal(p + tail + 40, "NB10", 4);
	assert_int_equal(rd32(p + ent + 24), tail + 40);
	assert_memory_equal(p + tail, ".bpf", 4);
	bp_pe_close(pe);
	bp_pe_close(im.pe);

	/* A byte no debug entry accounts for: left alone, and the add is refused. */
	im.data[tail + 30] = 0x99;
	assert_int_equal(bp_pe_open_mem(im.data, im.len, "junk.efi", &im.pe, &d), 0);
	unlink(out_path);
	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".bpf", blob, sizeof(blob), false, &d),
			 BP_ERR_UNSUPPORTED);
	assert_string_equal(d.msg, "no room for another section header: the bytes after the "
				   "section table are in use");
	assert_int_equal(access(out_path, F_OK), -1);
	drop(&im);
}

/* Removing what was just added gives the original bytes back (aligned SizeOfImage, room). */
static void test_add_remove_round_trip(void **state)
{
	static const uint8_t blob[5000] = { 9 };
	struct pe_gen_opts o;
	struct image im, again;
	struct bp_diag d;
	uint8_t *added, *back;
	size_t added_len, back_len;

	(void)state;
	pe_gen_defaults(&o);
	o.debug_dir = true;
	o.overlay = 33;
	o.checksum = true;
	make(&im, &o);
	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".bpf", blob, sizeof(blob), false, &d), 0);
	added = slurp(out_path, &added_len);
	assert_int_equal(bp_pe_open_mem(added, added_len, "added.efi", &again.pe, &d), 0);
	assert_int_equal(edit(&again, BP_PE_REMOVE_SECTION, ".bpf", NULL, 0, false, &d), 0);
	back = slurp(out_path, &back_len);
	assert_int_equal(back_len, im.len);
	assert_memory_equal(back, im.data, im.len);
	bp_pe_close(again.pe);
	free(added);
	free(back);
	drop(&im);
}

static void test_replace(void **state)
{
	static uint8_t big[0x3000], small[10];
	struct pe_gen_opts o;
	struct image im;
	struct bp_diag d;
	struct bp_pe *pe;
	size_t len;

	(void)state;
	memset(big, 0xab, sizeof(big));
	memset(small, 0xcd, sizeof(small));
	pe_gen_defaults(&o);
	o.n_sections = 3;
	o.sections[2] = (struct pe_gen_section){ ".rodata", 0x100, 0x200, PE_GEN_SCN_RODATA, 0x11 };
	o.overlay = 8;
	make(&im, &o);
	/* .data is not last: it cannot grow past .rodata's address. */
	assert_int_equal(edit(&im, BP_PE_REPLACE_SECTION, ".data", big, sizeof(big), false, &d),
			 BP_ERR_TOOBIG);
	assert_non_null(strstr(d.msg, "do not fit before the next section"));
	/* Shrinking .data moves .rodata's file data up, not its address. */
	assert_int_equal(edit(&im, BP_PE_REPLACE_SECTION, ".data", small, sizeof(small), false, &d),
			 0);
	pe = reopen();
	const struct bp_pe_info *in = bp_pe_get_info(pe);
	const uint8_t *p = bp_pe_data(pe, &len);

	assert_int_equal(bp_pe_section_at(pe, 1)->virtual_size, sizeof(small));
	assert_int_equal(bp_pe_section_at(pe, 1)->raw_size, o.file_align);
	assert_memory_equal(p + bp_pe_section_at(pe, 1)->raw_offset, small, sizeof(small));
	assert_int_equal(bp_pe_section_at(pe, 2)->virtual_address, im.lay.sect_va[2]);
	assert_int_equal(bp_pe_section_at(pe, 2)->raw_offset,
			 im.lay.sect_raw_ptr[2] - (im.lay.sect_raw_size[1] - o.file_align));
	assert_memory_equal(p + bp_pe_section_at(pe, 2)->raw_offset, im.data + im.lay.sect_raw_ptr[2], 0x200);
	bp_pe_close(pe);
	/* The last section may grow: SizeOfImage follows. */
	assert_int_equal(edit(&im, BP_PE_REPLACE_SECTION, ".rodata", big, sizeof(big), false, &d), 0);
	pe = reopen();
	in = bp_pe_get_info(pe);
	assert_int_equal(in->size_of_image, im.lay.sect_va[2] + 0x3000);
	bp_pe_close(pe);
	drop(&im);
}

static void test_signed_and_bad_edits(void **state)
{
	static const uint8_t blob[16];
	struct pe_gen_opts o;
	struct image im;
	struct bp_diag d;
	struct bp_pe *pe;
	size_t len;

	(void)state;
	unlink(out_path);
	pe_gen_defaults(&o);
	o.cert_size = 600;
	o.overlay = 24;
	make(&im, &o);
	assert_true(bp_pe_get_info(im.pe)->has_certificates);
	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".bpf", blob, sizeof(blob), false, &d),
			 BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "the image is signed (certificate table of 600 bytes)"));
	assert_int_equal(access(out_path, F_OK), -1);
	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".bpf", blob, sizeof(blob), true, &d), 0);
	pe = reopen();
	const struct bp_pe_info *in = bp_pe_get_info(pe);
	const uint8_t *p = bp_pe_data(pe, &len);

	assert_false(in->has_certificates);
	assert_int_equal(in->dirs[BP_PE_DIR_SECURITY].address, 0);
	assert_int_equal(in->overlay_size, 24);
	assert_memory_equal(p + len - 24, im.data + im.lay.overlay_offset, 24);
	bp_pe_close(pe);

	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".toolong9", blob, 1, true, &d),
			 BP_ERR_INVALID);
	assert_string_equal(d.msg, "section name '.toolong9' must be 1 to 8 bytes (PE section "
				   "headers hold 8)");
	assert_int_equal(edit(&im, BP_PE_ADD_SECTION, ".data", blob, 1, true, &d), BP_ERR_INVALID);
	assert_string_equal(d.msg, "a section named '.data' already exists");
	assert_int_equal(edit(&im, BP_PE_REMOVE_SECTION, ".nope", NULL, 0, true, &d),
			 BP_ERR_NOTFOUND);
	assert_string_equal(d.msg, "no section named '.nope'");
	assert_int_equal(edit(&im, BP_PE_REMOVE_SECTION, ".text", NULL, 0, true, &d),
			 BP_ERR_UNSUPPORTED);
	assert_string_equal(d.msg, "section '.text' holds the entry point");
	drop(&im);
}

/* An arm64-looking Image: only the header magic matters to the check. */
static void fake_image(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7);
	memcpy(p + 0x38, "ARM\x64", 4);
}

static int failing_sink(void *ctx, const void *p, size_t n)
{
	(void)p;
	(void)n;
	return *(int *)ctx;
}

/* The same bytes into a buffer (appended); a callback's error comes back as is. */
static void zboot_to_sinks(const struct bp_pe *pe, const uint8_t *want, size_t len)
{
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink to_buf = BP_SINK_BUF_INIT(&buf, "memory");
	int err = BP_ERR_TOOBIG;
	struct bp_sink to_fn = BP_SINK_FN_INIT(failing_sink, &err, "callback");
	struct bp_diag d;
	uint64_t written = 0;

	assert_int_equal(bp_buf_append(&buf, "ab", 2), 0);
	assert_int_equal(bp_zboot_extract_to(pe, &to_buf, 0, NULL, &written, &d), 0);
	assert_int_equal(written, len);
	assert_int_equal(buf.len, len + 2);
	assert_memory_equal(buf.data + 2, want, len);
	bp_buf_free(&buf);
	assert_int_equal(bp_zboot_extract_to(pe, &to_fn, 0, NULL, NULL, &d), BP_ERR_TOOBIG);
	assert_string_equal(d.path, "callback");
}

static void test_zboot_extract(void **state)
{
	static uint8_t kernel[100000], packed[120000];
	struct pe_gen_opts o;
	struct image im;
	struct bp_diag d;
	enum bp_kernel_kind kind;
	uint64_t written;
	uLongf glen = sizeof(packed);
	size_t zlen, got_len;
	uint8_t *got;

	(void)state;
	fake_image(kernel, sizeof(kernel));
	/* zstd with the le32 size after the stream, as Makefile.zboot writes it. */
	zlen = ZSTD_compress(packed, sizeof(packed) - 4, kernel, sizeof(kernel), 3);
	assert_false(ZSTD_isError(zlen));
	packed[zlen] = sizeof(kernel) & 0xff;
	packed[zlen + 1] = (sizeof(kernel) >> 8) & 0xff;
	packed[zlen + 2] = (sizeof(kernel) >> 16) & 0xff;
	packed[zlen + 3] = 0;
	pe_gen_defaults(&o);
	o.flat = true;
	o.zboot_comp = "zstd22";
	o.payload = packed;
	o.payload_len = zlen + 4;
	assert_int_equal(pe_gen_build(&o, &im.data, &im.len, &im.lay), 0);
	/* The header's size covers the stream only. */
	im.data[0x0c] = (uint8_t)zlen;
	im.data[0x0d] = (uint8_t)(zlen >> 8);
	im.data[0x0e] = (uint8_t)(zlen >> 16);
	assert_int_equal(bp_pe_open_mem(im.data, im.len, "z.efi", &im.pe, &d), 0);
	assert_int_equal(bp_zboot_extract(im.pe, out_path, 0, &kind, &written, &d), 0);
	assert_int_equal(kind, BP_KERNEL_ARM64);
	assert_int_equal(written, sizeof(kernel));
	got = slurp(out_path, &got_len);
	assert_int_equal(got_len, sizeof(kernel));
	assert_memory_equal(got, kernel, sizeof(kernel));
	free(got);
	unlink(out_path);
	zboot_to_sinks(im.pe, kernel, sizeof(kernel));
	/* A cap below the declared size is refused before decompressing. */
	assert_int_equal(bp_zboot_extract(im.pe, out_path, 4096, NULL, NULL, &d), BP_ERR_TOOBIG);
	assert_string_equal(d.msg, "zboot: the payload declares 100000 decompressed bytes, more "
				   "than the limit of 4096");
	bp_pe_close(im.pe);
	/* A size field that lies: ZSTD_compress() wrote the true size in the frame header. */
	im.data[im.lay.zboot_payload_offset + zlen] ^= 1;
	assert_int_equal(bp_pe_open_mem(im.data, im.len, "z.efi", &im.pe, &d), 0);
	assert_int_equal(bp_zboot_extract(im.pe, out_path, 0, NULL, NULL, &d), BP_ERR_FORMAT);
	assert_string_equal(d.msg, "zboot: the zstd frame header says 100000 decompressed bytes "
				   "(Frame_Content_Size), but the size after the stream says 100001");
	assert_int_equal(access(out_path, F_OK), -1);
	drop(&im);

	/* gzip of something that is not a kernel. */
	memset(kernel, 0, sizeof(kernel));
	assert_int_equal(compress2(packed, &glen, kernel, sizeof(kernel), 6), Z_OK);
	{
		/* zlib's compress2 writes zlib format: wrap a raw gzip stream instead. */
		z_stream z = { 0 };

		assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = kernel;
		z.avail_in = sizeof(kernel);
		z.next_out = packed;
		z.avail_out = sizeof(packed);
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		glen = z.total_out;
		deflateEnd(&z);
	}
	pe_gen_defaults(&o);
	o.zboot_comp = "gzip";
	o.payload = packed;
	o.payload_len = glen;
	make(&im, &o);
	assert_int_equal(bp_zboot_extract(im.pe, out_path, 0, NULL, NULL, &d), BP_ERR_FORMAT);
	assert_string_equal(d.msg, "zboot: the payload (100000 bytes) is not an arm64, riscv or "
				   "LoongArch kernel Image (no magic at 0x38)");
	assert_int_equal(access(out_path, F_OK), -1);
	drop(&im);
}

static void test_refused_headers(void **state)
{
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe *pe;
	struct bp_diag d;
	char want[100];

	(void)state;
	pe_gen_defaults(&o);
	assert_int_equal(pe_gen_build(&o, &im.data, &im.len, &im.lay), 0);
	/* e_lfanew inside the DOS header, past EOF; the PE signature; the optional header. */
	im.data[0x3c] = 0x20;
	assert_int_equal(bp_pe_open_mem(im.data, im.len, "x.efi", &pe, &d), BP_ERR_FORMAT);
	assert_string_equal(d.msg, "e_lfanew 0x20 points inside the 64-byte DOS header");
	im.data[0x3c] = 0xf0;
	im.data[0x3f] = 0x7f;
	assert_int_equal(bp_pe_open_mem(im.data, im.len, "x.efi", &pe, &d), BP_ERR_RANGE);
	snprintf(want, sizeof(want), "e_lfanew 0x7f0000f0 is past the end of the file (0x%zx)",
		 im.len);
	assert_string_equal(d.msg, want);
	assert_int_equal(bp_pe_open_mem(im.data, 10, "x.efi", &pe, &d), BP_ERR_FORMAT);
	assert_string_equal(d.msg, "not a PE image: file is 10 bytes, shorter than the 64-byte "
				   "DOS header");
	free(im.data);
}

/* An image view over @buf, as the reader keeps it; only the gate looks at it. */
static struct bp_pe gate_view(uint8_t *buf, size_t len)
{
	return (struct bp_pe){ .name = (char *)"gate.efi", .file = { buf, len, len } };
}

/* Ranges that end exactly at the end of the file, and one byte past it. */
static void test_gate_end_of_file(void **state)
{
	uint8_t buf[16];
	struct bp_pe pe = gate_view(buf, sizeof(buf));

	(void)state;
	assert_ptr_equal(bpi_pe_bytes(&pe, 0, 16), buf);
	assert_ptr_equal(bpi_pe_bytes(&pe, 12, 4), buf + 12);
	assert_ptr_equal(bpi_pe_bytes(&pe, 15, 1), buf + 15);
	assert_null(bpi_pe_bytes(&pe, 13, 4));
	assert_null(bpi_pe_bytes(&pe, 16, 1));
	assert_null(bpi_pe_bytes(&pe, 0, 17));
}

/* Zero bytes are inside the file up to and including its end, not past it. */
static void test_gate_zero_length(void **state)
{
	uint8_t buf[16];
	struct bp_pe pe = gate_view(buf, sizeof(buf)), empty = gate_view(NULL, 0);

	(void)state;
	assert_ptr_equal(bpi_pe_bytes(&pe, 0, 0), buf);
	assert_ptr_equal(bpi_pe_bytes(&pe, 16, 0), buf + 16);
	assert_null(bpi_pe_bytes(&pe, 17, 0));
	assert_null(bpi_pe_bytes(&empty, 0, 0));
	assert_null(bpi_pe_bytes(&empty, 0, 1));
}

/* Offset and length whose sum wraps to a small number must not pass as inside. */
static void test_gate_overflow(void **state)
{
	uint8_t buf[16];
	struct bp_pe pe = gate_view(buf, sizeof(buf));

	(void)state;
	assert_null(bpi_pe_bytes(&pe, UINT64_MAX, 2));
	assert_null(bpi_pe_bytes(&pe, 2, UINT64_MAX - 1));
	assert_null(bpi_pe_bytes(&pe, 1, UINT64_MAX));
	assert_null(bpi_pe_bytes(&pe, 8, UINT64_MAX - 7));
	assert_null(bpi_pe_bytes(&pe, 0, UINT64_MAX));
	assert_false(bpi_range_ok(16, 8, UINT64_MAX - 3));
	assert_true(bpi_range_ok(UINT64_MAX, UINT64_MAX - 1, 1));
	assert_false(bpi_range_ok(UINT64_MAX, UINT64_MAX - 1, 2));
}

/* Offsets far past any file: 32-bit fields times entry sizes, 64-bit sums. */
static void test_gate_huge_offsets(void **state)
{
	uint8_t buf[16];
	struct bp_pe pe = gate_view(buf, sizeof(buf));

	(void)state;
	assert_null(bpi_pe_bytes(&pe, UINT32_MAX, 1));
	assert_null(bpi_pe_bytes(&pe, (uint64_t)UINT32_MAX + 1, 0));
	assert_null(bpi_pe_bytes(&pe, 1ULL << 40, 4));
	assert_null(bpi_pe_bytes(&pe, UINT64_MAX, 0));
	assert_null(bpi_pe_bytes(&pe, 0, (uint64_t)65535 * 40));
}

/* The readers give the value when all its bytes are there, and leave it alone otherwise. */
static void test_gate_readers(void **state)
{
	uint8_t buf[10] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa };
	struct bp_pe pe = gate_view(buf, sizeof(buf));
	uint16_t v16 = 7;
	uint32_t v32 = 7;
	uint64_t v64 = 7;

	(void)state;
	assert_true(bpi_pe_le16(&pe, 8, &v16));
	assert_int_equal(v16, 0xaa99);
	assert_true(bpi_pe_le32(&pe, 6, &v32));
	assert_int_equal(v32, 0xaa998877);
	assert_true(bpi_pe_le64(&pe, 2, &v64));
	assert_true(v64 == 0xaa99887766554433ULL);
	v16 = 7;
	v32 = 7;
	v64 = 7;
	assert_false(bpi_pe_le16(&pe, 9, &v16));
	assert_false(bpi_pe_le32(&pe, 7, &v32));
	assert_false(bpi_pe_le64(&pe, 3, &v64));
	assert_false(bpi_pe_le32(&pe, UINT64_MAX - 1, &v32));
	assert_int_equal(v16, 7);
	assert_int_equal(v32, 7);
	assert_true(v64 == 7);
}

static void test_gate_error_message(void **state)
{
	uint8_t buf[8];
	struct bp_pe pe = gate_view(buf, sizeof(buf));
	struct bp_diag d;

	(void)state;
	assert_int_equal(bpi_pe_range_error(&pe, &d, "the section table", 0x10, 40), BP_ERR_RANGE);
	assert_string_equal(d.path, "gate.efi");
	assert_string_equal(d.msg, "the section table at offset 0x10 (40 bytes) lies outside the "
			    "file (size 8)");
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(out_path, sizeof(out_path), "%s/out.efi", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(out_path);
	return rmdir(dir);
}

/* An edit into a buffer or a pipe gives the bytes of an edit into a file; sizes are checked. */
static void test_edit_outputs(void **state)
{
	static const uint8_t blob[100] = { 1, 2, 3 };
	struct pe_gen_opts o;
	struct image im;
	struct bp_pe_edit e = BP_PE_EDIT_INIT;
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink to_buf = BP_SINK_BUF_INIT(&buf, "memory");
	struct bp_diag d;
	struct bp_pe *pe;
	uint8_t *want, *got;
	size_t len;
	int pipefd[2], fd;
	struct {
		struct bp_pe_edit e;
		uint64_t newer_field;
	} big = { .e = BP_PE_EDIT_INIT, .newer_field = 1 };

	(void)state;
	pe_gen_defaults(&o);
	o.debug_dir = true;
	make(&im, &o);
	e.op = BP_PE_ADD_SECTION;
	e.name = ".bpf";
	e.data = blob;
	e.len = sizeof(blob);
	assert_int_equal(bp_pe_edit(im.pe, &e, out_path, &d), 0);
	want = slurp(out_path, &len);
	assert_int_equal(bp_pe_edit_to(im.pe, &e, &to_buf, &d), 0);
	assert_int_equal(buf.len, len);
	assert_memory_equal(buf.data, want, len);
	assert_int_equal(pipe(pipefd), 0);
	struct bp_sink to_pipe = BP_SINK_FD_INIT(pipefd[1], "pipe");

	assert_int_equal(bp_pe_edit_to(im.pe, &e, &to_pipe, &d), 0);
	close(pipefd[1]);
	got = malloc(len + 1);
	assert_non_null(got);
	assert_int_equal(read(pipefd[0], got, len + 1), (ssize_t)len);
	assert_memory_equal(got, want, len);
	close(pipefd[0]);
	/* Reading from an fd gives the same image. */
	fd = open(out_path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(bp_pe_open_fd(fd, "fd.efi", &pe, &d), 0);
	close(fd);
	assert_int_equal(bp_pe_get_info(pe)->n_sections, im.lay.n_sections + 1);
	assert_string_equal(bp_pe_section_at(pe, im.lay.n_sections)->name, ".bpf");
	assert_null(bp_pe_section_at(pe, im.lay.n_sections + 1));
	bp_pe_close(pe);
	/* Too small a size, a field this library does not know. */
	e.size = 4;
	assert_int_equal(bp_pe_edit(im.pe, &e, out_path, &d), BP_ERR_INVALID);
	assert_non_null(strstr(d.msg, "bp_pe_edit: size 4 is smaller"));
	big.e = e;
	big.e.size = sizeof(big);
	assert_int_equal(bp_pe_edit(im.pe, &big.e, out_path, &d), BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "unknown to this library version"));
	big.newer_field = 0;
	buf.len = 0;
	assert_int_equal(bp_pe_edit_to(im.pe, &big.e, &to_buf, &d), 0);
	assert_memory_equal(buf.data, want, len);
	free(want);
	free(got);
	bp_buf_free(&buf);
	drop(&im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_matches_layout),
		cmocka_unit_test(test_add_roomy_and_tight),
		cmocka_unit_test(test_header_tail_moves_with_debug_entry),
		cmocka_unit_test(test_add_remove_round_trip),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_signed_and_bad_edits),
		cmocka_unit_test(test_zboot_extract),
		cmocka_unit_test(test_edit_outputs),
		cmocka_unit_test(test_refused_headers),
		cmocka_unit_test(test_gate_end_of_file),
		cmocka_unit_test(test_gate_zero_length),
		cmocka_unit_test(test_gate_overflow),
		cmocka_unit_test(test_gate_huge_offsets),
		cmocka_unit_test(test_gate_readers),
		cmocka_unit_test(test_gate_error_message),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
