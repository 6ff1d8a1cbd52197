// SPDX-License-Identifier: MIT
/*
 * Keys held in a PKCS#11 token, through OpenSSL's pkcs11 engine (libp11,
 * Debian's libengine-pkcs11-openssl). The ENGINE API is deprecated in
 * OpenSSL 3.0 but is what that engine offers; the deprecation is silenced
 * for this file only. Each key gets its own engine instance (ENGINE_by_id
 * loads a fresh, unlisted one), so nothing is set process-wide: no default
 * engine, no global PIN. The engine never prompts: a PIN comes from the
 * caller or the URI's pin-value, else login fails with a clear message.
 * The PKCS#11 module is the engine's: PKCS11_MODULE_PATH, else p11-kit's
 * proxy (which loads every module p11-kit knows, SoftHSM2's included).
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/ui.h>

#include "sig_internal.h"
#include "util/esc.h"

bool bpi_is_pkcs11_uri(const char *spec)
{
	return !strncmp(spec, "pkcs11:", 7);
}

/* The path part's attribute @name ("object"), percent-decoded; NULL if absent. */
static char *uri_attr(const char *spec, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = spec + 7;

	while (*p && *p != '?') {
		size_t len = strcspn(p, ";?");

		if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
			const char *v = p + nlen + 1, *end = p + len;
			char *out = malloc((size_t)(end - v) + 1), *o = out;

			if (!out)
				return NULL;
			while (v < end) {
				if (*v == '%' && end - v >= 3 && isxdigit((unsigned char)v[1]) &&
				    isxdigit((unsigned char)v[2])) {
					char hex[3] = { v[1], v[2], 0 };

					*o++ = (char)strtol(hex, NULL, 16);
					v += 3;
				} else {
					*o++ = *v++;
				}
			}
			*o = '\0';
			return out;
		}
		p += len;
		if (*p == ';')
			p++;
	}
	return NULL;
}

char *bpi_pkcs11_redact(const char *spec)
{
	/* "pin-value=" + at least nothing becomes "pin-value=...": 3 more bytes each time. */
	char *out = malloc(2 * strlen(spec) + 4), *o = out;
	const char *p = spec;

	if (!out)
		return NULL;
	if (bpi_is_pkcs11_uri(p)) {
		memcpy(o, p, 7);
		o += 7;
		p += 7;
	}
	while (*p) {
		size_t len = strcspn(p, ";?&");

		if (!strncmp(p, "pin-value=", 10) || !strncmp(p, "pin-source=", 11)) {
			o += sprintf(o, "%.*s=...", (int)strcspn(p, "="), p);
		} else {
			memcpy(o, p, len);
			o += len;
		}
		p += len;
		if (*p)
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/* The engine asks the UI for a PIN only when it has none: refuse, never prompt. */
static int no_reader(UI *ui, UI_STRING *uis)
{
	(void)ui;
	(void)uis;
	return -1;
}

/*
 * The key's name: the URI's object=, else its id= in hex; NULL (and *none
 * set) when the URI names no key, which the engine would take as "the
 * first key of the first token": never what a signer means.
 */
static char *uri_name(const char *spec, bool *none)
{
	char *name = uri_attr(spec, "object");
	char *id;

	*none = false;
	if (name && *name)
		return name;
	free(name);
	id = uri_attr(spec, "id");
	if (id && *id) {
		size_t n = strlen(id);

		name = malloc(2 * n + 1);
		for (size_t i = 0; name && i < n; i++)
			sprintf(name + 2 * i, "%02x", (unsigned char)id[i]);
		free(id);
		return name;
	}
	free(id);
	*none = true;
	return NULL;
}

int bpi_pkcs11_open(struct bp_key *k, const char *spec, const char *pin, bool want_private,
		    struct bp_diag *d)
{
	char *path = bpi_pkcs11_redact(spec);
	ENGINE *e = NULL;
	EVP_PKEY *pkey = NULL;
	const char *mod;
	bool none;
	int ret = 0;

	if (!path)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	k->name = uri_name(spec, &none);
	if (!k->name) {
		ret = bp_diag_set(d, none ? BP_ERR_INVALID : BP_ERR_NOMEM, path,
				  none ? "the PKCS#11 URI names no key (give object= or id=)"
				       : "out of memory");
		goto out;
	}
	/* The engine loads the module only when a key is asked for, then reports
	 * a missing one on stderr and as "no key": say what is wrong instead. */
	mod = getenv("PKCS11_MODULE_PATH");
	if (mod && strchr(mod, '/') && access(mod, R_OK)) {
		ret = bp_diag_set(d, BP_ERR_IO, path, "PKCS11_MODULE_PATH '%s': %s",
				  BPI_ESC(mod), strerror(errno));
		goto out;
	}
	e = ENGINE_by_id("pkcs11");
	if (!e) {
		ret = bpi_sig_ssl_err(d, BP_ERR_UNSUPPORTED, path,
				      "OpenSSL's pkcs11 engine is not available "
				      "(libengine-pkcs11-openssl)");
		goto out;
	}
	(void)ENGINE_ctrl_cmd_string(e, "QUIET", NULL, 1);
	if (pin && !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0)) {
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, path, "cannot give the PIN to the pkcs11 engine");
		ENGINE_free(e);
		goto out;
	}
	if (!ENGINE_init(e)) {
		ret = bpi_sig_ssl_err(d, BP_ERR_UNSUPPORTED, path,
				      "cannot load the PKCS#11 module (PKCS11_MODULE_PATH)");
		ENGINE_free(e);
		goto out;
	}
	k->engine = e;
	k->ui = UI_create_method("bootpack: no prompt");
	if (!k->ui || UI_method_set_reader(k->ui, no_reader)) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
		goto out;
	}
	if (want_private) {
		pkey = ENGINE_load_private_key(e, spec, k->ui, NULL);
	} else {
		pkey = ENGINE_load_public_key(e, spec, k->ui, NULL);
		if (!pkey) {
			ERR_clear_error();
			pkey = ENGINE_load_private_key(e, spec, k->ui, NULL);
		}
	}
	if (!pkey) {
		ret = bpi_sig_ssl_err(d, BP_ERR_NOTFOUND, path,
				      want_private ? "no private key found in a token for this URI "
						     "(token, object, id or PIN wrong?)"
						   : "no key found in a token for this URI "
						     "(token, object, id or PIN wrong?)");
		goto out;
	}
	ret = bpi_key_public_copy(pkey, &k->pub, path, d);
	if (!ret)
		ret = bpi_key_check_type(k->pub, path, d);
	if (ret)
		goto out;
	if (want_private) {
		k->pkey = pkey;
		k->priv = true;
		pkey = NULL;
	}
	if (pthread_mutex_init(&k->lock, NULL)) {
		ret = bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
		goto out;
	}
	k->locked = true;
out:
	EVP_PKEY_free(pkey);
	free(path);
	ERR_clear_error();
	return ret;
}

void bpi_pkcs11_close(struct bp_key *k)
{
	if (k->engine) {
		ENGINE_finish(k->engine);
		ENGINE_free(k->engine);
	}
	if (k->ui)
		UI_destroy_method(k->ui);
	if (k->locked)
		pthread_mutex_destroy(&k->lock);
}
