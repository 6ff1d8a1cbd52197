// SPDX-License-Identifier: MIT
/*
 * The indexed region walk (see fdt_region.h). The index holds every token
 * (offset, next offset, kind, whether it is an excluded data property) and
 * every node (its begin and end tokens, parent, full path). Whatever makes
 * U-Boot's walk fail whatever the node list is (depth 32, a path of 200
 * characters, anything after the root) is found once, here.
 *
 * A configuration's walk is fdt_find_regions()'s state machine run over the
 * tokens, except inside a node whose "want" level is 0 or 1: there every
 * property, NOP and child that is neither listed nor the ancestor of a
 * listed node is excluded, so the walk jumps from one "marked" child to the
 * next, closing the open region where the first skipped token starts, as
 * that token would have.
 */
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "fdt_region.h"
#include "util/util.h"

struct tok {
	uint32_t off, next;        /* structure-block offsets, as fdt_next_tag() gives them */
	int32_t node;              /* BEGIN_NODE / END_NODE: the node */
	uint8_t tag;               /* FDT_* token */
	uint8_t excl;              /* a data property: never hashed */
};

struct node {
	uint32_t begin, end;       /* token indices of FDT_BEGIN_NODE and FDT_END_NODE */
	int32_t parent;            /* -1 for a top-level node */
	uint32_t path, path_len;   /* in the path pool */
	int32_t hnext;             /* next node in the same hash bucket */
};

struct bpi_fdt_index {
	const uint8_t *fdt;
	struct tok *tok;
	size_t n_tok, cap_tok;
	struct node *node;
	size_t n_node, cap_node;
	char *paths;
	size_t paths_len, paths_cap;
	int32_t *buckets;
	size_t mask;
	bool walk_fails;           /* U-Boot's walk fails for any list of nodes */
};

const char *bpi_region_err_str(enum bpi_region_err e)
{
	switch (e) {
	case BPI_REGION_OK: return "no error";
	case BPI_REGION_WALK: return "U-Boot cannot walk this tree to find the signed regions "
				     "(nodes nested 32 deep, a path of 200 characters or more, or "
				     "data after the root node)";
	case BPI_REGION_TOO_MANY: return "too many hash regions for U-Boot";
	case BPI_REGION_NONE: return "no data to hash";
	case BPI_REGION_NOMEM: return "out of memory";
	}
	return "unknown error";
}

static uint64_t path_hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return h;
}

