// SPDX-License-Identifier: MIT
/*
 * The pieces of bp_uki_build(): the SBAT merge, kernel release scraping, the
 * stub version, the CheckSum sum taken apart and put together again, and
 * the layout arithmetic on pe_gen stubs (independent of lib/pe): alignment
 * of added sections, header growth, and the stub that cannot grow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pe_gen.h"
#include "uki/uki_build_internal.h"

#define HDR "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"

static void merged(const char *const *t, size_t n, const char *want)
{
	size_t lens[8], len;
	char *out;

	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(t[i]);
	assert_int_equal(bpi_sbat_merge(t, lens, n, &out, &len), 0);
	assert_int_equal(len, strlen(want) + 1);
	assert_memory_equal(out, want, len);   /* the NUL included */
	free(out);
}

static void test_sbat_merge(void **state)
{
	const char *stub = HDR "systemd,1,The systemd Developers,systemd,252,https://systemd.io/\n";
	const char *crlf = "sbat,1,x\r\nlinux,1,Debian,linux,6.1,u\r\n\r\n";
	const char *bare = "a,1,A,a,1,u\nb,1,B,b,1,u";
	const char *t[] = { stub, crlf, bare };

	(void)state;
	merged(t, 3, HDR "systemd,1,The systemd Developers,systemd,252,https://systemd.io/\n"
		     "linux,1,Debian,linux,6.1,u\na,1,A,a,1,u\nb,1,B,b,1,u\n");
	merged(NULL, 0, HDR);
}

static void test_sbat_section_padding(void **state)
{
	/* A section's data: NUL-padded to its raw size. */
	static const char sec[] = HDR "s,1,S,s,1,u\n\0\0\0\0";
	const char *t[] = { sec };
	size_t lens[] = { sizeof(sec) - 1 }, len;
	char *out;

	(void)state;
	assert_int_equal(bpi_sbat_merge(t, lens, 1, &out, &len), 0);
	assert_string_equal(out, HDR "s,1,S,s,1,u\n");
	assert_int_equal(len, sizeof(HDR "s,1,S,s,1,u\n"));
	free(out);
}

static void banner(const char *text, int want_ret, const char *want)
{
	char out[BPI_UNAME_MAX + 1] = "";

	assert_int_equal(bpi_uname_banner((const uint8_t *)text, strlen(text), out), want_ret);
	if (!want_ret)
		assert_string_equal(out, want);
}

static void test_uname_banner(void **state)
{
	char long_rel[200];

	(void)state;
	banner("..Linux version %s (%s)..Linux version 6.1.0-13-arm64 (debian-kernel@lists) #1",
	       0, "6.1.0-13-arm64");
	banner("Linux version 6.12.0 (x", 0, "6.12.0");
	banner("Linux version 6.1.0-13-arm64", BP_ERR_NOTFOUND, NULL);  /* no " (": cut short */
	banner("Linux version 6.1.0-13-arm64 ", BP_ERR_NOTFOUND, NULL);
	banner("Linux version ", BP_ERR_NOTFOUND, NULL);
	banner("Linux version v6.1 (x", BP_ERR_NOTFOUND, NULL);
	banner("", BP_ERR_NOTFOUND, NULL);
	memcpy(long_rel, "Linux version 6.", 16);
	memset(long_rel + 16, 'a', 100);
	memcpy(long_rel + 116, " (x", 4);
	banner(long_rel, BP_ERR_NOTFOUND, NULL);   /* longer than a utsname release */
}

static void test_uname_setup_header(void **state)
{
	static const char ver[] = "6.1.0-28-amd64 (debian-kernel@lists.debian.org) #1 SMP";
	uint8_t img[0x400] = { 0 };
	char out[BPI_UNAME_MAX + 1];

	(void)state;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x20e] = 0x00;
	img[0x20f] = 0x01;   /* 0x200 + 0x100 */
	memcpy(img + 0x300, ver, sizeof(ver));
	assert_int_equal(bpi_uname_setup_header(img, sizeof(img), out), 0);
	assert_string_equal(out, "6.1.0-28-amd64");
	/* The pointer past the end, the image shorter than the header, no magic. */
	img[0x20f] = 0x02;
	assert_int_equal(bpi_uname_setup_header(img, sizeof(img), out), BP_ERR_NOTFOUND);
	assert_int_equal(bpi_uname_setup_header(img, 0x20f, out), BP_ERR_NOTFOUND);
	img[0x20f] = 0x01;
	img[0x202] = 'h';
	assert_int_equal(bpi_uname_setup_header(img, sizeof(img), out), BP_ERR_NOTFOUND);
}

static void test_stub_major(void **state)
{
	static const char v257[] = "xx#### LoaderInfo: systemd-stub 257.1 ####";
	static const char cut[] = "#### LoaderInfo: systemd-stub ";

	(void)state;
	assert_int_equal(bpi_stub_major((const uint8_t *)v257, sizeof(v257) - 1), 257);
	assert_int_equal(bpi_stub_major((const uint8_t *)cut, sizeof(cut) - 1), 0);
	assert_int_equal(bpi_stub_major((const uint8_t *)"systemd-boot 252", 16), 0);
}

