/*
 * relay.c - the request/response exchange between an event and the worker
 * that runs it.
 *
 * Request (rrtcp-protocol(7) 2): HL 4, flags 0, options [len(ctx)], payload
 * ctx || body.  Header, context, event name and body go out in one writev()
 * straight from where they live (lease_send); what the pipe does not take
 * is copied and written when the pipe drains.
 *
 * Response: decoded in the worker's read buffer and handed to the
 * exchange's done callback as a view.  Runs on the reactor that holds the
 * worker.
 *
 * A worker is held from the request's first byte until (a) its answer came,
 * (b) the request is wholly written, and (c) for a fenced worker, the pid
 * ping came back.  Only then does the scheduler get it, so two requests
 * never interleave on one pipe and a leftover of one request can never be
 * read by the worker as the start of the next.
 */
#include "relay.h"

#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "json.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "scheduler.h"

/* A worker that answered but neither reads the rest of its request nor
 * answers the fence ping for this long is killed. */
#define STALL_MS	10000

enum fence {
	FENCE_NONE,		/* no ping this lease */
	FENCE_AWAIT_PID,	/* ping written, its pid reply not read yet */
	FENCE_DONE		/* the pid reply came: the pipe is clean */
};

static void	on_timer(struct ev *loop, struct ev_timer *t);

int
relay_worker_pid(const struct relay_xchg *x)
{
	return x->x_worker != NULL ? lease_pid(x->x_worker) : 0;
}

/* The exchange in flight (or NULL) lets go of w; its timer stops. */
static struct relay_xchg *
detach(struct ev *loop, struct rr_worker *w)
{
	struct lease_state *ls = lease_state(w);
	struct relay_xchg *x = ls->ls_xchg;

	ev_timer_cancel(loop, &ls->ls_timer);
	ls->ls_xchg = NULL;
	if (x != NULL)
		x->x_worker = NULL;
	return x;
}

/* Gives w up for good; an exchange still running fails with reason. */
static void
give_up(struct ev *loop, struct rr_worker *w, int status, int kill,
    const char *reason)
{
	struct relay_xchg *x = detach(loop, w);
	char why[256];

	lease_state(w)->ls_fence = FENCE_NONE;
	if (x != NULL) {
		/* The kill's log line names the connection it was serving. */
		snprintf(why, sizeof(why), "%s (conn=%llu)", reason,
		    (unsigned long long)x->x_conn);
		pool_retire(w, status, kill, why);
		x->x_done(x, &(struct relay_result){ .outcome = RELAY_FAILED,
		    .fail = status == WS_EXEC_TTL ? RELAY_FAIL_TIMEOUT :
		    RELAY_FAIL_WORKER, .reason = reason });
	} else
		pool_retire(w, status, kill, reason);
}

/*
 * The lease ends once the answer came, the request is written and a fenced
 * worker's ping is answered; then the reactor's scheduler gets the worker.
 */
static void
maybe_release(struct ev *loop, struct rr_worker *w)
{
	struct lease_state *ls = lease_state(w);

	if (ls->ls_xchg != NULL || lease_unsent(w) > 0 ||
	    ls->ls_fence == FENCE_AWAIT_PID)
		return;
	if (ls->ls_fence == FENCE_NONE && (ls->ls_always || lease_fenced(w))) {
		/*
		 * A worker that once sent a frame with no request in flight
		 * cannot be trusted to be quiet now: whatever it writes before
		 * the pid reply is its stray output, not the next answer.  With
		 * tcp.fence: always every worker gets this after every answer,
		 * so not even its first stray can pass for the next answer.
		 */
		if (lease_ping(w) == -1) {
			give_up(loop, w, WS_ERRORED, 1,
			    "cannot write the fence ping");
			return;
		}
		ls->ls_fence = FENCE_AWAIT_PID;
		ev_timer_arm(loop, &ls->ls_timer, STALL_MS);
		return;
	}
	ev_timer_cancel(loop, &ls->ls_timer);
	ls->ls_fence = FENCE_NONE;
	if (pool_finish(w))
		sched_handoff(sched_of(loop), w);
}

