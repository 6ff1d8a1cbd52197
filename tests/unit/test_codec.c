// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/codec: round trips, container layout as U-Boot reads
 * it, limits, and rejection of truncated, corrupt and trailing data.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>
#include <zlib.h>
#include <zstd.h>

#include <bootpack/codec.h>
#include <bootpack/file.h>
#include <bootpack/hash.h>

#include "codec/codec_impl.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define BIG_LEN (5 * MIB + 12345) /* crosses lz4's 4 MiB and lzo's 256 KiB blocks */
#define PREFIX "PFX"              /* decompress must append after this */
#define PREFIX_LEN 3

struct codec_case {
	enum bp_codec c;
	const uint8_t *magic;
	size_t magic_len;
	bool checksummed; /* a flipped byte must be detected */
	bool concat_ok;   /* concatenated containers decode as one */
};

static const uint8_t gzip_magic[] = { 0x1f, 0x8b, 0x08 };
static const uint8_t bzip2_magic[] = { 'B', 'Z', 'h', '9' };
static const uint8_t lz4_magic[] = { 0x04, 0x22, 0x4d, 0x18 };
static const uint8_t lzma_magic[] = { 0x5d, 0x00, 0x00, 0x80, 0x00, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t lzop_magic[] = { 0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a };
static const uint8_t zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };

static struct codec_case cases[] = {
	{ BP_CODEC_GZIP, gzip_magic, sizeof(gzip_magic), true, false },
	{ BP_CODEC_BZIP2, bzip2_magic, sizeof(bzip2_magic), true, false },
	{ BP_CODEC_LZ4, lz4_magic, sizeof(lz4_magic), true, true },
	{ BP_CODEC_LZMA, lzma_magic, sizeof(lzma_magic), false, false },
	{ BP_CODEC_LZO, lzop_magic, sizeof(lzop_magic), true, false },
	{ BP_CODEC_ZSTD, zstd_magic, sizeof(zstd_magic), true, true },
};

#define GZ (&cases[0])
#define BZ (&cases[1])
#define LZ4 (&cases[2])
#define LZMA (&cases[3])
#define LZO (&cases[4])
#define ZSTD (&cases[5])

/* ---- test data ---- */

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint8_t *make_random(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(xorshift(&seed) >> 24);
	return p;
}

/* Word salad: compresses well, but not to nothing. */
static uint8_t *make_text(size_t n)
{
	static const char *const words[] = { "kernel", "ramdisk", "fdt", "config", "load",
					     "entry", "hash", "signature", "U-Boot", "bootpack",
					     "0x80008000", "sha256" };
	uint8_t *p = malloc(n ? n : 1);
	uint32_t s = 42;
	size_t i = 0, k;

	assert_non_null(p);
	for (unsigned int w = 1; i < n; w++) {
		const char *word = words[xorshift(&s) % 12];
		char sep = w % 11 ? ' ' : '\n';

		for (k = 0; word[k] && i < n; k++)
			p[i++] = (uint8_t)word[k];
		if (i < n)
			p[i++] = (uint8_t)sep;
	}
	return p;
}

/* Overwrite [from, to) with noise so that part does not compress. */
static void scramble(uint8_t *p, size_t from, size_t to, uint32_t seed)
{
	for (size_t i = from; i < to; i++)
		p[i] = (uint8_t)(xorshift(&seed) >> 24);
}

/* ---- helpers ---- */

static void compress_ok(const struct codec_case *cc, const uint8_t *src, size_t n,
			struct bp_buf *out)
{
	struct bp_diag d = { 0 };
	int ret = bp_compress(cc->c, src, n, out, &d);

	if (ret)
		fail_msg("compress %s: %d %s", bp_codec_name(cc->c), ret, d.msg);
}

/* Decompress after PREFIX; returns the error, checks rollback on failure. */
static int decompress(const struct codec_case *cc, const uint8_t *src, size_t n,
		      size_t max_out, struct bp_buf *out, struct bp_diag *d)
{
	int ret;

	bp_buf_free(out);
	assert_int_equal(bp_buf_append(out, PREFIX, PREFIX_LEN), 0);
	bp_diag_clear(d);
	ret = bp_decompress(cc->c, src, n, max_out, out, d);
	assert_memory_equal(out->data, PREFIX, PREFIX_LEN);
	if (ret) {
		assert_int_equal(out->len, PREFIX_LEN);
		assert_true(strlen(d->msg) > 0);
	}
	return ret;
}

