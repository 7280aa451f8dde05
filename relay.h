/*
 * relay.h - one exchange between an event and the worker that runs it: the
 * request frame (header, context JSON, body) written to the worker's stdin,
 * the answer read from its stdout (rrtcp-protocol(7) 2, 3.3-3.5, 4.4).
 *
 * The exchange owns the worker from the first byte of the request to the
 * last byte of the answer, and reports back once, through its done callback,
 * with the outcome.  After that the worker is the relay's until its request
 * is wholly written (a worker may answer before it has read all of it) and,
 * for a worker that once sent a stray frame, until the fence ping came back;
 * then the reactor's scheduler gets it (sched_handoff).
 */
#ifndef RRTCP_RELAY_H
#define RRTCP_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"

struct rr_worker;
struct relay_xchg;

enum relay_outcome {
	RELAY_REPLY,		/* the worker answered: kind, body */
	RELAY_FAILED,		/* error frame, crash, bad frame, timeout: reason */
	RELAY_RETRY		/* Worker::stop() (3.5): run it on another worker */
};

/* What a worker answered (4.4). */
enum relay_reply {
	REPLY_CONTINUE,
	REPLY_WRITE,
	REPLY_WRITECLOSE,
	REPLY_CLOSE		/* CLOSE and any unknown context */
};

/* What kind of RELAY_FAILED (for the metrics). */
enum relay_fail {
	RELAY_FAIL_WORKER,	/* crash, bad frame, closed pipe */
	RELAY_FAIL_ERROR,	/* the worker answered an error frame */
	RELAY_FAIL_TIMEOUT	/* the request's ttl passed */
};

struct relay_result {
	enum relay_outcome	 outcome;
	enum relay_fail		 fail;	/* RELAY_FAILED */
	enum relay_reply	 kind;
	const uint8_t		*body;	/* RELAY_REPLY: valid during the call */
	size_t			 len;
	const char		*reason; /* RELAY_FAILED */
};

typedef void relay_done_fn(struct relay_xchg *x, const struct relay_result *res);

/* Embedded in whatever runs events (a connection). */
struct relay_xchg {
	relay_done_fn		*x_done;
	struct rr_worker	*x_worker;	/* while the exchange runs */
	uint64_t		 x_conn;	/* for log lines */
};

/* One event to send. */
struct relay_request {
	const char		*ctx;		/* context JSON up to the event name */
	size_t			 ctxlen;
	const char		*event;		/* "CONNECTED", "DATA", "CLOSE" */
	const uint8_t		*body;
	size_t			 body_len;
	int64_t			 ttl_ms;	/* exec_ttl or close_timeout, 0 = none */
	const char		*ttl_name;	/* for the reason when it passes */
	int			 fence_always;	/* tcp.fence: always */
};

/*
 * Starts the exchange of rq with w, held by loop; done is called once, later
 * (never from inside this call).  Returns -1 when w cannot take it: w is then
 * retired and the caller asks for another; -2 when rq cannot be framed (over
 * 4 GiB), -3 when there is no memory to hold its unwritten part: w is then
 * untouched and still the caller's.
 */
int	relay_start(struct relay_xchg *x, struct ev *loop, struct rr_worker *w,
	    const struct relay_request *rq, relay_done_fn *done);

/* The pid of the worker running x, or 0. */
int	relay_worker_pid(const struct relay_xchg *x);

/* pool_io_fn: the worker's pipes are ready on the loop that holds it. */
void	relay_on_worker_io(struct ev *loop, struct rr_worker *w,
	    uint32_t events);

#endif
