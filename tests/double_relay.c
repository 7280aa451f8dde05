/*
 * double_relay.c - relay_start/relay_worker_pid under the test's control
 * (see double_relay.h).  Links in place of relay.o.
 */
#include "double_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "scheduler.h"

struct drelay drelay;

int
relay_start(struct relay_xchg *x, struct ev *loop, struct rr_worker *w,
    const struct relay_request *rq, relay_done_fn *done)
{
	struct drelay_call *c;
	int rc = drelay.next_rc;

	drelay.next_rc = 0;
	if (rc != 0)
		return rc;
	cr_assert_lt(drelay.n, DRELAY_MAX);
	for (int i = 0; i < drelay.n; i++)
		if (drelay.calls[i].x == x && !drelay.calls[i].finished)
			drelay.overlaps++;
	c = &drelay.calls[drelay.n++];
	memset(c, 0, sizeof(*c));
	c->x = x;
	c->loop = loop;
	c->w = w;
	c->done = done;
	snprintf(c->event, sizeof(c->event), "%s", rq->event);
	cr_assert_not_null(c->ctx = malloc(rq->ctxlen + strlen(rq->event) + 1));
	memcpy(c->ctx, rq->ctx, rq->ctxlen);
	strcpy(c->ctx + rq->ctxlen, rq->event);
	cr_assert_not_null(c->body = malloc(rq->body_len + 1));
	if (rq->body_len > 0)
		memcpy(c->body, rq->body, rq->body_len);
	c->body[rq->body_len] = '\0';
	c->body_len = rq->body_len;
	c->ttl_ms = rq->ttl_ms;
	x->x_done = done;
	x->x_worker = w;
	return 0;
}

int
relay_worker_pid(const struct relay_xchg *x)
{
	return x->x_worker != NULL ? DRELAY_PID : 0;
}

void
drelay_finish(int i, enum relay_outcome outcome, enum relay_reply kind,
    const void *body, size_t len, const char *reason)
{
	struct drelay_call *c;
	struct relay_result res = {
		.outcome = outcome,
		.kind = kind,
		.body = body,
		.len = len,
		.reason = reason,
	};

	cr_assert(i >= 0 && i < drelay.n, "no call %d (%d made)", i, drelay.n);
	c = &drelay.calls[i];
	cr_assert(!c->finished, "call %d (%s) already finished", i, c->event);
	c->finished = 1;
	c->x->x_worker = NULL;
	c->done(c->x, &res);
	/* The exchange is over: the worker goes to the next waiter.  A
	 * worker that asked to stop (retry) or failed is not handed on. */
	if (outcome == RELAY_REPLY)
		sched_handoff(sched_of(c->loop), c->w);
}

void
drelay_reply(int i, enum relay_reply kind, const char *body)
{
	drelay_finish(i, RELAY_REPLY, kind, body, body ? strlen(body) : 0,
	    NULL);
}

void
drelay_fail(int i, const char *reason)
{
	drelay_finish(i, RELAY_FAILED, REPLY_CLOSE, NULL, 0, reason);
}

void
drelay_retry(int i)
{
	drelay_finish(i, RELAY_RETRY, REPLY_CLOSE, NULL, 0, NULL);
}

int
drelay_running(void)
{
	int n = 0;

	for (int i = 0; i < drelay.n; i++)
		n += !drelay.calls[i].finished;
	return n;
}

void
drelay_clear(void)
{
	for (int i = 0; i < drelay.n; i++) {
		free(drelay.calls[i].ctx);
		free(drelay.calls[i].body);
	}
	memset(&drelay, 0, sizeof(drelay));
}
