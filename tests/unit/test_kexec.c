// SPDX-License-Identifier: MIT
/*
 * lib/kexec: the envelope reader on hand-built ELF files (this file's own
 * builder, not lib/kexec's layout code) and the writer/reader round trip.
 * The CLI tests (tests/cli/test_kexec.py) check the exact messages and the
 * layout against readelf and pyelftools; here: return codes, envelopes laid
 * out unlike the reference that must still read, limits at their edges and
 * the struct-size rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bootpack/kexec.h>

#include "pe_gen.h"

static char dir[] = "/tmp/bp-kexec-XXXXXX";

static uint8_t *kernel;
static size_t kernel_len;

struct sec {
	const char *name;
	uint32_t type;          /* 0: SHT_PROGBITS */
	const void *data;
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/*
 * An ELF64 LE ET_EXEC arm64 file: the ELF header, the NULL section header
 * and one header per @s plus .shstrtab at 64, then each section's data in
 * order and the string table last. *@len gets the size.
 */
static uint8_t *build(const struct sec *s, size_t n, size_t *len)
{
	size_t nsh = n + 2, strsz = 1 + strlen(".shstrtab") + 1, off, stroff;
	uint8_t *f;

	for (size_t i = 0; i < n; i++)
		strsz += strlen(s[i].name) + 1;
	off = 64 + nsh * 64;
	/* A section without data (NOBITS) has a size but no file bytes. */
	for (size_t i = 0; i < n; i++)
		off += s[i].data ? s[i].len : 0;
	*len = off + strsz;
	f = calloc(1, *len);
	assert_non_null(f);
	memcpy(f, "\x7f" "ELF\x02\x01\x01", 7);
	put16(f + 16, 2);
	put16(f + 18, 183);
	put32(f + 20, 1);
	put64(f + 40, 64);
	put16(f + 52, 64);
	put16(f + 58, 64);
	put16(f + 60, (uint16_t)nsh);
	put16(f + 62, (uint16_t)(nsh - 1));
	off = 64 + nsh * 64;
	stroff = 1;
	for (size_t i = 0; i <= n; i++) {
		uint8_t *h = f + 64 + (i + 1) * 64;
		const char *name = i < n ? s[i].name : ".shstrtab";

		put32(h, (uint32_t)stroff);
		put32(h + 4, i < n ? (s[i].type ? s[i].type : 1) : 3);
		put64(h + 8, i < n ? 2 : 0);
		put64(h + 24, i < n ? off : *len - strsz);
		put64(h + 32, i < n ? s[i].len : strsz);
		put64(h + 48, 1);
		memcpy(f + *len - strsz + stroff, name, strlen(name));
		stroff += strlen(name) + 1;
		if (i < n && s[i].data && s[i].len) {
			memcpy(f + off, s[i].data, s[i].len);
			off += s[i].len;
		}
	}
	return f;
}

static int open_built(const struct sec *s, size_t n, struct bp_kexec_envelope **e,
		      struct bp_diag *d)
{
	size_t len;
	uint8_t *f = build(s, n, &len);
	int ret = bp_kexec_envelope_open_mem(f, len, "t.elf", e, d);

	free(f);
	return ret;
}

static void test_reordered_and_extra_sections_read(void **state)
{
	static const char cmd[] = "root=/dev/vda";
	static const uint8_t junk[3] = { 1, 2, 3 };
	const struct sec s[] = {
		{ ".note", 7, junk, sizeof(junk) },
		{ ".cmdline", 0, cmd, sizeof(cmd) },
		{ ".bss", 8, NULL, 4096 },            /* NOBITS: takes no file bytes */
		{ ".kernel", 0, kernel, kernel_len },
	};
	struct bp_kexec_envelope *e;
	struct bp_diag d;
	size_t len;

	(void)state;
	assert_int_equal(open_built(s, 4, &e, &d), 0);
	const struct bp_kexec_info *in = bp_kexec_envelope_info(e);

	assert_int_equal(in->size, sizeof(*in));
	assert_int_equal(in->n_sections, 6);
	assert_true(in->kernel.present);
	assert_int_equal(in->kernel.index, 4);
	assert_int_equal(in->kernel.length, kernel_len);
	assert_false(in->initrd.present);
	assert_int_equal(in->cmdline.index, 2);
	assert_false(in->canonical);
	assert_true(in->kernel_zboot);
	assert_string_equal(in->kernel_compression, "gzip");
	assert_false(in->machine_mismatch);
	assert_memory_equal(bp_kexec_envelope_section(e, ".kernel", &len), kernel, kernel_len);
	assert_int_equal(len, kernel_len);
	assert_null(bp_kexec_envelope_section(e, ".initrd", &len));
	assert_int_equal(len, 0);
	assert_null(bp_kexec_envelope_section(e, ".note", &len));
	bp_kexec_envelope_close(e);
}

