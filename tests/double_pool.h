/*
 * double_pool.h - a stand-in for the pool functions scheduler.c calls
 * (pool_lease, pool_release, pool_keep, the waiter count, pool_kick,
 * pool_note_starved, loop registration).  The test decides which workers
 * are idle; every call is counted and the workers handed back are recorded
 * in order.  Workers are opaque tokens (dpool_worker(i)): no field is read.
 * Single-threaded, like the tests that use it.
 */
#ifndef RRTCP_TEST_DOUBLE_POOL_H
#define RRTCP_TEST_DOUBLE_POOL_H

struct ev;
struct rr_worker;

#define DPOOL_MAX	64

struct dpool {
	int		 always;	/* pool_lease never runs dry */
	struct rr_worker *idle[DPOOL_MAX];	/* FIFO of idle workers */
	int		 nidle;
	int		 waiting;	/* sum of pool_waiting_add() deltas */
	int		 leases;	/* pool_lease calls that returned a worker */
	int		 empty_leases;	/* pool_lease calls that returned NULL */
	struct rr_worker *released[DPOOL_MAX];	/* pool_release, in order */
	int		 nreleased;
	struct rr_worker *kept[DPOOL_MAX];	/* pool_keep, in order */
	int		 nkept;
	int		 kicks;
	int		 starved;
	int		 registered;
	int		 unregistered;
	int		 next_token;	/* "always": the next worker handed out */
};

extern struct dpool dpool;

/* The i-th distinct opaque worker token, 0 <= i < DPOOL_MAX. */
struct rr_worker *dpool_worker(int i);
/* w becomes idle: the next pool_lease() that finds nobody ahead gets it. */
void	dpool_idle_push(struct rr_worker *w);

#endif
