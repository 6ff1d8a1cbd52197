// SPDX-License-Identifier: MIT
/*
 * Driver for the fuzz targets when libFuzzer is not linked in: runs each
 * seed file given on the command line, then a fixed number of deterministic
 * mutations of it (byte flips, truncations, splices, random bytes), so every
 * build's test suite gets a repeatable smoke fuzz under its sanitizers.
 * A directory stands for the files in it (sorted), e.g. the regression inputs.
 * Usage: replay ITERATIONS SEED_FILE|DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)n;
out:
	if (f)
		fclose(f);
	return buf;
}

static void mutate(uint8_t *m, size_t *len, size_t cap)
{
	switch (next() % 5) {
	case 0: /* flip bits at a few places */
		for (int k = 0; k < 1 + (int)(next() % 4) && *len; k++)
			m[next() % *len] ^= (uint8_t)(1u << (next() % 8));
		break;
	case 1: /* truncate */
		*len = *len ? next() % *len : 0;
		break;
	case 2: /* an interesting 32-bit value, big-endian as in FDT headers */
		if (*len >= 4) {
			static const uint32_t v[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff,
						      0xfffffffc, 0x28, 0x38 };
			uint32_t x = v[next() % 8];
			size_t at = (next() % (*len / 4)) * 4;

			m[at] = (uint8_t)(x >> 24);
			m[at + 1] = (uint8_t)(x >> 16);
			m[at + 2] = (uint8_t)(x >> 8);
			m[at + 3] = (uint8_t)x;
		}
		break;
	case 3: /* duplicate a chunk onto another place */
		if (*len >= 2) {
			size_t a = next() % *len, b = next() % *len, n = next() % (*len - (a > b ? a : b));

			memmove(m + b, m + a, n);
		}
		break;
	default: /* append random bytes */
		for (int k = (int)(next() % 64); k > 0 && *len < cap; k--)
			m[(*len)++] = (uint8_t)next();
	}
}

static int run_seed(const char *path, long iterations)
{
	size_t len, cap;
	uint8_t *seed = slurp(path, &len), *m;

	if (!seed) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return 1;
	}
	cap = len + 256;
	m = malloc(cap);
	if (!m)
		return 1;
	LLVMFuzzerTestOneInput(seed, len);
	for (long it = 0; it < iterations; it++) {
		size_t n = len;

		memcpy(m, seed, len);
		for (int k = 1 + (int)(next() % 3); k > 0; k--)
			mutate(m, &n, cap);
		LLVMFuzzerTestOneInput(m, n);
	}
	free(m);
	free(seed);
	return 0;
}

static int filter(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int run_path(const char *path, long iterations)
{
	struct dirent **names;
	int n = scandir(path, &names, filter, alphasort), ret = 0;

	if (n < 0)
		return run_seed(path, iterations);
	for (int i = 0; i < n; i++) {
		char sub[4096];

		snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
		if (!ret)
			ret = run_seed(sub, iterations);
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	long iterations;
	int ret = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s ITERATIONS SEED_FILE|DIR...\n", argv[0]);
		return 2;
	}
	iterations = strtol(argv[1], NULL, 10);
	/* Absolute first: a target may change directory (fuzz_argfile does). */
	for (int i = 2; i < argc; i++) {
		char *abs = realpath(argv[i], NULL);

		if (!abs) {
			fprintf(stderr, "replay: cannot find '%s'\n", argv[i]);
			return 1;
		}
		argv[i] = abs;
	}
	for (int i = 2; i < argc; i++) {
		if (!ret)
			ret = run_path(argv[i], iterations);
		free(argv[i]);
	}
	return ret;
}
