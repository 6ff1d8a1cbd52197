// SPDX-License-Identifier: MIT
/*
 * bp_uki_inspect(): the parts of a Unified Kernel Image, as systemd-stub
 * finds them. The stub looks sections up by name and reads
 * min(VirtualSize, SizeOfRawData) bytes from PointerToRawData, so that is
 * what is located here, each part checked against the file before any of
 * its bytes is read. Strings are copied, never pointed at: the image is
 * untrusted and may end anywhere.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <bootpack/uki.h>

#include "pe/pe_internal.h"
#include "uki/uki_internal.h"
#include "util/esc.h"
#include "util/util.h"

/* A section's ".name" in messages: names are file bytes, escaped. */
#define SEC_ESC(s) BPI_ESC((s)->name)

enum part_id { P_LINUX, P_INITRD, P_CMDLINE, P_OSREL, P_DTB, P_UNAME, P_SPLASH, P_SBAT,
	       P_SDMAGIC, P_OTHER_ONCE, P_REPEATED };

/* UKI sections (UAPI "Unified Kernel Image" specification), and which may repeat. */
static const struct {
	const char *name;
	enum part_id id;
} uki_sections[] = {
	{ ".linux", P_LINUX },      { ".initrd", P_INITRD },    { ".cmdline", P_CMDLINE },
	{ ".osrel", P_OSREL },      { ".dtb", P_DTB },          { ".uname", P_UNAME },
	{ ".splash", P_SPLASH },    { ".sbat", P_SBAT },        { ".sdmagic", P_SDMAGIC },
	{ ".ucode", P_OTHER_ONCE }, { ".pcrsig", P_OTHER_ONCE }, { ".pcrpkey", P_OTHER_ONCE },
	{ ".hwids", P_OTHER_ONCE }, { ".dtbauto", P_REPEATED }, { ".efifw", P_REPEATED },
	{ ".profile", P_REPEATED },
};

#define N_UKI_SECTIONS (sizeof(uki_sections) / sizeof(uki_sections[0]))

/* What the stub reads of @s: its file bytes, as long as the section is in memory. */
static uint64_t part_len(const struct bp_pe_section *s)
{
	return s->virtual_size < s->raw_size ? s->virtual_size : s->raw_size;
}

static int locate(const struct bp_pe *pe, const struct bp_pe_section *s, struct bp_uki_part *p,
		  struct bp_diag *d)
{
	uint64_t len = part_len(s), size = pe->file.len;

	/* 64-bit sums of 32-bit fields cannot wrap. */
	if (s->raw_offset > size || len > size - s->raw_offset)
		return bp_diag_set(d, BP_ERR_RANGE, pe->name, "UKI section '%s': data (%#" PRIx64
				   " bytes at %#x) extends past the end of the file (%#" PRIx64 ")",
				   SEC_ESC(s), len, s->raw_offset, size);
	p->present = true;
	p->offset = s->raw_offset;
	p->len = len;
	return 0;
}

/* @p's bytes up to the first NUL into @out (@n bytes), cut to fit. */
static void copy_string(const struct bp_pe *pe, const struct bp_uki_part *p, char *out, size_t n)
{
	const uint8_t *src = pe->file.data + p->offset;
	size_t len = p->len < n - 1 ? (size_t)p->len : n - 1;
	const uint8_t *nul = memchr(src, '\0', len);

	if (nul)
		len = (size_t)(nul - src);
	memcpy(out, src, len);
	out[len] = '\0';
}

/* Peek at the kernel's headers without parsing it: its machine type and zboot header. */
static void peek_linux(const struct bp_pe *pe, struct bp_uki_info *r)
{
	const uint8_t *p = pe->file.data + r->linux_part.offset;
	uint64_t len = r->linux_part.len;
	uint32_t lfanew;

	if (len < PE_DOS_SIZE || p[0] != 'M' || p[1] != 'Z')
		return;
	r->linux_is_zboot = !memcmp(p + ZBOOT_MAGIC_OFFSET, "zimg", 4);
	lfanew = bpi_get_le32(p + PE_DOS_LFANEW);
	/* "PE\0\0" and the COFF Machine field: 6 bytes. */
	if (lfanew < PE_DOS_SIZE || lfanew > len || len - lfanew < 6 ||
	    memcmp(p + lfanew, "PE\0\0", 4))
		return;
	r->linux_machine = bpi_get_le16(p + lfanew + 4);
}

