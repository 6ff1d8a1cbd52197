// SPDX-License-Identifier: MIT
/* One part of an opened kexec envelope, as bytes or into a file. */
#include <string.h>

#include "kexec_internal.h"
#include "util/esc.h"

static const struct bp_kexec_part *part_of(const struct bp_kexec_envelope *e, const char *name)
{
	if (!strcmp(name, BP_KEXEC_KERNEL))
		return &e->info.kernel;
	if (!strcmp(name, BP_KEXEC_INITRD))
		return &e->info.initrd;
	if (!strcmp(name, BP_KEXEC_CMDLINE))
		return &e->info.cmdline;
	return NULL;
}

const uint8_t *bp_kexec_envelope_section(const struct bp_kexec_envelope *e, const char *name,
					 size_t *len)
{
	const struct bp_kexec_part *p = name ? part_of(e, name) : NULL;

	*len = 0;
	/* The reader checked every present part lies inside the file. */
	if (!p || !p->present || !p->length)
		return NULL;
	*len = (size_t)p->length;
	return e->data + p->offset;
}

/*
 * In pieces, letting go of each piece of a mapped envelope once written,
 * so extracting a large initrd does not keep it all resident.
 */
static int write_part(const struct bp_kexec_envelope *e, const uint8_t *p, size_t len,
		      const char *out_path, struct bp_diag *d)
{
	enum { CHUNK = 4u << 20 };
	struct bpi_output o;
	int ret = bpi_output_open(&o, out_path, d);

	for (size_t at = 0; !ret && at < len; at += CHUNK) {
		size_t n = len - at < CHUNK ? len - at : CHUNK;

		ret = bpi_output_write(&o, p + at, n, d);
		if (e->mapped)
			bpi_drop_mapped(p + at, n);
	}
	if (!ret)
		return bpi_output_commit(&o, d);
	bpi_output_abort(&o);
	return ret;
}

int bp_kexec_envelope_extract(const struct bp_kexec_envelope *e, const char *name,
			      const char *out_path, struct bp_diag *d)
{
	const struct bp_kexec_part *p;
	const uint8_t *data;
	size_t len;

	bp_diag_clear(d);
	if (!name || !out_path)
		return bp_diag_set(d, BP_ERR_INVALID, e->name, "no section or output given");
	p = part_of(e, name);
	if (!p)
		return bp_diag_set(d, BP_ERR_NOTFOUND, e->name, "no section \"%s\" in a kexec "
				   "envelope (.kernel, .initrd or .cmdline)", BPI_ESC(name));
	if (!p->present)
		return bp_diag_set(d, BP_ERR_NOTFOUND, e->name, "no %s section", name);
	data = bp_kexec_envelope_section(e, name, &len);
	/* The command line as text: its NUL is the format's, not the user's. */
	if (p == &e->info.cmdline && len)
		len--;
	return write_part(e, data, len, out_path, d);
}
