// SPDX-License-Identifier: MIT
/*
 * The Authenticode digest of a PE image.
 *
 * EDK2 (DxeImageVerificationLib's HashPeImage), Linux (verify_pefile.c) and
 * sbsign agree on it: the headers up to SizeOfHeaders without the CheckSum
 * field and the Security directory entry, then each section's raw data in
 * file order, then the bytes from SizeOfHeaders plus the sum of the raw
 * sizes up to the file size less the certificate table's size.
 *
 * That last rule is stated with a byte count, not with the end of the last
 * section; the two agree only when the raw data lies back to back from
 * SizeOfHeaders. Where it does not, some bytes would be hashed twice and a
 * gap would go unsigned, and a reader of the image cannot tell which bytes
 * a signature covers, so such images are refused rather than hashed. The
 * same goes for a certificate table that is not the end of the file (the
 * firmware hashes up to the file size less the table size, wherever the
 * table is). On the images that are hashed, the digest is then simply every
 * byte before the certificate table less those two header fields.
 */
#include <stdlib.h>
#include <string.h>

#include "authenticode_internal.h"
#include "hash/hasher.h"
#include "util/esc.h"

/* The header fields the digest skips must lie inside the hashed headers. */
static int plan_headers(const struct bp_pe *pe, struct bpi_pe_hash_plan *p, struct bp_diag *d)
{
	const struct bp_pe_info *in = &pe->info;
	uint32_t nrva_at = in->pe32plus ? PE32PLUS_OPT_NRVA : PE32_OPT_NRVA;
	uint64_t table_end = pe->section_table + (uint64_t)in->n_sections * PE_SECTION_SIZE;
	uint64_t dir_end = (uint64_t)nrva_at + 4 + 8 * (BP_PE_DIR_SECURITY + 1);

	p->checksum_at = pe->opt_offset + PE_OPT_CHECKSUM;
	p->secdir_at = 0;
	/* EDK2 looks for the entry when NumberOfRvaAndSizes says it is there. */
	if (in->n_rva_and_sizes > BP_PE_DIR_SECURITY) {
		if (in->size_of_optional_header < dir_end)
			return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the "
					   "Authenticode digest: NumberOfRvaAndSizes %u declares a "
					   "Security directory entry, but SizeOfOptionalHeader %u "
					   "ends before it", in->n_rva_and_sizes,
					   in->size_of_optional_header);
		p->secdir_at = pe->opt_offset + nrva_at + 4 + 8 * BP_PE_DIR_SECURITY;
	}
	if (in->size_of_headers < table_end)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest: SizeOfHeaders 0x%x ends before the section table does "
				   "(0x%llx)", in->size_of_headers, (unsigned long long)table_end);
	return 0;
}

/* Where the hashed data ends: the certificate table, which must end the file. */
static int plan_table(const struct bp_pe *pe, struct bpi_pe_hash_plan *p, struct bp_diag *d)
{
	const struct bp_pe_info *in = &pe->info;
	const struct bp_pe_dir *t = &in->dirs[BP_PE_DIR_SECURITY];

	p->data_end = pe->file.len;
	if (in->n_rva_and_sizes <= BP_PE_DIR_SECURITY || !t->size)
		goto headers;
	if (!bpi_range_ok(pe->file.len, t->address, t->size))
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest: the certificate table (0x%x bytes at 0x%x) extends past "
				   "the end of the file (0x%zx)", t->size, t->address, pe->file.len);
	if ((uint64_t)t->address + t->size != pe->file.len)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest: the certificate table (0x%x bytes at 0x%x) is not at the "
				   "end of the file (0x%zx); firmware hashes up to the file size less "
				   "the table size, so %llu bytes after it would be signed and as many "
				   "before it would not", t->size, t->address, pe->file.len,
				   (unsigned long long)(pe->file.len - ((uint64_t)t->address + t->size)));
	p->data_end = t->address;
headers:
	if (p->data_end < in->size_of_headers)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest: SizeOfHeaders 0x%x is past the %s (0x%llx)",
				   in->size_of_headers, p->data_end == pe->file.len ? "end of the file" :
				   "certificate table", (unsigned long long)p->data_end);
	return 0;
}

/* One section in file order: it must start where the data before it ends. */
static int plan_section(const struct bp_pe *pe, uint32_t i, struct bpi_pe_hash_plan *p,
			struct bp_diag *d)
{
	const struct bp_pe_section *s = &pe->sections[i];
	uint64_t end = (uint64_t)s->raw_offset + s->raw_size;

