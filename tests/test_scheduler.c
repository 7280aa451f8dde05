/*
 * test_scheduler.c - scheduler.c on its own: immediate grants, the wait
 * queue in arrival order, allocate_timeout, cancel, handing a freed worker
 * on, fairness between two reactors' schedulers, and the scheduler slots.
 *
 * The pool is tests/double_pool.c: the test says which workers are idle and
 * reads back every lease, release and keep.  Time is real: the ev loops run
 * with a stop timer, so ev_now() moves as it does in a reactor.
 */
#include "scheduler.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "double_pool.h"

#include "config.h"

/* A waiter that remembers what it was granted and when. */
struct tw {
	struct sched_waiter wt;		/* first: the grant casts back */
	char		 name;
	int		 calls;
	struct rr_worker *got;
	int64_t		 at;		/* ev_clock_ms() of the grant */
};

static struct {
	char		 order[64];	/* names in grant order; '-' = NULL */
	int		 n;
	struct ev_timer	 stop;
} G;

static void
grant(struct sched_waiter *wt, struct rr_worker *w)
{
	struct tw *t = (struct tw *)(void *)wt;

	t->calls++;
	t->got = w;
	t->at = ev_clock_ms();
	cr_assert_lt(G.n, 62);
	G.order[G.n++] = t->name;
	if (w == NULL)
		G.order[G.n++] = '-';
	G.order[G.n] = '\0';
}

static void
on_stop(struct ev *loop, struct ev_timer *t)
{
	ev_stop(loop);
}

/* Runs loop for about ms milliseconds (timers fire, ev_now moves). */
static void
spin(struct ev *loop, int64_t ms)
{
	ev_timer_init(&G.stop, on_stop, NULL);
	ev_timer_arm(loop, &G.stop, ms);
	ev_run(loop);
	ev_timer_cancel(loop, &G.stop);
}

static void
waiter(struct tw *t, char name)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
}

struct one {
	struct ev	*loop;
	struct sched	 s;
};

static void
one_up(struct one *o)
{
	memset(&dpool, 0, sizeof(dpool));
	cr_assert_not_null(o->loop = ev_new(16, NULL));
	cr_assert_eq(sched_init(&o->s, o->loop), 0);
	cr_assert_eq(dpool.registered, 1);
	cr_assert_eq(sched_of(o->loop), &o->s);
}

static void
one_down(struct one *o)
{
	sched_fini(&o->s);
	cr_assert_null(sched_of(o->loop));
	ev_free(o->loop);
}

TestSuite(sched, .timeout = 20);

Test(sched, request_is_granted_at_once_when_nobody_waits_and_a_worker_is_idle)
{
	struct one o;
	struct tw a;

	one_up(&o);
	dpool_idle_push(dpool_worker(1));
	waiter(&a, 'A');
	sched_request(&o.s, &a.wt, grant, 1000);
	/* Granted inside the call, with the idle worker, queueing nothing. */
	cr_assert_eq(a.calls, 1);
	cr_assert_eq(a.got, dpool_worker(1));
	cr_assert_eq(sched_waiting(&o.s), 0);
	cr_assert_eq(dpool.waiting, 0);
	cr_assert_eq(dpool.nidle, 0);
	one_down(&o);
}

Test(sched, request_waits_when_no_worker_is_idle)
{
	struct one o;
	struct tw a;

	one_up(&o);
	waiter(&a, 'A');
	sched_request(&o.s, &a.wt, grant, 1000);
	cr_assert_eq(a.calls, 0);
	cr_assert_eq(sched_waiting(&o.s), 1);
	cr_assert_eq(dpool.waiting, 1, "the pool is told someone waits");
	sched_cancel(&o.s, &a.wt);
	one_down(&o);
}