static void test_codes(void **state)
{
	static const char cmd[] = "x";
	const struct sec s[] = { { ".kernel", 0, kernel, kernel_len }, { ".cmdline", 0, cmd, 2 } };
	struct bp_kexec_envelope *e = (void *)1;
	struct bp_diag d;
	size_t len;
	uint8_t *f = build(s, 2, &len);

	(void)state;
	/* Empty and short: format, not range; *out is NULL on failure. */
	assert_int_equal(bp_kexec_envelope_open_mem(f, 0, "t", &e, &d), BP_ERR_FORMAT);
	assert_null(e);
	assert_int_equal(bp_kexec_envelope_open_mem(f, 63, "t", &e, &d), BP_ERR_FORMAT);
	assert_string_equal(d.path, "t");
	/* Headers cut off: range. */
	assert_int_equal(bp_kexec_envelope_open_mem(f, 64 + 3 * 64, "t", &e, &d), BP_ERR_RANGE);
	/* The string table (last) cut off: range, whoever's data it is. */
	assert_int_equal(bp_kexec_envelope_open_mem(f, len - 1, "t", &e, &d), BP_ERR_RANGE);
	/* .cmdline's NUL replaced: format. */
	f[len - 28 - 1] = 'y'; /* before the 28-byte string table */
	assert_int_equal(bp_kexec_envelope_open_mem(f, len, "t", &e, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "does not end in a NUL byte"));
	free(f);
}

/* The limit is on e_shnum itself: 64 headers read, 65 do not. */
static void test_section_count_limit(void **state)
{
	struct sec s[BP_KEXEC_MAX_SECTIONS];
	char names[BP_KEXEC_MAX_SECTIONS][8];
	struct bp_kexec_envelope *e;
	struct bp_diag d;

	(void)state;
	s[0] = (struct sec){ ".kernel", 0, kernel, kernel_len };
	for (size_t i = 1; i < BP_KEXEC_MAX_SECTIONS; i++) {
		snprintf(names[i], sizeof(names[i]), ".s%zu", i);
		s[i] = (struct sec){ names[i], 0, NULL, 0 };
	}
	/* n + 2 headers: NULL and .shstrtab. */
	assert_int_equal(open_built(s, BP_KEXEC_MAX_SECTIONS - 2, &e, &d), 0);
	assert_int_equal(bp_kexec_envelope_info(e)->n_sections, BP_KEXEC_MAX_SECTIONS);
	bp_kexec_envelope_close(e);
	assert_int_equal(open_built(s, BP_KEXEC_MAX_SECTIONS - 1, &e, &d), BP_ERR_FORMAT);
	assert_string_equal(d.msg, "e_shnum 65: more than 64 sections");
}

