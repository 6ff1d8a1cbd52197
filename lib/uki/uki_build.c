// SPDX-License-Identifier: MIT
/*
 * bp_uki_build(): systemd's ukify in C. The inputs are checked and opened
 * first (kernel a PE for the stub's machine, no duplicate sections, a BMP
 * splash), then the layout is planned with every size known, then the
 * image is streamed out, hashed on the way when it is signed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pe/authenticode_internal.h"
#include "uki_build_internal.h"
#include "util/esc.h"

/* systemd-stub reads .dtbauto sections (one devicetree each) from this version on. */
#define STUB_DTBAUTO_MIN 257
#define FLAGS_DATA (BP_PE_SCN_CNT_INITIALIZED_DATA | BP_PE_SCN_MEM_READ)
/* ukify marks .linux as code: old kernels entered through the EFI handover run in place. */
#define FLAGS_LINUX (BP_PE_SCN_CNT_CODE | BP_PE_SCN_MEM_READ)

struct builder {
	struct bp_uki_build_opts o;
	struct bp_diag *d;
	struct bp_pe *stub, *kernel;
	struct bpi_uki_sec secs[BPI_UKI_MAX_SECTIONS];
	size_t n_secs;
	struct bpi_uki_part *parts;
	size_t n_parts, cap_parts;
	char uname[BPI_UNAME_MAX + 1];
	char *sbat;
	size_t sbat_len;
	bool sbat_in_stub;
	struct bpi_uki_layout l;
};

static const size_t opts_v1 = BPI_SIZE_V1(struct bp_uki_build_opts, jobs);

static const char *machine_name(uint16_t m)
{
	switch (m) {
	case 0x014c: return "ia32";
	case 0x8664: return "x64";
	case 0x01c2: return "arm";
	case 0xaa64: return "arm64";
	case 0x5064: return "riscv64";
	case 0x6264: return "loongarch64";
	default: return "unknown";
	}
}

/* Name rules of the stub: 1 to 8 printable ASCII bytes. */
static int check_name(struct builder *b, const char *name, const char *path)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~')
			n = 0;
	if (!n || n > 8)
		return bp_diag_set(b->d, BP_ERR_INVALID, path, "section name '%s' must be 1 to 8 "
				   "printable ASCII bytes (PE section headers hold 8)",
				   BPI_ESC(name));
	return 0;
}

/* A new section named @name (checked against the stub's and those added so far). */
static int new_sec(struct builder *b, const char *name, const char *path, uint32_t flags,
		   struct bpi_uki_sec **out)
{
	struct bpi_uki_sec *s;
	int ret = check_name(b, name, path);

	if (ret)
		return ret;
	if (bp_pe_find_section(b->stub, name) >= 0)
		return bp_diag_set(b->d, BP_ERR_INVALID, path, "the stub already has a "
				   "section named '%s'", BPI_ESC(name));
	for (size_t i = 0; i < b->n_secs; i++)
		if (!strcmp(b->secs[i].name, name) && strcmp(name, ".dtbauto"))
			return bp_diag_set(b->d, BP_ERR_INVALID, path, "section '%s' given twice",
					   BPI_ESC(name));
	if (b->n_secs == BPI_UKI_MAX_SECTIONS)
		return bp_diag_set(b->d, BP_ERR_TOOBIG, path, "more than %d sections to add",
				   BPI_UKI_MAX_SECTIONS);
	s = &b->secs[b->n_secs++];
	memcpy(s->name, name, strlen(name) + 1);
	s->flags = flags;
	s->parts = b->parts + b->n_parts;
	*out = s;
	return 0;
}

static int add_part(struct builder *b, struct bpi_uki_sec *s, struct bpi_uki_part p)
{
	if (b->n_parts == b->cap_parts)
		return bp_diag_set(b->d, BP_ERR_INVALID, NULL, "internal error: too many parts");
	b->parts[b->n_parts++] = p;
	s->n_parts++;
	s->size += p.len + p.pad;
	return 0;
}

