/* SPDX-License-Identifier: MIT */
/* Shared by the UKI code (bpi_: not exported). */
#ifndef BP_UKI_INTERNAL_H
#define BP_UKI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The value of @key in the os-release text @p (@len bytes, untrusted; it
 * ends at the first NUL) into @out (@n bytes, NUL-terminated, cut to fit),
 * with quotes and backslash escapes removed as os-release(5) and the shell
 * define them; the last assignment wins. "" when @key is not set.
 */
void bpi_osrel_value(const uint8_t *p, size_t len, const char *key, char *out, size_t n);

#endif
