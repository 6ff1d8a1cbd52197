// SPDX-License-Identifier: MIT
/* A minimal fork-join pool: workers pull item indices from a shared counter. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

#define BPI_JOBS_MAX 256

struct pool {
	size_t n;
	atomic_size_t next;
	atomic_bool failed;
	int *results;
	int (*fn)(void *ctx, size_t i);
	void *ctx;
};

static void *worker(void *arg)
{
	struct pool *p = arg;

	/* Stop taking work after a failure; lower indices are already taken. */
	while (!atomic_load(&p->failed)) {
		size_t i = atomic_fetch_add(&p->next, 1);

		if (i >= p->n)
			break;
		p->results[i] = p->fn(p->ctx, i);
		if (p->results[i])
			atomic_store(&p->failed, true);
	}
	return NULL;
}

/* A library starts no threads unless asked: 0 means 1 (the CLI asks for every CPU itself). */
unsigned int bpi_jobs_threads(unsigned int threads)
{
	if (!threads)
		threads = 1;
	return threads > BPI_JOBS_MAX ? BPI_JOBS_MAX : threads;
}

static unsigned int pick_threads(unsigned int threads, size_t n)
{
	threads = bpi_jobs_threads(threads);
	if (threads > n)
		threads = (unsigned int)n;
	return threads ? threads : 1;
}

int bpi_jobs_run(size_t n, unsigned int threads, int (*fn)(void *ctx, size_t i), void *ctx)
{
	pthread_t tids[BPI_JOBS_MAX];
	struct pool p = { .n = n, .fn = fn, .ctx = ctx };
	unsigned int started = 0;

	if (!n)
		return 0;
	p.results = calloc(n, sizeof(*p.results));
	if (!p.results)
		return BP_ERR_NOMEM;
	atomic_init(&p.next, 0);
	atomic_init(&p.failed, false);
	threads = pick_threads(threads, n);
	/* The calling thread is one of the workers. */
	while (started + 1 < threads && !pthread_create(&tids[started], NULL, worker, &p))
		started++;
	worker(&p);
	for (unsigned int t = 0; t < started; t++)
		pthread_join(tids[t], NULL);

	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = p.results[i];
	free(p.results);
	return ret;
}
