// SPDX-License-Identifier: MIT
/*
 * abi_prog.c ported to the 0.1 API (no size fields, public arrays), for
 * show-main-fails only: it is not built by meson, since the current headers
 * no longer have that API. Run against a 0.1 library whose structs gained
 * a field (what any 0.1 -> 0.2 change appending a field would do), it
 * shows what the growth test guards against: the library writes past the
 * caller's stats struct and the caller indexes images, configurations and
 * sections with the wrong stride.
 *
 * Usage: abi_prog_v0 OUTDIR KERNEL DTB1 DTB2 ZBOOT_EFI
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootpack/fit.h>
#include <bootpack/pe.h>

#define CANARY 0x5a5a5a5a5a5a5a5aULL

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "abi-v0: FAIL: " __VA_ARGS__); \
	fputc('\n', stderr); failures++; } } while (0)

int main(int argc, char **argv)
{
	static const char *const names[] = { "kernel", "fdt-1", "fdt-2" };
	static const enum bp_hash_algo sha256[] = { BP_HASH_SHA256 };
	const char *dtbs[] = { argv[3], argv[4] };
	struct bp_fit_build_opts o = {
		.name = "abi", .arch = "arm64", .os = "linux", .kernel = argv[2], .dtbs = dtbs,
		.n_dtbs = 2, .compress = BP_CODEC_GZIP, .timestamp = 1, .jobs = 2,
		.hashes = sha256, .n_hashes = 1,
	};
	struct { struct bp_fit_build_stats st; uint64_t canary; } s = { .canary = CANARY };
	struct { struct bp_fit_verify_stats st; uint64_t canary; } vs = { .canary = CANARY };
	struct bp_fit_verify_opts vo = { .decompress = true, .jobs = 2 };
	const struct bp_fit_info *info;
	struct bp_fit *fit;
	struct bp_pe *pe = NULL;
	struct bp_diag d;
	char fit_path[4096];

	if (argc != 6)
		return 2;
	snprintf(fit_path, sizeof(fit_path), "%s/abi-v0.fit", argv[1]);
	CHECK(!bp_fit_build(&o, fit_path, &s.st, &d), "bp_fit_build: %s", d.msg);
	CHECK(s.canary == CANARY, "bp_fit_build wrote past struct bp_fit_build_stats");
	if (bp_fit_open(fit_path, &fit, &d)) {
		fprintf(stderr, "abi-v0: FAIL: bp_fit_open: %s\n", d.msg);
		return 1;
	}
	info = bp_fit_get_info(fit);
	CHECK(info->n_images == 3, "%zu images", info->n_images);
	for (size_t i = 0; i < 3 && i < info->n_images; i++)
		CHECK(info->images[i].name && !strcmp(info->images[i].name, names[i]),
		      "image %zu is not '%s' (wrong stride)", i, names[i]);
	for (size_t i = 0; i < info->n_configs; i++)
		CHECK(info->configs[i].name && !strncmp(info->configs[i].name, "conf-", 5),
		      "configuration %zu has no conf- name (wrong stride)", i);
	CHECK(!bp_fit_verify(fit, &vo, NULL, NULL, &vs.st, &d), "bp_fit_verify: %s", d.msg);
	CHECK(vs.canary == CANARY, "bp_fit_verify wrote past struct bp_fit_verify_stats");
	CHECK(!bp_pe_open(argv[5], &pe, &d), "bp_pe_open: %s", d.msg);
	if (pe) {
		const struct bp_pe_info *in = bp_pe_get_info(pe);

		for (size_t i = 1; i < in->n_sections; i++)
			CHECK(in->sections[i].name[0] == '.', "section %zu has no name (wrong stride)",
			      i);
		bp_pe_close(pe);
	}
	bp_fit_close(fit);
	unlink(fit_path);
	if (failures)
		return 1;
	puts("abi-v0: ok");
	return 0;
}