/* Empty sections overlap nothing, even at the same offset as another. */
static void test_empty_sections_do_not_overlap(void **state)
{
	const struct sec s[] = {
		{ ".initrd", 0, NULL, 0 },
		{ ".kernel", 0, kernel, kernel_len },
		{ ".cmdline", 0, NULL, 0 },
	};
	struct bp_kexec_envelope *e;
	struct bp_diag d;
	char out[128];
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(open_built(s, 3, &e, &d), 0);
	assert_true(bp_kexec_envelope_info(e)->cmdline.present);
	assert_null(bp_kexec_envelope_section(e, ".cmdline", &len));
	/* An empty .cmdline extracts as an empty file. */
	snprintf(out, sizeof(out), "%s/cmd", dir);
	assert_int_equal(bp_kexec_envelope_extract(e, ".cmdline", out, &d), 0);
	f = fopen(out, "rb");
	assert_non_null(f);
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
	unlink(out);
	assert_int_equal(bp_kexec_envelope_extract(e, ".bss", out, &d), BP_ERR_NOTFOUND);
	assert_int_equal(access(out, F_OK), -1);
	bp_kexec_envelope_close(e);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_write_read_round_trip(void **state)
{
	static const char cmd[] = "console=ttyS0 quiet";
	char kpath[128], ipath[128], epath[128], cpath[128], buf[64];
	struct bp_kexec_envelope_opts o = BP_KEXEC_ENVELOPE_INIT;
	uint8_t initrd[13] = { 9, 8, 7 };
	struct bp_kexec_envelope *e;
	struct bp_diag d;
	size_t len;
	FILE *f;

	(void)state;
	snprintf(kpath, sizeof(kpath), "%s/k.efi", dir);
	snprintf(ipath, sizeof(ipath), "%s/initrd", dir);
	snprintf(epath, sizeof(epath), "%s/e.elf", dir);
	snprintf(cpath, sizeof(cpath), "%s/cmd", dir);
	write_file(kpath, kernel, kernel_len);
	write_file(ipath, initrd, sizeof(initrd));
	o.kernel_path = kpath;
	o.initrd_path = ipath;
	o.cmdline = cmd;
	o.cmdline_len = strlen(cmd);
	if (bp_kexec_envelope_write(&o, epath, &d))
		fail_msg("%s: %s", d.path, d.msg);
	assert_int_equal(bp_kexec_envelope_open(epath, &e, &d), 0);
	const struct bp_kexec_info *in = bp_kexec_envelope_info(e);

	assert_true(in->canonical);
	assert_int_equal(in->machine, 183);
	assert_string_equal(bp_kexec_machine_name(in->machine), "AArch64");
	assert_int_equal(in->kernel.offset, 384);
	assert_int_equal(in->initrd.offset, 384 + kernel_len);
	assert_int_equal(in->cmdline.offset % 8, 0);
	assert_memory_equal(bp_kexec_envelope_section(e, ".initrd", &len), initrd, sizeof(initrd));
	assert_memory_equal(bp_kexec_envelope_section(e, ".cmdline", &len), cmd, sizeof(cmd));
	assert_int_equal(len, sizeof(cmd));
	assert_int_equal(bp_kexec_envelope_extract(e, ".cmdline", cpath, &d), 0);
	f = fopen(cpath, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), strlen(cmd));
	fclose(f);
	assert_memory_equal(buf, cmd, strlen(cmd));
	bp_kexec_envelope_close(e);
	unlink(cpath);
	unlink(epath);

	/* A command line holding a NUL is refused before anything is written. */
	o.cmdline_len = sizeof(cmd);
	assert_int_equal(bp_kexec_envelope_write(&o, epath, &d), BP_ERR_INVALID);
	assert_int_equal(access(epath, F_OK), -1);
	unlink(kpath);
	unlink(ipath);
}

static void test_opts_size_rules(void **state)
{
	struct {
		struct bp_kexec_envelope_opts o;
		uint64_t extra;
	} big = { .o = BP_KEXEC_ENVELOPE_INIT };
	struct bp_kexec_envelope_opts o = BP_KEXEC_ENVELOPE_INIT;
	struct bp_diag d;

	(void)state;
	assert_int_equal(bp_kexec_envelope_write(&o, "/nonexistent/x", &d), BP_ERR_INVALID);
	assert_string_equal(d.msg, "no kernel given");
	o.size = 4;
	assert_int_equal(bp_kexec_envelope_write(&o, "/nonexistent/x", &d), BP_ERR_INVALID);
	big.o.size = sizeof(big);
	big.extra = 1;
	assert_int_equal(bp_kexec_envelope_write(&big.o, "/nonexistent/x", &d),
			 BP_ERR_UNSUPPORTED);
}

static int setup(void **state)
{
	/* The payload is never decompressed here; it only must be there. */
	static const uint8_t payload[64] = { 0x1f, 0x8b };
	struct pe_gen_opts o;

	(void)state;
	pe_gen_defaults(&o);
	o.zboot_comp = "gzip";
	o.payload = payload;
	o.payload_len = sizeof(payload);
	if (pe_gen_build(&o, &kernel, &kernel_len, NULL))
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(kernel);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reordered_and_extra_sections_read),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_section_count_limit),
		cmocka_unit_test(test_empty_sections_do_not_overlap),
		cmocka_unit_test(test_write_read_round_trip),
		cmocka_unit_test(test_opts_size_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
