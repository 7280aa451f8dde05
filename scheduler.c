/*
 * scheduler.c - the wait queue of one reactor and fairness across reactors.
 *
 * Fair across reactors, cheaply: a freed worker goes to the local queue
 * unless another reactor's oldest waiter has waited FAIR_SLACK_MS longer;
 * then it goes through the idle ring to that reactor.  Without this one
 * reactor could keep its workers while the other's connections starve;
 * with a strict "oldest first" rule workers would move between the
 * reactors' loops on nearly every event (two fd moves and a wake-up).
 */
#include "scheduler.h"

#include <pthread.h>

#include "config.h"
#include "pool.h"

#define FAIR_SLACK_MS	2
/* s_head_since when nobody waits; + FAIR_SLACK_MS cannot overflow. */
#define NOBODY_WAITS	(INT64_MAX / 2)

static struct sched *_Atomic all[RR_MAX_REACTORS];
static _Atomic int nall;
static pthread_mutex_t all_mtx = PTHREAD_MUTEX_INITIALIZER;

static void	on_wait_timer(struct ev *loop, struct ev_timer *t);

int
sched_init(struct sched *s, struct ev *loop)
{
	int slot = -1;

	s->s_loop = loop;
	TAILQ_INIT(&s->s_waitq);
	ev_timer_init(&s->s_timer, on_wait_timer, s);
	atomic_store(&s->s_waiting, 0);
	atomic_store(&s->s_head_since, NOBODY_WAITS);
	pthread_mutex_lock(&all_mtx);
	for (int i = 0; i < RR_MAX_REACTORS && slot == -1; i++)
		if (atomic_load(&all[i]) == NULL)
			slot = i;
	if (slot != -1) {
		atomic_store(&all[slot], s);
		if (slot >= atomic_load(&nall))
			atomic_store(&nall, slot + 1);
	}
	pthread_mutex_unlock(&all_mtx);
	if (slot == -1)
		return -1;
	pool_register_loop(loop, &s->s_waiting);
	return 0;
}

void
sched_fini(struct sched *s)
{
	pthread_mutex_lock(&all_mtx);
	for (int i = 0; i < atomic_load(&nall); i++)
		if (atomic_load(&all[i]) == s)
			atomic_store(&all[i], NULL);
	pthread_mutex_unlock(&all_mtx);
	pool_unregister_loop(s->s_loop);
}

struct sched *
sched_of(const struct ev *loop)
{
	int n = atomic_load(&nall);

	for (int i = 0; i < n; i++) {
		struct sched *s = atomic_load(&all[i]);
		if (s != NULL && s->s_loop == loop)
			return s;
	}
	return NULL;
}

int
sched_waiting(const struct sched *s)
{
	return atomic_load_explicit(&s->s_waiting, memory_order_relaxed);
}

/* Is this reactor's oldest waiter (within the slack) the oldest anywhere? */
static int
oldest_is_here(const struct sched *s)
{
	int64_t mine = atomic_load(&s->s_head_since);
	int n = atomic_load(&nall);

	for (int i = 0; i < n; i++) {
		struct sched *o = atomic_load(&all[i]);
		if (o != NULL && o != s &&
		    atomic_load(&o->s_head_since) + FAIR_SLACK_MS < mine)
			return 0;
	}
	return 1;
}

static void
set_head_since(struct sched *s)
{
	struct sched_waiter *head = TAILQ_FIRST(&s->s_waitq);

	atomic_store(&s->s_head_since, head ? head->wt_since : NOBODY_WAITS);
}

static void
waitq_insert(struct sched *s, struct sched_waiter *wt)
{
	wt->wt_since = ev_now(s->s_loop);
	wt->wt_queued = 1;
	TAILQ_INSERT_TAIL(&s->s_waitq, wt, wt_link);
	set_head_since(s);
	atomic_fetch_add_explicit(&s->s_waiting, 1, memory_order_relaxed);
	/* seq_cst: publish "someone waits" before looking at the ring again,
	 * so a worker released meanwhile is not missed (pool.c). */
	pool_waiting_add(1);
}

static void
waitq_remove(struct sched *s, struct sched_waiter *wt)
{
	TAILQ_REMOVE(&s->s_waitq, wt, wt_link);
	wt->wt_queued = 0;
	set_head_since(s);
	atomic_fetch_sub_explicit(&s->s_waiting, 1, memory_order_relaxed);
	pool_waiting_add(-1);
}

void
sched_serve(struct sched *s)
{
	struct sched_waiter *wt;
	struct rr_worker *w;

	while ((wt = TAILQ_FIRST(&s->s_waitq)) != NULL && oldest_is_here(s)) {
		if ((w = pool_lease(s->s_loop)) == NULL)
			return;
		waitq_remove(s, wt);
		wt->wt_fn(wt, w);
	}
}

void
sched_request(struct sched *s, struct sched_waiter *wt, sched_grant_fn *fn,
    int64_t timeout_ms)
{
	struct rr_worker *w;

	wt->wt_fn = fn;
	/* Arrival order: nobody overtakes an event that already waits, here
	 * or on another reactor. */
	if (pool_waiting_total() == 0 && (w = pool_lease(s->s_loop)) != NULL) {
		fn(wt, w);
		return;
	}
	waitq_insert(s, wt);
	wt->wt_until = ev_now(s->s_loop) + timeout_ms;
	if (!ev_timer_armed(&s->s_timer))
		ev_timer_arm(s->s_loop, &s->s_timer, timeout_ms);
	sched_serve(s);
}

void
sched_cancel(struct sched *s, struct sched_waiter *wt)
{
	if (wt->wt_queued)
		waitq_remove(s, wt);
}

void
sched_handoff(struct sched *s, struct rr_worker *w)
{
	struct sched_waiter *next = TAILQ_FIRST(&s->s_waitq);

	/* Straight to the local head if it is the oldest waiter anywhere;
	 * else through the ring to whoever is. */
	if (next != NULL && oldest_is_here(s)) {
		waitq_remove(s, next);
		pool_keep(w);
		next->wt_fn(next, w);
	} else
		pool_release(w);
}

/*
 * Every waiter of a reactor waits the same allocate_timeout, so the queue is
 * in deadline order and one timer for its head covers all of them.
 */
static void
on_wait_timer(struct ev *loop, struct ev_timer *t)
{
	struct sched *s = t->arg;
	struct sched_waiter *wt;
	int expired = 0;

	while ((wt = TAILQ_FIRST(&s->s_waitq)) != NULL &&
	    wt->wt_until <= ev_now(loop)) {
		expired = 1;
		waitq_remove(s, wt);
		pool_note_starved();
		wt->wt_fn(wt, NULL);
	}
	if ((wt = TAILQ_FIRST(&s->s_waitq)) != NULL)
		ev_timer_arm(loop, t, wt->wt_until - ev_now(loop));
	/* Another reactor may hold the oldest waiter now. */
	if (expired)
		pool_kick();
}
