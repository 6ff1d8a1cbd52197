// SPDX-License-Identifier: MIT
/*
 * Fuzz target: a DTB handed to 'fit build'. The bytes are written to a file
 * and built into a FIT (with -D off), exercising the header gate, the
 * root-property checks and the writer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <bootpack/fit.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/bp-fuzz-XXXXXX", dtb[64], kernel[64], out[64];
	struct bp_diag d;
	FILE *f;

	if (!mkdtemp(dir))
		abort();
	snprintf(dtb, sizeof(dtb), "%s/in.dtb", dir);
	snprintf(kernel, sizeof(kernel), "%s/Image", dir);
	snprintf(out, sizeof(out), "%s/out.fit", dir);
	f = fopen(dtb, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	f = fopen(kernel, "wb");
	if (!f || fputs("kernel", f) < 0 || fclose(f))
		abort();

	const char *dtbs[] = { dtb };
	struct bp_fit_build_opts o = {
		.size = sizeof(o), .name = "fuzz", .arch = "arm64", .os = "linux", .kernel = kernel,
		.dtbs = dtbs, .n_dtbs = 1, .compress = BP_CODEC_NONE, .external = size & 1,
		.jobs = 1,
	};
	int ret = bp_fit_build(&o, out, NULL, &d);

	/* A failure must name its reason; a success must leave an output. */
	if (ret && !d.msg[0])
		abort();
	if (!ret && access(out, R_OK))
		abort();
	unlink(out);
	unlink(dtb);
	unlink(kernel);
	rmdir(dir);
	return 0;
}
