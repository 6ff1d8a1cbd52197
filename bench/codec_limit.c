// SPDX-License-Identifier: MIT
/*
 * codec_limit [-n RUNS] ALGO FILE...
 *
 * The compression floor the bench compares `bootpack fit build -c ALGO`
 * with: every FILE is compressed in-process by bp_compress() (the library's
 * default level, the same codec code bootpack uses) on one thread, timed
 * with the thread's CPU clock. Files are read into memory first, so no I/O
 * is timed, and one output buffer is reused, so allocation is not either.
 *
 * Output on stdout, one line per run after a comment naming the largest file:
 *
 *   # largest PATH BYTES
 *   RUN LARGEST_S TOTAL_S BYTES_OUT
 *
 * LARGEST_S is the CPU time of compressing the largest file, TOTAL_S the sum
 * over all files, BYTES_OUT the total compressed size. The bench turns these
 * into max(LARGEST_S, TOTAL_S / cores): no tool that compresses each image
 * on one thread with these libraries can finish faster on that many cores.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bootpack/buf.h>
#include <bootpack/codec.h>
#include <bootpack/error.h>

struct input {
	const char *path;
	unsigned char *data;
	size_t len;
};

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("codec_limit: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Whole file into memory; dies on any error (this is a bench helper). */
static void read_input(struct input *in)
{
	FILE *f = fopen(in->path, "rb");
	if (!f)
		die("cannot open '%s': %s", in->path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0)
		die("cannot seek '%s': %s", in->path, strerror(errno));
	long size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
		die("cannot size '%s': %s", in->path, strerror(errno));
	in->len = (size_t)size;
	in->data = malloc(in->len ? in->len : 1);
	if (!in->data)
		die("out of memory reading '%s'", in->path);
	if (fread(in->data, 1, in->len, f) != in->len)
		die("short read from '%s'", in->path);
	fclose(f);
}

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of compressing one input; adds the compressed size to *bytes_out. */
static double compress_one(enum bp_codec codec, const struct input *in, struct bp_buf *out,
			   size_t *bytes_out)
{
	struct bp_diag diag;
	bp_diag_clear(&diag);
	out->len = 0; /* keep the capacity: reallocation is not codec time */
	double t0 = thread_cpu_s();
	int err = bp_compress(codec, in->data, in->len, out, &diag);
	double t = thread_cpu_s() - t0;
	if (err)
		die("cannot compress '%s': %s", in->path, diag.msg[0] ? diag.msg : bp_strerror(err));
	*bytes_out += out->len;
	return t;
}

static void usage(void)
{
	fprintf(stderr, "usage: codec_limit [-n RUNS] ALGO FILE...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int runs = 1, arg = 1;
	if (arg + 1 < argc && strcmp(argv[arg], "-n") == 0) {
		runs = atoi(argv[arg + 1]);
		arg += 2;
	}
	if (runs < 1 || argc - arg < 2)
		usage();

	enum bp_codec codec;
	struct bp_diag diag;
	bp_diag_clear(&diag);
	if (bp_codec_from_name(argv[arg], &codec, &diag) != 0)
		die("'%s': %s", argv[arg], diag.msg);
	arg++;

	size_t n = (size_t)(argc - arg), largest = 0;
	struct input *inputs = calloc(n, sizeof(*inputs));
	if (!inputs)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		inputs[i].path = argv[arg + (int)i];
		read_input(&inputs[i]);
		if (inputs[i].len > inputs[largest].len)
			largest = i;
	}
	printf("# largest %s %zu\n", inputs[largest].path, inputs[largest].len);

	struct bp_buf out = BP_BUF_INIT;
	for (int r = 1; r <= runs; r++) {
		double total = 0, big = 0;
		size_t bytes_out = 0;
		for (size_t i = 0; i < n; i++) {
			double t = compress_one(codec, &inputs[i], &out, &bytes_out);
			total += t;
			if (i == largest)
				big = t;
		}
		printf("%d %.6f %.6f %zu\n", r, big, total, bytes_out);
		fflush(stdout);
	}

	bp_buf_free(&out);
	for (size_t i = 0; i < n; i++)
		free(inputs[i].data);
	free(inputs);
	return 0;
}