static void roundtrip(const struct codec_case *cc, const uint8_t *src, size_t n)
{
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	int ret;

	compress_ok(cc, src, n, &z);
	assert_true(z.len >= cc->magic_len);
	assert_memory_equal(z.data, cc->magic, cc->magic_len);

	ret = decompress(cc, z.data, z.len, n, &out, &d);
	if (ret)
		fail_msg("decompress %s of %zu bytes: %d %s", bp_codec_name(cc->c), n, ret, d.msg);
	assert_int_equal(out.len, PREFIX_LEN + n);
	if (n)
		assert_memory_equal(out.data + PREFIX_LEN, src, n);

	if (n) {
		ret = decompress(cc, z.data, z.len, n - 1, &out, &d);
		assert_int_equal(ret, BP_ERR_TOOBIG);
		assert_non_null(strstr(d.msg, "limit"));
	}
	bp_buf_free(&z);
	bp_buf_free(&out);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* ---- generic tests, one run per codec ---- */

static void test_empty(void **state)
{
	const struct codec_case *cc = *state;
	struct bp_buf a = BP_BUF_INIT, b = BP_BUF_INIT;

	roundtrip(cc, (const uint8_t *)"", 0);
	/* An empty bp_buf has a NULL data pointer: that must work too. */
	compress_ok(cc, NULL, 0, &a);
	compress_ok(cc, (const uint8_t *)"", 0, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	bp_buf_free(&a);
	bp_buf_free(&b);
}

static void test_one_byte(void **state)
{
	roundtrip(*state, (const uint8_t *)"A", 1);
}

static void test_random_1m(void **state)
{
	uint8_t *src = make_random(MIB, 0x12345678);

	roundtrip(*state, src, MIB);
	free(src);
}

static void test_text_5m(void **state)
{
	uint8_t *src = make_text(BIG_LEN);

	roundtrip(*state, src, BIG_LEN);
	free(src);
}

static void test_deterministic(void **state)
{
	const struct codec_case *cc = *state;
	struct bp_buf a = BP_BUF_INIT, b = BP_BUF_INIT;
	size_t n = 700 * KIB;
	uint8_t *src = make_text(n);

	/* Half noise so both compressed and stored paths run. */
	scramble(src, n / 2, n, 7);
	compress_ok(cc, src, n, &a);
	compress_ok(cc, src, n, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	bp_buf_free(&a);
	bp_buf_free(&b);
	free(src);
}

static void test_truncated(void **state)
{
	const struct codec_case *cc = *state;
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	size_t n = 600 * KIB;
	uint8_t *src = make_text(n);

	compress_ok(cc, src, n, &z);
	size_t cuts[] = { 0, 1, 4, 9, 13, 20, 40, z.len / 3, z.len / 2, z.len - 5, z.len - 1 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		assert_true(cuts[i] < z.len);
		if (decompress(cc, z.data, cuts[i], n, &out, &d) != BP_ERR_FORMAT)
			fail_msg("%s cut at %zu of %zu: not BP_ERR_FORMAT (%s)",
				 bp_codec_name(cc->c), cuts[i], z.len, d.msg);
	}
	bp_buf_free(&z);
	bp_buf_free(&out);
	free(src);
}

static void test_flipped_byte(void **state)
{
	const struct codec_case *cc = *state;
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	size_t n = 600 * KIB;
	uint8_t *src = make_text(n);
	int ret;

	compress_ok(cc, src, n, &z);
	for (unsigned int k = 1; k <= 3; k++) {
		size_t at = z.len * k / 4;

		z.data[at] ^= 0x55;
		ret = decompress(cc, z.data, z.len, 2 * n, &out, &d);
		if (cc->checksummed)
			assert_true(ret < 0);
		else
			assert_true(ret < 0 || out.len != PREFIX_LEN + n ||
				    memcmp(out.data + PREFIX_LEN, src, n));
		z.data[at] ^= 0x55;
	}
	bp_buf_free(&z);
	bp_buf_free(&out);
	free(src);
}

static void test_trailing_garbage(void **state)
{
	const struct codec_case *cc = *state;
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	uint8_t *src = make_text(100 * KIB);

	compress_ok(cc, src, 100 * KIB, &z);
	assert_int_equal(bp_buf_append(&z, "GARBAGE!", 8), 0);
	assert_int_equal(decompress(cc, z.data, z.len, 100 * KIB, &out, &d), BP_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "trailing"));
	bp_buf_free(&z);
	bp_buf_free(&out);
	free(src);
}

/* lz4 and zstd take concatenated frames; the others stop U-Boot after one. */
static void test_concatenated(void **state)
{
	const struct codec_case *cc = *state;
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	uint8_t *a = make_text(50 * KIB), *b = make_random(30 * KIB, 99);
	int ret;

	compress_ok(cc, a, 50 * KIB, &z);
	compress_ok(cc, b, 30 * KIB, &z);
	ret = decompress(cc, z.data, z.len, 80 * KIB, &out, &d);
	if (cc->concat_ok) {
		assert_int_equal(ret, 0);
		assert_int_equal(out.len, PREFIX_LEN + 80 * KIB);
		assert_memory_equal(out.data + PREFIX_LEN, a, 50 * KIB);
		assert_memory_equal(out.data + PREFIX_LEN + 50 * KIB, b, 30 * KIB);
		/* The limit covers all frames together. */
		ret = decompress(cc, z.data, z.len, 80 * KIB - 1, &out, &d);
		assert_int_equal(ret, BP_ERR_TOOBIG);
	} else {
		assert_int_equal(ret, BP_ERR_FORMAT);
		assert_non_null(strstr(d.msg, "trailing"));
	}
	bp_buf_free(&z);
	bp_buf_free(&out);
	free(a);
	free(b);
}

static void test_not_compressed(void **state)
{
	const struct codec_case *cc = *state;
	static const char plain[] = "this is plain text, not a compressed container at all";
	struct bp_buf out = BP_BUF_INIT;
	struct bp_diag d = { 0 };

	assert_int_equal(decompress(cc, (const uint8_t *)plain, sizeof(plain), MIB, &out, &d),
			 BP_ERR_FORMAT);
	bp_buf_free(&out);
}

/* Several threads compress at once and must agree with a serial run. */
struct job {
	const uint8_t *src;
	size_t n;
	struct bp_buf out[BP_CODEC_COUNT];
	int ret;
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	for (int c = 0; c < BP_CODEC_COUNT && !j->ret; c++)
		j->ret = bp_compress((enum bp_codec)c, j->src, j->n, &j->out[c], NULL);
	return NULL;
}

static void test_threads(void **state)
{
	enum { NJOBS = 4 };
	struct job jobs[NJOBS + 1];
	pthread_t tid[NJOBS];
	size_t n = 300 * KIB;
	uint8_t *src = make_text(n);

	(void)state;
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i <= NJOBS; i++) {
		jobs[i].src = src;
		jobs[i].n = n;
	}
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, job_run, &jobs[i]), 0);
	job_run(&jobs[NJOBS]);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (int i = 0; i <= NJOBS; i++) {
		assert_int_equal(jobs[i].ret, 0);
		for (int c = 0; c < BP_CODEC_COUNT; c++) {
			assert_int_equal(jobs[i].out[c].len, jobs[NJOBS].out[c].len);
			assert_memory_equal(jobs[i].out[c].data, jobs[NJOBS].out[c].data,
					    jobs[i].out[c].len);
		}
	}
	for (int i = 0; i <= NJOBS; i++)
		for (int c = 0; c < BP_CODEC_COUNT; c++)
			bp_buf_free(&jobs[i].out[c]);
	free(src);
}

