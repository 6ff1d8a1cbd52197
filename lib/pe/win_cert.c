// SPDX-License-Identifier: MIT
/*
 * The attribute certificate table: WIN_CERTIFICATE entries (dwLength with
 * the 8-byte header, wRevision, wCertificateType, then the data), each
 * starting on an 8-byte boundary, from the Security directory's file
 * offset for its size. Walked once, on the first question, the way EDK2's
 * DxeImageVerificationHandler walks it; every length is checked against
 * what is left of the table before it is used. Where EDK2's walk stops
 * short of the table's end, it refuses the image whatever the entries
 * before held, so those tables are not walked here either: nothing in
 * them could make the image pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode_internal.h"
#include "util/esc.h"

/* Why the table cannot be walked, kept for every later question. */
static int walk_error(struct bpi_pe_sigs *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int walk_error(struct bpi_pe_sigs *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	s->err = err;
	return err;
}

static struct bpi_pe_sig *new_entry(struct bpi_pe_sigs *s)
{
	struct bpi_pe_sig *e = realloc(s->sig, (s->n + 1) * sizeof(*e));

	if (!e)
		return NULL;
	s->sig = e;
	e += s->n++;
	memset(e, 0, sizeof(*e));
	e->pub.size = sizeof(e->pub);
	return e;
}

/* An entry that is not an Authenticode signature: listed with the reason. */
static void entry_problem(struct bpi_pe_sig *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void entry_problem(struct bpi_pe_sig *e, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(e->problem);
	e->problem = strdup(buf);
	e->pub.problem = e->problem ? e->problem : "out of memory";
	e->pub.parsed = false;
}

static void read_entry(struct bpi_pe_sig *e, const struct bp_pe *pe, uint64_t off)
{
	const uint8_t *p = bpi_pe_bytes(pe, off, e->pub.length);

	if (e->pub.revision != BP_WIN_CERT_REVISION_2_0)
		entry_problem(e, "WIN_CERTIFICATE revision 0x%04x, not 0x0200",
			      e->pub.revision);
	else if (e->pub.type != BP_WIN_CERT_TYPE_PKCS_SIGNED_DATA)
		entry_problem(e, "WIN_CERTIFICATE type 0x%04x, not PKCS_SIGNED_DATA (0x0002)",
			      e->pub.type);
	else if (e->pub.length == BPI_WIN_CERT_HDR || !p)
		entry_problem(e, "the WIN_CERTIFICATE holds no data");
	else
		bpi_pe_sig_parse(e, p + BPI_WIN_CERT_HDR, e->pub.length - BPI_WIN_CERT_HDR);
}

/*
 * The table must lie in the file, after the headers and every section's
 * raw data (the digest stops where it starts), on an 8-byte boundary.
 * Headers or raw data said to run past the end of the file are the
 * reader's errors, not bytes the table could share.
 */
static int check_place(const struct bp_pe *pe, struct bpi_pe_sigs *s)
{
	const struct bp_pe_info *in = &pe->info;
	const struct bp_pe_dir *t = &in->dirs[BP_PE_DIR_SECURITY];
	uint64_t end = (uint64_t)t->address + t->size;

	if (!bpi_range_ok(pe->file.len, t->address, t->size))
		return walk_error(s, BP_ERR_RANGE, "the certificate table (0x%x bytes at 0x%x) "
				  "extends past the end of the file (0x%zx)", t->size, t->address,
				  pe->file.len);
	if (t->address < in->size_of_headers && in->size_of_headers <= pe->file.len)
		return walk_error(s, BP_ERR_FORMAT, "the certificate table (0x%x bytes at 0x%x) "
				  "overlaps the headers (SizeOfHeaders 0x%x)", t->size, t->address,
				  in->size_of_headers);
	for (uint32_t i = 0; i < in->n_sections; i++) {
		const struct bp_pe_section *sec = &pe->sections[i];
		uint64_t rend = (uint64_t)sec->raw_offset + sec->raw_size;

		if (sec->raw_size && rend <= pe->file.len && sec->raw_offset < end &&
		    t->address < rend)
			return walk_error(s, BP_ERR_FORMAT, "the certificate table (0x%x bytes at "
					  "0x%x) overlaps section %u '%s' (raw data 0x%x..0x%llx)",
					  t->size, t->address, i, BPI_ESC(sec->name),
					  sec->raw_offset, (unsigned long long)rend);
	}
	if (t->address % 8)
		return walk_error(s, BP_ERR_FORMAT, "the certificate table offset 0x%x is not "
				  "8-byte aligned, as UEFI firmware requires", t->address);
	return 0;
}

/*
 * The entry of @len bytes and @type at @off, @left bytes before the end of
 * the table: 0 when EDK2 walks past it, else why its walk stops there.
 * Entries are numbered from 1, as pe info and pe verify list them.
 */
static int check_entry(struct bpi_pe_sigs *s, uint64_t off, uint64_t left, uint32_t len,
		       uint16_t type)
{
	unsigned long long o = off, l = left;

	if (len < BPI_WIN_CERT_HDR || len > left)
		return walk_error(s, BP_ERR_FORMAT, "certificate table entry %zu at 0x%llx: "
				  "dwLength %u %s (%llu bytes left in the table)", s->n + 1, o, len,
				  len < BPI_WIN_CERT_HDR ? "is below its own 8-byte header" :
				  "runs past the table", l);
	/* The PE format lets the last entry go unpadded; EDK2 does not. */
	if (BPI_ALIGN_UP((uint64_t)len, 8) > left)
		return walk_error(s, BP_ERR_FORMAT, "certificate table entry %zu at 0x%llx: "
				  "dwLength %u, padded to 8 bytes, runs past the table (%llu bytes "
				  "left in the table); UEFI firmware (EDK2) refuses an unpadded last "
				  "entry", s->n + 1, o, len, l);
	if ((type == BP_WIN_CERT_TYPE_PKCS_SIGNED_DATA && len == BPI_WIN_CERT_HDR) ||
	    (type == BPI_WIN_CERT_TYPE_EFI_GUID && len <= BPI_WIN_CERT_GUID_HDR))
		return walk_error(s, BP_ERR_FORMAT, "certificate table entry %zu at 0x%llx: "
				  "dwLength %u leaves no data after its %d-byte header (type "
				  "0x%04x); UEFI firmware (EDK2) stops there and refuses the image",
				  s->n + 1, o, len, type == BPI_WIN_CERT_TYPE_EFI_GUID ?
				  BPI_WIN_CERT_GUID_HDR : BPI_WIN_CERT_HDR, type);
	return 0;
}

static int walk(const struct bp_pe *pe, struct bpi_pe_sigs *s)
{
	const struct bp_pe_info *in = &pe->info;
	const struct bp_pe_dir *t = &in->dirs[BP_PE_DIR_SECURITY];
	uint64_t off = t->address, end = (uint64_t)t->address + t->size;
	int ret;

	if (in->n_rva_and_sizes <= BP_PE_DIR_SECURITY || !t->size)
		return 0;
	ret = check_place(pe, s);
	while (!ret && off < end) {
		const uint8_t *h = bpi_pe_bytes(pe, off, BPI_WIN_CERT_HDR);
		struct bpi_pe_sig *e;
		uint32_t len;

		if (s->n == BPI_WIN_CERT_MAX)
			return walk_error(s, BP_ERR_FORMAT, "the certificate table holds more "
					  "than %d entries", BPI_WIN_CERT_MAX);
		/* EDK2 stops at 8 bytes too: a header alone holds nothing to check. */
		if (end - off <= BPI_WIN_CERT_HDR || !h)
			return walk_error(s, BP_ERR_FORMAT, "the certificate table ends with "
					  "%llu bytes at 0x%llx, too few for a WIN_CERTIFICATE (an "
					  "8-byte header and data)", (unsigned long long)(end - off),
					  (unsigned long long)off);
		len = bpi_get_le32(h);
		ret = check_entry(s, off, end - off, len, bpi_get_le16(h + 6));
		if (ret)
			break;
		e = new_entry(s);
		if (!e)
			return walk_error(s, BP_ERR_NOMEM, "out of memory");
		e->pub.offset = off;
		e->pub.length = len;
		e->pub.revision = bpi_get_le16(h + 4);
		e->pub.type = bpi_get_le16(h + 6);
		read_entry(e, pe, off);
		off += BPI_ALIGN_UP((uint64_t)len, 8);
	}
	return ret;
}

/* digest_matches: the image's digest with each signature's algorithm, computed once. */
static void match_digests(const struct bp_pe *pe, struct bpi_pe_sigs *s)
{
	struct bp_diag d;

	for (size_t i = 0; i < s->n; i++) {
		struct bp_pe_signature *g = &s->sig[i].pub;
		enum bp_hash_algo a = g->digest_algo;

		if (!g->parsed)
			continue;
		if (!s->have_digest[a]) {
			s->digest_err[a] = bp_pe_digest(pe, a, s->digest[a], &d);
			if (s->digest_err[a])
				snprintf(s->digest_msg, sizeof(s->digest_msg), "%s", d.msg);
			s->have_digest[a] = true;
		}
		g->digest_matches = !s->digest_err[a] &&
				    !memcmp(g->digest, s->digest[a], bp_hash_len(a));
	}
}

int bpi_pe_sigs_get(const struct bp_pe *pe, struct bpi_pe_sigs **out, struct bp_diag *d)
{
	struct bp_pe *mpe = (struct bp_pe *)pe;
	struct bpi_pe_sigs *s;

	pthread_mutex_lock(&mpe->sigs_lock);
	s = pe->sigs;
	if (!s && (s = calloc(1, sizeof(*s)))) {
		/* After a fault the entries before it stay, for bp_pe_close() to free. */
		if (!walk(pe, s))
			match_digests(pe, s);
		s->done = true;
		mpe->sigs = s;
	}
	pthread_mutex_unlock(&mpe->sigs_lock);
	*out = s;
	if (!s)
		return bp_diag_set(d, BP_ERR_NOMEM, pe->name, "out of memory");
	if (s->err)
		return bp_diag_set(d, s->err, pe->name, "%s", s->msg);
	return 0;
}

void bpi_pe_sig_clear(struct bpi_pe_sig *e)
{
	PKCS7_free(e->p7);
	free(e->problem);
	free(e->subject);
	free(e->issuer);
	free(e->serial);
	memset(e, 0, sizeof(*e));
}

void bpi_pe_sigs_free(struct bpi_pe_sigs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		bpi_pe_sig_clear(&s->sig[i]);
	free(s->sig);
	free(s);
}

int bp_pe_signatures(const struct bp_pe *pe, size_t *n, struct bp_diag *d)
{
	struct bpi_pe_sigs *s;
	int ret;

	bp_diag_clear(d);
	*n = 0;
	ret = bpi_pe_sigs_get(pe, &s, d);
	if (!ret)
		*n = s->n;
	return ret;
}

const struct bp_pe_signature *bp_pe_signature_at(const struct bp_pe *pe, size_t i)
{
	struct bp_pe *mpe = (struct bp_pe *)pe;
	const struct bp_pe_signature *g = NULL;

	/* Only what bp_pe_signatures() listed: nothing when the walk failed. */
	pthread_mutex_lock(&mpe->sigs_lock);
	if (pe->sigs && !pe->sigs->err && i < pe->sigs->n)
		g = &pe->sigs->sig[i].pub;
	pthread_mutex_unlock(&mpe->sigs_lock);
	return g;
}
