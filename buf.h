/*
 * buf.h - the one byte-buffer type: data[rpos..wpos) holds unread bytes.
 * Only buf.c grows or compacts it.  A buffer starts empty with no storage;
 * buf_reserve() allocates lazily, so an idle connection costs nothing here.
 */
#ifndef RRTCP_BUF_H
#define RRTCP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct rr_buf {
	uint8_t		*data;
	size_t		 cap;
	size_t		 rpos;	/* read marker */
	size_t		 wpos;	/* write marker */
};

static inline size_t
buf_len(const struct rr_buf *b)
{
	return b->wpos - b->rpos;
}

static inline uint8_t *
buf_rptr(const struct rr_buf *b)
{
	return b->data + b->rpos;
}

static inline uint8_t *
buf_wptr(const struct rr_buf *b)
{
	return b->data + b->wpos;
}

static inline size_t
buf_avail(const struct rr_buf *b)
{
	return b->cap - b->wpos;
}

/*
 * Makes room for at least n more bytes after wpos, compacting first and then
 * growing (doubling, starting at min_cap) but never beyond max_cap.
 * Returns 0, or -1 (ENOMEM, or ENOBUFS when max_cap would be exceeded).
 */
int	buf_reserve(struct rr_buf *b, size_t n, size_t min_cap, size_t max_cap);
int	buf_append(struct rr_buf *b, const void *p, size_t n, size_t max_cap);
/* Consumes n bytes; resets both markers when the buffer becomes empty. */
void	buf_consume(struct rr_buf *b, size_t n);
void	buf_free(struct rr_buf *b);

#endif
