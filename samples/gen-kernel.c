// SPDX-License-Identifier: MIT
/*
 * gen-kernel OUT SIZE
 *
 * Writes a deterministic stand-in for an arm64 kernel Image: the 64-byte
 * arm64 Image header (see the kernel's Documentation/arch/arm64/booting.rst)
 * followed by pseudo-random but moderately compressible bytes, so that the
 * samples exercise compressors with realistic ratios without shipping a
 * real kernel. SIZE is in bytes, with an optional K or M suffix (x1024).
 * The output depends on SIZE only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_SIZE 64u
#define ARM64_MAGIC 0x644d5241u /* "ARM\x64" little-endian */

static uint64_t rng_state = 0x6b6f6f7462706b31ull; /* fixed seed */

static uint64_t rng_next(void)
{
	/* xorshift64* */
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k') {
		v *= 1024ull;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		v *= 1024ull * 1024ull;
		end++;
	}
	if (*end != '\0' || v < HDR_SIZE || v > (1ull << 32))
		return -1;
	*out = v;
	return 0;
}

/*
 * Fill buf[0..len) with instruction-like 32-bit words. Three sources are
 * mixed, each chosen per "run" by the PRNG:
 *  - words from a small fixed vocabulary (common opcodes: nop, ret, ...),
 *  - copies of earlier stretches of the output (like repeated code
 *    sequences; these are what LZ-style compressors find),
 *  - plain noise (immediates, addresses, packed data).
 * The proportions give gzip ratios of roughly 2.5-3x, close to a real
 * arm64 Image.
 */
static void fill_body(unsigned char *buf, size_t len)
{
	static const uint32_t vocab[] = {
		0xd503201f, /* nop */
		0xd65f03c0, /* ret */
		0xa9bf7bfd, /* stp x29, x30, [sp, #-16]! */
		0x910003fd, /* mov x29, sp */
		0xa8c17bfd, /* ldp x29, x30, [sp], #16 */
		0xd503233f, /* paciasp */
		0xd50323bf, /* autiasp */
		0x52800000, /* mov w0, #0 */
		0xaa1303e0, /* mov x0, x19 */
		0xf9400000, /* ldr x0, [x0] */
		0xb4000000, /* cbz x0, . */
		0x94000000, /* bl . */
		0x00000000,
		0xffffffff,
	};
	const size_t nvocab = sizeof(vocab) / sizeof(vocab[0]);
	size_t pos = 0;

	while (pos < len) {
		uint64_t r = rng_next();
		unsigned kind = (unsigned)(r % 100);
		size_t run = 4 + (size_t)((r >> 8) % 29) * 4; /* 4..116 bytes */
		if (run > len - pos)
			run = len - pos;

		if (kind < 34) {
			/* vocabulary words, occasionally with a patched field */
			for (size_t i = 0; i < run; i += 4) {
				uint64_t q = rng_next();
				uint32_t w = vocab[q % nvocab];
				if ((q >> 32) % 4 == 0)
					w |= (uint32_t)((q >> 40) & 0x1f) << 5;
				unsigned char tmp[4];
				put_le32(tmp, w);
				size_t n = run - i < 4 ? run - i : 4;
				memcpy(buf + pos + i, tmp, n);
			}
		} else if (kind < 80 && pos >= 4096) {
			/* back-reference into the last 32 KiB, 4-byte aligned */
			size_t window = pos < 32768 ? pos : 32768;
			size_t dist = 4 + (size_t)(rng_next() % (window / 4)) * 4;
			if (dist > pos)
				dist = pos & ~(size_t)3;
			if (dist == 0)
				dist = 4;
			for (size_t i = 0; i < run; i++)
				buf[pos + i] = buf[pos + i - dist];
		} else {
			/* noise */
			for (size_t i = 0; i < run; i += 8) {
				uint64_t q = rng_next();
				unsigned char tmp[8];
				put_le64(tmp, q);
				size_t n = run - i < 8 ? run - i : 8;
				memcpy(buf + pos + i, tmp, n);
			}
		}
		pos += run;
	}
}

int main(int argc, char **argv)
{
	uint64_t size;

	if (argc != 3 || parse_size(argv[2], &size) != 0) {
		fprintf(stderr, "usage: %s OUT SIZE[K|M]   (SIZE >= %u)\n",
			argc > 0 ? argv[0] : "gen-kernel", HDR_SIZE);
		return 2;
	}

	unsigned char *buf = calloc(1, (size_t)size);
	if (!buf) {
		perror("calloc");
		return 1;
	}

	/* struct arm64_image_header, all fields little-endian */
	put_le32(buf + 0x00, 0x91005a4d);  /* code0: "MZ" + add x13, x18, #0x16 */
	put_le32(buf + 0x04, 0x14000000u | ((0x1000u - 4u) / 4u)); /* code1: b to 0x1000 */
	put_le64(buf + 0x08, 0);           /* text_offset */
	put_le64(buf + 0x10, size);        /* image_size */
	put_le64(buf + 0x18, 0x0a);        /* flags: LE, 4K pages, place anywhere */
	put_le64(buf + 0x20, 0);           /* res2 */
	put_le64(buf + 0x28, 0);           /* res3 */
	put_le64(buf + 0x30, 0);           /* res4 */
	put_le32(buf + 0x38, ARM64_MAGIC); /* magic */
	put_le32(buf + 0x3c, 0);           /* res5: no PE header */

	fill_body(buf + HDR_SIZE, (size_t)size - HDR_SIZE);

	FILE *f = fopen(argv[1], "wb");
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
		free(buf);
		return 1;
	}
	if (fwrite(buf, 1, (size_t)size, f) != (size_t)size || fclose(f) != 0) {
		fprintf(stderr, "%s: write %s failed\n", argv[0], argv[1]);
		free(buf);
		return 1;
	}
	free(buf);
	return 0;
}
