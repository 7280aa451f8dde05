/*
 * double_pool.c - the pool functions scheduler.c calls, under the test's
 * control (see double_pool.h).  Links in place of pool.o.
 */
#include "double_pool.h"

#include <criterion/criterion.h>

#include "pool.h"

struct dpool dpool;

/* Opaque to the scheduler: the double gives the type a body of its own,
 * tokens with distinct addresses, never dereferenced. */
struct rr_worker {
	int	 token;
};
static struct rr_worker tokens[DPOOL_MAX];

struct rr_worker *
dpool_worker(int i)
{
	cr_assert(i >= 0 && i < DPOOL_MAX);
	return &tokens[i];
}

void
dpool_idle_push(struct rr_worker *w)
{
	cr_assert_lt(dpool.nidle, DPOOL_MAX);
	dpool.idle[dpool.nidle++] = w;
}

struct rr_worker *
pool_lease(struct ev *loop)
{
	struct rr_worker *w;

	if (dpool.always) {
		w = dpool_worker(dpool.next_token);
		dpool.next_token = (dpool.next_token + 1) % DPOOL_MAX;
		dpool.leases++;
		return w;
	}
	if (dpool.nidle == 0) {
		dpool.empty_leases++;
		return NULL;
	}
	w = dpool.idle[0];
	memmove(&dpool.idle[0], &dpool.idle[1],
	    (size_t)(dpool.nidle - 1) * sizeof(dpool.idle[0]));
	dpool.nidle--;
	dpool.leases++;
	return w;
}

void
pool_release(struct rr_worker *w)
{
	cr_assert_lt(dpool.nreleased, DPOOL_MAX);
	dpool.released[dpool.nreleased++] = w;
	if (!dpool.always)
		dpool_idle_push(w);
}

void
pool_keep(struct rr_worker *w)
{
	cr_assert_lt(dpool.nkept, DPOOL_MAX);
	dpool.kept[dpool.nkept++] = w;
}

void
pool_waiting_add(int delta)
{
	dpool.waiting += delta;
	cr_assert_geq(dpool.waiting, 0, "the waiter count went negative");
}

int
pool_waiting_total(void)
{
	return dpool.waiting;
}

void
pool_kick(void)
{
	dpool.kicks++;
}

void
pool_note_starved(void)
{
	dpool.starved++;
}

void
pool_register_loop(struct ev *loop, _Atomic int *waiting)
{
	dpool.registered++;
}

void
pool_unregister_loop(struct ev *loop)
{
	dpool.unregistered++;
}
