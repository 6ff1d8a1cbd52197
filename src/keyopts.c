// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keyopts.h"

static const char *const hashes[] = { "sha1", "sha256", "sha384", "sha512" };
static const char *const ciphers[] = { "rsa2048", "rsa3072", "rsa4096", "ecdsa256", "ecdsa384" };

static bool one_of(const char *s, size_t len, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && !strncmp(s, names[i], len))
			return true;
	return false;
}

int keyopts_algo(const char *cmd, const char *val)
{
	const char *comma = strchr(val, ',');
	size_t hlen = comma ? (size_t)(comma - val) : strlen(val);

	if (one_of(val, hlen, hashes, 4) &&
	    (!comma || one_of(comma + 1, strlen(comma + 1), ciphers, 5)))
		return 0;
	return cli_usage_error(cmd, "--algo '%s': expected HASH or HASH,CIPHER with HASH sha1, "
			       "sha256, sha384 or sha512 and CIPHER rsa2048, rsa3072, rsa4096, "
			       "ecdsa256 or ecdsa384 (e.g. sha256,rsa2048)", CLI_ESC(val));
}

int keyopts_padding(const char *cmd, const char *val)
{
	if (!strcmp(val, "pkcs-1.5") || !strcmp(val, "pss"))
		return 0;
	return cli_usage_error(cmd, "--padding '%s': expected pkcs-1.5 or pss", CLI_ESC(val));
}

int keyopts_required(const char *cmd, const char *val, enum bp_key_required *out)
{
	if (!strcmp(val, "conf"))
		*out = BP_KEY_REQUIRED_CONF;
	else if (!strcmp(val, "image"))
		*out = BP_KEY_REQUIRED_IMAGE;
	else
		return cli_usage_error(cmd, "--required '%s': expected conf or image",
				       CLI_ESC(val));
	return 0;
}

int keyopts_key_name(const char *cmd, const char *val)
{
	/* The devicetree node-name characters, without '@' (U-Boot refuses unit addresses). */
	size_t n = strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789,._+-");

	if (*val && !val[n] && n <= 27)
		return 0;
	return cli_usage_error(cmd, "--key-name '%s': expected 1 to 27 of the characters "
			       "a-z A-Z 0-9 , . _ + - (the node is /signature/key-NAME)",
			       CLI_ESC(val));
}

int keyopts_open(const char *spec, const char *pin, bool public_only, struct bp_key **out)
{
	struct bp_diag d;
	int ret = public_only ? bp_key_open_public(spec, pin, out, &d)
			      : bp_key_open(spec, pin, out, &d);

	return ret ? cli_fail(ret, &d) : 0;
}

int keyopts_resolve_algo(const struct bp_key *k, const char *algo, char *buf, size_t size,
			 const char **out)
{
	struct bp_diag d;
	int ret;

	*out = algo;
	if (!algo || strchr(algo, ','))
		return 0;
	ret = bp_key_algo(k, algo, buf, size, &d);
	if (ret)
		return cli_fail(ret, &d);
	*out = buf;
	return 0;
}

int keyopts_source_date_epoch(bool *set, uint32_t *out)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	unsigned long long v;
	char *end;

	*set = false;
	if (!sde)
		return 0;
	errno = 0;
	v = strtoull(sde, &end, 10);
	if (!*sde || *sde == '-' || *sde == '+' || *end || errno || v > UINT32_MAX) {
		cli_error(NULL, "SOURCE_DATE_EPOCH='%s' is not a number of seconds between 0 and "
			  "4294967295", CLI_ESC(sde));
		return EXIT_FAIL;
	}
	*set = true;
	*out = (uint32_t)v;
	return 0;
}
