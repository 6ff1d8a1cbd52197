// SPDX-License-Identifier: MIT
/*
 * Whole-value "data = /incbin/(FILE);" properties are compiled as a
 * 16-byte marker and their files read by bootpack, mapped, where dtc would
 * read them into memory twice over and write them out again: the tree is
 * the same, dtc's time and memory shrink to the tree's. Files found as dtc
 * finds them (fit_its_scan.c). Only for dtc's usual dts-to-dtb run; the
 * marked copy sits next to the source, so relative paths resolve alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>

#include "fit_internal.h"
#include "fit_its.h"
#include "fit_sign.h"
#include "util/esc.h"
#include "util/util.h"

/* dtc's lines name the source it was given: the original's name, not the marked copy's. */
void bpi_its_pass_msg(void *ctx, const char *line)
{
	const struct bpi_its *t = ctx;
	const char *from = t->src_tmp, *hit = from ? strstr(line, from) : NULL;
	char buf[8192];

	if (!t->o.dtc_message)
		return;
	if (!hit) {
		t->o.dtc_message(t->o.ctx, line);
		return;
	}
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(hit - line), line, t->path,
		 hit + strlen(from));
	t->o.dtc_message(t->o.ctx, buf);
}

bool bpi_its_can_mark(const struct bpi_its *t)
{
	const char *o = t->o.dtc_opts;

	return !o || (strstr(o, "-I dts") && strstr(o, "-O dtb"));
}

static int write_marked(struct bpi_its *t, int fd)
{
	struct bp_buf text = BP_BUF_INIT, out = BP_BUF_INIT;
	size_t prev = 0;
	int ret = bpi_read_file(t->path, (uint64_t)64 << 20, &text, t->d);
	char hex[BPI_SG_MARK_LEN * 3 + 3];
	uint8_t mark[BPI_SG_MARK_LEN];

	for (size_t i = 0; !ret && i < t->ib.n; i++) {
		const struct bpi_its_incbin *x = &t->ib.v[i];
		size_t at = 1;

		bpi_sg_mark(mark, (uint32_t)i);
		hex[0] = '[';
		for (size_t k = 0; k < sizeof(mark); k++)
			at += (size_t)snprintf(hex + at, sizeof(hex) - at, k ? " %02x" : "%02x",
					       mark[k]);
		hex[at++] = ']';
		if (x->start < prev || x->end > text.len ||
		    bp_buf_append(&out, text.data + prev, x->start - prev) ||
		    bp_buf_append(&out, hex, at))
			ret = bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
		prev = x->end;
	}
	if (!ret && bp_buf_append(&out, text.data + prev, text.len - prev))
		ret = bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	if (!ret && write(fd, out.data, out.len) != (ssize_t)out.len)
		ret = bp_diag_set(t->d, BP_ERR_IO, t->path, "cannot write its marked copy: %s",
				  strerror(errno));
	bp_buf_free(&text);
	bp_buf_free(&out);
	return ret;
}

int bpi_its_mark_source(struct bpi_its *t)
{
	const char *slash = strrchr(t->path, '/');
	size_t dlen = slash ? (size_t)(slash - t->path) + 1 : 0;
	char *name = malloc(dlen + 40);
	int fd, ret;

	if (!name)
		return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	memcpy(name, t->path, dlen);
	memcpy(name + dlen, ".bootpack-its-XXXXXX", sizeof(".bootpack-its-XXXXXX"));
	fd = mkstemp(name);
	if (fd < 0) {
		/* A directory bootpack cannot write to: dtc reads the files itself. */
		free(name);
		bpi_its_incbins_free(&t->ib);
		return 0;
	}
	t->src_tmp = name;
	ret = write_marked(t, fd);
	close(fd);
	if (!ret) {
		free(t->argv[t->argc - 1]);
		if (bpi_its_push_path_at(t, t->argc - 1, name))
			ret = bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	}
	return ret;
}

int bpi_its_map_incbins(struct bpi_its *t)
{
	t->sub = calloc(t->ib.n + 1, sizeof(*t->sub));
	if (!t->sub)
		return bp_diag_set(t->d, BP_ERR_NOMEM, t->path, "out of memory");
	for (size_t i = 0; i < t->ib.n; i++) {
		const uint8_t *p = NULL;
		size_t len = 0;
		struct bp_diag md;
		int ret = bpi_map_file(t->ib.v[i].path, BPI_ITS_DATA_MAX, &p, &len, &md);

		if (ret == BP_ERR_UNSUPPORTED) {
			/* An empty file has nothing to map; anything else changed since the scan. */
			struct stat st;

			if (!stat(t->ib.v[i].path, &st) && S_ISREG(st.st_mode) && !st.st_size)
				ret = 0;
			else
				snprintf(md.msg, sizeof(md.msg), "not a regular file any more");
		}
		if (ret)
			return bp_diag_set(t->d, ret, t->path, "/incbin/(\"%s\"): %s",
					   BPI_ESC(t->ib.v[i].path), md.msg);
		t->sub[i] = (struct sg_subst){ p ? p : (const uint8_t *)"", len };
	}
	t->tab = (struct sg_subst_tab){ t->sub, t->ib.n };
	return 0;
}