/* Sums taken apart at even offsets and added give what one pass over the whole gives. */
static void test_csum_in_pieces(void **state)
{
	size_t n = 200003;
	uint8_t *p = malloc(n);
	struct bpi_pe_csum whole = { 0, 0 }, parts = { 0, 0 };
	uint64_t naive = 0;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t i = 0; i + 1 < n; i += 2)
		naive += p[i] | (uint32_t)p[i + 1] << 8;
	naive += p[n - 1];
	bpi_pe_csum_add(&whole, p, n);
	assert_true(whole.sum == naive);
	for (size_t at = 0, k = 1; at < n; k = k * 7 + 3) {
		size_t len = n - at < k % 70000 * 2 + 2 ? n - at : k % 70000 * 2 + 2;
		struct bpi_pe_csum one = { 0, 0 };

		bpi_pe_csum_add(&one, p + at, len);
		parts.sum += one.sum;
		parts.len += len;
		at += len;
	}
	assert_int_equal(bpi_pe_csum_final(&parts), bpi_pe_csum_final(&whole));
	free(p);
}

static struct bp_pe *stub_of(struct pe_gen_opts *o, struct pe_gen_layout *lay)
{
	uint8_t *img;
	size_t len;
	struct bp_pe *pe;
	struct bp_diag d;

	assert_int_equal(pe_gen_build(o, &img, &len, lay), 0);
	assert_int_equal(bp_pe_open_mem(img, len, "stub", &pe, &d), 0);
	free(img);
	return pe;
}

static void mem_sec(struct bpi_uki_sec *s, struct bpi_uki_part *part, const char *name,
		    uint64_t size)
{
	static const uint8_t bytes[0x1000];

	memset(s, 0, sizeof(*s));
	memset(part, 0, sizeof(*part));
	strcpy(s->name, name);
	part->fd = -1;
	part->mem = bytes;
	part->len = size;
	s->parts = part;
	s->n_parts = 1;
	s->size = size;
}

static void test_layout_alignment(void **state)
{
	struct pe_gen_opts o;
	struct pe_gen_layout lay;
	struct bpi_uki_sec secs[3];
	struct bpi_uki_part parts[3];
	struct bpi_uki_layout l;
	struct bp_diag d;
	struct bp_pe *pe;
	const uint64_t sizes[] = { 1, 0x200, 0x201 };

	(void)state;
	pe_gen_defaults(&o);
	o.spare_headers = 3;   /* no growth here */
	pe = stub_of(&o, &lay);
	for (int i = 0; i < 3; i++)
		mem_sec(&secs[i], &parts[i], i ? ".b" : ".a", sizes[i]);
	assert_int_equal(bpi_uki_layout(pe, secs, 3, NULL, 0, false, &l, &d), 0);
	/* After .data (VA + VirtualSize), each next at the previous end rounded to 0x1000. */
	assert_int_equal(secs[0].va, 0x1000 * ((lay.sect_va[1] + lay.sect_vsize[1] + 0xfff) / 0x1000));
	assert_int_equal(secs[1].va, secs[0].va + 0x1000);
	assert_int_equal(secs[2].va, secs[1].va + 0x1000);
	assert_int_equal(secs[0].raw_off, lay.sect_raw_ptr[1] + lay.sect_raw_size[1]);
	assert_int_equal(secs[0].raw_size, 0x200);
	assert_int_equal(secs[1].raw_size, 0x200);
	assert_int_equal(secs[2].raw_size, 0x400);
	assert_int_equal(secs[2].raw_off, secs[0].raw_off + 0x400);
	assert_int_equal(l.file_size, secs[2].raw_off + 0x400);
	assert_int_equal(l.soh, lay.size_of_headers);
	assert_int_equal(bpi_get_le32(l.hdr + lay.opt_offset + PE_OPT_SIZE_OF_IMAGE),
			 secs[2].va + 0x1000);
	bpi_uki_layout_free(&l);
	bp_pe_close(pe);
}

static void test_layout_grows_or_refuses(void **state)
{
	struct pe_gen_opts o;
	struct pe_gen_layout lay;
	struct bpi_uki_sec secs[4];
	struct bpi_uki_part parts[4];
	struct bpi_uki_layout l;
	struct bp_diag d;
	struct bp_pe *pe;

	(void)state;
	for (int i = 0; i < 4; i++)
		mem_sec(&secs[i], &parts[i], ".x", 16);
	pe_gen_defaults(&o);
	o.tight_headers = true;
	pe = stub_of(&o, &lay);
	assert_int_equal(bpi_uki_layout(pe, secs, 4, NULL, 0, false, &l, &d), 0);
	assert_int_equal(l.soh, lay.size_of_headers + 0x200);
	/* The stub's sections moved down by as much. */
	assert_int_equal(bpi_get_le32(l.hdr + lay.sect_table_offset + 20),
			 lay.sect_raw_ptr[0] + 0x200);
	assert_int_equal(bpi_get_le16(l.hdr + lay.coff_offset + 2), lay.n_sections + 4);
	bpi_uki_layout_free(&l);
	bp_pe_close(pe);

	o.section_align = 0x200;   /* the first section right after the headers */
	pe = stub_of(&o, &lay);
	assert_int_equal(bpi_uki_layout(pe, secs, 4, NULL, 0, false, &l, &d), BP_ERR_TOOBIG);
	assert_non_null(strstr(d.msg, "first section starts at RVA 0x200"));
	assert_null(l.hdr);
	bp_pe_close(pe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sbat_merge),
		cmocka_unit_test(test_sbat_section_padding),
		cmocka_unit_test(test_uname_banner),
		cmocka_unit_test(test_uname_setup_header),
		cmocka_unit_test(test_stub_major),
		cmocka_unit_test(test_csum_in_pieces),
		cmocka_unit_test(test_layout_alignment),
		cmocka_unit_test(test_layout_grows_or_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