/* Open @path as one part of @s: a regular, non-empty file, its size taken now. */
static int add_file(struct builder *b, struct bpi_uki_sec *s, const char *path, uint32_t align)
{
	struct bpi_uki_part p = { .fd = -1, .path = path };
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return bp_diag_set(b->d, BP_ERR_IO, path, "cannot open: %s",
				   strerror(errno));
	p.fd = fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		add_part(b, s, p);
		return bp_diag_set(b->d, BP_ERR_IO, path, "not a regular file");
	}
	p.len = (uint64_t)st.st_size;
	p.pad = align ? (uint32_t)(BPI_ALIGN_UP(p.len, align) - p.len) : 0;
	if (add_part(b, s, p)) {
		close(fd);
		return BP_ERR_INVALID;
	}
	if (!p.len)
		return bp_diag_set(b->d, BP_ERR_INVALID, path, "is empty: no section for it");
	if (p.len > BP_PE_READ_MAX)
		return bp_diag_set(b->d, BP_ERR_TOOBIG, path, "%llu bytes is more than a PE image "
				   "can hold", (unsigned long long)p.len);
	return 0;
}

static int add_text(struct builder *b, const char *name, const void *p, size_t len)
{
	struct bpi_uki_part part = { .fd = -1, .path = name, .mem = p, .len = len };
	struct bpi_uki_sec *s;
	int ret = new_sec(b, name, b->o.stub, FLAGS_DATA, &s);

	if (ret)
		return ret;
	if (!len)
		return bp_diag_set(b->d, BP_ERR_INVALID, b->o.stub, "section '%s' would be empty",
				   name);
	return add_part(b, s, part);
}

static int add_path(struct builder *b, const char *name, const char *path, uint32_t flags)
{
	struct bpi_uki_sec *s;
	int ret = new_sec(b, name, path, flags, &s);

	return ret ? ret : add_file(b, s, path, 0);
}

/*
 * The kernel is opened without summing it: the write pass reads every byte
 * of it for the UKI's CheckSum anyway, on its second job, while the first
 * copies it (a 30 MiB kernel summed first would hold up the copy).
 */
static int open_pe(struct builder *b, const char *path, const char *what, struct bp_pe **pe)
{
	int ret = strcmp(what, "kernel") ? bp_pe_open(path, pe, b->d) :
		  bpi_pe_open_unsummed(path, pe, b->d);
	char why[sizeof(b->d->msg)];

	if (ret == BP_ERR_IO)
		return ret;
	if (ret) {
		memcpy(why, b->d->msg, sizeof(why));
		return bp_diag_set(b->d, BP_ERR_FORMAT, path, "the %s is not a PE image: %s", what,
				   why);
	}
	for (size_t i = 0; i < bp_pe_get_info(*pe)->n_problems; i++)
		if (bp_pe_problem_at(*pe, i)->severity == BP_PE_ERROR)
			return bp_diag_set(b->d, BP_ERR_FORMAT, path, "the %s is not a valid PE "
					   "image: %s", what, bp_pe_problem_at(*pe, i)->msg);
	if (bp_pe_get_info(*pe)->n_errors)
		return bp_diag_set(b->d, BP_ERR_FORMAT, path, "the %s is not a valid PE image",
				   what);
	return 0;
}

static int open_images(struct builder *b)
{
	uint16_t sm, km;
	int ret = open_pe(b, b->o.stub, "stub", &b->stub);

	if (!ret)
		ret = open_pe(b, b->o.linux_path, "kernel", &b->kernel);
	if (ret)
		return ret;
	sm = bp_pe_get_info(b->stub)->machine;
	km = bp_pe_get_info(b->kernel)->machine;
	if (sm != km)
		return bp_diag_set(b->d, BP_ERR_INVALID, b->o.linux_path, "machine mismatch: stub "
				   "is %s (0x%04x), kernel is %s (0x%04x)", machine_name(sm), sm,
				   machine_name(km), km);
	return 0;
}

/* The bytes of section @name of @pe that a loader sees, or NULL. */
static const char *section_text(const struct bp_pe *pe, const char *name, size_t *len)
{
	int idx = bp_pe_find_section(pe, name);
	const struct bp_pe_section *s;
	const uint8_t *p;

	if (idx < 0)
		return NULL;
	s = bp_pe_section_at(pe, (size_t)idx);
	*len = s->virtual_size < s->raw_size ? s->virtual_size : s->raw_size;
	p = bpi_pe_bytes(pe, s->raw_offset, *len);
	return (const char *)p;
}

