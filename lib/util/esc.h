/* SPDX-License-Identifier: MIT */
/* Escaping inside the library's own messages (bpi_: not exported). */
#ifndef BP_UTIL_ESC_H
#define BP_UTIL_ESC_H

#include <stddef.h>

#include <bootpack/escape.h>

/*
 * A value from an input file escaped for a diagnostic (BP_ESC_TEXT), cut
 * with "..." past BPI_ESC_MAX - 1 characters so a few fit in one message.
 */
#define BPI_ESC_MAX 128

/* @s (may be NULL) escaped into @buf of @size bytes; returns @buf. */
const char *bpi_esc(char *buf, size_t size, const char *s);

/*
 * BPI_ESC(s) as a printf argument: the buffer is a compound literal, which
 * lives until the end of the enclosing block, so the call that takes it as an
 * argument is done with it before it goes away.
 */
#define BPI_ESC(s) bpi_esc((char[BPI_ESC_MAX]){ 0 }, BPI_ESC_MAX, (s))

#endif
