/* SPDX-License-Identifier: MIT */
/*
 * Escaping untrusted bytes for a terminal or a JSON string.
 *
 * Everything bootpack reads from an image (node and section names, property
 * values, compression names, paths inside argument files) may hold bytes a
 * terminal acts on: ESC and CSI sequences, OSC titles ended by BEL, C1
 * controls, or bytes that are not UTF-8. bootpack passes each such string
 * through bp_escape() exactly once before it reaches a terminal or a JSON
 * document, and the escaped form is always printable ASCII (0x20..0x7e):
 *
 * BP_ESC_TEXT  printable ASCII other than '\' is copied; '\' becomes "\\";
 *              every other byte (controls, 0x7f and every byte >= 0x80,
 *              valid UTF-8 or not) becomes "\xNN" with lower-case hex. The
 *              result is unambiguous: the original bytes can be recovered.
 *              Bytes >= 0x80 are escaped too because on a terminal that is
 *              not in UTF-8 mode 0x80..0x9f are C1 controls (0x9b is CSI).
 * BP_ESC_JSON  the body of a JSON string (without the quotes): '"' and '\'
 *              are backslash-escaped, \b \f \n \r \t use their short forms,
 *              other bytes below 0x20 and 0x7f become "\u00NN", each valid
 *              UTF-8 character >= U+0080 becomes "\uXXXX" (a surrogate pair
 *              above U+FFFF) so C1 controls never appear raw, and each byte
 *              of an invalid UTF-8 sequence (overlong, surrogate, past
 *              U+10FFFF, cut short) becomes "\ufffd". JSON strings cannot
 *              carry arbitrary bytes; U+FFFD says honestly that one was lost.
 */
#ifndef BOOTPACK_ESCAPE_H
#define BOOTPACK_ESCAPE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bp_escape_flags {
	BP_ESC_TEXT = 0,
	BP_ESC_JSON = 1,
};

/*
 * Escape @len bytes at @in (NUL bytes included, as "\x00" or "\u0000") into
 * @out, which holds @outsz bytes, and NUL-terminate it (unless @outsz is 0).
 *
 * Returns the length of the whole escaped form, not counting the NUL, as
 * snprintf() does: a return value >= @outsz means @out was cut. A cut never
 * splits an escape sequence; it keeps the longest run of whole escapes that
 * leaves room for "..." and the NUL, then writes "..." (as much of it as fits
 * when @outsz < 4), so a shortened value is visibly shortened. @out may be
 * NULL when @outsz is 0, to ask only for the length. An unknown @flags value
 * is treated as BP_ESC_TEXT.
 */
size_t bp_escape(char *out, size_t outsz, const void *in, size_t len, unsigned int flags);

/*
 * The size of a buffer (NUL included) that holds the escaped form of any
 * @len bytes in mode @flags without a cut: 4 * @len + 1 for text, 6 * @len + 1
 * for JSON. Returns SIZE_MAX when that would overflow.
 */
size_t bp_escape_bound(size_t len, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif
