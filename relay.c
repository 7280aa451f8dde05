/*
 * relay.c - the request/response exchange between a connection and the
 * worker that holds its event.
 *
 * Request (PROTOCOL.md 2): HL 4, flags 0, options [len(ctx)], payload
 * ctx || body.  The header and context are built in the reactor's scratch
 * buffer and sent with the body in one writev().  The worker answered the
 * previous request, so its stdin pipe is empty and the first 64 KiB go in at
 * once: the first 12 bytes always reach the pipe in one write (1.6).  What
 * does not fit waits in w_wbuf for EPOLLOUT.
 *
 * Response: decoded from w_rbuf in place; a WRITE body goes from there
 * straight to the client socket.  Runs on the reactor that holds the worker.
 */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "pool.h"

#define MIN_PIPE_WRITE	FRAME_HDR_MIN

static const char *const event_names[] = { "", "CONNECTED", "DATA", "CLOSE" };

int
relay_send(struct rr_conn *c, struct rr_worker *w)
{
	struct rr_reactor *r = c->c_r;
	const char *ev = event_names[c->c_event];
	size_t evlen = strlen(ev), ctxlen, hlen, body_len, total;
	const uint8_t *body = NULL;
	uint8_t *p = r->r_scratch;
	uint32_t opt;
	struct iovec iov[2];
	ssize_t n;

	body_len = c->c_event == CEV_DATA ? c->c_msglen : 0;
	if (body_len)
		body = buf_rptr(&c->c_in);
	ctxlen = c->c_ctxlen + evlen + 2;
	opt = (uint32_t)ctxlen;
	hlen = frame_encode_header(p, 0, 0, &opt, 1,
	    (uint32_t)(ctxlen + body_len));
	memcpy(p + hlen, c->c_ctx, c->c_ctxlen);
	memcpy(p + hlen + c->c_ctxlen, ev, evlen);
	memcpy(p + hlen + c->c_ctxlen + evlen, "\"}", 2);
	iov[0].iov_base = p;
	iov[0].iov_len = hlen + ctxlen;
	iov[1].iov_base = (void *)(uintptr_t)body;
	iov[1].iov_len = body_len;
	total = iov[0].iov_len + body_len;

	w->w_conn = c;
	c->c_worker = w;
	atomic_fetch_add_explicit(&w->w_execs, 1, memory_order_relaxed);
	atomic_store_explicit(&w->w_last_exec_ms, ev_now(r->r_loop),
	    memory_order_relaxed);
	do
		n = writev(w->w_in, iov, body_len ? 2 : 1);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		n = 0;
	if (n < 0 || (size_t)n < MIN_PIPE_WRITE) {
		char why[96];
		/* A frame cut inside its first 12 bytes would kill a PHP
		 * worker (1.6); an empty pipe makes this a broken worker. */
		snprintf(why, sizeof(why), "cannot write request: %s",
		    n < 0 ? strerror(errno) : "pipe not empty");
		c->c_worker = NULL;
		pool_retire(w, WS_ERRORED, 1, why);
		return -1;
	}
	if ((size_t)n < total) {
		size_t off = (size_t)n;
		/* Keep the rest: the body may move in c_in before EPOLLOUT. */
		if (off < iov[0].iov_len) {
			buf_append(&w->w_wbuf, p + off, iov[0].iov_len - off,
			    SIZE_MAX);
			off = iov[0].iov_len;
		}
		if (buf_append(&w->w_wbuf, body + (off - iov[0].iov_len),
		    total - off, SIZE_MAX) == -1) {
			c->c_worker = NULL;
			pool_retire(w, WS_ERRORED, 1, "out of memory");
			return -1;
		}
		w->w_in_io.fd = w->w_in;
		if (ev_attach(r->r_loop, &w->w_in_io, EV_WRITE | EV_EDGE) == 0)
			w->w_in_loop = r->r_loop;
	}
	if (log_enabled(LOG_DEBUG))
		log_debug("event sent", "conn=%llu worker=%d event=%s bytes=%zu",
		    (unsigned long long)c->c_id, (int)w->w_pid, ev, body_len);
	return 0;
}

/* Continues a request the pipe could not take at once. */
static void
flush_request(struct ev *loop, struct rr_worker *w)
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
			return;
		break;		/* EPIPE: the read side reports the death */
	}
	buf_free(&w->w_wbuf);
	ev_del(loop, &w->w_in_io);
	w->w_in_loop = NULL;
}

/* The worker failed the exchange; it is killed (or stopped) and replaced. */
static void
fail(struct rr_worker *w, struct rr_conn *c, int kill, int status,
    const char *reason)
{
	pool_retire(w, status, kill, reason);
	if (c != NULL) {
		c->c_worker = NULL;
		conn_exec_failed(c, reason);
	}
}

static enum conn_reply
reply_kind(const uint8_t *ctx, size_t n)
{
	if (n == 8 && memcmp(ctx, "CONTINUE", 8) == 0)
		return REPLY_CONTINUE;
	if (n == 5 && memcmp(ctx, "WRITE", 5) == 0)
		return REPLY_WRITE;
	if (n == 10 && memcmp(ctx, "WRITECLOSE", 10) == 0)
		return REPLY_WRITECLOSE;
	return REPLY_CLOSE;	/* CLOSE, and anything unknown (4.4) */
}

/*
 * The exchange is over for the worker.  A worker that once sent a frame with
 * no request in flight cannot be trusted to be quiet now: it gets a pid
 * request, and whatever it writes before the pid reply is its stray output.
 * Other workers go straight back.  A stray frame that arrives after the next
 * request was written cannot be told from the answer (the protocol has no
 * sequence numbers), so this closes the window from the first stray on.
 */