/* ---- container details U-Boot depends on ---- */

static void test_gzip_header(void **state)
{
	struct bp_buf z = BP_BUF_INIT;
	uint8_t *src = make_text(70000);

	(void)state;
	compress_ok(GZ, src, 70000, &z);
	/* No FNAME/FEXTRA, mtime 0: reproducible. */
	static const uint8_t hdr[] = { 0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0 };
	assert_memory_equal(z.data, hdr, sizeof(hdr));
	assert_int_equal(le32(z.data + z.len - 4), 70000);
	assert_int_equal(le32(z.data + z.len - 8), crc32(0, src, 70000));
	bp_buf_free(&z);
	free(src);
}

/* Walk the lz4 frame as U-Boot's ulz4fn() does: FLG, BD, blocks, end mark. */
static void test_lz4_frame_layout(void **state)
{
	struct bp_buf z = BP_BUF_INIT;
	uint8_t *src = make_text(BIG_LEN);
	size_t pos = 7, blocks = 0, size;

	(void)state;
	compress_ok(LZ4, src, BIG_LEN, &z);
	/* version 01, independent blocks, no block checksum, content checksum. */
	assert_int_equal(z.data[4], 0x64);
	assert_int_equal(z.data[5], 0x70); /* 4 MiB blocks */
	for (;;) {
		assert_true(pos + 4 <= z.len);
		size = le32(z.data + pos) & 0x7fffffffu;
		pos += 4;
		if (!size)
			break;
		assert_true(size <= 4 * MIB);
		pos += size;
		blocks++;
	}
	assert_int_equal(blocks, 2);
	assert_int_equal(pos + 4, z.len); /* content checksum closes the frame */
	bp_buf_free(&z);
	free(src);
}

static void test_zstd_frame(void **state)
{
	struct bp_buf z = BP_BUF_INIT;
	uint8_t *src = make_text(200 * KIB);

	(void)state;
	compress_ok(ZSTD, src, 200 * KIB, &z);
	assert_true(z.data[4] & 0x04); /* content checksum flag */
	assert_int_equal(ZSTD_getFrameContentSize(z.data, z.len), 200 * KIB);
	assert_int_equal(ZSTD_findFrameCompressedSize(z.data, z.len), z.len);
	bp_buf_free(&z);
	free(src);
}

/* ---- lzop ---- */

#define F_ADLER32_D 0x1u
#define F_ADLER32_C 0x2u
#define F_H_EXTRA_FIELD 0x40u
#define F_CRC32_D 0x100u
#define F_CRC32_C 0x200u
#define F_MULTIPART 0x400u
#define F_H_FILTER 0x800u
#define F_H_CRC32 0x1000u

static void test_lzop_header(void **state)
{
	struct bp_buf z = BP_BUF_INIT;

	(void)state;
	compress_ok(LZO, (const uint8_t *)"x", 1, &z);
	const uint8_t *h = z.data + 9;

	assert_int_equal(h[0] << 8 | h[1], 0x1040);  /* lzop 1.04 */
	assert_int_equal(h[4] << 8 | h[5], 0x0940);  /* version needed */
	assert_int_equal(h[6], 1);                   /* LZO1X-1 */
	assert_int_equal(h[7], 5);                   /* what lzop -3 records */
	assert_int_equal(be32(h + 8), 0x03000001);   /* unix, adler32 of data only */
	assert_int_equal(be32(h + 16), 0);           /* mtime */
	assert_int_equal(be32(h + 20), 0);
	assert_int_equal(h[24], 0);                  /* no name */
	assert_int_equal(be32(h + 25), adler32(1, h, 25));
	bp_buf_free(&z);
}

/*
 * The block walk of U-Boot's lzop_decompress(): fixed header skip, then per
 * block "dlen, slen, one 4-byte checksum, data", raw when slen == dlen.
 */
static int uboot_lzop(const uint8_t *p, size_t len, uint8_t *dst, size_t cap, size_t *got)
{
	const uint8_t *end = p + len;
	size_t done = 0;
	uint32_t version, dlen, slen;
	lzo_uint n;

	if (len < 38 || memcmp(p, lzop_magic, 9))
		return -1;
	version = (uint32_t)(p[9] << 8 | p[10]);
	p += 9 + 7;
	if (version >= 0x0940)
		p++;
	if (be32(p) & F_H_FILTER)
		p += 4;
	p += 12;
	if (version >= 0x0940)
		p += 4;
	p += *p + 1 + 4;
	while (p + 4 <= end) {
		dlen = be32(p);
		if (!dlen) {
			*got = done;
			return p + 4 == end ? 0 : -1;
		}
		if (p + 12 > end)
			return -1;
		slen = be32(p + 4);
		p += 12;
		if (!slen || slen > dlen || dlen > cap - done || slen > (size_t)(end - p))
			return -1;
		n = dlen;
		if (slen == dlen)
			memcpy(dst + done, p, dlen);
		else if (lzo1x_decompress_safe(p, slen, dst + done, &n, NULL) != LZO_E_OK ||
			 n != dlen)
			return -1;
		p += slen;
		done += dlen;
	}
	return -1;
}

static void test_lzop_uboot_walk(void **state)
{
	struct bp_buf z = BP_BUF_INIT;
	size_t n = MIB + 300 * KIB, got = 0;
	uint8_t *src = make_text(n), *dst = malloc(n);

	(void)state;
	assert_non_null(dst);
	scramble(src, 300 * KIB, 600 * KIB, 3); /* a stored block or two */
	compress_ok(LZO, src, n, &z);
	assert_int_equal(uboot_lzop(z.data, z.len, dst, n, &got), 0);
	assert_int_equal(got, n);
	assert_memory_equal(dst, src, n);
	bp_buf_free(&z);
	free(src);
	free(dst);
}

