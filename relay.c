/*
 * relay.c - the request/response exchange between an event and the worker
 * that runs it.
 *
 * Request (rrtcp-protocol(7) 2): HL 4, flags 0, options [len(ctx)], payload
 * ctx || body.  Header, context, event name and body go out in one writev()
 * straight from where they live.  The worker answered its previous request,
 * so its stdin pipe is empty and the first 64 KiB go in at once: the first
 * 12 bytes always reach the pipe in one write (1.6).  What does not fit is
 * copied to w_wbuf and written on EV_WRITE.
 *
 * Response: decoded from w_rbuf in place and handed to the exchange's done
 * callback as a view.  Runs on the reactor that holds the worker.
 *
 * A worker is held from the request's first byte until (a) its answer came,
 * (b) the request is wholly written, and (c) for a fenced worker, the pid
 * ping came back.  Only then does the scheduler get it, so two requests
 * never interleave on one pipe and a leftover of one request can never be
 * read by the worker as the start of the next.
 */
#include "relay.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "scheduler.h"

#define MIN_PIPE_WRITE	FRAME_HDR_MIN
#define WBUF_KEEP	65536	/* tail room kept between requests */
/* A worker that answered but neither reads the rest of its request nor
 * answers the fence ping for this long is killed. */
#define STALL_MS	10000

enum fence {
	FENCE_NONE,		/* no ping this lease */
	FENCE_AWAIT_PID,	/* ping written, its pid reply not read yet */
	FENCE_DONE		/* the pid reply came: the pipe is clean */
};

static void	on_exec_timer(struct ev *loop, struct ev_timer *t);

int
relay_worker_pid(const struct relay_xchg *x)
{
	return x->x_worker != NULL ? (int)x->x_worker->w_pid : 0;
}

/* Gives w up for good; an exchange still running fails with reason. */
static void
give_up(struct ev *loop, struct rr_worker *w, int status, int kill,
    const char *reason)
{
	struct relay_xchg *x = w->w_xchg;
	char why[256];

	ev_timer_cancel(loop, &w->w_exec_timer);
	w->w_xchg = NULL;
	w->w_fencing = FENCE_NONE;
	if (x != NULL) {
		/* The kill's log line names the connection it was serving. */
		snprintf(why, sizeof(why), "%s (conn=%llu)", reason,
		    (unsigned long long)x->x_conn);
		pool_retire(w, status, kill, why);
		x->x_worker = NULL;
		x->x_done(x, &(struct relay_result){ .outcome = RELAY_FAILED,
		    .reason = reason });
	} else
		pool_retire(w, status, kill, reason);
}

static void
arm_stall(struct ev *loop, struct rr_worker *w)
{
	ev_timer_arm(loop, &w->w_exec_timer, STALL_MS);
}

/*
 * The lease ends once the answer came, the request is written and a fenced
 * worker's ping is answered; then the reactor's scheduler gets the worker.
 */
