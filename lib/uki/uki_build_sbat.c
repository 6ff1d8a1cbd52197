// SPDX-License-Identifier: MIT
/*
 * .sbat merging. shim reads the first .sbat section of the image it loads:
 * revocation by generation must see the stub's entries and the kernel's, so
 * ukify merges them with the user's into one CSV under one header line.
 */
#include <stdlib.h>
#include <string.h>

#include "uki_build_internal.h"

static const char sbat_header[] =
	"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n";

/* Append the entries of one text (its header line and blank lines dropped) to @o. */
static size_t add_entries(const char *t, size_t n, char *o)
{
	size_t at = 0, w = 0;
	bool first = true;

	/* A section's data is NUL-padded to its raw size. */
	while (n && t[n - 1] == '\0')
		n--;
	while (at < n) {
		const char *nl = memchr(t + at, '\n', n - at);
		size_t len = (nl ? (size_t)(nl - (t + at)) : n - at), line = at;

		at += len + (nl != NULL);
		if (len && t[line + len - 1] == '\r')
			len--;
		if (first && len >= 5 && !memcmp(t + line, "sbat,", 5)) {
			first = false;
			continue;
		}
		first = false;
		/* A NUL inside a line would end the text for shim: stop there. */
		if (memchr(t + line, '\0', len))
			len = strnlen(t + line, len);
		if (!len)
			continue;
		if (o) {
			memcpy(o + w, t + line, len);
			o[w + len] = '\n';
		}
		w += len + 1;
	}
	return w;
}

int bpi_sbat_merge(const char *const *texts, const size_t *lens, size_t n, char **out,
		   size_t *out_len)
{
	size_t total = sizeof(sbat_header) - 1, w;
	char *o;

	for (size_t i = 0; i < n; i++)
		total += add_entries(texts[i], lens[i], NULL);
	o = malloc(total + 1);
	if (!o)
		return BP_ERR_NOMEM;
	memcpy(o, sbat_header, sizeof(sbat_header) - 1);
	w = sizeof(sbat_header) - 1;
	for (size_t i = 0; i < n; i++)
		w += add_entries(texts[i], lens[i], o + w);
	o[w++] = '\0';
	*out = o;
	*out_len = w;
	return 0;
}