static void
worker_done(struct rr_conn *c, struct rr_worker *w)
{
	char why[160];

	/* Frames after the answer, in the same read, answer nothing. */
	if (buf_len(&w->w_rbuf) > 0 &&
	    pool_drain_stray(w, why, sizeof(why)) == -1) {
		pool_retire(w, WS_ERRORED, 1, why);
		if (c != NULL)
			conn_exec_done(c, NULL);
		return;
	}
	if (!atomic_load_explicit(&w->w_fence, memory_order_relaxed)) {
		/* The worker first, so a waiting event gets it before c
		 * queues its next message. */
		conn_exec_done(c, w);
		return;
	}
	if (c != NULL)
		conn_exec_done(c, NULL);
	w->w_conn = NULL;
	if (pool_ping(w) == -1) {
		pool_retire(w, WS_ERRORED, 1, "cannot write the fence ping");
		return;
	}
	w->w_fencing = 1;
}

/* Reads a fenced worker up to its pid reply; earlier frames are strays. */
static void
fence_read(struct rr_worker *w)
{
	char why[160];
	int st = pool_read_stdout(w);

	for (;;) {
		const char *bad;
		struct frame f;
		int64_t pid;
		ssize_t rc = frame_decode(buf_rptr(&w->w_rbuf),
		    buf_len(&w->w_rbuf), SIZE_MAX, &f, &bad);

		if (rc == FRAME_NEED_MORE) {
			if (st != 0)
				pool_retire(w, WS_ERRORED, 1,
				    "worker stdout closed while fenced");
			return;
		}
		if (rc == FRAME_BAD) {
			snprintf(why, sizeof(why), "invalid frame on stdout (%s)",
			    bad);
			pool_retire(w, WS_ERRORED, 1, why);
			return;
		}
		if ((f.flags & FRAME_CONTROL) && json_control((const char *)
		    f.payload, f.len, &pid) == 0) {
			buf_consume(&w->w_rbuf, (size_t)rc);
			w->w_fencing = 0;
			conn_exec_done(NULL, w);
			return;
		}
		pool_log_stray(w, &f);
		buf_consume(&w->w_rbuf, (size_t)rc);
	}
}

void
relay_on_worker_io(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	struct rr_conn *c = w->w_conn;
	char why[256], q[LOG_QMAX];
	const char *bad;
	struct frame f;
	ssize_t rc;
	int st;

	if (events & EV_WRITE) {
		flush_request(loop, w);
		if (!(events & EV_READ))
			return;
	}
	if (w->w_fencing) {
		fence_read(w);
		return;
	}
	if (c == NULL)
		return;		/* held but idle between two exchanges */
	st = pool_read_stdout_ev(w, events);
	rc = frame_decode(buf_rptr(&w->w_rbuf), buf_len(&w->w_rbuf),
	    c->c_r->r_cfg->max_frame_size, &f, &bad);
	if (rc == FRAME_NEED_MORE) {
		if (st == 0)
			return;
		snprintf(why, sizeof(why), st == 1 ?
		    "worker closed its stdout (exited?) during the event" :
		    "worker stdout: %s", strerror(errno));
		fail(w, c, 1, WS_ERRORED, why);
		return;
	}
	if (rc == FRAME_BAD) {
		size_t n = buf_len(&w->w_rbuf) < 40 ? buf_len(&w->w_rbuf) : 40;
		snprintf(why, sizeof(why), "invalid frame on stdout (%s): %s",
		    bad, log_q(q, sizeof(q), (const char *)buf_rptr(&w->w_rbuf),
		    n));
		fail(w, c, 1, WS_ERRORED, why);
		return;
	}
	if (f.version != FRAME_VERSION)
		log_warn("frame with an unexpected version", "worker=%d version=%u",
		    (int)w->w_pid, f.version);
	if (f.flags & FRAME_ERROR) {
		/* A soft error: the worker stays (3.4); the event failed. */
		snprintf(why, sizeof(why), "worker error: %.*s",
		    (int)(f.len > 200 ? 200 : f.len), (const char *)f.payload);
		buf_consume(&w->w_rbuf, (size_t)rc);
		c->c_worker = NULL;
		conn_exec_failed(c, why);
		worker_done(NULL, w);
		return;
	}
	if (f.byte10 & FRAME_STREAM) {
		/* The TCP plugin has no streams; the worker would keep
		 * writing frames nobody reads (Q5), so it goes. */
		fail(w, c, 1, WS_ERRORED, "streaming is not supported");
		return;
	}
	if (f.flags & FRAME_CONTROL) {
		fail(w, c, 1, WS_ERRORED, "control frame instead of a response");
		return;
	}
	if (f.nopts != 1) {
		snprintf(why, sizeof(why), "response with %u options, want 1",
		    f.nopts);
		fail(w, c, 0, WS_INVALID, why);
		return;
	}
	if (f.opts[0] > f.len) {
		snprintf(why, sizeof(why), "context length %u beyond payload %u",
		    f.opts[0], f.len);
		fail(w, c, 1, WS_ERRORED, why);
		return;
	}
	if (f.opts[0] == 13 && memcmp(f.payload, "{\"stop\":true}", 13) == 0) {
		/* Worker::stop() (3.5): it goes, the event runs elsewhere. */
		buf_consume(&w->w_rbuf, (size_t)rc);
		pool_retire(w, WS_STOPPING, 0, "worker asked to stop");
		c->c_worker = NULL;
		conn_exec_retry(c);
		return;
	}
	/* Answer the client first (Q4), then free the worker's buffer. */
	conn_on_reply(c, reply_kind(f.payload, f.opts[0]),
	    f.payload + f.opts[0], f.len - f.opts[0]);
	buf_consume(&w->w_rbuf, (size_t)rc);
	worker_done(c, w);
}