int
relay_start(struct relay_xchg *x, struct ev *loop, struct rr_worker *w,
    const struct relay_request *rq, relay_done_fn *done)
{
	struct lease_state *ls = lease_state(w);
	size_t evlen = strlen(rq->event), ctxlen;
	uint8_t hdr[FRAME_HDR_MAX + 1024];	/* and the context, if it fits */
	struct iovec iov[5];
	char why[160];
	uint32_t opt;
	int rc, cnt;

	ctxlen = rq->ctxlen + evlen + 2;
	if (ctxlen + rq->body_len > UINT32_MAX)
		return -2;	/* config refuses such sizes; w is untouched */
	opt = (uint32_t)ctxlen;
	iov[0].iov_base = hdr;
	iov[0].iov_len = frame_encode_header(hdr, 0, 0, &opt, 1,
	    (uint32_t)(ctxlen + rq->body_len));
	if (iov[0].iov_len + ctxlen <= sizeof(hdr)) {
		/* Header and context in one piece: a pipe write copies each
		 * iovec on its own, and this is every event's path. */
		uint8_t *p = hdr + iov[0].iov_len;

		memcpy(p, rq->ctx, rq->ctxlen);
		memcpy(p + rq->ctxlen, rq->event, evlen);
		memcpy(p + rq->ctxlen + evlen, "\"}", 2);
		iov[0].iov_len += ctxlen;
		iov[1] = (struct iovec){ (void *)(uintptr_t)rq->body,
		    rq->body_len };
		cnt = rq->body_len ? 2 : 1;
	} else {
		iov[1] = (struct iovec){ (void *)(uintptr_t)rq->ctx,
		    rq->ctxlen };
		iov[2] = (struct iovec){ (void *)(uintptr_t)rq->event, evlen };
		iov[3] = (struct iovec){ (void *)(uintptr_t)"\"}", 2 };
		iov[4] = (struct iovec){ (void *)(uintptr_t)rq->body,
		    rq->body_len };
		cnt = rq->body_len ? 5 : 4;
	}

	rc = lease_send(w, loop, iov, cnt, why, sizeof(why));
	if (rc == -3)
		return -3;	/* nothing written; w is untouched */
	lease_exec_begin(w, ev_now(loop));
	if (rc == -1) {
		pool_retire(w, WS_ERRORED, 1, why);
		return -1;
	}
	x->x_done = done;
	x->x_worker = w;
	ls->ls_xchg = x;
	ls->ls_fence = FENCE_NONE;
	ls->ls_always = rq->fence_always;
	ev_timer_init(&ls->ls_timer, on_timer, w);
	if (rq->ttl_ms > 0) {
		ls->ls_ttl_ms = rq->ttl_ms;
		ls->ls_ttl_name = rq->ttl_name;
		ev_timer_arm(loop, &ls->ls_timer, rq->ttl_ms);
	}
	if (log_enabled(LOG_DEBUG))
		log_debug("event sent", "conn=%llu worker=%d event=%s bytes=%zu",
		    (unsigned long long)x->x_conn, lease_pid(w), rq->event,
		    rq->body_len);
	return 0;
}

/* exec_ttl (or close_timeout) while the exchange runs; then stalls. */
static void
on_timer(struct ev *loop, struct ev_timer *t)
{
	struct rr_worker *w = t->arg;
	struct lease_state *ls = lease_state(w);
	char why[160];

	if (ls->ls_xchg != NULL)
		snprintf(why, sizeof(why), "%s exceeded (%lldms)",
		    ls->ls_ttl_name, (long long)ls->ls_ttl_ms);
	else
		snprintf(why, sizeof(why), "worker did not %s within %dms",
		    lease_unsent(w) > 0 ? "read the rest of its request" :
		    "answer the fence ping", STALL_MS);
	give_up(loop, w, WS_EXEC_TTL, 1, why);
}

