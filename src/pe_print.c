// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "pe_print.h"

/* The zboot header's LINUX_PE_MAGIC, written from Linux 6.2 on (zboot-header.S). */
#define LINUX_PE_MAGIC 0x818223cdu

const char *pe_machine_name(uint16_t m)
{
	switch (m) {
	case 0x014c: return "i386";
	case 0x8664: return "x86_64";
	case 0xaa64: return "arm64";
	case 0x01c0: case 0x01c2: case 0x01c4: return "arm";
	case 0x5032: return "riscv32";
	case 0x5064: return "riscv64";
	case 0x5128: return "riscv128";
	case 0x6232: return "loongarch32";
	case 0x6264: return "loongarch64";
	case 0x0ebc: return "efi-byte-code";
	default: return "unknown";
	}
}

void pe_problems_json(FILE *f, const struct bp_pe *pe)
{
	const struct bp_pe_info *in = bp_pe_get_info(pe);

	fputc('[', f);
	for (size_t i = 0; i < in->n_problems; i++) {
		fprintf(f, "%s{\"severity\": \"%s\", \"message\": ", i ? ", " : "",
			bp_pe_problem_at(pe, i)->severity == BP_PE_ERROR ? "error" : "warning");
		json_str(f, bp_pe_problem_at(pe, i)->msg);
		fputc('}', f);
	}
	fputc(']', f);
}

static const char *algo_name(const struct bp_pe_signature *s)
{
	const char *name = s && s->parsed ? bp_hash_name(s->digest_algo) : NULL;

	return name ? name : "unknown digest";
}

