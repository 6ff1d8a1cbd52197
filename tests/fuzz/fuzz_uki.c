// SPDX-License-Identifier: MIT
/*
 * Fuzz target: UKI inspection. Each input is read as a PE image, its UKI
 * parts located (bp_uki_inspect), printed as pe info does (text and JSON,
 * to /dev/null: the CLI's printing code is linked in) and every UKI section
 * extracted into memory. Checked: located parts lie inside the file,
 * strings are terminated inside their arrays, a failure says why and leaves
 * the struct empty, and extraction gives exactly min(VirtualSize,
 * SizeOfRawData) bytes from PointerToRawData.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BOOTPACK_EXPERIMENTAL
#define BOOTPACK_EXPERIMENTAL
#endif
#include <bootpack/experimental.h>
#include <bootpack/uki.h>

#include "uki_print.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { ".linux", ".initrd", ".cmdline", ".osrel", ".dtb",
				     ".dtbauto", ".uname", ".splash", ".sbat", ".sdmagic" };

static void check_part(const struct bp_uki_part *p, size_t size)
{
	if (p->present ? p->offset > size || p->len > size - p->offset : p->offset || p->len)
		abort();
}

static void check_string(const char *s, size_t n)
{
	if (!memchr(s, '\0', n))
		abort();
}

static void check_info(const struct bp_uki_info *u, size_t size)
{
	const struct bp_uki_part *parts[] = { &u->linux_part, &u->initrd, &u->cmdline, &u->osrel,
					      &u->dtb, &u->uname_part, &u->splash, &u->sbat };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		check_part(parts[i], size);
	check_string(u->stub_version, sizeof(u->stub_version));
	check_string(u->uname, sizeof(u->uname));
	check_string(u->pretty_name, sizeof(u->pretty_name));
	if (u->is_uki != u->linux_part.present || (!u->is_uki && u->linux_machine) ||
	    (u->dtb.present && !u->n_dtbs))
		abort();
}

/* Extraction of @name: the stub's bytes, or a reason. */
static void check_extract(const struct bp_pe *pe, const char *name, const uint8_t *data,
			  size_t size)
{
	struct bp_buf buf = BP_BUF_INIT;
	struct bp_sink sink = BP_SINK_BUF_INIT(&buf, "fuzz");
	int i = bp_pe_find_section(pe, name);
	uint64_t written = 0;
	struct bp_diag d;

	if (bp_uki_extract_to(pe, name, &sink, &written, &d)) {
		if (!d.msg[0] || buf.len)
			abort();
	} else {
		const struct bp_pe_section *s = i < 0 ? NULL : bp_pe_section_at(pe, (size_t)i);
		uint64_t n;

		if (!s)
			abort();
		n = s->virtual_size < s->raw_size ? s->virtual_size : s->raw_size;
		if (written != n || buf.len != n || s->raw_offset > size ||
		    n > size - s->raw_offset ||
		    (n && memcmp(buf.data, data + s->raw_offset, buf.len)))
			abort();
	}
	bp_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct bp_uki_info u = BP_UKI_INFO_INIT;
	struct bp_pe *pe;
	struct bp_diag d;
	int ret;

	if (!quiet) {
		quiet = true;
		if (!freopen("/dev/null", "w", stdout))
			abort();
	}
	if (bp_pe_open_mem(data, size, "fuzz.efi", &pe, &d)) {
		if (!d.msg[0])
			abort();
		return 0;
	}
	ret = bp_uki_inspect(pe, &u, &d);
	if (ret) {
		struct bp_uki_info zero;

		memset(&zero, 0, sizeof(zero));
		zero.size = sizeof(zero);
		if (!d.msg[0] || memcmp(&u, &zero, sizeof(u)))
			abort();
	} else {
		check_info(&u, size);
	}
	uki_text(pe, &u, ret, &d);
	uki_json(pe, &u, ret, &d);
	fflush(stdout);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_extract(pe, names[i], data, size);
	bp_pe_close(pe);
	return 0;
}
