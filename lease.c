/*
 * lease.c - a held worker's pipes: requests written (with the tail the pipe
 * did not take), answers and stray frames read.  Part of the pool: it knows
 * struct worker; reactors call it through lease.h.
 */
#include "lease.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "worker.h"

#define MIN_PIPE_WRITE	FRAME_HDR_MIN
#define WBUF_KEEP	65536	/* tail room kept between requests */
#define RBUF_KEEP	65536	/* read buffer kept between answers */

struct lease_state *
lease_state(struct rr_worker *w)
{
	return &w->w_lease;
}

int
lease_pid(const struct rr_worker *w)
{
	return (int)w->w_pid;
}

int
lease_held_by(const struct rr_worker *w, const struct ev *loop)
{
	const struct worker *pw = (const struct worker *)(const void *)w;

	return atomic_load_explicit(&w->w_holder, memory_order_relaxed) ==
	    loop && atomic_load_explicit(&pw->w_owner, memory_order_relaxed) ==
	    loop;
}

int
lease_fenced(const struct rr_worker *w)
{
	return atomic_load_explicit(&w->w_fence, memory_order_relaxed);
}

void
lease_exec_begin(struct rr_worker *w, int64_t now_ms)
{
	atomic_fetch_add_explicit(&w->w_execs, 1, memory_order_relaxed);
	atomic_store_explicit(&w->w_last_exec_ms, now_ms, memory_order_relaxed);
}

/* Appends what writev did not take, from byte off of iov on. */
static int
keep_tail(struct rr_worker *w, const struct iovec *iov, int iovcnt,
    size_t off)
{
	for (int i = 0; i < iovcnt; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (buf_append(&w->w_wbuf, (const uint8_t *)iov[i].iov_base + off,
		    iov[i].iov_len - off, SIZE_MAX) == -1)
			return -1;
		off = 0;
	}
	return 0;
}

int
lease_send(struct rr_worker *w, struct ev *loop, const struct iovec *iov,
    int iovcnt, char *why, size_t whylen)
{
	size_t total = 0;
	ssize_t n;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	/*
	 * Room for what the pipe may not take, before a byte is written, so
	 * a request is never cut for want of memory.  An empty pipe takes at
	 * least PIPE_BUF bytes at once; anything longer may need a tail.
	 */
	if (total > PIPE_BUF &&
	    buf_reserve(&w->w_wbuf, total, total, SIZE_MAX) == -1)
		return -3;
	do
		n = writev(w->w_in, iov, iovcnt);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		n = 0;
	if (n < 0 || (size_t)n < MIN_PIPE_WRITE) {
		/* A frame cut inside its first 12 bytes would kill a PHP
		 * worker (rrtcp-protocol(7) 1.6); the pipe is empty, so this
		 * is a broken worker. */
		snprintf(why, whylen, "cannot write request: %s",
		    n < 0 ? strerror(errno) : "pipe not empty");
		return -1;
	}
	if ((size_t)n == total) {
		if (w->w_wbuf.cap > WBUF_KEEP)
			buf_free(&w->w_wbuf);	/* a big reservation goes */
		return 0;
	}
	/* Keep the rest: the body may move before the pipe drains.  Room was
	 * reserved above; a short request that still finds none leaves the
	 * worker half a frame, so it must go. */
	if (keep_tail(w, iov, iovcnt, (size_t)n) == -1) {
		buf_free(&w->w_wbuf);
		snprintf(why, whylen, "out of memory for the request tail");
		return -1;
	}
	w->w_in_io.fd = w->w_in;
	if (ev_attach(loop, &w->w_in_io, EV_WRITE | EV_EDGE) == 0)
		w->w_in_loop = loop;
	return 1;
}

int
lease_flush(struct rr_worker *w, struct ev *loop)
{
	while (buf_len(&w->w_wbuf) > 0) {
		ssize_t n = write(w->w_in, buf_rptr(&w->w_wbuf),
		    buf_len(&w->w_wbuf));
		if (n > 0) {
			buf_consume(&w->w_wbuf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		return -1;
	}
	buf_free(&w->w_wbuf);
	if (w->w_in_loop != NULL) {
		ev_del(w->w_in_loop, &w->w_in_io);
		w->w_in_loop = NULL;
	}
	return 0;
}

size_t
lease_unsent(const struct rr_worker *w)
{
	return buf_len(&w->w_wbuf);
}

enum lease_read
lease_read_frame(struct rr_worker *w, uint32_t events, size_t max,
    struct frame *f, size_t *flen, char *why, size_t whylen)
{
	struct rr_buf *b = &w->w_rbuf;
	int st = worker_read_stdout(worker_of(w), events);
	const char *bad;
	ssize_t rc;

	rc = frame_decode(buf_rptr(b), buf_len(b), max, f, &bad);
	if (rc >= 0) {
		*flen = (size_t)rc;
		return LEASE_FRAME;
	}
	if (rc == FRAME_BAD) {
		char q[128];
		size_t n = buf_len(b) < 40 ? buf_len(b) : 40, o = 0;

		/* A short printable view of what came instead. */
		for (size_t i = 0; i < n && o + 5 < sizeof(q); i++) {
			uint8_t c = buf_rptr(b)[i];
			if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
				q[o++] = (char)c;
			else
				o += (size_t)snprintf(q + o, sizeof(q) - o,
				    "\\x%02x", c);
		}
		q[o] = '\0';
		snprintf(why, whylen, "invalid frame on stdout (%s): %s", bad, q);
		return LEASE_ERROR;
	}
	if (st == 0)
		return LEASE_AGAIN;
	if (st == 1)
		return LEASE_EOF;
	snprintf(why, whylen, "worker stdout: %s", strerror(errno));
	return LEASE_ERROR;
}

void
lease_consume(struct rr_worker *w, size_t n)
{
	buf_consume(&w->w_rbuf, n);
	/*
	 * A buffer that grew for a large frame goes once it is read, or the
	 * worker would keep the size of the largest answer it ever carried.
	 * Small ones stay: worker_read_stdout() starts at 4 KiB and doubles.
	 */
	if (buf_len(&w->w_rbuf) == 0 && w->w_rbuf.cap > RBUF_KEEP)
		buf_free(&w->w_rbuf);
}

size_t
lease_buffered(const struct rr_worker *w)
{
	return buf_len(&w->w_rbuf);
}

int
lease_drain_stray(struct rr_worker *w, char *why, size_t whylen)
{
	return worker_drain_stray(worker_of(w), why, whylen);
}

void
lease_log_stray(const struct rr_worker *w, const struct frame *f)
{
	worker_log_stray(w, f);
}

int
lease_ping(struct rr_worker *w)
{
	return worker_ping(worker_of(w));
}