/* "2023-11-14 22:13:20 UTC"; the number alone when gmtime cannot say. */
static void print_time(FILE *f, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	if ((int64_t)tt == t && gmtime_r(&tt, &tm) &&
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
		fprintf(f, "%s (%" PRId64 ")", buf, t);
	else
		fprintf(f, "%" PRId64, t);
}

static void text_one(const struct bp_pe *pe, size_t i)
{
	const struct bp_pe_signature *s = bp_pe_signature_at(pe, i);

	printf("  %-3zu ", i + 1);
	if (!s->parsed) {
		printf("not an Authenticode signature (revision 0x%04x, type 0x%04x, %" PRIu32
		       " bytes at 0x%" PRIx64 "): %s\n", s->revision, s->type, s->length, s->offset,
		       CLI_MSG(s->problem ? s->problem : "unknown"));
		return;
	}
	cli_print_esc(stdout, s->signer ? s->signer : "(no signer certificate)", BP_ESC_TEXT);
	printf("\n      Issuer:       ");
	cli_print_esc(stdout, s->issuer, BP_ESC_TEXT);
	printf("\n      Serial:       ");
	cli_print_esc(stdout, s->serial, BP_ESC_TEXT);
	printf("\n      Digest:       %s ", algo_name(s));
	for (size_t k = 0; k < bp_hash_len(s->digest_algo); k++)
		printf("%02x", s->digest[k]);
	printf(" (%s)\n      Signing time: ", s->digest_matches ? "matches the image" :
	       "DIFFERS from the image's");
	if (s->has_signing_time)
		print_time(stdout, s->signing_time);
	else
		printf("none");
	printf("\n      Certificates: %zu\n", s->n_certs);
	printf("      Entry:        %" PRIu32 " bytes at 0x%" PRIx64 "\n", s->length, s->offset);
}

void pe_sigs_text(const struct bp_pe *pe)
{
	struct bp_diag d;
	size_t n = 0;
	int ret = bp_pe_signatures(pe, &n, &d);

	if (ret) {
		printf("Signatures:              unreadable: %s\n",
		       d.msg[0] ? CLI_MSG(d.msg) : bp_strerror(ret));
		return;
	}
	printf("Signatures:              %zu\n", n);
	for (size_t i = 0; i < n; i++)
		text_one(pe, i);
}

static void json_one(FILE *f, const struct bp_pe_signature *s, size_t i)
{
	fprintf(f, "{\"number\": %zu, \"offset\": %" PRIu64 ", \"length\": %" PRIu32
		", \"revision\": %u, \"type\": %u, \"problem\": ", i + 1, s->offset, s->length,
		s->revision, s->type);
	json_str(f, s->parsed ? NULL : s->problem ? s->problem : "unknown");
	fprintf(f, ", \"signer\": ");
	json_str(f, s->parsed ? s->signer : NULL);
	fprintf(f, ", \"issuer\": ");
	json_str(f, s->parsed ? s->issuer : NULL);
	fprintf(f, ", \"serial\": ");
	json_str(f, s->parsed ? s->serial : NULL);
	fprintf(f, ", \"digest_algo\": ");
	json_str(f, s->parsed ? bp_hash_name(s->digest_algo) : NULL);
	fprintf(f, ", \"digest\": ");
	json_hex(f, s->parsed ? s->digest : NULL, bp_hash_len(s->digest_algo));
	fprintf(f, ", \"digest_matches\": %s, \"signing_time\": ",
		s->parsed && s->digest_matches ? "true" : "false");
	if (s->parsed && s->has_signing_time)
		fprintf(f, "%" PRId64, s->signing_time);
	else
		fprintf(f, "null");
	fprintf(f, ", \"certificates\": %zu}", s->parsed ? s->n_certs : 0);
}

void pe_sigs_json(const struct bp_pe *pe)
{
	struct bp_diag d;
	size_t n = 0;
	int ret = bp_pe_signatures(pe, &n, &d);

	printf(",\n \"signatures\": ");
	if (ret) {
		printf("null, \"signatures_error\": ");
		json_str(stdout, d.msg[0] ? d.msg : bp_strerror(ret));
		return;
	}
	printf("[");
	for (size_t i = 0; i < n; i++) {
		printf("%s\n  ", i ? "," : "");
		json_one(stdout, bp_pe_signature_at(pe, i), i);
	}
	printf("%s]", n ? "\n " : "");
}

void pe_sig_check_line(FILE *f, const struct bp_pe *pe, const struct bp_pe_sig_check *c)
{
	const struct bp_pe_signature *s = bp_pe_signature_at(pe, c->index);
	bool good = c->digest_ok && c->signature_ok && c->trusted;

	fprintf(f, "signature %zu: ", c->index + 1);
	if (s && s->parsed) {
		cli_print_esc(f, s->signer ? s->signer : "(no signer certificate)", BP_ESC_TEXT);
		fprintf(f, ", %s: %s, %s, %s", algo_name(s),
			c->digest_ok ? "digest matches" : "digest DIFFERS",
			c->signature_ok ? "signature valid" : "signature INVALID",
			c->trusted ? "trusted" : "NOT trusted");
		if (!good && c->msg && *c->msg)
			fprintf(f, ": %s", CLI_MSG(c->msg));
	} else {
		/* The entry's own problem: the check's message would say "not an Authenticode" again. */
		fprintf(f, "not an Authenticode signature: %s",
			CLI_MSG(s && s->problem ? s->problem : c->msg && *c->msg ? c->msg : "unknown"));
	}
	fputc('\n', f);
}

void pe_sig_check_json(FILE *f, const struct bp_pe *pe, const struct bp_pe_sig_check *c)
{
	const struct bp_pe_signature *s = bp_pe_signature_at(pe, c->index);
	bool parsed = s && s->parsed;

	fprintf(f, "{\"number\": %zu, \"signer\": ", c->index + 1);
	json_str(f, parsed ? s->signer : NULL);
	fprintf(f, ", \"digest_algo\": ");
	json_str(f, parsed ? bp_hash_name(s->digest_algo) : NULL);
	fprintf(f, ", \"digest_ok\": %s, \"signature_ok\": %s, \"trusted\": %s, \"good\": %s, "
		"\"message\": ", c->digest_ok ? "true" : "false", c->signature_ok ? "true" : "false",
		c->trusted ? "true" : "false",
		c->digest_ok && c->signature_ok && c->trusted ? "true" : "false");
	json_str(f, c->msg);
	fputc('}', f);
}

bool pe_inner_image(const struct bp_pe *pe, bool if_loaded, struct bp_zboot_inner *out)
{
	const struct bp_pe_zboot *z = &bp_pe_get_info(pe)->zboot;
	struct bp_diag d;

	/*
	 * The header's magic came with the decompressor that runs the kernel
	 * itself (both Linux 6.2): decompressing tens of MiB only to learn
	 * that the inner signature does not matter is not worth it.
	 */
	if (!z->present || (if_loaded && z->linux_pe_magic == LINUX_PE_MAGIC))
		return false;
	*out = (struct bp_zboot_inner)BP_ZBOOT_INNER_INIT;
	if (bp_zboot_inner(pe, 0, out, &d))
		out->sig = BP_ZBOOT_INNER_UNKNOWN;
	return !if_loaded || out->loads_inner_image;
}

static const char *inner_sig_name(enum bp_zboot_inner_sig s)
{
	switch (s) {
	case BP_ZBOOT_INNER_UNSIGNED: return "unsigned";
	case BP_ZBOOT_INNER_SIGNED: return "signed";
	case BP_ZBOOT_INNER_NOT_PE: return "not-pe";
	default: return "unknown";
	}
}

void pe_inner_warn(const char *path, const struct bp_zboot_inner *in)
{
	if (in->sig != BP_ZBOOT_INNER_UNSIGNED || !in->loads_inner_image)
		return;
	fflush(stdout);
	cli_error(path, "warning: the inner Image (Linux %s) is unsigned and this zboot "
		  "decompressor (Linux before %u.%u) passes it to LoadImage(): Secure Boot "
		  "will refuse to start it", in->version[0] ? CLI_ESC(in->version) : "version unknown",
		  BP_ZBOOT_LOADIMAGE_FIXED / 100, BP_ZBOOT_LOADIMAGE_FIXED % 100);
}

void pe_inner_json(FILE *f, const struct bp_zboot_inner *in)
{
	if (!in) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"signature\": \"%s\", \"version\": ", inner_sig_name(in->sig));
	json_str(f, in->version[0] ? in->version : NULL);
	fprintf(f, ", \"loads_inner_image\": %s}", in->loads_inner_image ? "true" : "false");
}

void pe_inner_text(const struct bp_zboot_inner *in)
{
	static const char *const what[] = {
		[BP_ZBOOT_INNER_UNKNOWN] = "could not be decompressed",
		[BP_ZBOOT_INNER_UNSIGNED] = "unsigned",
		[BP_ZBOOT_INNER_SIGNED] = "signed",
		[BP_ZBOOT_INNER_NOT_PE] = "not a PE image",
	};

	printf("zboot inner Image:       ");
	if (in->version[0]) {
		printf("Linux ");
		cli_print_esc(stdout, in->version, BP_ESC_TEXT);
		printf(", ");
	}
	printf("%s", (unsigned)in->sig < sizeof(what) / sizeof(what[0]) ? what[in->sig]
								       : "unknown");
	if (in->sig != BP_ZBOOT_INNER_UNKNOWN)
		printf("; its decompressor %s", in->loads_inner_image ?
		       "passes it to LoadImage(), which Secure Boot checks" : "starts it itself");
	putchar('\n');
}
