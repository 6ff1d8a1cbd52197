/* SPDX-License-Identifier: MIT */
/* Response files ("@FILE") with the semantics of gcc, ld and ar (libiberty). */
#ifndef BP_ARGFILE_H
#define BP_ARGFILE_H

#include <stddef.h>

/* Nesting beyond this is reported as an error: it is almost surely a loop. */
#define ARGFILE_MAX_DEPTH 32

struct argv_list {
	char **v;     /* NULL-terminated */
	size_t n;
	size_t cap;
};

/*
 * Split @len bytes of @text into arguments: whitespace separates them, single
 * and double quotes group (and are removed), a backslash takes the next
 * character literally, even inside quotes. Appends to @out.
 * Returns 0, or -1 on allocation failure.
 */
int argfile_split(const char *text, size_t len, struct argv_list *out);

/*
 * Expand every "@FILE" argument of @argv (argv[0] kept) into @out, recursively.
 * A lone "@" is literal, and so is the value after --cmdline, --os-release
 * and --sbat (those options read @FILE themselves). Unlike gcc, an @FILE that cannot be opened is an
 * error (make_fit.py's argparse refuses it too; write ./@NAME for a file
 * whose name starts with '@'), and so is a file that includes itself,
 * directly or through others.
 * Returns 0, or -1 with a message in @err (missing file, loop, nesting too
 * deep, read error, out of memory).
 */
int argfile_expand(int argc, char **argv, struct argv_list *out, char *err, size_t errlen);

/*
 * Read one path per line from @path (for -T/--files-from): empty lines are
 * skipped, a trailing "\r" is dropped, nothing else is interpreted.
 * Returns 0, or -1 with a message in @err.
 */
int argfile_read_lines(const char *path, struct argv_list *out, char *err, size_t errlen);

int argv_push(struct argv_list *l, const char *s, size_t len);
void argv_free(struct argv_list *l);

#endif