/* 232 bytes of text (see fixture_text()) run through real lzop 1.04. */
static const uint8_t lzop_fixture_default[] = {
	0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0x10, 0x40, 0x20, 0xa0, 0x09,
	0x40, 0x01, 0x05, 0x03, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x81, 0xa4, 0x6b, 0x02, 0x3a,
	0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33, 0x82, 0x03, 0xb3, 0x00, 0x00, 0x00, 0xe8,
	0x00, 0x00, 0x00, 0x44, 0xa2, 0x57, 0x54, 0x10, 0x00, 0x0b, 0x62, 0x6f, 0x6f, 0x74,
	0x70, 0x61, 0x63, 0x6b, 0x20, 0x6c, 0x7a, 0x6f, 0x70, 0x20, 0x66, 0x69, 0x78, 0x74,
	0x75, 0x72, 0x65, 0x20, 0x6c, 0x69, 0x6e, 0x65, 0x20, 0x30, 0x0a, 0x39, 0x71, 0x00,
	0x31, 0x3a, 0x71, 0x00, 0x32, 0x3a, 0x70, 0x00, 0x20, 0x43, 0x58, 0x01, 0x0f, 0x6f,
	0x70, 0x20, 0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x20, 0x6c, 0x69, 0x6e, 0x65,
	0x20, 0x31, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* lzop --crc32: F_H_CRC32 | F_CRC32_D, version needed 1.0.1. */
static const uint8_t lzop_fixture_crc32[] = {
	0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0x10, 0x40, 0x20, 0xa0, 0x10,
	0x01, 0x01, 0x05, 0x03, 0x00, 0x11, 0x0c, 0x00, 0x00, 0x81, 0xa4, 0x6b, 0x02, 0x3a,
	0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5b, 0x05, 0xd5, 0x4e, 0x00, 0x00, 0x00, 0xe8,
	0x00, 0x00, 0x00, 0x44, 0xbc, 0x55, 0x16, 0xad, 0x00, 0x0b, 0x62, 0x6f, 0x6f, 0x74,
	0x70, 0x61, 0x63, 0x6b, 0x20, 0x6c, 0x7a, 0x6f, 0x70, 0x20, 0x66, 0x69, 0x78, 0x74,
	0x75, 0x72, 0x65, 0x20, 0x6c, 0x69, 0x6e, 0x65, 0x20, 0x30, 0x0a, 0x39, 0x71, 0x00,
	0x31, 0x3a, 0x71, 0x00, 0x32, 0x3a, 0x70, 0x00, 0x20, 0x43, 0x58, 0x01, 0x0f, 0x6f,
	0x70, 0x20, 0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x20, 0x6c, 0x69, 0x6e, 0x65,
	0x20, 0x31, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* lzop --no-checksum: no per-block checksum at all. */
static const uint8_t lzop_fixture_nosum[] = {
	0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0x10, 0x40, 0x20, 0xa0, 0x09,
	0x40, 0x01, 0x05, 0x03, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x81, 0xa4, 0x6b, 0x02, 0x3a,
	0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33, 0x74, 0x03, 0xb2, 0x00, 0x00, 0x00, 0xe8,
	0x00, 0x00, 0x00, 0x44, 0x00, 0x0b, 0x62, 0x6f, 0x6f, 0x74, 0x70, 0x61, 0x63, 0x6b,
	0x20, 0x6c, 0x7a, 0x6f, 0x70, 0x20, 0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x20,
	0x6c, 0x69, 0x6e, 0x65, 0x20, 0x30, 0x0a, 0x39, 0x71, 0x00, 0x31, 0x3a, 0x71, 0x00,
	0x32, 0x3a, 0x70, 0x00, 0x20, 0x43, 0x58, 0x01, 0x0f, 0x6f, 0x70, 0x20, 0x66, 0x69,
	0x78, 0x74, 0x75, 0x72, 0x65, 0x20, 0x6c, 0x69, 0x6e, 0x65, 0x20, 0x31, 0x0a, 0x11,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static size_t fixture_text(char *buf)
{
	size_t n = 0;

	for (int i = 0; i < 8; i++)
		n += (size_t)sprintf(buf + n, "bootpack lzop fixture line %d\n", i % 3);
	return n;
}

static void test_lzop_real_fixtures(void **state)
{
	const struct { const uint8_t *p; size_t n; } fx[] = {
		{ lzop_fixture_default, sizeof(lzop_fixture_default) },
		{ lzop_fixture_crc32, sizeof(lzop_fixture_crc32) },
		{ lzop_fixture_nosum, sizeof(lzop_fixture_nosum) },
	};
	struct bp_buf out = BP_BUF_INIT, z = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	char text[300];
	size_t n = fixture_text(text);

	(void)state;
	assert_int_equal(n, 232);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(decompress(LZO, fx[i].p, fx[i].n, n, &out, &d), 0);
		assert_int_equal(out.len, PREFIX_LEN + n);
		assert_memory_equal(out.data + PREFIX_LEN, text, n);
	}
	/* Our blocks are byte for byte those of "lzop -c < input". */
	compress_ok(LZO, (const uint8_t *)text, n, &z);
	assert_int_equal(z.len, sizeof(lzop_fixture_default));
	assert_memory_equal(z.data + 38, lzop_fixture_default + 38, z.len - 38);
	bp_buf_free(&out);
	bp_buf_free(&z);
}

/* Build lzop files with any flag combination, to test the reader. */
struct lzop_spec {
	uint16_t version;
	uint16_t needed;
	uint8_t method;
	uint32_t flags;
	const char *name;
	const char *extra;
};

static void put32(struct bp_buf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	assert_int_equal(bp_buf_append(b, p, 4), 0);
}

static uint32_t spec_sum(const struct lzop_spec *s, const uint8_t *p, size_t n)
{
	return (s->flags & F_H_CRC32) ? (uint32_t)crc32(0, p, (uInt)n) :
					(uint32_t)adler32(1, p, (uInt)n);
}

static void build_header(struct bp_buf *b, const struct lzop_spec *s)
{
	size_t start, nl = strlen(s->name);
	uint8_t v[2];

	assert_int_equal(bp_buf_append(b, lzop_magic, 9), 0);
	start = b->len;
	put32(b, (uint32_t)s->version << 16 | 0x20a0);
	if (s->version >= 0x0940) {
		v[0] = (uint8_t)(s->needed >> 8);
		v[1] = (uint8_t)s->needed;
		assert_int_equal(bp_buf_append(b, v, 2), 0);
	}
	assert_int_equal(bp_buf_append(b, &s->method, 1), 0);
	if (s->version >= 0x0940)
		assert_int_equal(bp_buf_append(b, "\x03", 1), 0);
	put32(b, s->flags);
	if (s->flags & F_H_FILTER)
		put32(b, 1);
	put32(b, 0100644);
	put32(b, 12345);
	if (s->version >= 0x0940)
		put32(b, 0);
	v[0] = (uint8_t)nl;
	assert_int_equal(bp_buf_append(b, v, 1), 0);
	assert_int_equal(bp_buf_append(b, s->name, nl), 0);
	put32(b, spec_sum(s, b->data + start, b->len - start));
	if (s->flags & F_H_EXTRA_FIELD) {
		start = b->len;
		put32(b, (uint32_t)strlen(s->extra));
		assert_int_equal(bp_buf_append(b, s->extra, strlen(s->extra)), 0);
		put32(b, spec_sum(s, b->data + start, b->len - start));
	}
}

static void build_block(struct bp_buf *b, const struct lzop_spec *s, const uint8_t *p,
			size_t n)
{
	uint8_t *tmp = malloc(n + n / 16 + 64 + 3);
	void *wrk = calloc(1, LZO1X_1_MEM_COMPRESS);
	lzo_uint c = 0;

	assert_non_null(tmp);
	assert_non_null(wrk);
	assert_int_equal(lzo1x_1_compress(p, n, tmp, &c, wrk), LZO_E_OK);
	put32(b, (uint32_t)n);
	put32(b, (uint32_t)(c < n ? c : n));
	if (s->flags & F_ADLER32_D)
		put32(b, (uint32_t)adler32(1, p, (uInt)n));
	if (s->flags & F_CRC32_D)
		put32(b, (uint32_t)crc32(0, p, (uInt)n));
	if (c < n && (s->flags & F_ADLER32_C))
		put32(b, (uint32_t)adler32(1, tmp, (uInt)c));
	if (c < n && (s->flags & F_CRC32_C))
		put32(b, (uint32_t)crc32(0, tmp, (uInt)c));
	assert_int_equal(bp_buf_append(b, c < n ? tmp : p, c < n ? c : n), 0);
	free(wrk);
	free(tmp);
}

/* text, random, text: compressed, stored, compressed blocks. */
static uint8_t *spec_input(size_t *n)
{
	uint8_t *p = make_text(256 * KIB * 2 + 1000);

	scramble(p, 256 * KIB, 512 * KIB, 5);
	*n = 256 * KIB * 2 + 1000;
	return p;
}

static void build_lzop(struct bp_buf *b, const struct lzop_spec *s, const uint8_t *p, size_t n)
{
	build_header(b, s);
	for (size_t off = 0; off < n; off += 256 * KIB)
		build_block(b, s, p + off, n - off < 256 * KIB ? n - off : 256 * KIB);
	put32(b, 0);
}

static void test_lzop_reader_flags(void **state)
{
	static const struct lzop_spec ok[] = {
		{ 0x1040, 0x0940, 1, 0x03000000 | F_ADLER32_D, "", "" },
		{ 0x1040, 0x1010, 1, F_ADLER32_D | F_ADLER32_C | F_CRC32_D | F_CRC32_C,
		  "vmlinux", "" },
		{ 0x1040, 0x1010, 2, F_CRC32_D | F_CRC32_C | F_H_CRC32 | F_H_EXTRA_FIELD,
		  "x", "extra field data" },
		{ 0x1040, 0x0940, 3, F_ADLER32_C | F_H_EXTRA_FIELD, "", "" },
		{ 0x1040, 0x0940, 1, 0, "", "" },
		{ 0x0930, 0, 1, F_ADLER32_D, "old.bin", "" }, /* pre-0.94 header */
	};
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	size_t n;
	uint8_t *src = spec_input(&n);

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		bp_buf_free(&z);
		build_lzop(&z, &ok[i], src, n);
		if (decompress(LZO, z.data, z.len, n, &out, &d))
			fail_msg("spec %zu: %s", i, d.msg);
		assert_int_equal(out.len, PREFIX_LEN + n);
		assert_memory_equal(out.data + PREFIX_LEN, src, n);
	}
	bp_buf_free(&z);
	bp_buf_free(&out);
	free(src);
}

static void expect_lzop(const struct lzop_spec *s, int err, const char *needle)
{
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };

	build_lzop(&z, s, (const uint8_t *)"hello hello hello hello", 23);
	assert_int_equal(decompress(LZO, z.data, z.len, MIB, &out, &d), err);
	if (!strstr(d.msg, needle))
		fail_msg("message '%s' lacks '%s'", d.msg, needle);
	bp_buf_free(&z);
	bp_buf_free(&out);
}

static void test_lzop_reader_refuses(void **state)
{
	(void)state;
	expect_lzop(&(struct lzop_spec){ 0x1040, 0x0940, 1, F_ADLER32_D | F_H_FILTER, "", "" },
		    BP_ERR_UNSUPPORTED, "filter");
	expect_lzop(&(struct lzop_spec){ 0x1040, 0x0940, 1, F_ADLER32_D | F_MULTIPART, "", "" },
		    BP_ERR_UNSUPPORTED, "multipart");
	expect_lzop(&(struct lzop_spec){ 0x1040, 0x0940, 1, F_ADLER32_D | 0x4000, "", "" },
		    BP_ERR_FORMAT, "reserved");
	expect_lzop(&(struct lzop_spec){ 0x1040, 0x0940, 7, F_ADLER32_D, "", "" },
		    BP_ERR_UNSUPPORTED, "method");
	expect_lzop(&(struct lzop_spec){ 0x1040, 0x2000, 1, F_ADLER32_D, "", "" },
		    BP_ERR_UNSUPPORTED, "needs lzop");
	expect_lzop(&(struct lzop_spec){ 0x0800, 0, 1, F_ADLER32_D, "", "" }, BP_ERR_FORMAT,
		    "version");
}

/* Patch a built file at @off and expect a format error naming @needle. */
static void expect_patched(size_t off, uint32_t val, const char *needle)
{
	static const struct lzop_spec s = { 0x1040, 0x0940, 1,
					    F_ADLER32_D | F_ADLER32_C | F_CRC32_D, "", "" };
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	struct bp_diag d = { 0 };
	uint8_t *src = make_text(4000);

	build_lzop(&z, &s, src, 4000);
	z.data[off] = (uint8_t)(val >> 24);
	z.data[off + 1] = (uint8_t)(val >> 16);
	z.data[off + 2] = (uint8_t)(val >> 8);
	z.data[off + 3] = (uint8_t)val;
	assert_int_equal(decompress(LZO, z.data, z.len, MIB, &out, &d), BP_ERR_FORMAT);
	if (!strstr(d.msg, needle))
		fail_msg("message '%s' lacks '%s'", d.msg, needle);
	bp_buf_free(&z);
	bp_buf_free(&out);
	free(src);
}

