/*
 * double_relay.h - a stand-in for relay.c: relay_start() records each
 * request (event, context, a copy of the body) and returns; the test ends
 * the exchange later with drelay_finish(), which calls the recorded done
 * callback with the outcome it is given, as the real relay does from its
 * loop.  Single-threaded, like the tests that use it.
 */
#ifndef RRTCP_TEST_DOUBLE_RELAY_H
#define RRTCP_TEST_DOUBLE_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"

#define DRELAY_PID	4242		/* relay_worker_pid() while one runs */
#define DRELAY_MAX	256

struct drelay_call {
	struct relay_xchg *x;
	struct ev	*loop;
	struct rr_worker *w;
	relay_done_fn	*done;
	char		 event[16];
	char		*ctx;		/* the context prefix + event, NUL-ended */
	uint8_t		*body;		/* copy; NUL-ended for convenience */
	size_t		 body_len;
	int64_t		 ttl_ms;
	int		 finished;
};

struct drelay {
	struct drelay_call calls[DRELAY_MAX];
	int		 n;
	int		 overlaps;	/* started while the same xchg still ran */
	int		 next_rc;	/* what the next relay_start returns */
};

extern struct drelay drelay;

/* Ends call i: done(x, res) with this outcome; a reply hands the worker to
 * the loop's scheduler afterwards, as relay.c does. */
void	drelay_finish(int i, enum relay_outcome outcome, enum relay_reply kind,
	    const void *body, size_t len, const char *reason);
/* Shorthands. */
void	drelay_reply(int i, enum relay_reply kind, const char *body);
void	drelay_fail(int i, const char *reason);
void	drelay_retry(int i);
/* Calls of an xchg still running (started, not finished). */
int	drelay_running(void);
/* Frees the recorded copies and forgets every call. */
void	drelay_clear(void);

#endif
