/*
 * lease.h - a worker as the reactor that holds it sees it: its pipes, and
 * the holder's own state kept with it while it is held.  Everything else
 * about a worker (its process, phase, references) is the pool's and stays
 * behind struct rr_worker, which is opaque outside the pool's files
 * (pool.c, worker.c, supervisor.c, lease.c).
 *
 * Every call here is for the holder's thread, on a worker it holds.
 */
#ifndef RRTCP_LEASE_H
#define RRTCP_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ev.h"

struct frame;
struct relay_xchg;
struct rr_worker;

/* What the holder keeps with the worker (relay.c's), reset at each lease. */
struct lease_state {
	struct relay_xchg	*ls_xchg;	/* exchange in flight */
	int			 ls_fence;	/* relay.c's fence state */
	struct ev_timer		 ls_timer;	/* exec_ttl, then stalls */
	int			 ls_always;	/* fence after every answer */
	int64_t			 ls_ttl_ms;	/* for the reason text */
	const char		*ls_ttl_name;
};

struct lease_state *lease_state(struct rr_worker *w);
int	lease_pid(const struct rr_worker *w);
/* Is w still held by loop and in its hands (not retired meanwhile)? */
int	lease_held_by(const struct rr_worker *w, const struct ev *loop);
/* Did w ever send a frame with no request in flight? */
int	lease_fenced(const struct rr_worker *w);
/* An exchange starts now (informer's num_execs, idle_ttl). */
void	lease_exec_begin(struct rr_worker *w, int64_t now_ms);

/*
 * Writes a request given as iov; what the pipe does not take now is kept
 * and goes on with lease_flush() when the pipe is writable again (the
 * pool's io callback then gets EV_WRITE).  Returns 0 when all is written,
 * 1 when a tail is pending, -1 when w cannot take it (why says so), -3 when
 * there is no memory for a tail (nothing was written).
 */
int	lease_send(struct rr_worker *w, struct ev *loop, const struct iovec *iov,
	    int iovcnt, char *why, size_t whylen);
/* 0 when the tail is written, 1 when some is still pending, -1 on error. */
int	lease_flush(struct rr_worker *w, struct ev *loop);
/* Bytes of the request not yet written. */
size_t	lease_unsent(const struct rr_worker *w);

enum lease_read {
	LEASE_FRAME,		/* *f holds the next frame, *flen its size */
	LEASE_AGAIN,		/* no whole frame yet */
	LEASE_EOF,		/* stdout closed with no whole frame */
	LEASE_ERROR		/* read error or bytes that are no frame: why */
};

/*
 * Reads what the worker wrote (pool.c's one reader of stdout) and decodes
 * the next frame of at most max payload bytes.  The frame stays valid until
 * lease_consume(w, *flen).
 */
enum lease_read lease_read_frame(struct rr_worker *w, uint32_t events,
	    size_t max, struct frame *f, size_t *flen, char *why, size_t whylen);
void	lease_consume(struct rr_worker *w, size_t n);
/* Bytes read from stdout and not consumed. */
size_t	lease_buffered(const struct rr_worker *w);

/*
 * Reads and logs frames w sent with no request in flight; from then on w
 * is fenced.  Returns 0, or -1 with why set when w must be killed.
 */
int	lease_drain_stray(struct rr_worker *w, char *why, size_t whylen);
/* Logs a frame w sent with no request in flight (it is dropped). */
void	lease_log_stray(const struct rr_worker *w, const struct frame *f);
/* Sends the pid request as a ping: its reply marks a clean pipe. */
int	lease_ping(struct rr_worker *w);

#endif