	if (s->raw_offset < p->sections_end)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest: section %u '%s': raw data at 0x%x overlaps the %s ending "
				   "at 0x%llx", i, BPI_ESC(s->name), s->raw_offset,
				   p->sections_end == pe->info.size_of_headers ? "headers" :
				   "previous section's data", (unsigned long long)p->sections_end);
	if (s->raw_offset > p->sections_end)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest unambiguously: %llu bytes at 0x%llx before section %u '%s' "
				   "belong to no section (firmware hashes from SizeOfHeaders plus the "
				   "raw sizes, not from the end of the last section, so it would leave "
				   "them unsigned)", (unsigned long long)(s->raw_offset - p->sections_end),
				   (unsigned long long)p->sections_end, i, BPI_ESC(s->name));
	if (end > p->data_end)
		return bp_diag_set(d, BP_ERR_FORMAT, pe->name, "cannot compute the Authenticode "
				   "digest: section %u '%s' (raw data 0x%x..0x%llx) runs past the %s "
				   "(0x%llx)", i, BPI_ESC(s->name), s->raw_offset,
				   (unsigned long long)end, p->data_end == pe->file.len ?
				   "end of the file" : "start of the certificate table",
				   (unsigned long long)p->data_end);
	p->sections_end = end;
	return 0;
}

int bpi_pe_hash_plan(const struct bp_pe *pe, struct bpi_pe_hash_plan *p, struct bp_diag *d)
{
	uint32_t n_sec = pe->info.n_sections, n = 0, *order;
	int ret = plan_headers(pe, p, d);

	if (!ret)
		ret = plan_table(pe, p, d);
	if (ret)
		return ret;
	order = calloc(n_sec ? n_sec : 1, sizeof(*order));
	if (!order)
		return bp_diag_set(d, BP_ERR_NOMEM, pe->name, "out of memory");
	for (uint32_t i = 0; i < n_sec; i++)
		if (pe->sections[i].raw_size)
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), bpi_pe_cmp_raw_offset, pe->sections);
	p->sections_end = pe->info.size_of_headers;
	for (uint32_t k = 0; k < n && !ret; k++)
		ret = plan_section(pe, order[k], p, d);
	free(order);
	return ret;
}

/* Hash [from, to) of the image, a chunk at a time, letting go of each chunk. */
static int hash_range(struct bpi_hasher *h, const struct bp_pe *pe, uint64_t from, uint64_t to,
		      struct bp_diag *d)
{
	int ret = 0;

	for (uint64_t off = from; off < to && !ret; off += BPI_PE_CHUNK) {
		uint64_t n = to - off < BPI_PE_CHUNK ? to - off : BPI_PE_CHUNK;

		ret = bpi_hasher_update(h, pe->file.data + off, (size_t)n, d);
		bpi_pe_release(pe, off, n);
	}
	return ret;
}

int bpi_pe_hash(const struct bp_pe *pe, const struct bpi_pe_hash_plan *p, uint64_t pad,
		enum bp_hash_algo algo, uint8_t out[BP_HASH_MAX_LEN], struct bp_diag *d)
{
	static const uint8_t zeros[8];
	uint64_t after_sum = p->checksum_at + 4;
	struct bpi_hasher h;
	int ret;

	if (pad > sizeof(zeros))
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "padding of %llu bytes",
				   (unsigned long long)pad);
	ret = bpi_hasher_init(&h, algo, d);
	if (ret)
		return ret;
	ret = hash_range(&h, pe, 0, p->checksum_at, d);
	if (!ret && p->secdir_at) {
		ret = hash_range(&h, pe, after_sum, p->secdir_at, d);
		after_sum = p->secdir_at + 8;
	}
	if (!ret)
		ret = hash_range(&h, pe, after_sum, p->data_end, d);
	if (!ret)
		ret = bpi_hasher_update(&h, zeros, pad, d);
	if (!ret)
		return bpi_hasher_final(&h, out, d);
	bpi_hasher_free(&h);
	return ret;
}

int bp_pe_digest(const struct bp_pe *pe, enum bp_hash_algo algo, uint8_t out[BP_HASH_MAX_LEN],
		 struct bp_diag *d)
{
	struct bpi_pe_hash_plan p;
	int ret;

	bp_diag_clear(d);
	if (algo != BP_HASH_SHA1 && algo != BP_HASH_SHA256 && algo != BP_HASH_SHA384 &&
	    algo != BP_HASH_SHA512)
		return bp_diag_set(d, BP_ERR_INVALID, pe->name, "the Authenticode digest is sha1, "
				   "sha256, sha384 or sha512, not '%s'",
				   bp_hash_name(algo) ? bp_hash_name(algo) : "unknown");
	ret = bpi_pe_hash_plan(pe, &p, d);
	if (!ret)
		ret = bpi_pe_hash(pe, &p, 0, algo, out, d);
	return ret;
}