Test(sched, waiters_are_served_in_arrival_order)
{
	struct one o;
	struct tw a, b, c, d;

	one_up(&o);
	waiter(&a, 'A');
	waiter(&b, 'B');
	waiter(&c, 'C');
	waiter(&d, 'D');
	sched_request(&o.s, &a.wt, grant, 1000);
	spin(o.loop, 1);
	sched_request(&o.s, &b.wt, grant, 1000);
	spin(o.loop, 1);
	sched_request(&o.s, &c.wt, grant, 1000);
	cr_assert_eq(sched_waiting(&o.s), 3);
	cr_assert_eq(dpool.waiting, 3);

	/* A worker idle in the ring goes to the head, not to a newcomer. */
	dpool_idle_push(dpool_worker(1));
	sched_request(&o.s, &d.wt, grant, 1000);
	cr_assert_str_eq(G.order, "A");
	cr_assert_eq(a.got, dpool_worker(1));
	cr_assert_eq(d.calls, 0);

	/* Freed workers go down the queue in order. */
	sched_handoff(&o.s, dpool_worker(2));
	sched_handoff(&o.s, dpool_worker(3));
	dpool_idle_push(dpool_worker(4));
	sched_serve(&o.s);
	cr_assert_str_eq(G.order, "ABCD");
	cr_assert_eq(b.got, dpool_worker(2));
	cr_assert_eq(c.got, dpool_worker(3));
	cr_assert_eq(d.got, dpool_worker(4));
	cr_assert_eq(sched_waiting(&o.s), 0);
	cr_assert_eq(dpool.waiting, 0);
	one_down(&o);
}

Test(sched, allocate_timeout_grants_null_in_deadline_order)
{
	struct one o;
	struct tw a, b, c;
	int64_t t0;

	one_up(&o);
	waiter(&a, 'A');
	waiter(&b, 'B');
	waiter(&c, 'C');
	spin(o.loop, 0);
	t0 = ev_now(o.loop);
	sched_request(&o.s, &a.wt, grant, 30);
	spin(o.loop, 10);
	sched_request(&o.s, &b.wt, grant, 30);
	spin(o.loop, 10);
	sched_request(&o.s, &c.wt, grant, 30);
	cr_assert_eq(sched_waiting(&o.s), 3);

	/* A's deadline passes first; B and C are still waiting. */
	while (a.calls == 0 && ev_clock_ms() - t0 < 2000)
		spin(o.loop, 1);
	cr_assert_str_eq(G.order, "A-");
	cr_assert_geq(a.at - t0, 30, "timed out %lld ms after the request",
	    (long long)(a.at - t0));
	cr_assert_eq(b.calls, 0);
	cr_assert_eq(sched_waiting(&o.s), 2);
	cr_assert_eq(dpool.starved, 1);
	cr_assert_geq(dpool.kicks, 1, "other reactors are told the head moved");

	spin(o.loop, 50);
	cr_assert_str_eq(G.order, "A-B-C-");
	cr_assert_null(b.got);
	cr_assert_null(c.got);
	cr_assert_geq(b.at - t0, 40);
	cr_assert_geq(c.at - t0, 50);
	cr_assert_eq(dpool.starved, 3);
	cr_assert_eq(sched_waiting(&o.s), 0);
	cr_assert_eq(dpool.waiting, 0);

	/* Each got exactly one answer. */
	cr_assert_eq(a.calls + b.calls + c.calls, 3);
	one_down(&o);
}

Test(sched, cancel_removes_a_waiter_and_the_count_goes_down)
{
	struct one o;
	struct tw a, b, c;

	one_up(&o);
	waiter(&a, 'A');
	waiter(&b, 'B');
	waiter(&c, 'C');
	sched_request(&o.s, &a.wt, grant, 20);
	sched_request(&o.s, &b.wt, grant, 20);
	sched_request(&o.s, &c.wt, grant, 20);
	cr_assert_eq(dpool.waiting, 3);

	sched_cancel(&o.s, &a.wt);
	cr_assert_eq(sched_waiting(&o.s), 2);
	cr_assert_eq(dpool.waiting, 2);
	/* A second cancel of a waiter that left is harmless. */
	sched_cancel(&o.s, &a.wt);
	cr_assert_eq(dpool.waiting, 2);

	/* The head is now B. */
	sched_handoff(&o.s, dpool_worker(5));
	cr_assert_str_eq(G.order, "B");

	/* A cancelled waiter never hears of its timeout. */
	sched_cancel(&o.s, &c.wt);
	cr_assert_eq(sched_waiting(&o.s), 0);
	cr_assert_eq(dpool.waiting, 0);
	spin(o.loop, 60);
	cr_assert_str_eq(G.order, "B");
	cr_assert_eq(dpool.starved, 0);
	one_down(&o);
}