static int merge_sbat(struct builder *b)
{
	size_t n = 0, cap = b->o.n_sbats + 2;
	const char **t = calloc(cap, sizeof(*t));
	size_t *lens = calloc(cap, sizeof(*lens));
	int ret = BP_ERR_NOMEM;

	if (!t || !lens)
		goto out;
	if ((t[n] = section_text(b->stub, ".sbat", &lens[n]))) {
		n++;
		b->sbat_in_stub = true;
	}
	if ((t[n] = section_text(b->kernel, ".sbat", &lens[n])))
		n++;
	for (size_t i = 0; i < b->o.n_sbats; i++) {
		t[n] = b->o.sbats[i];
		lens[n++] = strlen(b->o.sbats[i]);
	}
	ret = bpi_sbat_merge(t, lens, n, &b->sbat, &b->sbat_len);
out:
	free(t);
	free(lens);
	if (ret)
		return bp_diag_set(b->d, ret, NULL, "out of memory");
	return 0;
}

static int add_dtbs(struct builder *b)
{
	size_t len;
	const uint8_t *p = bp_pe_data(b->stub, &len);
	unsigned int major;
	int ret = 0;

	if (b->o.n_dtbs == 1)
		return add_path(b, ".dtb", b->o.dtbs[0], FLAGS_DATA);
	if (!b->o.n_dtbs)
		return 0;
	major = bpi_stub_major(p, len);
	if (major < STUB_DTBAUTO_MIN)
		return bp_diag_set(b->d, BP_ERR_UNSUPPORTED, b->o.stub, "%zu devicetrees need "
				   ".dtbauto sections, which systemd-stub reads from version %d "
				   "on; this stub is %s%u: give one devicetree (.dtb)", b->o.n_dtbs,
				   STUB_DTBAUTO_MIN, major ? "version " : "of an unknown version ",
				   major);
	for (size_t i = 0; !ret && i < b->o.n_dtbs; i++)
		ret = add_path(b, ".dtbauto", b->o.dtbs[i], FLAGS_DATA);
	return ret;
}

static int add_splash(struct builder *b)
{
	uint8_t magic[2];
	int ret;

	if (!b->o.splash)
		return 0;
	ret = add_path(b, ".splash", b->o.splash, FLAGS_DATA);
	if (ret)
		return ret;
	if (pread(b->parts[b->n_parts - 1].fd, magic, 2, 0) != 2 || memcmp(magic, "BM", 2))
		return bp_diag_set(b->d, BP_ERR_FORMAT, b->o.splash, "the splash image is not a BMP "
				   "file (no \"BM\" at its start)");
	return 0;
}

static int add_initrds(struct builder *b)
{
	struct bpi_uki_sec *s;
	int ret;

	if (!b->o.n_initrds)
		return 0;
	ret = new_sec(b, ".initrd", b->o.initrds[0], FLAGS_DATA, &s);
	/* ukify pads each of several initrds to 4 bytes; one is taken as is. */
	for (size_t i = 0; !ret && i < b->o.n_initrds; i++)
		ret = add_file(b, s, b->o.initrds[i], b->o.n_initrds > 1 ? 4 : 0);
	return ret;
}

/* Every section in ukify's order; .linux last, so it may grow into what follows it. */
static int add_sections(struct builder *b)
{
	int ret = 0;

	if (b->o.os_release)
		ret = add_path(b, ".osrel", b->o.os_release, FLAGS_DATA);
	else if (b->o.os_release_text)
		ret = add_text(b, ".osrel", b->o.os_release_text, b->o.os_release_len);
	if (!ret && b->o.cmdline)
		ret = add_text(b, ".cmdline", b->o.cmdline, b->o.cmdline_len);
	if (!ret)
		ret = add_dtbs(b);
	if (!ret && b->uname[0])
		ret = add_text(b, ".uname", b->uname, strlen(b->uname));
	if (!ret)
		ret = add_splash(b);
	if (!ret)
		ret = add_initrds(b);
	for (size_t i = 0; !ret && i < b->o.n_extra; i++)
		ret = add_path(b, b->o.extra[i].name, b->o.extra[i].path, FLAGS_DATA);
	if (!ret)
		ret = merge_sbat(b);
	if (!ret && !b->sbat_in_stub)
		ret = add_text(b, ".sbat", b->sbat, b->sbat_len);
	if (!ret)
		ret = add_path(b, ".linux", b->o.linux_path, FLAGS_LINUX);
	return ret;
}

