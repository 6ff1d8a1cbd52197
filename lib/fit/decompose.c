// SPDX-License-Identifier: MIT
/*
 * -D support: Kbuild records how each DTB was made in ".NAME.dtb.cmd". A
 * composite DTB's command is "... scripts/dtc/fdtoverlay -o OUT -i BASE
 * OVERLAY...", and make_fit.py stores BASE and the overlays instead of the
 * composite. Paths are relative to the kernel build directory, i.e. the
 * current directory, exactly as make_fit.py uses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"
#include "util/esc.h"
#include "util/util.h"

#define CMD_FILE_MAX (1u << 20)
#define FDTOVERLAY "scripts/dtc/fdtoverlay"

void bpi_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Split the tokens after "-i" in [s, end) into a NULL-terminated vector. */
static int split_inputs(const char *s, const char *end, char ***out)
{
	char **v = NULL;
	size_t n = 0;
	bool after_i = false;

	while (s < end) {
		const char *t;

		while (s < end && is_space(*s))
			s++;
		t = s;
		while (s < end && !is_space(*s))
			s++;
		if (s == t)
			break;
		if (!after_i) {
			after_i = (s - t == 2 && t[0] == '-' && t[1] == 'i');
			continue;
		}
		char **nv = realloc(v, (n + 2) * sizeof(*v));

		if (!nv)
			goto nomem;
		v = nv;
		v[n] = strndup(t, (size_t)(s - t));
		if (!v[n])
			goto nomem;
		v[++n] = NULL;
	}
	*out = v;
	return after_i ? (int)n : -1;
nomem:
	if (v)
		v[n] = NULL;
	bpi_strv_free(v);
	return BP_ERR_NOMEM;
}

static int single(const char *path, char ***files)
{
	char **v = calloc(2, sizeof(*v));

	if (!v || !(v[0] = strdup(path))) {
		free(v);
		return BP_ERR_NOMEM;
	}
	*files = v;
	return 0;
}

int bpi_decompose_dtb(const char *dtb_path, char ***files, struct bp_diag *d)
{
	struct bp_buf cmd = BP_BUF_INIT;
	char *cmd_path = bpi_dot_sibling(dtb_path, ".cmd");
	const char *text, *end, *hit, *eol;
	int ret;

	*files = NULL;
	if (!cmd_path)
		return bp_diag_set(d, BP_ERR_NOMEM, dtb_path, "out of memory");
	ret = bpi_read_file(cmd_path, CMD_FILE_MAX, &cmd, d);
	if (ret) {
		/* Say why the .cmd file matters: the user asked for -D on this DTB. */
		if (ret == BP_ERR_IO && d) {
			char why[BP_DIAG_MSG_MAX];

			snprintf(why, sizeof(why), "%s", d->msg);
			bp_diag_set(d, ret, NULL, "%s (-D needs Kbuild's .cmd file for '%s')",
				    why, BPI_ESC(dtb_path));
		}
		goto out;
	}
	if (memchr(cmd.data, '\0', cmd.len)) {
		ret = bp_diag_set(d, BP_ERR_FORMAT, cmd_path, "not a Kbuild .cmd file: contains NUL bytes");
		goto out;
	}
	ret = bp_buf_append(&cmd, "", 1);
	if (ret)
		goto out;
	text = (const char *)cmd.data;
	hit = strstr(text, FDTOVERLAY);
	if (!hit) {
		ret = single(dtb_path, files);
		goto out;
	}
	eol = strchr(hit, '\n');
	end = eol ? eol : text + cmd.len - 1;
	ret = split_inputs(hit, end, files);
	if (ret == BP_ERR_NOMEM)
		goto out;
	if (ret <= 0) {
		bpi_strv_free(*files);
		*files = NULL;
		ret = bp_diag_set(d, BP_ERR_FORMAT, cmd_path,
				  "fdtoverlay command has no input files after -i");
		goto out;
	}
	ret = 0;
out:
	if (ret == BP_ERR_NOMEM)
		bp_diag_set(d, ret, cmd_path, "out of memory");
	free(cmd_path);
	bp_buf_free(&cmd);
	return ret;
}