Test(sched, handoff_gives_the_worker_to_the_oldest_local_waiter)
{
	struct one o;
	struct tw a, b;

	one_up(&o);
	waiter(&a, 'A');
	waiter(&b, 'B');
	sched_request(&o.s, &a.wt, grant, 1000);
	spin(o.loop, 2);
	sched_request(&o.s, &b.wt, grant, 1000);
	sched_handoff(&o.s, dpool_worker(7));
	cr_assert_str_eq(G.order, "A");
	cr_assert_eq(a.got, dpool_worker(7));
	/* The worker stays on this loop (pool_keep), not through the ring. */
	cr_assert_eq(dpool.nkept, 1);
	cr_assert_eq(dpool.kept[0], dpool_worker(7));
	cr_assert_eq(dpool.nreleased, 0);
	cr_assert_eq(sched_waiting(&o.s), 1);
	sched_cancel(&o.s, &b.wt);
	one_down(&o);
}

Test(sched, handoff_with_nobody_waiting_releases_to_the_pool)
{
	struct one o;

	one_up(&o);
	sched_handoff(&o.s, dpool_worker(3));
	cr_assert_eq(dpool.nreleased, 1);
	cr_assert_eq(dpool.released[0], dpool_worker(3));
	cr_assert_eq(dpool.nkept, 0);
	cr_assert_str_eq(G.order, "");
	one_down(&o);
}

/* --- two reactors ----------------------------------------------------------- */

struct two {
	struct one	 r1, r2;
	struct tw	 w1, w2;	/* the head waiter on each */
};

static void
two_up(struct two *t)
{
	memset(&dpool, 0, sizeof(dpool));
	cr_assert_not_null(t->r1.loop = ev_new(16, NULL));
	cr_assert_not_null(t->r2.loop = ev_new(16, NULL));
	cr_assert_eq(sched_init(&t->r1.s, t->r1.loop), 0);
	cr_assert_eq(sched_init(&t->r2.s, t->r2.loop), 0);
	cr_assert_eq(sched_of(t->r1.loop), &t->r1.s);
	cr_assert_eq(sched_of(t->r2.loop), &t->r2.s);
	waiter(&t->w1, 'L');
	waiter(&t->w2, 'R');
}

static void
two_down(struct two *t)
{
	sched_cancel(&t->r1.s, &t->w1.wt);
	sched_cancel(&t->r2.s, &t->w2.wt);
	cr_assert_eq(dpool.waiting, 0);
	one_down(&t->r1);
	one_down(&t->r2);
}

/*
 * Queues w2 on reactor 2, then w1 on reactor 1 with its loop's clock
 * advanced by about gap_ms, until reactor 2's waiter is older by a
 * difference in [lo, hi] ms (scheduling noise may take a few tries).
 * Returns the difference.
 */
static int64_t
queue_both(struct two *t, int64_t gap_ms, int64_t lo, int64_t hi)
{
	for (int tries = 0; tries < 50; tries++) {
		int64_t d;

		sched_cancel(&t->r1.s, &t->w1.wt);
		sched_cancel(&t->r2.s, &t->w2.wt);
		waiter(&t->w1, 'L');
		waiter(&t->w2, 'R');
		spin(t->r2.loop, 0);
		sched_request(&t->r2.s, &t->w2.wt, grant, 10000);
		if (gap_ms > 0)
			usleep((useconds_t)(gap_ms * 1000));
		spin(t->r1.loop, 0);
		sched_request(&t->r1.s, &t->w1.wt, grant, 10000);
		d = t->w1.wt.wt_since - t->w2.wt.wt_since;
		if (d >= lo && d <= hi)
			return d;
	}
	cr_assert_fail("could not set up a %lld..%lld ms gap", (long long)lo,
	    (long long)hi);
	return -1;
}

Test(sched, handoff_goes_to_the_ring_when_another_reactor_waits_longer)
{
	struct two t;
	int64_t d;

	two_up(&t);
	d = queue_both(&t, 10, 3, 1000);
	sched_handoff(&t.r1.s, dpool_worker(9));
	/* Not served locally: the worker goes back to the shared ring. */
	cr_assert_eq(t.w1.calls, 0, "local waiter served although reactor "
	    "2's waiter is %lld ms older", (long long)d);
	cr_assert_eq(dpool.nreleased, 1);
	cr_assert_eq(dpool.released[0], dpool_worker(9));
	cr_assert_eq(dpool.nkept, 0);

	/* Reactor 2, woken, takes it from the ring for its waiter. */
	sched_serve(&t.r2.s);
	cr_assert_eq(t.w2.got, dpool_worker(9));
	/* Now reactor 1's waiter is the oldest: served from the ring. */
	dpool_idle_push(dpool_worker(10));
	sched_serve(&t.r1.s);
	cr_assert_eq(t.w1.got, dpool_worker(10));
	two_down(&t);
}

