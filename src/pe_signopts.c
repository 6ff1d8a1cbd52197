// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bootpack/sign.h>

#include "cli.h"
#include "keyopts.h"
#include "pe_signopts.h"
#include "pe_print.h"

/* The last second of year 9999: what an ASN.1 GeneralizedTime can hold. */
#define SIGNING_TIME_MAX 253402300799LL

int pe_digest_opt(const char *cmd, const char *val, bool sha1_ok, enum bp_hash_algo *out)
{
	static const struct { const char *name; enum bp_hash_algo algo; } names[] = {
		{ "sha1", BP_HASH_SHA1 }, { "sha256", BP_HASH_SHA256 },
		{ "sha384", BP_HASH_SHA384 }, { "sha512", BP_HASH_SHA512 },
	};

	for (size_t i = sha1_ok ? 0 : 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(val, names[i].name)) {
			*out = names[i].algo;
			return 0;
		}
	return cli_usage_error(cmd, "--digest '%s': expected %ssha256, sha384 or sha512",
			       CLI_ESC(val), sha1_ok ? "sha1, " : "");
}

static int signing_time_opt(const char *cmd, const char *val)
{
	unsigned long long v;
	char *end;

	if (!strcmp(val, "now") || !strcmp(val, "none"))
		return 0;
	errno = 0;
	v = strtoull(val, &end, 10);
	if (*val < '0' || *val > '9' || *end || errno || v > SIGNING_TIME_MAX)
		return cli_usage_error(cmd, "--signing-time '%s': expected seconds since 1970 "
				       "(0 to %lld), now or none", CLI_ESC(val), SIGNING_TIME_MAX);
	return 0;
}

int pe_signopts_set(struct pe_signopts *s, const char *cmd, int key, const char *val)
{
	switch (key) {
	case 'k': s->key = val; break;
	case 'c': s->cert = val; break;
	case PE_OPT_CHAIN: s->chain = val; break;
	case PE_OPT_PIN: s->pin = val; break;
	case PE_OPT_DIGEST:
		s->any = true;
		return pe_digest_opt(cmd, val, false, &s->digest);
	case PE_OPT_SIGNING_TIME:
		s->any = true;
		s->signing_time = val;
		return signing_time_opt(cmd, val);
	default:
		return PE_SIGNOPTS_NOT_MINE;
	}
	s->any = true;
	return 0;
}

int pe_signopts_check(const struct pe_signopts *s, const char *cmd)
{
	const char *missing[2];
	size_t n = 0;

	if (!s->any)
		return 0;
	if (!s->key)
		missing[n++] = "-k/--key";
	if (!s->cert)
		missing[n++] = "-c/--cert";
	return n ? cli_missing_options(cmd, missing, n) : 0;
}

/*
 * --signing-time wins over SOURCE_DATE_EPOCH, which a reproducible build
 * sets for every tool: its value is as reproducible as no time at all, and
 * "none" keeps a signature without one even then.
 */
static int signing_time(const struct pe_signopts *s, struct bp_pe_sign_opts *o)
{
	uint32_t sde;
	int ret;

	o->has_signing_time = false;
	if (s->signing_time) {
		if (!strcmp(s->signing_time, "none"))
			return 0;
		o->has_signing_time = true;
		o->signing_time = !strcmp(s->signing_time, "now") ? (int64_t)time(NULL)
				  : (int64_t)strtoll(s->signing_time, NULL, 10);
		return 0;
	}
	ret = keyopts_source_date_epoch(&o->has_signing_time, &sde);
	o->signing_time = sde;
	return ret;
}

int pe_signopts_prepare(const struct pe_signopts *s, struct bp_pe_sign_opts *o,
			struct bp_key **k)
{
	int ret = signing_time(s, o);

	*k = NULL;
	if (ret)
		return ret;
	o->cert = s->cert;
	o->chain = s->chain;
	o->digest = s->digest;
	return keyopts_open(s->key, s->pin, false, k);
}

void pe_warn_inner_unsigned(const char *path, const struct bp_pe *pe)
{
	struct bp_zboot_inner in;

	if (pe_inner_image(pe, true, &in))
		pe_inner_warn(path, &in);
}