static struct bp_uki_part *part_of(struct bp_uki_info *r, enum part_id id)
{
	switch (id) {
	case P_LINUX: return &r->linux_part;
	case P_INITRD: return &r->initrd;
	case P_CMDLINE: return &r->cmdline;
	case P_OSREL: return &r->osrel;
	case P_DTB: return &r->dtb;
	case P_UNAME: return &r->uname_part;
	case P_SPLASH: return &r->splash;
	case P_SBAT: return &r->sbat;
	default: return NULL;
	}
}

/* Which UKI section @name is, or -1 for none. */
static int uki_section(const char *name)
{
	for (size_t i = 0; i < N_UKI_SECTIONS; i++)
		if (!strcmp(name, uki_sections[i].name))
			return (int)i;
	return -1;
}

/* Each section that appears once per profile appears once before the first .profile. */
static int check_once(const struct bp_pe *pe, uint32_t i, uint32_t *seen, struct bp_diag *d)
{
	const struct bp_pe_section *s = &pe->sections[i];
	int k = uki_section(s->name);

	if (k < 0 || uki_sections[k].id == P_REPEATED)
		return 0;
	if (seen[k])
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "UKI section '%s' appears twice "
				   "(sections %u and %u): which one the stub reads is undefined",
				   SEC_ESC(s), seen[k] - 1, i);
	seen[k] = i + 1;
	return 0;
}

/*
 * Stubs linked without a .sdmagic section still carry the string:
 * systemd 252's arm64 stub has only .text and .data, and the string lies
 * past them, in data no section covers. So look for it in the stub's part
 * of the file: everything before the first UKI section's data.
 */
static void find_loader_info(const struct bp_pe *pe, struct bp_uki_info *r)
{
	static const char magic[] = "#### LoaderInfo: ";
	uint64_t end = pe->file.len;
	struct bp_uki_part p = { 0 };
	const uint8_t *at;

	for (uint32_t i = 0; i < pe->info.n_sections; i++) {
		const struct bp_pe_section *s = &pe->sections[i];

		if (uki_section(s->name) >= 0 && part_len(s) && s->raw_offset < end)
			end = s->raw_offset;
	}
	at = memmem(pe->file.data, (size_t)end, magic, sizeof(magic) - 1);
	if (!at)
		return;
	p.offset = (uint64_t)(at - pe->file.data);
	p.len = end - p.offset;
	copy_string(pe, &p, r->stub_version, sizeof(r->stub_version));
}

static int scan(const struct bp_pe *pe, struct bp_uki_info *r, struct bp_diag *d)
{
	uint32_t seen[N_UKI_SECTIONS] = { 0 };
	struct bp_uki_part sdmagic = { 0 }, dummy;
	bool base = true;
	int ret;

	for (uint32_t i = 0; i < pe->info.n_sections; i++) {
		const struct bp_pe_section *s = &pe->sections[i];
		int k = uki_section(s->name);
		struct bp_uki_part *p;

		if (k < 0)
			continue;
		if ((ret = locate(pe, s, &dummy, d)))
			return ret;
		if (!strcmp(s->name, ".profile"))
			base = false;
		if (!base)
			continue;
		if ((ret = check_once(pe, i, seen, d)))
			return ret;
		r->n_dtbs += uki_sections[k].id == P_DTB || !strcmp(s->name, ".dtbauto");
		p = uki_sections[k].id == P_SDMAGIC ? &sdmagic : part_of(r, uki_sections[k].id);
		if (p)
			*p = dummy;
	}
	if (sdmagic.present)
		copy_string(pe, &sdmagic, r->stub_version, sizeof(r->stub_version));
	else
		find_loader_info(pe, r);
	return 0;
}

static const size_t info_v1 = BPI_SIZE_V1(struct bp_uki_info, n_dtbs);

int bp_uki_inspect(const struct bp_pe *pe, struct bp_uki_info *out, struct bp_diag *d)
{
	struct bp_uki_info r = { .size = sizeof(r) };
	int ret;

	bp_diag_clear(d);
	ret = bpi_struct_out_check(out, info_v1, "bp_uki_info", d);
	if (ret)
		return ret;
	if (!out || !pe)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "bp_uki_inspect: no image or no struct "
				   "bp_uki_info given");
	ret = scan(pe, &r, d);
	if (ret) {
		memset(&r, 0, sizeof(r));
	} else {
		r.is_uki = r.linux_part.present;
		if (r.uname_part.present)
			copy_string(pe, &r.uname_part, r.uname, sizeof(r.uname));
		if (r.osrel.present)
			bpi_osrel_value(pe->file.data + r.osrel.offset, (size_t)r.osrel.len,
					"PRETTY_NAME", r.pretty_name, sizeof(r.pretty_name));
		if (r.is_uki)
			peek_linux(pe, &r);
	}
	bpi_struct_out(out, &r, sizeof(r));
	return ret;
}