static void test_lzop_reader_corrupt(void **state)
{
	/* Header is 38 bytes; the block: dlen, slen, adler_d, crc_d, adler_c. */
	(void)state;
	expect_patched(34, 0xdeadbeef, "header checksum");
	expect_patched(38, 65 * MIB, "64 MiB");
	expect_patched(42, 0, "stored size");
	expect_patched(42, 5000, "stored size");
	expect_patched(46, 0x12345678, "checksum mismatch");
	expect_patched(50, 0x12345678, "checksum mismatch");
	expect_patched(54, 0x12345678, "compressed data checksum");
}

/* ---- names ---- */

static void test_names(void **state)
{
	struct bp_diag d = { 0 };
	enum bp_codec c;

	(void)state;
	for (int i = 0; i < BP_CODEC_COUNT; i++) {
		const char *name = bp_codec_name((enum bp_codec)i);

		assert_non_null(name);
		c = BP_CODEC_COUNT;
		assert_int_equal(bp_codec_from_name(name, &c, &d), 0);
		assert_int_equal(c, i);
	}
	assert_null(bp_codec_name(BP_CODEC_COUNT));
	assert_int_equal(bp_codec_from_name("xz", &c, &d), BP_ERR_UNSUPPORTED);
	assert_non_null(strstr(d.msg, "U-Boot"));
	bp_diag_clear(&d);
	assert_int_equal(bp_codec_from_name("foo", &c, &d), BP_ERR_UNSUPPORTED);
	assert_true(strlen(d.msg) > 0);
}

/* One entry per codec, named "test/codec" so failures say which. */
#define ONE(fn, i, nm) { #fn "/" nm, fn, NULL, NULL, &cases[i] }
#define PER_CODEC(fn)                                                                   \
	ONE(fn, 0, "gzip"), ONE(fn, 1, "bzip2"), ONE(fn, 2, "lz4"), ONE(fn, 3, "lzma"), \
		ONE(fn, 4, "lzo"), ONE(fn, 5, "zstd")

/*
 * Split compression of large inputs: identical bytes for any thread count,
 * one gzip member whose CRC and size cover everything, and below two chunks
 * exactly what bp_compress() writes.
 */
static void test_split_compression(void **state)
{
	static const size_t sizes[] = { 1048575, 1048576, 1048577, 3 * 524288 + 17 };

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint8_t *in = make_text(sizes[k]);
		struct bp_buf a = BP_BUF_INIT, b = BP_BUF_INIT, ref = BP_BUF_INIT, z = BP_BUF_INIT,
			      z3 = BP_BUF_INIT;
		z_stream s = { 0 };
		uint8_t *back = malloc(sizes[k] + 1);

		assert_non_null(back);
		assert_int_equal(bpi_compress_mt(BP_CODEC_GZIP, 0, in, sizes[k], 1, &a, NULL), 0);
		assert_int_equal(bpi_compress_mt(BP_CODEC_GZIP, 0, in, sizes[k], 3, &b, NULL), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		assert_int_equal(bp_compress(BP_CODEC_GZIP, in, sizes[k], &ref, NULL), 0);
		if (sizes[k] < 1048576) {
			assert_int_equal(ref.len, a.len);
			assert_memory_equal(ref.data, a.data, a.len);
		}
		/* zlib must reach the end of one member with no bytes left over. */
		assert_int_equal(inflateInit2(&s, 31), Z_OK);
		s.next_in = a.data;
		s.avail_in = (uInt)a.len;
		s.next_out = back;
		s.avail_out = (uInt)(sizes[k] + 1);
		assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
		assert_int_equal(s.avail_in, 0);
		assert_int_equal(s.total_out, sizes[k]);
		inflateEnd(&s);
		assert_memory_equal(back, in, sizes[k]);
		assert_int_equal(bpi_compress_mt(BP_CODEC_ZSTD, 0, in, sizes[k], 1, &z, NULL), 0);
		assert_int_equal(bpi_compress_mt(BP_CODEC_ZSTD, 0, in, sizes[k], 3, &z3, NULL), 0);
		assert_int_equal(z.len, z3.len);
		assert_memory_equal(z.data, z3.data, z.len);
		assert_int_equal(ZSTD_decompress(back, sizes[k] + 1, z.data, z.len), sizes[k]);
		assert_memory_equal(back, in, sizes[k]);
		free(back);
		free(in);
		bp_buf_free(&a);
		bp_buf_free(&b);
		bp_buf_free(&ref);
		bp_buf_free(&z);
		bp_buf_free(&z3);
	}
}