/* Continues a request the pipe could not take at once. */
static void
flush_tail(struct ev *loop, struct rr_worker *w)
{
	size_t before = lease_unsent(w);
	int rc = lease_flush(w, loop);

	if (rc == -1) {
		give_up(loop, w, WS_ERRORED, 1, "worker stdin closed during "
		    "the request");
		return;
	}
	/* A worker that already answered is watched for progress, not for
	 * its event's ttl. */
	if (rc == 1 && lease_state(w)->ls_xchg == NULL &&
	    lease_unsent(w) < before)
		ev_timer_arm(loop, &lease_state(w)->ls_timer, STALL_MS);
	if (rc == 0)
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
	struct relay_xchg *x = detach(loop, w);
	char why[160];

	/* Answer the client first (Q4), then free the worker's buffer. */
	x->x_done(x, res);
	lease_consume(w, consume);
	/* Frames after the answer, in the same read, answer nothing. */
	if (lease_buffered(w) > 0 &&
	    lease_drain_stray(w, why, sizeof(why)) == -1) {
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	if (lease_unsent(w) > 0)
		ev_timer_arm(loop, &lease_state(w)->ls_timer, STALL_MS);
	maybe_release(loop, w);
}

/* Reads a fenced worker up to its pid reply; earlier frames are strays. */
static void
fence_read(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	char why[160];

	for (;;) {
		struct frame f;
		size_t flen;
		int64_t pid;

		switch (lease_read_frame(w, events, SIZE_MAX, &f, &flen, why,
		    sizeof(why))) {
		case LEASE_AGAIN:
			return;
		case LEASE_EOF:
			give_up(loop, w, WS_ERRORED, 1,
			    "worker stdout closed while fenced");
			return;
		case LEASE_ERROR:
			give_up(loop, w, WS_ERRORED, 1, why);
			return;
		case LEASE_FRAME:
			break;
		}
		if ((f.flags & FRAME_CONTROL) && json_control((const char *)
		    f.payload, f.len, &pid) == 0) {
			lease_consume(w, flen);
			lease_state(w)->ls_fence = FENCE_DONE;
			maybe_release(loop, w);
			return;
		}
		lease_log_stray(w, &f);
		lease_consume(w, flen);
		events = 0;	/* what was there is read: decode the rest */
	}
}

static void
read_answer(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	char why[256];
	struct frame f;
	size_t flen;

	switch (lease_read_frame(w, events, pool_max_frame(), &f, &flen, why,
	    sizeof(why))) {
	case LEASE_AGAIN:
		return;
	case LEASE_EOF:
		give_up(loop, w, WS_ERRORED, 1,
		    "worker closed its stdout (exited?) during the event");
		return;
	case LEASE_ERROR:
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	case LEASE_FRAME:
		break;
	}
	if (f.version != FRAME_VERSION)
		log_warn("frame with an unexpected version", "worker=%d version=%u",
		    lease_pid(w), f.version);
	if (f.flags & FRAME_ERROR) {
		/* A soft error: the worker stays (3.4); the event failed. */
		snprintf(why, sizeof(why), "worker error: %.*s",
		    (int)(f.len > 200 ? 200 : f.len), (const char *)f.payload);
		answered(loop, w, &(struct relay_result){
		    .outcome = RELAY_FAILED, .fail = RELAY_FAIL_ERROR,
		    .reason = why }, flen);
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
		struct relay_xchg *x = detach(loop, w);

		lease_consume(w, flen);
		pool_retire(w, WS_STOPPING, 0, "worker asked to stop");
		x->x_done(x, &(struct relay_result){ .outcome = RELAY_RETRY });
		return;
	}
	answered(loop, w, &(struct relay_result){ .outcome = RELAY_REPLY,
	    .kind = reply_kind(f.payload, f.opts[0]),
	    .body = f.payload + f.opts[0], .len = f.len - f.opts[0] }, flen);
}

void
relay_on_worker_io(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	struct lease_state *ls = lease_state(w);
	char why[160];

	if (events & EV_WRITE) {
		if (lease_unsent(w) > 0)
			flush_tail(loop, w);
		/* Released or retired meanwhile: not ours to read. */
		if (!(events & EV_READ) || !lease_held_by(w, loop))
			return;
	}
	if (ls->ls_fence == FENCE_AWAIT_PID) {
		fence_read(loop, w, events);
		return;
	}
	if (ls->ls_xchg != NULL) {
		read_answer(loop, w, events);
		return;
	}
	/* Answered, request still being written: this is a second answer. */
	if (lease_drain_stray(w, why, sizeof(why)) == -1) {
		give_up(loop, w, WS_ERRORED, 1, why);
		return;
	}
	maybe_release(loop, w);
}
