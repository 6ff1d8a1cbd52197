// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bootpack/error.h>

const char *bp_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case BP_OK: return "success";
	case BP_ERR_NOMEM: return "out of memory";
	case BP_ERR_IO: return "input/output error";
	case BP_ERR_FORMAT: return "malformed input";
	case BP_ERR_RANGE: return "offset or size out of bounds";
	case BP_ERR_UNSUPPORTED: return "unsupported";
	case BP_ERR_CODEC: return "compression library error";
	case BP_ERR_INVALID: return "invalid argument";
	case BP_ERR_NOTFOUND: return "not found";
	case BP_ERR_TOOBIG: return "too large";
	case BP_ERR_SIGNATURE: return "signature check failed";
	}
	return "unknown error";
}

int bp_diag_set(struct bp_diag *d, int err, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return err;
	if (path)
		snprintf(d->path, sizeof(d->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return err;
}

void bp_diag_clear(struct bp_diag *d)
{
	if (d)
		d->path[0] = d->msg[0] = '\0';
}
