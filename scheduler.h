/*
 * scheduler.h - who gets the next free worker.
 *
 * Each reactor has one scheduler.  Its events wait for a worker in arrival
 * order (so in allocate_timeout deadline order too); a worker that finishes
 * an exchange goes to the oldest local waiter, unless another reactor's
 * oldest waiter has waited FAIR_SLACK_MS longer: then it goes back to the
 * shared idle ring and that reactor is woken.  Everything but
 * sched_register's bookkeeping runs on the scheduler's own reactor thread.
 */
#ifndef RRTCP_SCHEDULER_H
#define RRTCP_SCHEDULER_H

#include <stdatomic.h>
#include <stdint.h>

#include "ev.h"
#include "tailq.h"

struct rr_worker;
struct sched_waiter;

/* The waiter got worker w (held by this loop), or w is NULL: no worker came
 * within the timeout (the waiter has left the queue). */
typedef void sched_grant_fn(struct sched_waiter *wt, struct rr_worker *w);

struct sched_waiter {
	TAILQ_ENTRY(sched_waiter) wt_link;
	sched_grant_fn		*wt_fn;
	int64_t			 wt_since;	/* ms, when it started waiting */
	int64_t			 wt_until;	/* ms, its allocate_timeout */
	int			 wt_queued;
};

TAILQ_HEAD(sched_waitq, sched_waiter);

struct sched {
	struct ev		*s_loop;
	struct sched_waitq	 s_waitq;	/* arrival order = deadline order */
	struct ev_timer		 s_timer;	/* deadline of the oldest waiter */
	_Atomic int		 s_waiting;	/* length of s_waitq, for the pool */
	_Atomic int64_t		 s_head_since;	/* wt_since of the head */
};

/* Sets s up for loop and makes it known to the other schedulers.  At most
 * RR_MAX_REACTORS schedulers; returns -1 beyond that. */
int	sched_init(struct sched *s, struct ev *loop);
/* Before loop is freed (its thread has ended). */
void	sched_fini(struct sched *s);
/* The scheduler of the reactor whose loop this is. */
struct sched *sched_of(const struct ev *loop);

/*
 * wt wants a worker.  If nobody waits anywhere and one is idle, fn runs at
 * once; else wt joins the queue and fn runs when a worker is free for it or
 * after timeout_ms with NULL.
 */
void	sched_request(struct sched *s, struct sched_waiter *wt,
	    sched_grant_fn *fn, int64_t timeout_ms);
/* wt leaves the queue (its connection goes away). */
void	sched_cancel(struct sched *s, struct sched_waiter *wt);
/* Hands w, free after an exchange, to the oldest waiter here or back to the
 * idle ring. */
void	sched_handoff(struct sched *s, struct rr_worker *w);
/* Serves local waiters from the idle ring (after a wake-up). */
void	sched_serve(struct sched *s);
/* Waiters queued on this scheduler. */
int	sched_waiting(const struct sched *s);

#endif