static void
maybe_release(struct ev *loop, struct rr_worker *w)
{
	if (w->w_xchg != NULL || buf_len(&w->w_wbuf) > 0 ||
	    w->w_fencing == FENCE_AWAIT_PID)
		return;
	if (w->w_fencing == FENCE_NONE &&
	    atomic_load_explicit(&w->w_fence, memory_order_relaxed)) {
		/*
		 * A worker that once sent a frame with no request in flight
		 * cannot be trusted to be quiet now: whatever it writes before
		 * the pid reply is its stray output, not the next answer.
		 */
		if (pool_ping(w) == -1) {
			give_up(loop, w, WS_ERRORED, 1,
			    "cannot write the fence ping");
			return;
		}
		w->w_fencing = FENCE_AWAIT_PID;
		arm_stall(loop, w);
		return;
	}
	ev_timer_cancel(loop, &w->w_exec_timer);
	w->w_fencing = FENCE_NONE;
	if (pool_finish(w))
		sched_handoff(sched_of(loop), w);
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
relay_start(struct relay_xchg *x, struct ev *loop, struct rr_worker *w,
    const struct relay_request *rq, relay_done_fn *done)
{
	size_t evlen = strlen(rq->event), ctxlen, total;
	uint8_t hdr[FRAME_HDR_MAX];
	struct iovec iov[5];
	char why[160];
	uint32_t opt;
	size_t hlen;
	ssize_t n;
	int cnt;

	ctxlen = rq->ctxlen + evlen + 2;
	if (ctxlen + rq->body_len > UINT32_MAX)
		return -2;	/* config refuses such sizes; w is untouched */
	opt = (uint32_t)ctxlen;
	hlen = frame_encode_header(hdr, 0, 0, &opt, 1,
	    (uint32_t)(ctxlen + rq->body_len));
	iov[0] = (struct iovec){ hdr, hlen };
	iov[1] = (struct iovec){ (void *)(uintptr_t)rq->ctx, rq->ctxlen };
	iov[2] = (struct iovec){ (void *)(uintptr_t)rq->event, evlen };
	iov[3] = (struct iovec){ (void *)(uintptr_t)"\"}", 2 };
	iov[4] = (struct iovec){ (void *)(uintptr_t)rq->body, rq->body_len };
	cnt = rq->body_len ? 5 : 4;
	total = hlen + ctxlen + rq->body_len;

	/*
	 * Room for what the pipe may not take, before a byte is written, so
	 * a request is never cut for want of memory.  An empty pipe takes at
	 * least PIPE_BUF bytes at once; anything longer may need a tail.
	 */
	if (total > PIPE_BUF &&
	    buf_reserve(&w->w_wbuf, total, total, SIZE_MAX) == -1)
		return -3;
	x->x_done = done;
	x->x_worker = w;
	w->w_xchg = x;
	w->w_fencing = FENCE_NONE;
	atomic_fetch_add_explicit(&w->w_execs, 1, memory_order_relaxed);
	atomic_store_explicit(&w->w_last_exec_ms, ev_now(loop),
	    memory_order_relaxed);
	do
		n = writev(w->w_in, iov, cnt);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		n = 0;
	if (n < 0 || (size_t)n < MIN_PIPE_WRITE) {
		/* A frame cut inside its first 12 bytes would kill a PHP
		 * worker (1.6); an empty pipe makes this a broken worker. */
		snprintf(why, sizeof(why), "cannot write request: %s",
		    n < 0 ? strerror(errno) : "pipe not empty");
		w->w_xchg = NULL;
		x->x_worker = NULL;
		pool_retire(w, WS_ERRORED, 1, why);
		return -1;
	}
	if ((size_t)n < total) {
		/* Keep the rest: the body may move before EV_WRITE.  Room was
		 * reserved above; should a short request still find none, the
		 * worker holds half a frame, so it goes. */
		if (keep_tail(w, iov, cnt, (size_t)n) == -1) {
			w->w_xchg = NULL;
			x->x_worker = NULL;
			buf_free(&w->w_wbuf);
			pool_retire(w, WS_ERRORED, 1,
			    "out of memory for the request tail");
			return -1;
		}
		w->w_in_io.fd = w->w_in;
		if (ev_attach(loop, &w->w_in_io, EV_WRITE | EV_EDGE) == 0)
			w->w_in_loop = loop;
	} else if (w->w_wbuf.cap > WBUF_KEEP)
		buf_free(&w->w_wbuf);	/* a big reservation is not kept */
	ev_timer_init(&w->w_exec_timer, on_exec_timer, w);
	if (rq->ttl_ms > 0) {
		w->w_exec_ttl_ms = rq->ttl_ms;
		w->w_exec_ttl_name = rq->ttl_name;
		ev_timer_arm(loop, &w->w_exec_timer, rq->ttl_ms);
	}
	if (log_enabled(LOG_DEBUG))
		log_debug("event sent", "conn=%llu worker=%d event=%s bytes=%zu",
		    (unsigned long long)x->x_conn, (int)w->w_pid, rq->event,
		    rq->body_len);
	return 0;
}

static void
on_exec_timer(struct ev *loop, struct ev_timer *t)
{
	struct rr_worker *w = t->arg;
	char why[160];

	if (w->w_xchg != NULL)
		snprintf(why, sizeof(why), "%s exceeded (%lldms)",
		    w->w_exec_ttl_name, (long long)w->w_exec_ttl_ms);
	else
		snprintf(why, sizeof(why), "worker did not %s within %dms",
		    buf_len(&w->w_wbuf) > 0 ? "read the rest of its request" :
		    "answer the fence ping", STALL_MS);
	give_up(loop, w, WS_EXEC_TTL, 1, why);
}

/* Continues a request the pipe could not take at once. */
static void
flush_tail(struct ev *loop, struct rr_worker *w)
{
	size_t before = buf_len(&w->w_wbuf);

	while (buf_len(&w->w_wbuf) > 0) {
		ssize_t n = write(w->w_in, buf_rptr(&w->w_wbuf),
		    buf_len(&w->w_wbuf));
		if (n > 0) {
			buf_consume(&w->w_wbuf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			/* A worker that already answered is watched for
			 * progress, not for its event's ttl. */
			if (w->w_xchg == NULL && buf_len(&w->w_wbuf) < before)
				arm_stall(loop, w);
			return;
		}
		give_up(loop, w, WS_ERRORED, 1, "worker stdin closed during "
		    "the request");
		return;
	}
	buf_free(&w->w_wbuf);
	ev_del(loop, &w->w_in_io);
	w->w_in_loop = NULL;
	maybe_release(loop, w);
}

static enum relay_reply
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

/* The exchange is over: the worker waits for the rest of its lease. */
static void
answered(struct ev *loop, struct rr_worker *w, const struct relay_result *res,
    size_t consume)
{
	struct relay_xchg *x = w->w_xchg;
	char why[160];

	w->w_xchg = NULL;
	x->x_worker = NULL;
	ev_timer_cancel(loop, &w->w_exec_timer);
	/* Answer the client first (Q4), then free the worker's buffer. */
	x->x_done(x, res);
	buf_consume(&w->w_rbuf, consume);
	/* Frames after the answer, in the same read, answer nothing. */
	if (buf_len(&w->w_rbuf) > 0 &&
	    pool_drain_stray(w, why, sizeof(why)) == -1) {
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	if (buf_len(&w->w_wbuf) > 0)
		arm_stall(loop, w);
	maybe_release(loop, w);
}

/* Reads a fenced worker up to its pid reply; earlier frames are strays. */
static void
fence_read(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	char why[160];
	int st = pool_read_stdout_ev(w, events);

	for (;;) {
		const char *bad;
		struct frame f;
		int64_t pid;
		ssize_t rc = frame_decode(buf_rptr(&w->w_rbuf),
		    buf_len(&w->w_rbuf), SIZE_MAX, &f, &bad);

		if (rc == FRAME_NEED_MORE) {
			if (st != 0)
				give_up(loop, w, WS_ERRORED, 1,
				    "worker stdout closed while fenced");
			return;
		}
		if (rc == FRAME_BAD) {
			snprintf(why, sizeof(why), "invalid frame on stdout (%s)",
			    bad);
			give_up(loop, w, WS_ERRORED, 1, why);
			return;
		}
		if ((f.flags & FRAME_CONTROL) && json_control((const char *)
		    f.payload, f.len, &pid) == 0) {
			buf_consume(&w->w_rbuf, (size_t)rc);
			w->w_fencing = FENCE_DONE;
			maybe_release(loop, w);
			return;
		}
		pool_log_stray(w, &f);
		buf_consume(&w->w_rbuf, (size_t)rc);
	}
}

static void
read_answer(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	char why[256], q[LOG_QMAX];
	const char *bad;
	struct frame f;
	ssize_t rc;
	int st;

	st = pool_read_stdout_ev(w, events);
	rc = frame_decode(buf_rptr(&w->w_rbuf), buf_len(&w->w_rbuf),
	    pool_max_frame(), &f, &bad);
	if (rc == FRAME_NEED_MORE) {
		if (st == 0)
			return;
		snprintf(why, sizeof(why), st == 1 ?
		    "worker closed its stdout (exited?) during the event" :
		    "worker stdout: %s", strerror(errno));
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	if (rc == FRAME_BAD) {
		size_t n = buf_len(&w->w_rbuf) < 40 ? buf_len(&w->w_rbuf) : 40;
		snprintf(why, sizeof(why), "invalid frame on stdout (%s): %s",
		    bad, log_q(q, sizeof(q), (const char *)buf_rptr(&w->w_rbuf),
		    n));
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	if (f.version != FRAME_VERSION)
		log_warn("frame with an unexpected version", "worker=%d version=%u",
		    (int)w->w_pid, f.version);
	if (f.flags & FRAME_ERROR) {
		/* A soft error: the worker stays (3.4); the event failed. */
		snprintf(why, sizeof(why), "worker error: %.*s",
		    (int)(f.len > 200 ? 200 : f.len), (const char *)f.payload);
		answered(loop, w, &(struct relay_result){
		    .outcome = RELAY_FAILED, .reason = why }, (size_t)rc);
		return;
	}
	if (f.byte10 & FRAME_STREAM) {
		/* The TCP plugin has no streams; the worker would keep
		 * writing frames nobody reads (Q5), so it goes. */
		give_up(loop, w, WS_ERRORED, 1, "streaming is not supported");
		return;
	}
	if (f.flags & FRAME_CONTROL) {
		give_up(loop, w, WS_ERRORED, 1,
		    "control frame instead of a response");
		return;
	}
	if (f.nopts != 1) {
		snprintf(why, sizeof(why), "response with %u options, want 1",
		    f.nopts);
		give_up(loop, w, WS_INVALID, 0, why);
		return;
	}
	if (f.opts[0] > f.len) {
		snprintf(why, sizeof(why), "context length %u beyond payload %u",
		    f.opts[0], f.len);
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	if (f.opts[0] == 13 && memcmp(f.payload, "{\"stop\":true}", 13) == 0) {
		/* Worker::stop() (3.5): it goes, the event runs elsewhere. */
		struct relay_xchg *x = w->w_xchg;

		buf_consume(&w->w_rbuf, (size_t)rc);
		ev_timer_cancel(loop, &w->w_exec_timer);
		w->w_xchg = NULL;
		x->x_worker = NULL;
		pool_retire(w, WS_STOPPING, 0, "worker asked to stop");
		x->x_done(x, &(struct relay_result){ .outcome = RELAY_RETRY });
		return;
	}
	answered(loop, w, &(struct relay_result){ .outcome = RELAY_REPLY,
	    .kind = reply_kind(f.payload, f.opts[0]),
	    .body = f.payload + f.opts[0], .len = f.len - f.opts[0] },
	    (size_t)rc);
}

void
relay_on_worker_io(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	char why[160];

	if (events & EV_WRITE) {
		if (buf_len(&w->w_wbuf) > 0)
			flush_tail(loop, w);
		if (!(events & EV_READ))
			return;
		/* Released or retired meanwhile: not ours to read. */
		if (atomic_load_explicit(&w->w_holder, memory_order_relaxed) !=
		    loop || atomic_load_explicit(&w->w_owner,
		    memory_order_relaxed) != loop)
			return;
	}
	if (w->w_fencing == FENCE_AWAIT_PID) {
		fence_read(loop, w, events);
		return;
	}
	if (w->w_xchg != NULL) {
		read_answer(loop, w, events);
		return;
	}
	/* Answered, request still being written: this is a second answer. */
	if (pool_drain_stray(w, why, sizeof(why)) == -1) {
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	maybe_release(loop, w);
}
