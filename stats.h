/*
 * stats.h - the counters behind the metrics endpoint.
 *
 * Each reactor owns one struct stats and is its only writer, so a count is
 * a relaxed load and store of its own cache lines (no locked instruction);
 * the scrape (any thread) sums every reactor's slots with relaxed loads.
 * The writers are inline and take a NULL stats (a connection set without a
 * reactor, as in the unit tests) as "not counted", so conn.c needs no
 * stats.o to link.  The registry, the sums, the worker restarts and the
 * pool sampler (control thread) live in stats.c.
 */
#ifndef RRTCP_STATS_H
#define RRTCP_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ev;
struct rr_config;

/* Why a client socket was closed (the label of connections_closed). */
enum stats_close {
	STATS_CLOSE_CLIENT,	/* EOF, reset, write error */
	STATS_CLOSE_WORKER,	/* CLOSE or WRITECLOSE answer */
	STATS_CLOSE_TIMEOUT,	/* idle_timeout, write_timeout */
	STATS_CLOSE_LIMIT,	/* a size or memory cap */
	STATS_CLOSE_SHUTDOWN,	/* drain, destroy_timeout */
	STATS_CLOSE_TCP_CLOSE,	/* the tcp.Close RPC */
	STATS_CLOSE_FAILED,	/* its event failed */
	STATS_CLOSE_ERROR,	/* out of memory */
	STATS_CLOSE_N
};

/* Why an event failed (the label of events_failed). */
enum stats_fail {
	STATS_FAIL_NO_WORKER,	/* allocate_timeout */
	STATS_FAIL_QUEUE_FULL,	/* max_queue_size */
	STATS_FAIL_WORKER_ERROR, /* the worker answered an error frame */
	STATS_FAIL_WORKER_FAILED, /* crash, bad frame, closed pipe */
	STATS_FAIL_TIMEOUT,	/* exec_ttl, close_timeout */
	STATS_FAIL_RETRIES,	/* every worker asked to stop on it */
	STATS_FAIL_ERROR,	/* too large to frame, out of memory */
	STATS_FAIL_N
};

/* Why a connection was refused at accept. */
enum stats_refuse {
	STATS_REFUSE_MAX_CONN,
	STATS_REFUSE_PER_IP,
	STATS_REFUSE_N
};

enum stats_event {		/* = enum conn_event - 1 */
	STATS_EV_CONNECTED,
	STATS_EV_DATA,
	STATS_EV_CLOSE,
	STATS_EV_N
};

/* Upper bounds of the histogram buckets, in nanoseconds: 0.5 ms to 10 s
 * (the metrics page prints them in seconds). */
#define STATS_NBUCKETS	14
static const int64_t stats_bucket_ns[STATS_NBUCKETS] = {
	500000, 1000000, 2500000, 5000000, 10000000, 25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000,
	2500000000, 5000000000, 10000000000
};

/* Per bucket, not cumulative; the last one is +Inf.  The count is the sum. */
struct stats_hist {
	_Atomic uint64_t	 h_bucket[STATS_NBUCKETS + 1];
	_Atomic uint64_t	 h_sum_ns;
};

/* One server's counters on one reactor. */
struct stats_server {
	_Atomic uint64_t	 ss_accepted;
	_Atomic uint64_t	 ss_closed[STATS_CLOSE_N];
	_Atomic uint64_t	 ss_refused[STATS_REFUSE_N];
	_Atomic uint64_t	 ss_events[STATS_EV_N];	/* dispatched */
	_Atomic uint64_t	 ss_failed[STATS_FAIL_N];
	_Atomic uint64_t	 ss_bytes_in;
	_Atomic uint64_t	 ss_bytes_out;
	struct stats_hist	 ss_wait;	/* dispatch -> worker granted */
	struct stats_hist	 ss_exec;	/* request sent -> outcome */
};