static bool grow(void **p, size_t *cap, size_t want, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	void *q;

	if (want <= *cap)
		return true;
	while (n < want)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

static bool add_tok(struct bpi_fdt_index *ix, uint32_t off, uint32_t next, uint8_t tag,
		    int32_t node, bool excl)
{
	if (!grow((void **)&ix->tok, &ix->cap_tok, ix->n_tok + 1, sizeof(*ix->tok)))
		return false;
	ix->tok[ix->n_tok++] = (struct tok){ .off = off, .next = next, .tag = tag, .node = node,
					     .excl = excl };
	return true;
}

/* The node's path as U-Boot builds it: "/" + name at the top, "/images" below the root. */
static bool add_node(struct bpi_fdt_index *ix, int32_t parent, const char *name, size_t len)
{
	size_t plen = parent >= 0 ? ix->node[parent].path_len : 0, at = ix->paths_len;
	size_t ppath = parent >= 0 ? ix->node[parent].path : 0;
	bool slash = plen != 1;
	size_t need = plen + slash + len + 1;

	/* What U-Boot checks before adding the name to its 200-byte path buffer. */
	if (plen + 2 + len >= BPI_SIG_PATH_MAX || (parent < 0 && len))
		ix->walk_fails = true;
	if (!grow((void **)&ix->node, &ix->cap_node, ix->n_node + 1, sizeof(*ix->node)) ||
	    !grow((void **)&ix->paths, &ix->paths_cap, at + need, 1))
		return false;
	memcpy(ix->paths + at, ix->paths + ppath, plen);
	if (slash)
		ix->paths[at + plen] = '/';
	memcpy(ix->paths + at + plen + slash, name, len);
	ix->paths[at + need - 1] = '\0';
	ix->paths_len += need;
	ix->node[ix->n_node++] = (struct node){ .begin = (uint32_t)ix->n_tok, .parent = parent,
						.path = (uint32_t)at,
						.path_len = (uint32_t)(need - 1), .hnext = -1 };
	return true;
}

static bool is_data_prop(const char *name)
{
	return !strcmp(name, "data") || !strcmp(name, "data-size") ||
	       !strcmp(name, "data-position") || !strcmp(name, "data-offset");
}

/* Tokens of a checked blob: every offset below is known to be in bounds. */
static int scan(struct bpi_fdt_index *ix)
{
	const uint8_t *s = ix->fdt + fdt_off_dt_struct(ix->fdt);
	const char *strings = (const char *)ix->fdt + fdt_off_dt_strings(ix->fdt);
	int32_t *stack = NULL, cur = -1;
	size_t depth = 0, cap = 0;
	uint32_t pos = 0, tag;
	bool root_done = false;

	do {
		uint32_t off = pos, next;
		const char *name;
		size_t len;

		tag = bpi_get_be32(s + pos);
		if (root_done && tag != FDT_END)
			ix->walk_fails = true;
		switch (tag) {
		case FDT_BEGIN_NODE:
			name = (const char *)s + pos + 4;
			len = strlen(name);
			next = (uint32_t)BPI_ALIGN_UP((uint64_t)pos + 4 + len + 1, 4);
			if (depth >= BPI_SIG_MAX_DEPTH)
				ix->walk_fails = true;
			if (!grow((void **)&stack, &cap, depth + 1, sizeof(*stack)) ||
			    !add_node(ix, cur, name, len))
				goto nomem;
			stack[depth++] = cur;
			cur = (int32_t)ix->n_node - 1;
			if (!add_tok(ix, off, next, FDT_BEGIN_NODE, cur, false))
				goto nomem;
			break;
		case FDT_PROP:
			len = bpi_get_be32(s + pos + 4);
			name = strings + bpi_get_be32(s + pos + 8);
			next = (uint32_t)BPI_ALIGN_UP((uint64_t)pos + 12 + len, 4);
			if (!add_tok(ix, off, next, FDT_PROP, cur, is_data_prop(name)))
				goto nomem;
			break;
		case FDT_END_NODE:
			next = pos + 4;
			ix->node[cur].end = (uint32_t)ix->n_tok;
			if (!add_tok(ix, off, next, FDT_END_NODE, cur, false))
				goto nomem;
			cur = stack[--depth];
			root_done = !depth;
			break;
		default: /* FDT_NOP, FDT_END: the checked blob has no other token */
			next = pos + 4;
			if (!add_tok(ix, off, next, (uint8_t)tag, cur, false))
				goto nomem;
			break;
		}
		pos = next;
	} while (tag != FDT_END);
	/* libfdt reads size_dt_struct whatever the version; so does U-Boot's check. */
	if (pos != fdt_size_dt_struct(ix->fdt) || !ix->n_node)
		ix->walk_fails = true;
	free(stack);
	return 0;
nomem:
	free(stack);
	return BP_ERR_NOMEM;
}

static int hash_paths(struct bpi_fdt_index *ix)
{
	size_t n = 16;

	while (n < 2 * ix->n_node)
		n *= 2;
	ix->buckets = malloc(n * sizeof(*ix->buckets));
	if (!ix->buckets)
		return BP_ERR_NOMEM;
	memset(ix->buckets, 0xff, n * sizeof(*ix->buckets));
	ix->mask = n - 1;
	/* Backwards, so each bucket lists its nodes in document order. */
	for (size_t i = ix->n_node; i-- > 0;) {
		struct node *nd = &ix->node[i];
		size_t b = path_hash(ix->paths + nd->path, nd->path_len) & ix->mask;

		nd->hnext = ix->buckets[b];
		ix->buckets[b] = (int32_t)i;
	}
	return 0;
}

int bpi_fdt_index_build(const void *fdt, struct bpi_fdt_index **out, struct bp_diag *d)
{
	struct bpi_fdt_index *ix = calloc(1, sizeof(*ix));
	int ret;

	*out = NULL;
	if (!ix)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	ix->fdt = fdt;
	ret = scan(ix);
	if (!ret)
		ret = hash_paths(ix);
	if (ret) {
		bpi_fdt_index_free(ix);
		return bp_diag_set(d, ret, NULL, "out of memory");
	}
	*out = ix;
	return 0;
}

void bpi_fdt_index_free(struct bpi_fdt_index *ix)
{
	if (!ix)
		return;
	free(ix->tok);
	free(ix->node);
	free(ix->paths);
	free(ix->buckets);
	free(ix);
}

size_t bpi_fdt_index_nodes(const struct bpi_fdt_index *ix)
{
	return ix->n_node;
}

static bool path_is(const struct bpi_fdt_index *ix, int32_t node, const char *path, size_t len)
{
	const struct node *nd = &ix->node[node];

	return nd->path_len == len && !memcmp(ix->paths + nd->path, path, len);
}

int32_t bpi_fdt_index_find(const struct bpi_fdt_index *ix, const char *path, size_t len)
{
	int32_t i = ix->buckets[path_hash(path, len) & ix->mask];

	while (i >= 0 && !path_is(ix, i, path, len))
		i = ix->node[i].hnext;
	return i;
}

int32_t bpi_fdt_index_next_same(const struct bpi_fdt_index *ix, int32_t node)
{
	const struct node *nd = &ix->node[node];
	int32_t i = nd->hnext;

	while (i >= 0 && !path_is(ix, i, ix->paths + nd->path, nd->path_len))
		i = ix->node[i].hnext;
	return i;
}

const char *bpi_fdt_index_path(const struct bpi_fdt_index *ix, int32_t node, size_t *len)
{
	if (len)
		*len = ix->node[node].path_len;
	return ix->paths + ix->node[node].path;
}

int bpi_fdt_index_offset(const struct bpi_fdt_index *ix, int32_t node)
{
	return (int)ix->tok[ix->node[node].begin].off;
}

int32_t bpi_fdt_index_at(const struct bpi_fdt_index *ix, int offset)
{
	size_t lo = 0, hi = ix->n_node;

	/* Nodes are in document order, so their begin offsets ascend. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t at = ix->tok[ix->node[mid].begin].off;

		if (at == (uint32_t)offset)
			return (int32_t)mid;
		if (at < (uint32_t)offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- One configuration's walk ---- */

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static size_t sort_unique(int32_t *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_i32);
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static bool has(const int32_t *v, size_t n, int32_t x)
{
	return bsearch(&x, v, n, sizeof(*v), cmp_i32) != NULL;
}

/* The marked nodes (listed, or above one), with their first marked child and next marked sibling. */
struct marks {
	int32_t *listed, *node, *child, *sibling;
	size_t n_listed, n;
};

static long mark_pos(const struct marks *m, int32_t node)
{
	const int32_t *p = bsearch(&node, m->node, m->n, sizeof(*m->node), cmp_i32);

	return p ? p - m->node : -1;
}

static int make_marks(const struct bpi_fdt_index *ix, const int32_t *listed, size_t n,
		      struct marks *m)
{
	int32_t *stack;
	size_t depth = 0;

	/* Depth is below 32 here (else the walk fails first). */
	m->listed = malloc((n ? n : 1) * sizeof(int32_t));
	m->node = malloc((n ? n : 1) * BPI_SIG_MAX_DEPTH * sizeof(int32_t));
	m->child = malloc((n ? n : 1) * BPI_SIG_MAX_DEPTH * sizeof(int32_t));
	m->sibling = malloc((n ? n : 1) * BPI_SIG_MAX_DEPTH * sizeof(int32_t));
	stack = malloc(BPI_SIG_MAX_DEPTH * sizeof(*stack));
	if (!m->listed || !m->node || !m->child || !m->sibling || !stack) {
		free(stack);
		return BP_ERR_NOMEM;
	}
	memcpy(m->listed, listed, n * sizeof(*listed));
	m->n_listed = sort_unique(m->listed, n);
	m->n = 0;
	for (size_t i = 0; i < m->n_listed; i++)
		for (int32_t x = m->listed[i]; x >= 0; x = ix->node[x].parent)
			m->node[m->n++] = x;
	m->n = sort_unique(m->node, m->n);
	/* Document order is preorder: a stack of open ancestors links children. */
	for (size_t j = 0; j < m->n; j++) {
		int32_t parent = ix->node[m->node[j]].parent;

		m->child[j] = m->sibling[j] = -1;
		while (depth && m->node[stack[depth - 1]] != parent)
			depth--;
		if (depth) {
			size_t p = (size_t)stack[depth - 1];
			int32_t c = m->child[p];

			if (c < 0) {
				m->child[p] = (int32_t)j;
			} else {
				while (m->sibling[c] >= 0)
					c = m->sibling[c];
				m->sibling[c] = (int32_t)j;
			}
		}
		stack[depth++] = (int32_t)j;
	}
	free(stack);
	return 0;
}

static void free_marks(struct marks *m)
{
	free(m->listed);
	free(m->node);
	free(m->child);
	free(m->sibling);
}

struct walk {
	struct bpi_fdt_region *out;
	size_t max, count;
	int64_t start;             /* structure offset of the open region, or -1 */
	uint32_t base;
};

/* One token's verdict, as in fdt_find_regions(); false once past all hope (too many). */
static bool step(struct walk *w, int include, uint32_t offset, uint32_t stop_at)
{
	if (include && w->start < 0) {
		const struct bpi_fdt_region *last = w->count ? &w->out[w->count - 1] : NULL;

		if (last && w->count <= w->max &&
		    (uint64_t)offset + w->base == (uint64_t)last->off + last->size) {
			w->start = (int64_t)last->off - w->base;
			w->count--;
		} else {
			w->start = offset;
		}
	}
	if (!include && w->start >= 0) {
		if (w->count < w->max) {
			w->out[w->count].off = (uint32_t)(w->base + w->start);
			w->out[w->count].size = (uint32_t)(stop_at - w->start);
		}
		w->start = -1;
		/* Past max nothing merges any more: the count only grows. */
		if (++w->count > w->max)
			return false;
	}
	return true;
}

/* Where to go after node @node's begin tag when its want is 0 or 1. */
static uint32_t after_begin(const struct bpi_fdt_index *ix, const struct marks *m, int32_t node)
{
	long p = mark_pos(m, node);

	if (p >= 0 && m->child[p] >= 0)
		return ix->node[m->node[m->child[p]]].begin;
	return ix->node[node].end;
}

/* Where to go after marked node @node's end tag when its parent's want is 0 or 1. */
static uint32_t after_end(const struct bpi_fdt_index *ix, const struct marks *m, int32_t node,
			  uint32_t i)
{
	long p = mark_pos(m, node);

	if (p < 0)
		return i + 1;   /* not reached by a jump: walk on token by token */
	if (m->sibling[p] >= 0)
		return ix->node[m->node[m->sibling[p]]].begin;
	return ix->node[ix->node[node].parent].end;
}

static enum bpi_region_err run(const struct bpi_fdt_index *ix, const struct marks *m,
			       struct walk *w)
{
	int stack[BPI_SIG_MAX_DEPTH] = { 0 };
	int depth = -1, want = 0;
	uint32_t i = 0;

	for (;;) {
		const struct tok *t = &ix->tok[i];
		uint32_t stop_at = t->next, target = i + 1;
		int include = 0;

		switch (t->tag) {
		case FDT_PROP:
			include = want >= 2 && !t->excl;
			stop_at = t->off;
			break;
		case FDT_NOP:
			include = want >= 2;
			stop_at = t->off;
			break;
		case FDT_BEGIN_NODE:
			stack[++depth] = want;
			if (want == 1)
				stop_at = t->off;
			if (has(m->listed, m->n_listed, t->node))
				want = 2;
			else if (want)
				want--;
			else
				stop_at = t->off;
			include = want;
			if (want <= 1)
				target = after_begin(ix, m, t->node);
			break;
		case FDT_END_NODE:
			include = want;
			want = stack[depth--];
			if (depth >= 0 && want <= 1)
				target = after_end(ix, m, t->node, i);
			break;
		default: /* FDT_END */
			include = 1;
			break;
		}
		if (!step(w, include, t->off, stop_at))
			return BPI_REGION_TOO_MANY;
		if (t->tag == FDT_END)
			break;
		/* Every token jumped over is excluded; the first closes the open region. */
		if (target != i + 1 && !step(w, 0, ix->tok[i + 1].off, ix->tok[i + 1].off))
			return BPI_REGION_TOO_MANY;
		i = target;
	}
	if (w->count < w->max) {
		w->out[w->count].off = (uint32_t)(w->base + w->start);
		w->out[w->count].size = (uint32_t)(ix->tok[i].next - w->start);
	}
	w->count++;
	return w->count >= w->max ? BPI_REGION_TOO_MANY : BPI_REGION_OK;
}

enum bpi_region_err bpi_fdt_regions(const struct bpi_fdt_index *ix, const int32_t *listed,
				    size_t n, size_t n_paths, struct bpi_fdt_region *out,
				    size_t *count)
{
	struct walk w = { .out = out, .max = BPI_SIG_REGIONS_MAX(n_paths), .start = -1,
			  .base = fdt_off_dt_struct(ix->fdt) };
	struct marks m = { 0 };
	enum bpi_region_err e;

	*count = 0;
	if (ix->walk_fails)
		return BPI_REGION_WALK;
	if (make_marks(ix, listed, n, &m)) {
		free_marks(&m);
		return BPI_REGION_NOMEM;
	}
	e = run(ix, &m, &w);
	free_marks(&m);
	*count = w.count;
	return e;
}
