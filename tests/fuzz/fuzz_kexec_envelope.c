// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the kexec zboot envelope reader. Each input is opened; a
 * refusal must say why. An accepted one must describe parts that lie in
 * the input, with the command line ending in its only NUL; each part
 * extracts to a file of its size (the command line one byte shorter). An
 * envelope the reader calls canonical, for its kernel's machine, must be
 * what the writer makes of its extracted parts, byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bootpack/kexec.h>
#include <bootpack/pe.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { BP_KEXEC_KERNEL, BP_KEXEC_INITRD, BP_KEXEC_CMDLINE };

static void check_part(const uint8_t *data, size_t size, const struct bp_kexec_part *p)
{
	if (p->present && (p->offset > size || p->length > size - p->offset))
		abort();
	(void)data;
}

static void check_extract(const struct bp_kexec_envelope *e, const char *dir)
{
	char path[96];
	struct bp_diag d;
	struct stat st;
	size_t len;

	for (size_t i = 0; i < 3; i++) {
		const uint8_t *p = bp_kexec_envelope_section(e, names[i], &len);
		int ret;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i] + 1);
		ret = bp_kexec_envelope_extract(e, names[i], path, &d);
		if (ret) {
			if (ret != BP_ERR_NOTFOUND || !d.msg[0] || p)
				abort();
			continue;
		}
		if (stat(path, &st) || (size_t)st.st_size != (i == 2 && len ? len - 1 : len))
			abort();
		if (i == 2 && len && (p[len - 1] || memchr(p, 0, len - 1)))
			abort();
	}
}

/* Canonical: the writer, given the parts back, writes the input again. */
static void check_rewrite(const uint8_t *data, size_t size, const struct bp_kexec_envelope *e,
			  const char *dir)
{
	struct bp_kexec_envelope_opts o = BP_KEXEC_ENVELOPE_INIT;
	char kpath[96], ipath[96], epath[96];
	size_t clen, n;
	const char *cmd = (const char *)bp_kexec_envelope_section(e, BP_KEXEC_CMDLINE, &clen);
	struct bp_diag d;
	uint8_t *back;
	FILE *f;

	snprintf(kpath, sizeof(kpath), "%s/kernel", dir);
	snprintf(ipath, sizeof(ipath), "%s/initrd", dir);
	snprintf(epath, sizeof(epath), "%s/again", dir);
	o.kernel_path = kpath;
	o.initrd_path = ipath;
	o.cmdline = cmd;
	o.cmdline_len = clen ? clen - 1 : 0;
	if (bp_kexec_envelope_write(&o, epath, &d)) {
		/* Only a kernel the writer refuses (PE errors) may stop it. */
		if (!strstr(d.msg, "kernel is"))
			abort();
		return;
	}
	back = malloc(size + 1);
	f = fopen(epath, "rb");
	if (!back || !f)
		abort();
	n = fread(back, 1, size + 1, f);
	fclose(f);
	if (n != size || memcmp(back, data, size))
		abort();
	free(back);
	unlink(epath);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/bp-fuzzkexec-XXXXXX", path[96];
	struct bp_kexec_envelope *e;
	const struct bp_kexec_info *in;
	struct bp_diag d;

	if (bp_kexec_envelope_open_mem(data, size, "fuzz.elf", &e, &d)) {
		if (!d.msg[0])
			abort();
		return 0;
	}
	in = bp_kexec_envelope_info(e);
	if (in->size != sizeof(*in) || in->file_size != size || !in->kernel.present ||
	    (in->bpf_readable && !in->kernel_zboot) ||
	    !in->kernel.length)
		abort();
	check_part(data, size, &in->kernel);
	check_part(data, size, &in->initrd);
	check_part(data, size, &in->cmdline);
	if (!mkdtemp(dir))
		abort();
	check_extract(e, dir);
	if (in->canonical && !in->machine_mismatch)
		check_rewrite(data, size, e, dir);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i] + 1);
		unlink(path);
	}
	rmdir(dir);
	bp_kexec_envelope_close(e);
	return 0;
}