/*
 * lz4 frame blocks and lzop blocks are independent, so compressing them side
 * by side gives exactly the serial bytes (which match the lz4 and lzop tools).
 */
static void test_block_parallel_is_serial(void **state)
{
	/* Around lz4's 4 MiB block and lzop's 256 KiB block, and several of each. */
	static const size_t sizes[] = { 0, 262143, 262144, 262145, 4194304, 4194305,
					9 * 1048576 + 3 };
	static const enum bp_codec codecs[] = { BP_CODEC_LZ4, BP_CODEC_LZO };

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint8_t *in = make_text(sizes[k] ? sizes[k] : 1);

		for (size_t c = 0; c < 2; c++) {
			/* The slow high levels on the smaller sizes only. */
			for (int level = 0; level <= (sizes[k] < 1048576 ? 9 : 0); level += 9) {
				struct bp_buf serial = BP_BUF_INIT, par = BP_BUF_INIT,
					      back = BP_BUF_INIT;

				assert_int_equal(bp_compress_level(codecs[c], level, in, sizes[k],
								   &serial, NULL), 0);
				assert_int_equal(bpi_compress_mt(codecs[c], level, in, sizes[k], 3,
								 &par, NULL), 0);
				assert_int_equal(serial.len, par.len);
				assert_memory_equal(serial.data, par.data, par.len);
				assert_int_equal(bp_decompress(codecs[c], par.data, par.len,
							       sizes[k], &back, NULL), 0);
				assert_int_equal(back.len, sizes[k]);
				if (sizes[k])
					assert_memory_equal(back.data, in, sizes[k]);
				bp_buf_free(&serial);
				bp_buf_free(&par);
				bp_buf_free(&back);
			}
		}
		free(in);
	}
}

/* ---- the diagnostics contract of the public entry points ---- */

static void stale(struct bp_diag *d)
{
	snprintf(d->path, sizeof(d->path), "stale-path");
	snprintf(d->msg, sizeof(d->msg), "stale message");
}

static void assert_cleared(const struct bp_diag *d)
{
	assert_string_equal(d->path, "");
	assert_string_equal(d->msg, "");
}

/* A failure says why in its own words and keeps no path from before. */
static void assert_fresh_failure(const struct bp_diag *d)
{
	assert_string_equal(d->path, "");
	assert_true(d->msg[0]);
	assert_null(strstr(d->msg, "stale"));
}

/* @call succeeds and leaves @d empty, whatever it held before. */
#define EXPECT_CLEARED(call)                     \
	do {                                     \
		stale(&d);                       \
		assert_int_equal((call), 0);     \
		assert_cleared(&d);              \
	} while (0)

/* @call fails with @err (any error when 0) and says why in @d. */
#define EXPECT_FAILURE(call, err)                         \
	do {                                              \
		int got_;                                 \
		stale(&d);                                \
		got_ = (call);                            \
		if ((err) ? got_ != (err) : got_ >= 0)    \
			fail_msg("%s returned %d", #call, got_); \
		assert_fresh_failure(&d);                 \
	} while (0)

static void test_diag_contract(void **state)
{
	static const char text[] = "a diagnostic left from a previous call must not survive";
	struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
	uint8_t sum[BP_HASH_MAX_LEN];
	enum bp_hash_algo a;
	struct bp_diag d;
	enum bp_codec c;

	(void)state;
	EXPECT_CLEARED(bp_codec_from_name("zstd", &c, &d));
	EXPECT_CLEARED(bp_compress(BP_CODEC_LZ4, text, sizeof(text), &z, &d));
	EXPECT_CLEARED(bp_decompress(BP_CODEC_LZ4, z.data, z.len, MIB, &out, &d));
	EXPECT_CLEARED(bp_compress_level(BP_CODEC_GZIP, 9, text, sizeof(text), &z, &d));
	EXPECT_CLEARED(bp_hash_from_name("sha256", &a, &d));
	EXPECT_CLEARED(bp_hash(BP_HASH_SHA256, text, sizeof(text), sum, &d));

	EXPECT_FAILURE(bp_codec_from_name("brotli", &c, &d), BP_ERR_UNSUPPORTED);
	EXPECT_FAILURE(bp_compress_level(BP_CODEC_GZIP, 99, text, 9, &out, &d), BP_ERR_INVALID);
	EXPECT_FAILURE(bp_compress(BP_CODEC_COUNT, text, 9, &out, &d), BP_ERR_INVALID);
	out.len = 0;
	for (int i = 1; i < BP_CODEC_COUNT; i++)
		EXPECT_FAILURE(bp_decompress((enum bp_codec)i, text, sizeof(text), MIB, &out, &d), 0);
	EXPECT_FAILURE(bp_decompress(BP_CODEC_NONE, text, sizeof(text), 3, &out, &d),
		       BP_ERR_TOOBIG);
	EXPECT_FAILURE(bp_decompress(BP_CODEC_COUNT, text, 9, MIB, &out, &d), BP_ERR_INVALID);
	assert_int_equal(out.len, 0);
	EXPECT_FAILURE(bp_hash_from_name("sha3", &a, &d), BP_ERR_UNSUPPORTED);
	EXPECT_FAILURE(bp_hash(BP_HASH_COUNT, text, 9, sum, &d), BP_ERR_INVALID);
	bp_buf_free(&z);
	bp_buf_free(&out);
}

/* The public reader the CLI uses: same contract, and the path in the diagnostics. */
static void test_buf_read_file(void **state)
{
	struct bp_buf b = BP_BUF_INIT;
	struct bp_diag d;

	(void)state;
	assert_int_equal(bp_buf_append(&b, "old", 3), 0);
	stale(&d);
	assert_int_equal(bp_buf_read_file(&b, "/dev/null", 10, &d), 0);
	assert_int_equal(b.len, 0);
	assert_cleared(&d);
	stale(&d);
	assert_int_equal(bp_buf_read_file(&b, "/nonexistent/bootpack", 10, &d), BP_ERR_IO);
	assert_string_equal(d.path, "/nonexistent/bootpack");
	assert_non_null(strstr(d.msg, "cannot open"));
	stale(&d);
	assert_int_equal(bp_buf_read_file(&b, "/", 10, &d), BP_ERR_IO);
	assert_non_null(strstr(d.msg, "directory"));
	/* /proc files report size 0 but hold more: read to the end, then refused. */
	stale(&d);
	assert_int_equal(bp_buf_read_file(&b, "/proc/self/status", 16, &d), BP_ERR_TOOBIG);
	assert_string_equal(d.path, "/proc/self/status");
	assert_int_equal(b.len, 0);
	assert_int_equal(bp_buf_read_file(&b, "/proc/self/status", MIB, &d), 0);
	assert_true(b.len > 16);
	assert_non_null(memmem(b.data, b.len, "Name:", 5));
	bp_buf_free(&b);
}

/* ---- zboot's compressions ---- */

static void test_zboot_table(void **state)
{
	static const char *const names[] = { "gzip", "lz4", "lzma", "lzo", "xzkern", "zstd22",
					      "zstd" };
	char list[BPI_ZBOOT_NAMES_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct bpi_zboot_codec *c = bpi_zboot_codec(names[i]);

		assert_non_null(c);
		assert_string_equal(c->name, names[i]);
		assert_non_null(c->ops->decompress);
		/* Linux appends the le32 size after every stream but gzip's. */
		assert_int_equal(c->size_after, strcmp(names[i], "gzip") != 0);
	}
	assert_null(bpi_zboot_codec("xz"));
	assert_null(bpi_zboot_codec("bzip2"));
	assert_null(bpi_zboot_codec(""));
	assert_string_equal(bpi_zboot_names(list), "gzip, lz4, lzma, lzo, xzkern, zstd22 or zstd");
}

/* Legacy lz4 ("lz4 -l") of @n bytes: the magic, then one block with its size. */
static void lz4_legacy(struct bp_buf *z, const uint8_t *src, size_t n)
{
	int bound = LZ4_compressBound((int)n), got;

	assert_int_equal(bp_buf_reserve(z, 8 + (size_t)bound), 0);
	got = LZ4_compress_default((const char *)src, (char *)z->data + 8, (int)n, bound);
	assert_true(got > 0);
	for (int i = 0; i < 4; i++) {
		z->data[i] = (uint8_t)(0x184c2102u >> (8 * i));
		z->data[4 + i] = (uint8_t)((unsigned)got >> (8 * i));
	}
	z->len = 8 + (size_t)got;
}

static void xz(struct bp_buf *z, const uint8_t *src, size_t n)
{
	size_t pos = 0;

	assert_int_equal(bp_buf_reserve(z, lzma_stream_buffer_bound(n)), 0);
	assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, src, n, z->data, &pos,
						 z->cap), LZMA_OK);
	z->len = pos;
}