/* One reactor's slot. */
struct stats {
	_Atomic int64_t		 st_heartbeat;	/* ms (ev clock), its last tick */
	_Atomic uint64_t	 st_pending_out; /* reply bytes not yet sent */
	_Atomic int		 st_live;	/* owned by a running reactor */
	size_t			 st_nservers;
	struct stats_server	*st_srv;
	struct stats		*st_next;	/* the registry's list */
};

/* The writer's add: one writer per counter, readers may be anywhere. */
static inline void
stats_add(_Atomic uint64_t *p, uint64_t n)
{
	atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) +
	    n, memory_order_relaxed);
}

static inline struct stats_server *
stats_srv(struct stats *st, size_t srv)
{
	return st != NULL && srv < st->st_nservers ? &st->st_srv[srv] : NULL;
}

/* Monotonic nanoseconds (vDSO), only for the histograms. */
static inline int64_t
stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void
stats_observe(struct stats_hist *h, int64_t ns)
{
	int i = 0;

	if (ns < 0)
		ns = 0;
	while (i < STATS_NBUCKETS && ns > stats_bucket_ns[i])
		i++;
	stats_add(&h->h_bucket[i], 1);
	stats_add(&h->h_sum_ns, (uint64_t)ns);
}

static inline void
stats_heartbeat(struct stats *st, int64_t now_ms, uint64_t pending_out)
{
	if (st == NULL)
		return;
	atomic_store_explicit(&st->st_heartbeat, now_ms, memory_order_relaxed);
	atomic_store_explicit(&st->st_pending_out, pending_out,
	    memory_order_relaxed);
}

/* --- registry (stats.c) -------------------------------------------------- */

/* A reactor's thread-to-be takes a slot sized for cfg's servers (whose
 * names label the series); NULL when out of memory. */
struct stats	*stats_attach(const struct rr_config *cfg);
/* The reactor stopped: its counts stay in the sums, its heartbeat goes. */
void		 stats_detach(struct stats *st);

/* Sums over every slot, for the scrape (any thread). */
struct stats_server_sum {
	uint64_t	 accepted, closed[STATS_CLOSE_N],
			 refused[STATS_REFUSE_N], events[STATS_EV_N],
			 failed[STATS_FAIL_N], bytes_in, bytes_out;
	uint64_t	 wait[STATS_NBUCKETS + 1], exec[STATS_NBUCKETS + 1];
	uint64_t	 wait_sum_ns, exec_sum_ns;
};
size_t		 stats_nservers(void);
/* Copies server i's name into buf; "" beyond the known servers. */
void		 stats_server_name(size_t i, char *buf, size_t len);
void		 stats_sum_server(size_t i, struct stats_server_sum *out);
uint64_t	 stats_pending_out(void);
/* Live reactors, and the oldest heartbeat among them (ms; 0 if none). */
int		 stats_reactors(int64_t *oldest);

const char	*stats_close_str(enum stats_close c);
const char	*stats_fail_str(enum stats_fail f);
const char	*stats_refuse_str(enum stats_refuse r);
const char	*stats_event_str(enum stats_event e);

/* --- workers (control thread writes, any thread reads) -------------------- */

/* A worker left service while the pool runs; reason is a short label. */
void		 stats_worker_restart(const char *reason);
/* Calls fn for each reason seen so far, with its count. */
void		 stats_worker_restarts(void (*fn)(void *arg, const char *reason,
		    uint64_t n), void *arg);

/*
 * The workers by state, as the control thread last sampled them (status.c
 * samples every STATS_SAMPLE_MS: pool_snapshot is control-thread only).
 */
#define STATS_SAMPLE_MS		500
#define STATS_NSTATES		16
struct stats_pool {
	int		 sampled;	/* 0 until the first sample */
	int64_t		 at_ms;		/* when */
	int64_t		 empty_since_ms; /* 0, or since when none is in service */
	int		 in_service;	/* ready or working */
	int		 by_state[STATS_NSTATES]; /* enum worker_status */
};
void		 stats_pool(struct stats_pool *out);
/* Stores p as the latest sample (sets its empty_since_ms). */
void		 stats_pool_publish(struct stats_pool *p);

#endif
