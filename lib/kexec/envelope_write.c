// SPDX-License-Identifier: MIT
/*
 * Writing a kexec zboot envelope as build_zboot_envelop does (layout in
 * kexec_internal.h). The header holds every size, so the sizes are known
 * first (the kernel's from its mapping, the initrd's from fstat) and the
 * payloads then streamed: a 60 MiB initrd costs one small buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bootpack/pe.h>

#include "kexec_internal.h"
#include "pe/pe_internal.h"

#define COPY_CHUNK (1u << 20)

struct env_input {
	struct bp_pe *kernel;
	int initrd_fd;              /* -1: no initrd */
	uint64_t initrd_size;
	uint16_t machine;
};

/* The kernel: a PE image without errors, for a machine with an ELF name. */
static int open_kernel(const char *path, struct env_input *in, struct bp_diag *d)
{
	const struct bp_pe_info *pi;
	char why[BP_DIAG_MSG_MAX];
	int ret = bp_pe_open(path, &in->kernel, d);

	if (ret == BP_ERR_FORMAT || ret == BP_ERR_RANGE)
		return bp_diag_set(d, BP_ERR_FORMAT, path, "kernel is not a PE/EFI image: %s",
				   bpi_kexec_pe_reason(d, why, sizeof(why)));
	if (ret)
		return ret;
	pi = bp_pe_get_info(in->kernel);
	if (pi->n_errors)
		return bp_diag_set(d, BP_ERR_FORMAT, path, "kernel is a PE image with %zu "
				   "error%s (see bootpack pe verify)", pi->n_errors,
				   pi->n_errors == 1 ? "" : "s");
	in->machine = bpi_kexec_elf_machine(pi->machine);
	if (!in->machine)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, path, "kernel is for PE machine 0x%04x, "
				   "not arm64, riscv64, loongarch64 or x86_64", pi->machine);
	return 0;
}

static int open_initrd(const char *path, struct env_input *in, struct bp_diag *d)
{
	struct stat st;

	in->initrd_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in->initrd_fd < 0)
		return bp_diag_set(d, BP_ERR_IO, path, "cannot open: %s", strerror(errno));
	if (fstat(in->initrd_fd, &st) < 0)
		return bp_diag_set(d, BP_ERR_IO, path, "cannot stat: %s", strerror(errno));
	/* Its size goes into the header, written before its bytes. */
	if (!S_ISREG(st.st_mode))
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, path, "initrd is not a regular file "
				   "(its size is needed before its bytes)");
	in->initrd_size = (uint64_t)st.st_size;
	return 0;
}

static int write_kernel(struct bpi_output *o, const struct bp_pe *pe, struct bp_diag *d)
{
	size_t len;
	const uint8_t *p = bp_pe_data(pe, &len);

	for (size_t at = 0; at < len;) {
		size_t n = len - at < BPI_PE_CHUNK ? len - at : BPI_PE_CHUNK;
		int ret = bpi_output_write(o, p + at, n, d);

		if (ret)
			return ret;
		/* Written: let the page cache have those pages back (mapped image only). */
		bpi_pe_release(pe, at, n);
		at += n;
	}
	return 0;
}

/* Exactly @size bytes of @fd: a file that grows or shrinks meanwhile is an error. */
static int copy_initrd(struct bpi_output *o, int fd, uint64_t size, const char *path,
		       struct bp_diag *d)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	uint8_t extra;
	int ret = 0;

	if (!buf)
		return bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
	while (!ret && size) {
		ssize_t n = read(fd, buf, size < COPY_CHUNK ? (size_t)size : COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = bp_diag_set(d, BP_ERR_IO, path, "cannot read: %s", strerror(errno));
		else if (!n)
			ret = bp_diag_set(d, BP_ERR_IO, path, "file shrank while being read");
		else
			ret = bpi_output_write(o, buf, (size_t)n, d);
		if (n > 0)
			size -= (uint64_t)n;
	}
	if (!ret && read(fd, &extra, 1) > 0)
		ret = bp_diag_set(d, BP_ERR_IO, path, "file grew while being read");
	free(buf);
	return ret;
}

static int write_all(struct bpi_output *o, const struct bp_kexec_envelope_opts *opt,
		     const struct env_input *in, const struct bpi_kexec_layout *l,
		     struct bp_diag *d)
{
	uint8_t hdr[ENV_HEADERS_SIZE];
	int ret;

	bpi_kexec_headers(l, hdr);
	ret = bpi_output_write(o, hdr, sizeof(hdr), d);
	if (!ret)
		ret = write_kernel(o, in->kernel, d);
	if (!ret && in->initrd_fd >= 0)
		ret = copy_initrd(o, in->initrd_fd, in->initrd_size, opt->initrd_path, d);
	if (!ret)
		ret = bpi_output_zero(o, (size_t)l->pad[ENV_INITRD], d);
	if (!ret && opt->cmdline_len)
		ret = bpi_output_write(o, opt->cmdline, opt->cmdline_len, d);
	/* The NUL ending the command line, then padding to 8. */
	if (!ret)
		ret = bpi_output_zero(o, 1 + (size_t)l->pad[ENV_CMDLINE], d);
	if (!ret)
		ret = bpi_output_write(o, ENV_STRTAB_BYTES, ENV_STRTAB_SIZE, d);
	return ret;
}

static int check_opts(const struct bp_kexec_envelope_opts *o, struct bp_diag *d)
{
	if (!o->kernel_path)
		return bp_diag_set(d, BP_ERR_INVALID, "", "no kernel given");
	if (o->cmdline_len && !o->cmdline)
		return bp_diag_set(d, BP_ERR_INVALID, "", "command line length without text");
	/* The kernel reads the command line up to its first NUL. */
	if (o->cmdline_len && memchr(o->cmdline, 0, o->cmdline_len))
		return bp_diag_set(d, BP_ERR_INVALID, "", "command line contains a NUL byte");
	return 0;
}

int bp_kexec_envelope_write(const struct bp_kexec_envelope_opts *opts, const char *out_path,
			    struct bp_diag *d)
{
	struct bp_kexec_envelope_opts o;
	struct env_input in = { .initrd_fd = -1 };
	struct bpi_kexec_layout l;
	struct bpi_output out;
	int ret;

	bp_diag_clear(d);
	ret = BPI_STRUCT_IN(&o, BPI_SIZE_V1(struct bp_kexec_envelope_opts, cmdline_len), opts,
			    "bp_kexec_envelope_opts", d);
	if (!ret && !out_path)
		ret = bp_diag_set(d, BP_ERR_INVALID, "", "no output given");
	if (!ret)
		ret = check_opts(&o, d);
	if (!ret)
		ret = open_kernel(o.kernel_path, &in, d);
	if (!ret && o.initrd_path)
		ret = open_initrd(o.initrd_path, &in, d);
	if (!ret) {
		size_t klen;

		bp_pe_data(in.kernel, &klen);
		ret = bpi_kexec_layout(&l, in.machine, klen, in.initrd_size, o.cmdline_len + 1, d);
	}
	if (!ret)
		ret = bpi_output_open(&out, out_path, d);
	if (!ret) {
		ret = write_all(&out, &o, &in, &l, d);
		if (!ret)
			ret = bpi_output_commit(&out, d);
		else
			bpi_output_abort(&out);
	}
	if (in.initrd_fd >= 0)
		close(in.initrd_fd);
	bp_pe_close(in.kernel);
	return ret;
}