/*
 * The two zboot-only decoders keep bp_decompress()'s contract: the limit
 * counts what they append (not what the buffer held before), and a failure
 * leaves the buffer as it was.
 */
static void test_zboot_decoders_append(void **state)
{
	static const char *const names[] = { "lz4", "xzkern" };
	size_t n = 300 * KIB;
	uint8_t *src = make_text(n);

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		bpi_decode_fn *decode = bpi_zboot_codec(names[i])->ops->decompress;
		struct bp_buf z = BP_BUF_INIT, out = BP_BUF_INIT;
		struct bp_diag d;

		(i ? xz : lz4_legacy)(&z, src, n);
		assert_int_equal(bp_buf_append(&out, PREFIX, PREFIX_LEN), 0);
		stale(&d);
		assert_int_equal(bpi_decompress(decode, z.data, z.len, n, &out, &d), 0);
		assert_cleared(&d);
		assert_int_equal(out.len, PREFIX_LEN + n);
		assert_memory_equal(out.data + PREFIX_LEN, src, n);

		out.len = PREFIX_LEN;
		assert_int_equal(bpi_decompress(decode, z.data, z.len, n - 1, &out, &d),
				 BP_ERR_TOOBIG);
		assert_non_null(strstr(d.msg, "limit"));
		assert_int_equal(out.len, PREFIX_LEN);
		assert_int_equal(bpi_decompress(decode, z.data, z.len - 1, n, &out, &d),
				 BP_ERR_FORMAT);
		assert_int_equal(out.len, PREFIX_LEN);
		assert_memory_equal(out.data, PREFIX, PREFIX_LEN);
		bp_buf_free(&z);
		bp_buf_free(&out);
	}
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_CODEC(test_empty),
		PER_CODEC(test_one_byte),
		PER_CODEC(test_random_1m),
		PER_CODEC(test_text_5m),
		PER_CODEC(test_deterministic),
		PER_CODEC(test_truncated),
		PER_CODEC(test_flipped_byte),
		PER_CODEC(test_trailing_garbage),
		PER_CODEC(test_concatenated),
		PER_CODEC(test_not_compressed),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_split_compression),
		cmocka_unit_test(test_block_parallel_is_serial),
		cmocka_unit_test(test_gzip_header),
		cmocka_unit_test(test_lz4_frame_layout),
		cmocka_unit_test(test_zstd_frame),
		cmocka_unit_test(test_lzop_header),
		cmocka_unit_test(test_lzop_uboot_walk),
		cmocka_unit_test(test_lzop_real_fixtures),
		cmocka_unit_test(test_lzop_reader_flags),
		cmocka_unit_test(test_lzop_reader_refuses),
		cmocka_unit_test(test_lzop_reader_corrupt),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_diag_contract),
		cmocka_unit_test(test_buf_read_file),
		cmocka_unit_test(test_zboot_table),
		cmocka_unit_test(test_zboot_decoders_append),
	};

	if (lzo_init() != LZO_E_OK)
		return 1;
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
