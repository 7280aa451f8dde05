/*
 * buf.c - growth and compaction of struct rr_buf.
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
buf_reserve(struct rr_buf *b, size_t n, size_t min_cap, size_t max_cap)
{
	size_t need, cap;
	uint8_t *p;

	if (b->cap - b->wpos >= n)
		return 0;
	need = b->wpos - b->rpos + n;
	if (need > max_cap) {
		errno = ENOBUFS;
		return -1;
	}
	/* Compacting is enough when the unread bytes plus n already fit. */
	if (b->data != NULL && need <= b->cap) {
		memmove(b->data, b->data + b->rpos, b->wpos - b->rpos);
		b->wpos -= b->rpos;
		b->rpos = 0;
		return 0;
	}
	cap = b->cap ? b->cap : min_cap;
	while (cap < need)
		cap = cap > max_cap / 2 ? max_cap : cap * 2;
	if (cap > max_cap)
		cap = max_cap;
	if (b->rpos > 0 && b->data != NULL) {
		memmove(b->data, b->data + b->rpos, b->wpos - b->rpos);
		b->wpos -= b->rpos;
		b->rpos = 0;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct rr_buf *b, const void *p, size_t n, size_t max_cap)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n, n < 1024 ? 1024 : n, max_cap) == -1)
		return -1;
	memcpy(b->data + b->wpos, p, n);
	b->wpos += n;
	return 0;
}

void
buf_consume(struct rr_buf *b, size_t n)
{
	b->rpos += n;
	if (b->rpos >= b->wpos)
		b->rpos = b->wpos = 0;
}

void
buf_free(struct rr_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = b->rpos = b->wpos = 0;
}