Test(sched, handoff_serves_locally_within_the_slack)
{
	struct two t;
	int64_t d;

	two_up(&t);
	d = queue_both(&t, 1, 1, 2);
	sched_handoff(&t.r1.s, dpool_worker(9));
	cr_assert_eq(t.w1.got, dpool_worker(9), "reactor 2's waiter is only "
	    "%lld ms older: the worker should stay here", (long long)d);
	cr_assert_eq(dpool.nkept, 1);
	cr_assert_eq(dpool.nreleased, 0);
	cr_assert_eq(t.w2.calls, 0);
	two_down(&t);
}

Test(sched, idle_worker_is_left_for_an_older_waiter_on_another_reactor)
{
	struct two t;

	two_up(&t);
	queue_both(&t, 10, 3, 1000);
	/* A worker turns idle: reactor 1 is woken first, but the oldest
	 * waiter is reactor 2's. */
	dpool_idle_push(dpool_worker(4));
	sched_serve(&t.r1.s);
	cr_assert_eq(t.w1.calls, 0);
	cr_assert_eq(dpool.nidle, 1);
	sched_serve(&t.r2.s);
	cr_assert_eq(t.w2.got, dpool_worker(4));
	two_down(&t);
}

Test(sched, request_does_not_overtake_a_waiter_on_another_reactor)
{
	struct two t;

	two_up(&t);
	waiter(&t.w1, 'L');
	waiter(&t.w2, 'R');
	sched_request(&t.r2.s, &t.w2.wt, grant, 10000);
	usleep(10000);
	spin(t.r1.loop, 0);
	dpool_idle_push(dpool_worker(6));
	/* Someone waits elsewhere: the newcomer queues behind, and the idle
	 * worker stays for reactor 2, which waited longer. */
	sched_request(&t.r1.s, &t.w1.wt, grant, 10000);
	cr_assert_eq(t.w1.calls, 0);
	cr_assert_eq(sched_waiting(&t.r1.s), 1);
	cr_assert_eq(dpool.waiting, 2);
	cr_assert_eq(dpool.nidle, 1);
	two_down(&t);
}

/* --- slots ---------------------------------------------------------------- */

Test(sched, init_refuses_more_than_max_reactors_and_fini_frees_a_slot)
{
	static struct sched s[RR_MAX_REACTORS + 1];
	struct ev *loops[RR_MAX_REACTORS + 1];

	memset(&dpool, 0, sizeof(dpool));
	for (int i = 0; i <= RR_MAX_REACTORS; i++)
		cr_assert_not_null(loops[i] = ev_new(4, NULL));
	for (int i = 0; i < RR_MAX_REACTORS; i++)
		cr_assert_eq(sched_init(&s[i], loops[i]), 0, "slot %d", i);
	cr_assert_eq(sched_init(&s[RR_MAX_REACTORS], loops[RR_MAX_REACTORS]),
	    -1);
	cr_assert_eq(dpool.registered, RR_MAX_REACTORS,
	    "a refused scheduler registers nothing with the pool");
	cr_assert_null(sched_of(loops[RR_MAX_REACTORS]));
	for (int i = 0; i < RR_MAX_REACTORS; i++)
		cr_assert_eq(sched_of(loops[i]), &s[i]);

	/* A slot freed in the middle is taken again. */
	sched_fini(&s[17]);
	cr_assert_eq(dpool.unregistered, 1);
	cr_assert_null(sched_of(loops[17]));
	cr_assert_eq(sched_init(&s[RR_MAX_REACTORS], loops[RR_MAX_REACTORS]),
	    0);
	cr_assert_eq(sched_of(loops[RR_MAX_REACTORS]), &s[RR_MAX_REACTORS]);
	cr_assert_eq(sched_init(&s[17], loops[17]), -1);

	for (int i = 0; i <= RR_MAX_REACTORS; i++)
		if (i != 17)
			sched_fini(&s[i]);
	for (int i = 0; i <= RR_MAX_REACTORS; i++)
		ev_free(loops[i]);
}