/* .uname from the kernel, as ukify finds it; none found is no error (ukify only warns). */
static void scrape_uname(struct builder *b)
{
	int fd = open(b->o.linux_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || bpi_uname_scrape(b->kernel, fd, b->uname))
		b->uname[0] = '\0';
	if (fd >= 0)
		close(fd);
}

static int check_opts(struct builder *b, const struct bp_uki_build_opts *o, const char *out)
{
	int ret = BPI_STRUCT_IN(&b->o, opts_v1, o, "bp_uki_build_opts", b->d);

	if (ret)
		return ret;
	if (!out || !b->o.stub || !b->o.linux_path)
		return bp_diag_set(b->d, BP_ERR_INVALID, out, "a UKI needs a stub, a kernel and an "
				   "output path");
	if (b->o.os_release && b->o.os_release_text)
		return bp_diag_set(b->d, BP_ERR_INVALID, b->o.os_release, "os-release given both "
				   "as a file and as text");
	if (b->o.key && (!b->o.sign || !b->o.sign->cert))
		return bp_diag_set(b->d, BP_ERR_INVALID, out, "signing needs a certificate");
	if ((b->o.n_initrds && !b->o.initrds) || (b->o.n_dtbs && !b->o.dtbs) ||
	    (b->o.n_sbats && !b->o.sbats) || (b->o.n_extra && !b->o.extra))
		return bp_diag_set(b->d, BP_ERR_INVALID, out, "a list with a count but no items");
	if (b->o.uname && (!b->o.uname[0] || strlen(b->o.uname) > BPI_UNAME_MAX))
		return bp_diag_set(b->d, BP_ERR_INVALID, NULL, "the uname '%s' must be 1 to %d "
				   "bytes", BPI_ESC(b->o.uname), BPI_UNAME_MAX);
	b->cap_parts = b->o.n_initrds + b->o.n_dtbs + b->o.n_extra + 8;
	b->parts = calloc(b->cap_parts, sizeof(*b->parts));
	if (!b->parts)
		return bp_diag_set(b->d, BP_ERR_NOMEM, NULL, "out of memory");
	return 0;
}

static int emit(struct builder *b, const char *out_path)
{
	struct bpi_pe_signer *sg = NULL;
	struct bpi_output out;
	int ret = bpi_uki_layout(b->stub, b->secs, b->n_secs, b->sbat_in_stub ?
				 (const uint8_t *)b->sbat : NULL, b->sbat_len,
				 b->o.strip_stub_signature, &b->l, b->d);

	/* The key and certificates are checked before anything is written. */
	if (!ret && b->o.key)
		ret = bpi_pe_signer_open(b->o.key, b->o.sign, out_path, &sg, b->d);
	/* Signed, the Security entry is set at the end; it is summed from zero. */
	if (!ret && sg && b->l.secdir_at)
		memset(b->l.hdr + b->l.secdir_at, 0, 8);
	if (!ret)
		ret = bpi_output_open(&out, out_path, b->d);
	if (!ret) {
		ret = bpi_uki_write(&b->l, b->secs, b->n_secs, sg, b->o.jobs, &out, b->d);
		if (ret)
			bpi_output_abort(&out);
		else
			ret = bpi_output_commit(&out, b->d);
	}
	bpi_pe_signer_close(sg);
	return ret;
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; i < b->n_parts; i++)
		if (b->parts[i].fd >= 0)
			close(b->parts[i].fd);
	free(b->parts);
	free(b->sbat);
	bpi_uki_layout_free(&b->l);
	bp_pe_close(b->stub);
	bp_pe_close(b->kernel);
}

int bp_uki_build(const struct bp_uki_build_opts *o, const char *out_path, struct bp_diag *d)
{
	struct bp_diag local;
	struct builder b = { .d = d ? d : &local };
	int ret;

	bp_diag_clear(b.d);
	ret = check_opts(&b, o, out_path);
	if (!ret)
		ret = open_images(&b);
	if (!ret && b.o.uname)
		memcpy(b.uname, b.o.uname, strlen(b.o.uname) + 1);
	else if (!ret && !b.o.no_uname)
		scrape_uname(&b);
	if (!ret)
		ret = add_sections(&b);
	if (!ret)
		ret = emit(&b, out_path);
	builder_free(&b);
	return ret;
}
