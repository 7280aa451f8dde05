/*
 * pool.c - the worker pool: its size, replacement with backoff, rolling
 * reloads, and the lock-free idle queue that reactors lease workers from.
 *
 * Ownership and threads
 *   The control thread (main) decides a worker's life: when to spawn one
 *   (worker.c runs the process), when to take one out of service (reset,
 *   reload, informer, the supervisor's verdicts from supervisor.c), and
 *   when to replace one.  Reactor threads only lease idle workers from a
 *   lock-free bounded MPMC ring (Vyukov, ring.c), talk to them while they
 *   hold the lease, and release or retire them.  Retirements reach the
 *   control thread through a small mutex-protected inbox and an eventfd
 *   wake-up; so do dead workers a leaser pops from the ring.
 *
 *   A worker's stdout stays registered (edge-triggered) in the epoll set of
 *   the last loop that used it (w_owner).  A reactor that leases a worker
 *   owned by another loop moves the registration to its own set.  Events
 *   that arrive for a worker the loop does not hold are read at once under
 *   a short claim (w_holder == PEEKING) and logged as frames with no
 *   request in flight, so a stray frame is never taken for the answer to a
 *   new request; if someone holds it, w_stray makes the next leaser look.
 *
 *   A worker is in the idle ring exactly while it is idle and in service:
 *   the control thread sweeps out the dead ones (idle_sweep()).  The fds
 *   close when the last reference goes (process, idle ring, holder).
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "ring.h"
#include "stats.h"
#include "rpc.h"
#include "supervisor.h"
#include "worker.h"

/*
 * The idle ring holds each live worker at most once.  The pool never grows
 * past POOL_MAX workers (num_workers <= 500 by config, plus AddWorker and
 * the dynamic allocator, both capped by tcp.pool.max_workers, itself at
 * most POOL_MAX: see pool_max()), and a rolling reload at most
 * doubles that for a while: the ring has room for all of them, with slack.
 */
#define POOL_MAX	1024
#define RING_CAP	4096	/* power of two > 2 * (POOL_MAX + 500) */
#define KILL_AFTER_MS	10000	/* RR's hard-coded stop -> SIGKILL fallback */

/* w_holder while a loop reads an idle worker's stray output. */
static char peeking_tag;
#define PEEKING ((struct ev *)(void *)&peeking_tag)

static struct {
	const struct rr_config	*cfg;
	struct ev		*control;
	pool_io_fn		*io_fn;
	pool_ready_fn		*ready_cb;
	struct worker		*all;		/* every worker not yet reaped */
	int			 target;	/* workers we want alive */
	int			 live;		/* spawned and not yet exited */
	int			 starting;	/* boot handshakes outstanding */
	int			 booted;
	int			 stopping;	/* pool_stop_all called */
	void			(*stopped_cb)(void);
	int			 failures;	/* consecutive failed spawns */
	int			 backoff_done;	/* the backoff timer allowed one spawn */
	unsigned		 gen;		/* worker generation, bumped by reload */
	int64_t			 reset_ms;	/* last pool_reset(), INT64_MAX: none */
	_Atomic int		 dynamic;	/* cfg's, for reactors */
	struct ev_timer		 respawn_timer;
	struct ev_timer		 watch_timer;	/* supervisor */
	struct ev_timer		 shrink_timer;	/* dynamic allocator */
	_Atomic int		 starved;	/* an event timed out waiting */
	int			 extra;		/* dynamic workers on top of num_workers */
	int64_t			 last_burst;
	_Atomic int		 nwaiting;
	struct ev		*loops[WORKER_MAX_LOOPS];
	_Atomic int		*loop_waiting[WORKER_MAX_LOOPS];
	int			 nloops;
	int			 sweep_due;	/* control: an idle worker died */
	_Atomic int		 sweep_wanted;	/* a reactor asks for a sweep */
} P;

static struct ring	 idle;		/* idle workers, shared by all reactors */
static pthread_mutex_t	 inbox_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct worker	*inbox;

static void	spawn_worker(void);
static void	sweep_idle_if_due(void);
static int	take_out_of_service(struct worker *w, enum worker_status why,
		    const char *reason);

/*
 * Any thread: hands one reference to w to the control thread, which acts on
 * it as kind says and then drops the reference.  The mutex orders the
 * sender's writes (w_retire, w_retire_reason) before the control thread's
 * reads.  A worker is in the inbox at most once: only its holder retires
 * it, and only the thread that popped it dead from the ring drops it.
 */
static void
to_control(struct worker *w, enum retire_kind kind)
{
	w->w_retire = kind;
	pthread_mutex_lock(&inbox_mtx);
	w->w_inbox_next = inbox;
	inbox = w;
	pthread_mutex_unlock(&inbox_mtx);
	ev_wake(P.control);
}

/* Any thread: a dead worker may sit in the idle ring; sweep it soon. */
static void
request_sweep(void)
{
	atomic_store(&P.sweep_wanted, 1);
	ev_wake(P.control);
}

const char *
pool_status_str(int status)
{
	return worker_status_str(status);
}

int
pool_size(void)
{
	return P.live;
}

int
pool_idle_count(void)
{
	return (int)ring_count(&idle);
}

/* Waits out a reactor that is reading w's idle output, and claims w. */
static void
claim_idle_wait(struct worker *w)
{
	struct ev *expected = NULL;

	while (!atomic_compare_exchange_weak_explicit(&w->pub.w_holder,
	    &expected, PEEKING, memory_order_acq_rel, memory_order_relaxed))
		expected = NULL;
}

static int
claim_idle(struct worker *w)
{
	struct ev *expected = NULL;

	return atomic_compare_exchange_strong(&w->pub.w_holder, &expected,
	    PEEKING);
}

static void
unclaim(struct worker *w)
{
	atomic_store_explicit(&w->pub.w_holder, NULL, memory_order_release);
}

/* --- keeping the pool at its size ------------------------------------------ */

static int
in_service(void)
{
	int n = 0;

	/* Only the current generation: during a rolling reload the old
	 * workers serve on but no longer count towards the pool's size. */
	for (struct worker *w = P.all; w; w = w->w_next)
		if ((w->w_phase == WORKER_HANDSHAKE ||
		    w->w_phase == WORKER_RUNNING) &&
		    !atomic_load(&w->pub.w_dead) && w->w_gen == P.gen)
			n++;
	return n;
}

/*
 * Rolling reload: each worker of the new generation that passes its
 * handshake retires one of the previous generation (an idle one first), and
 * once the new generation is complete the rest go.  Capacity never drops.
 */
static void
roll_over(void)
{
	int ready = 0, old = 0;
	struct worker *pick = NULL;

	for (struct worker *w = P.all; w; w = w->w_next) {
		if (w->w_phase != WORKER_RUNNING || atomic_load(&w->pub.w_dead))
			continue;
		if (w->w_gen == P.gen)
			ready++;
		else {
			old++;
			if (pick == NULL ||
			    atomic_load(&w->pub.w_holder) == NULL)
				pick = w;
		}
	}
	if (old == 0)
		return;
	if (ready < P.target) {
		take_out_of_service(pick, WS_STOPPING, "replaced by a reload");
		return;
	}
	for (struct worker *w = P.all; w; w = w->w_next)
		if (w->w_gen != P.gen)
			take_out_of_service(w, WS_STOPPING, "replaced by a reload");
}

static void
on_respawn_timer(struct ev *loop, struct ev_timer *t)
{
	P.backoff_done = 1;
	spawn_worker();
}

static struct worker *
spawn_one(char *why, size_t whylen)
{
	struct worker *w = worker_spawn(P.gen, why, whylen);

	if (w != NULL) {
		w->w_next = P.all;
		P.all = w;
		P.live++;
	}
	return w;
}

/*
 * Spawns until the pool is back at its size.  After a failure (a spawn error,
 * a failed handshake, a crash soon after start) each further spawn waits
 * 100 ms, 200 ms, ... up to 5 s, and it never gives up (Q6).
 */
static void
spawn_worker(void)
{
	char why[256], q[LOG_QMAX];

	if (P.stopping || ev_timer_armed(&P.respawn_timer))
		return;
	while (in_service() < P.target) {
		if (P.failures > 0 && P.booted && !P.backoff_done) {
			int64_t d = 100LL << (P.failures > 6 ? 6 : P.failures - 1);
			ev_timer_arm(P.control, &P.respawn_timer,
			    d > 5000 ? 5000 : d);
			if (in_service() == 0)
				log_error("worker pool is empty, retrying",
				    "failures=%d retry_ms=%lld", P.failures,
				    (long long)(d > 5000 ? 5000 : d));
			return;
		}
		P.backoff_done = 0;
		if (spawn_one(why, sizeof(why)) == NULL) {
			P.failures++;
			log_error("worker failed to start", "reason=%s",
			    log_q(q, sizeof(q), why, strlen(why)));
			if (!P.booted) {
				P.ready_cb(0, why);
				return;
			}
		}
	}
}

/* --- waiters (reactors) ---------------------------------------------------- */

static void
notify_waiters(void)
{
	/*
	 * A read-modify-write of nwaiting, not a plain load: it falls in one
	 * total order with the waiter's increment.  Either it sees the waiter
	 * (and wakes it), or the waiter's increment reads from it and thereby
	 * sees our ring push before its own ring_pop (conn.c waitq_insert).
	 */
	if (atomic_fetch_add_explicit(&P.nwaiting, 0, memory_order_seq_cst) == 0)
		return;
	for (int i = 0; i < P.nloops; i++)
		if (P.loops[i] != NULL && atomic_load_explicit(
		    P.loop_waiting[i], memory_order_relaxed) > 0)
			ev_wake(P.loops[i]);
}

int
pool_waiting_total(void)
{
	return atomic_load_explicit(&P.nwaiting, memory_order_seq_cst);
}

void
pool_kick(void)
{
	notify_waiters();
}

void
pool_register_loop(struct ev *loop, _Atomic int *waiting)
{
	if (P.nloops < WORKER_MAX_LOOPS) {
		P.loops[P.nloops] = loop;
		P.loop_waiting[P.nloops++] = waiting;
	}
	worker_register_loop(loop);
}

void
pool_unregister_loop(struct ev *loop)
{
	for (int i = 0; i < P.nloops; i++)
		if (P.loops[i] == loop)
			P.loops[i] = NULL;
	worker_unregister_loop(loop);
}

void
pool_waiting_add(int delta)
{
	atomic_fetch_add_explicit(&P.nwaiting, delta, memory_order_seq_cst);
}

/* --- what worker.c reports (control thread) -------------------------------- */

/*
 * w is dead, was in the idle ring, and nobody has stopped it yet (phase
 * running): a reactor found garbage on its stdout while idle (w_kill_idle),
 * or take_out_of_service() marked it dead while a holder or peeker had it
 * and that one let it go without seeing the mark.  Stop or kill it now.
 */
static void
retire_dead_idle(struct worker *w)
{
	char q[LOG_QMAX];

	if (w->w_phase != WORKER_RUNNING)
		return;
	w->w_deliberate = 1;
	if (w->w_kill_idle) {
		snprintf(w->w_reason, sizeof(w->w_reason), "%s",
		    w->w_retire_reason);
		worker_kill(w, w->w_reason);
		return;
	}
	atomic_store(&w->pub.w_status, atomic_load(&w->w_retire_status));
	log_info("worker retired", "worker=%d state=%s reason=%s",
	    (int)w->pub.w_pid, worker_status_str(atomic_load(
	    &w->pub.w_status)), log_q(q, sizeof(q), w->w_reason,
	    strlen(w->w_reason)));
	worker_stop(w, KILL_AFTER_MS);
}

/*
 * Control thread: w is idle, live and holds a ring reference that could not
 * be queued (the ring is full, which POOL_MAX should make impossible).
 * Retire it rather than leak it, and say so.
 */
static void
idle_ring_full(struct worker *w)
{
	log_error("idle worker queue is full, retiring the worker",
	    "worker=%d capacity=%d workers=%d", (int)w->pub.w_pid, RING_CAP,
	    P.live);
	claim_idle_wait(w);
	if (w->w_phase == WORKER_RUNNING) {
		snprintf(w->w_reason, sizeof(w->w_reason),
		    "idle worker queue is full");
		atomic_store(&w->w_retire_status, WS_ERRORED);
		atomic_store(&w->pub.w_dead, 1);
		retire_dead_idle(w);
	}
	P.failures++;		/* its replacement backs off */
	unclaim(w);
	worker_unref(w);	/* the ring's reference */
}

static void
on_handshake(struct worker *w, const char *fail)
{
	int streak;

	if (fail != NULL) {
		P.failures++;
		if (!P.booted) {
			if (P.starting > 0) {
				P.starting = -1;	/* report once */
				P.ready_cb(0, w->w_reason);
			}
			return;
		}
		spawn_worker();
		return;
	}
	streak = P.failures > 0;
	P.failures = 0;
	worker_ref(w);		/* the idle ring's reference */
	if (ring_push(&idle, w) == -1)
		idle_ring_full(w);
	else
		notify_waiters();
	roll_over();
	sweep_idle_if_due();
	if (!P.booted && P.starting > 0 && --P.starting == 0) {
		P.booted = 1;
		P.ready_cb(1, NULL);
	}
	if (streak && P.booted) {
		/* The streak is over: refill at once, not one per backoff. */
		ev_timer_cancel(P.control, &P.respawn_timer);
		spawn_worker();
	}
}

static void
on_exited(struct worker *w, int was_handshake)
{
	for (struct worker **pp = &P.all; *pp; pp = &(*pp)->w_next)
		if (*pp == w) {
			*pp = w->w_next;
			break;
		}
	P.live--;
	/* A crashed idle worker is still in the ring: take it out now. */
	P.sweep_due = 1;
	sweep_idle_if_due();
	if (!w->w_deliberate && !was_handshake)
		P.failures = w->w_spawned_ms + 2000 > ev_now(P.control) ?
		    P.failures + 1 : 0;
	if (!P.stopping)	/* the metrics' worker restarts by reason */
		stats_worker_restart(was_handshake ? "handshake" :
		    !w->w_deliberate ? "crash" :
		    worker_status_str(atomic_load(&w->pub.w_status)));
	worker_unref(w);	/* the process reference */
	if (P.stopping) {
		if (P.live == 0 && P.stopped_cb)
			P.stopped_cb();
		return;
	}
	spawn_worker();
}

void
pool_reap(void)
{
	int again = 1;

	/* Only workers without a pidfd: the others are reaped on theirs.
	 * Reaping edits the list, so scan again after each one. */
	while (again) {
		again = 0;
		for (struct worker *w = P.all; w; w = w->w_next) {
			if (w->w_pidfd != -1 || w->w_phase == WORKER_EXITED)
				continue;
			worker_reap(w);
			if (w->w_phase == WORKER_EXITED) {
				again = 1;
				break;
			}
		}
	}
}

/* --- stdout and stdin events, on whichever loop ------------------------------ */

/* Every stdout event of every worker lands here, on whichever loop it is. */
static void
on_worker_out(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct worker *w = io->arg;
	struct ev *expected = NULL;
	char why[128];

	if (atomic_load_explicit(&w->w_owner, memory_order_acquire) != loop)
		return;		/* stale event: the worker moved on */
	if (atomic_load_explicit(&w->pub.w_holder, memory_order_acquire) ==
	    loop) {
		P.io_fn(loop, &w->pub, events);
		return;
	}
	if (loop == P.control && w->w_phase == WORKER_HANDSHAKE) {
		worker_handshake_io(w);
		return;
	}
	/*
	 * Output while idle (a stray frame, or its death).  Claim the worker
	 * for a moment and read it now, so the log says so at once; a leaser
	 * that pops it meanwhile waits for the claim to end.  If someone holds
	 * it, the flag makes the next leaser read it instead.
	 */
	if (!atomic_compare_exchange_strong_explicit(&w->pub.w_holder,
	    &expected, PEEKING, memory_order_acq_rel, memory_order_relaxed)) {
		atomic_store_explicit(&w->w_stray, 1, memory_order_release);
		return;
	}
	if (atomic_load_explicit(&w->w_owner, memory_order_acquire) == loop &&
	    !atomic_load(&w->pub.w_dead) &&
	    worker_drain_stray(w, why, sizeof(why)) == -1) {
		/*
		 * It sits in the idle ring and nobody holds it: mark it dead,
		 * say why, and let the control thread's sweep take it out and
		 * kill it.  The claim orders these writes before whoever
		 * pops it next.
		 */
		snprintf(w->w_retire_reason, sizeof(w->w_retire_reason), "%s",
		    why);
		w->w_kill_idle = 1;
		atomic_store(&w->pub.w_status, WS_ERRORED);
		atomic_store(&w->pub.w_dead, 1);
		request_sweep();
	}
	unclaim(w);
}

/* The unwritten tail of a request can go on: only the holder cares. */
static void
on_worker_in(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct worker *w = io->arg;

	if (atomic_load_explicit(&w->pub.w_holder, memory_order_acquire) ==
	    loop && w->pub.w_in_loop == loop)
		P.io_fn(loop, &w->pub, EV_WRITE);
}

/* --- the sweep and the inbox (control thread) ------------------------------- */

/*
 * The sweep: takes every dead worker out of the idle ring, so the ring holds
 * exactly the live idle workers and a retired worker's pipes close when its
 * process exits, whether or not anyone leases in between.  Control thread;
 * runs after it takes idle workers out of service, sees one exit, or a
 * reactor asks (request_sweep).
 *
 * It pops every entry pushed before its mark and pushes the live ones back.
 * Meanwhile reactors lease and release:
 *  - A leaser that pops a worker first has it, sweep or no sweep; a dead one
 *    it hands to the control thread (RETIRE_DROP_IDLE), a live one it uses.
 *  - A live worker the sweep holds is briefly missing from the ring: a
 *    leaser may then find no worker and park its event, and the push back
 *    is followed by notify_waiters(), as in pool_release().
 *  - A releaser that pushes after the mark is not seen by this sweep.  The
 *    writer of w_dead (this thread) stores it, then makes a read-modify-
 *    write of nwaiting, then reads the mark; pool_release() pushes, makes
 *    one (in notify_waiters()), then loads w_dead.  Read-modify-writes of
 *    one variable are totally ordered and each reads the one before, so
 *    the later one synchronizes with the earlier: either the mark covers
 *    the push, or the releaser sees w_dead and asks for another sweep.
 *    (Not fences: ThreadSanitizer does not model them.)
 *  - ring_pop_before() waits for a producer that took a ticket below the
 *    mark and has not stored its item yet, so no such push slips through.
 *  - A reactor may be peeking at a dead worker's stdout (w_holder ==
 *    PEEKING): it relies on the ring's reference to keep the pipes open,
 *    so the reference is dropped only after the claim is ours.  A peeker
 *    that finds garbage marks the worker dead while the sweep holds it in
 *    its hands; it is pushed back and the peeker's request_sweep() brings
 *    the next sweep, which takes it out.
 */
static void
idle_sweep(void)
{
	static struct worker *keep[RING_CAP];
	struct worker *w;
	size_t n = 0, mark;

	P.sweep_due = 0;
	atomic_store(&P.sweep_wanted, 0);
	/* Orders every w_dead store before the mark (see above). */
	atomic_fetch_add_explicit(&P.nwaiting, 0, memory_order_seq_cst);
	mark = ring_mark(&idle);
	while ((w = ring_pop_before(&idle, mark)) != NULL) {
		if (!atomic_load(&w->pub.w_dead)) {
			/* At most one pop lands past the mark: room is
			 * short only if the ring was full and busy. */
			if (n < RING_CAP)
				keep[n++] = w;
			else if (ring_push(&idle, w) == -1)
				idle_ring_full(w);
			continue;
		}
		claim_idle_wait(w);
		retire_dead_idle(w);
		unclaim(w);
		worker_unref(w);	/* the ring's reference */
	}
	for (size_t i = 0; i < n; i++)
		if (ring_push(&idle, keep[i]) == -1)
			idle_ring_full(keep[i]);
	if (n > 0)
		notify_waiters();
}

static void
sweep_idle_if_due(void)
{
	if (P.sweep_due || atomic_load(&P.sweep_wanted))
		idle_sweep();
}

static void	grow_dynamic(void);

static void
on_control_wake(struct ev *loop, void *arg)
{
	struct worker *list, *w;

	pthread_mutex_lock(&inbox_mtx);
	list = inbox;
	inbox = NULL;
	pthread_mutex_unlock(&inbox_mtx);
	while ((w = list) != NULL) {
		char q[LOG_QMAX];

		list = w->w_inbox_next;
		if (w->w_retire == RETIRE_DROP_IDLE) {
			/* The ring's reference, from a leaser. */
			retire_dead_idle(w);
			worker_unref(w);
			continue;
		}
		/* The inbox mutex ordered the holder's write before this read. */
		snprintf(w->w_reason, sizeof(w->w_reason), "%s",
		    w->w_retire_reason);
		if (w->w_phase != WORKER_EXITED) {
			w->w_deliberate = 1;
			if (w->w_retire == RETIRE_KILL)
				worker_kill(w, w->w_reason);
			else {
				log_info("worker retired", "worker=%d state=%s "
				    "reason=%s", (int)w->pub.w_pid,
				    worker_status_str(atomic_load(
				    &w->pub.w_status)), log_q(q, sizeof(q),
				    w->w_reason, strlen(w->w_reason)));
				worker_stop(w, KILL_AFTER_MS);
			}
		}
		worker_unref(w);	/* the holder's reference */
	}
	sweep_idle_if_due();
	if (atomic_exchange(&P.starved, 0))
		grow_dynamic();
	/* Replace at once (Q4): nobody waits for the old one to exit. */
	spawn_worker();
}

/* --- lease / release (reactor threads) -------------------------------------- */

void
pool_retire(struct rr_worker *rw, enum worker_status why, int kill,
    const char *reason)
{
	struct worker *w = worker_of(rw);

	rw->w_lease.ls_xchg = NULL;
	/* Later events for it on this loop are stale: ignore them. */
	atomic_store_explicit(&w->w_owner, NULL, memory_order_release);
	if (rw->w_in_loop != NULL) {
		ev_del(rw->w_in_loop, &rw->w_in_io);
		rw->w_in_loop = NULL;
	}
	atomic_store(&rw->w_status, why);
	atomic_store(&rw->w_dead, 1);
	snprintf(w->w_retire_reason, sizeof(w->w_retire_reason), "%s", reason);
	to_control(w, kill ? RETIRE_KILL : RETIRE_STOP);
}

struct rr_worker *
pool_lease(struct ev *loop)
{
	struct worker *w;
	char why[128];

	while ((w = ring_pop(&idle)) != NULL) {
		struct ev *owner, *expected = NULL;

		/* Wait out a loop that is reading its stray output. */
		while (!atomic_compare_exchange_weak_explicit(&w->pub.w_holder,
		    &expected, loop, memory_order_acq_rel, memory_order_relaxed))
			expected = NULL;
		/* The ring's reference becomes the holder's, unless it is
		 * dead: then the control thread takes it (and stops it if
		 * nobody has). */
		if (atomic_load_explicit(&w->pub.w_dead, memory_order_acquire)) {
			unclaim(w);
			to_control(w, RETIRE_DROP_IDLE);
			continue;
		}
		owner = atomic_load_explicit(&w->w_owner, memory_order_acquire);
		if (owner != loop) {
			/* Stale events on the old loop are ignored by
			 * on_worker_out, which checks w_owner. */
			atomic_store_explicit(&w->w_owner, loop,
			    memory_order_release);
			ev_move(owner, loop, &w->w_out_io, EV_READ | EV_EDGE);
		}
		/*
		 * Always look: output may sit in the pipe while its EPOLLIN is
		 * still later in this loop's batch, and would then be read as
		 * the answer to the request we are about to write.  It costs
		 * one read() that says EAGAIN.
		 */
		atomic_store_explicit(&w->w_stray, 0, memory_order_relaxed);
		if (worker_drain_stray(w, why, sizeof(why)) == -1) {
			pool_retire(&w->pub, WS_ERRORED, 1, why);
			continue;
		}
		atomic_store_explicit(&w->pub.w_status, WS_WORKING,
		    memory_order_relaxed);
		return &w->pub;
	}
	return NULL;
}

int
pool_finish(struct rr_worker *rw)
{
	struct worker *w = worker_of(rw);
	uint64_t n = atomic_load_explicit(&rw->w_execs, memory_order_relaxed);

	rw->w_lease.ls_xchg = NULL;
	/* seq_cst: pairs with take_out_of_service() (see there). */
	if (atomic_load(&rw->w_dead)) {
		pool_retire(rw, atomic_load(&w->w_retire_status), 0,
		    w->w_reason);
		return 0;
	}
	if (w->w_max_execs != 0 && n >= w->w_max_execs) {
		pool_retire(rw, WS_MAX_JOBS, 0, "max_jobs reached");
		return 0;
	}
	return 1;
}

void
pool_keep(struct rr_worker *rw)
{
	atomic_store_explicit(&rw->w_status, WS_WORKING, memory_order_relaxed);
}

void
pool_release(struct rr_worker *rw)
{
	struct worker *w = worker_of(rw);

	atomic_store_explicit(&rw->w_status, WS_READY, memory_order_relaxed);
	atomic_store_explicit(&rw->w_holder, NULL, memory_order_release);
	if (ring_push(&idle, w) == -1) {
		/* Never with POOL_MAX < RING_CAP; if it happens, say so and
		 * retire the worker instead of leaking it. */
		log_error("idle worker queue is full, retiring the worker",
		    "worker=%d capacity=%d", (int)rw->w_pid, RING_CAP);
		claim_idle_wait(w);
		pool_retire(rw, WS_ERRORED, 0, "idle worker queue is full");
		return;
	}
	notify_waiters();
	/*
	 * If the control thread marked it dead while we let go, its sweep may
	 * have missed this push: ask for another.  notify_waiters()'s
	 * read-modify-write of nwaiting orders the push before this load
	 * (idle_sweep() explains how).
	 */
	if (atomic_load_explicit(&rw->w_dead, memory_order_relaxed))
		request_sweep();
}

/* --- start / stop ------------------------------------------------------------- */

static void	on_watch_tick(struct ev *loop, struct ev_timer *t);
static void	on_shrink_timer(struct ev *loop, struct ev_timer *t);

static void
arm_supervisor(void)
{
	const struct rr_supervisor_conf *sv = &P.cfg->pool.supervisor;

	ev_timer_cancel(P.control, &P.watch_timer);
	if (sv->enabled && sv->watch_tick_ms > 0)
		ev_timer_arm(P.control, &P.watch_timer, sv->watch_tick_ms);
}

int
pool_start(struct ev *control, const struct rr_config *cfg, pool_io_fn *io_fn,
    pool_ready_fn *ready_cb, char *err, size_t errlen)
{
	static const struct worker_hooks hooks = {
		.on_out = on_worker_out,
		.on_in = on_worker_in,
		.handshake = on_handshake,
		.exited = on_exited
	};

	if (ring_init(&idle, RING_CAP) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	P.cfg = cfg;
	P.control = control;
	P.io_fn = io_fn;
	P.ready_cb = ready_cb;
	P.target = (int)cfg->pool.num_workers;
	P.reset_ms = INT64_MAX;
	atomic_store(&P.dynamic, cfg->pool.dynamic.enabled);
	worker_setup(control, &hooks);
	if (worker_configure(cfg) == -1) {
		snprintf(err, errlen, "cannot build the worker environment");
		return -1;
	}
	ev_timer_init(&P.respawn_timer, on_respawn_timer, NULL);
	ev_timer_init(&P.watch_timer, on_watch_tick, NULL);
	ev_timer_init(&P.shrink_timer, on_shrink_timer, NULL);
	arm_supervisor();
	ev_set_wake(control, on_control_wake, NULL);
	srandom((unsigned)getpid() ^ (unsigned)ev_clock_ms());
	P.starting = P.target;
	/* All spawns first: the handshakes then run in parallel. */
	for (int i = 0; i < P.target; i++) {
		char why[256];
		if (spawn_one(why, sizeof(why)) == NULL) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
	}
	return 0;
}

void
pool_stop_all(int64_t kill_after_ms, void (*done_cb)(void))
{
	P.stopping = 1;
	P.stopped_cb = done_cb;
	ev_timer_cancel(P.control, &P.respawn_timer);
	ev_timer_cancel(P.control, &P.watch_timer);
	ev_timer_cancel(P.control, &P.shrink_timer);
	for (struct worker *w = P.all; w; w = w->w_next) {
		if (w->w_phase == WORKER_HANDSHAKE) {
			w->w_deliberate = 1;
			ev_timer_cancel(P.control, &w->w_timer);
			worker_kill(w, "shutdown during its handshake");
		} else if (w->w_phase == WORKER_RUNNING) {
			atomic_store(&w->pub.w_status, WS_STOPPING);
			worker_stop(w, kill_after_ms);
		} else if (w->w_phase == WORKER_STOPPING)
			ev_timer_arm(P.control, &w->w_timer, kill_after_ms);
	}
	if (P.live == 0 && done_cb)
		done_cb();
}

void
pool_kill_all(void)
{
	for (struct worker *w = P.all; w; w = w->w_next)
		if (w->w_phase != WORKER_EXITED && w->pub.w_pid > 0)
			kill(-w->pub.w_pid, SIGKILL);
}

/* --- operating the pool (control thread) ------------------------------------ */

/*
 * Takes w out of service for why.  An idle worker is stopped now (the caller
 * then sweeps it out of the idle ring); a busy one is marked dead and its
 * holder retires it when the exchange ends (pool_finish).  The order
 * matters: w_dead is stored before the second claim attempt, and the holder
 * loads w_dead before it lets go, so one side always sees the other
 * (seq_cst).  A holder already past pool_finish pushes the dead worker back
 * to the ring; pool_release() sees w_dead and asks for a sweep, which stops
 * it (retire_dead_idle()).
 */
static int
take_out_of_service(struct worker *w, enum worker_status why,
    const char *reason)
{
	char q[LOG_QMAX];

	if (w->w_phase == WORKER_HANDSHAKE) {
		w->w_deliberate = 1;
		snprintf(w->w_reason, sizeof(w->w_reason), "%s", reason);
		ev_timer_cancel(P.control, &w->w_timer);
		worker_kill(w, reason);		/* not a failed start */
		return 1;
	}
	if (w->w_phase != WORKER_RUNNING || atomic_load(&w->pub.w_dead))
		return 0;
	snprintf(w->w_reason, sizeof(w->w_reason), "%s", reason);
	atomic_store(&w->w_retire_status, why);
	/* Dead in the ring, or a holder lets go unaware: sweep. */
	P.sweep_due = 1;
	if (!claim_idle(w)) {
		atomic_store(&w->pub.w_dead, 1);
		if (!claim_idle(w))
			return 1;	/* its holder retires it */
	}
	atomic_store(&w->pub.w_dead, 1);
	atomic_store(&w->pub.w_status, why);
	log_info("worker retired", "worker=%d state=%s reason=%s",
	    (int)w->pub.w_pid, worker_status_str(why),
	    log_q(q, sizeof(q), reason, strlen(reason)));
	worker_stop(w, KILL_AFTER_MS);
	unclaim(w);
	return 1;
}

void
pool_reset(const char *why)
{
	char q[LOG_QMAX];

	log_info("resetting workers", "reason=%s workers=%d",
	    log_q(q, sizeof(q), why, strlen(why)), in_service());
	for (struct worker *w = P.all; w; w = w->w_next) {
		/*
		 * A worker still in its handshake that the previous reset
		 * started is already one of the new ones: killing it would
		 * fail its start, and a burst of resets would never converge.
		 */
		if (w->w_phase == WORKER_HANDSHAKE && w->w_gen == P.gen &&
		    w->w_spawned_ms >= P.reset_ms)
			continue;
		take_out_of_service(w, WS_STOPPING, why);
	}
	P.reset_ms = ev_now(P.control);
	sweep_idle_if_due();
	spawn_worker();
}

/* tcp.pool.max_workers, never above what the idle ring is sized for. */
static int
pool_max(void)
{
	unsigned m = P.cfg->pool.max_workers;

	return m == 0 || m > POOL_MAX ? POOL_MAX : (int)m;
}

int
pool_add_worker(char *err, size_t errlen)
{
	if (P.target >= pool_max()) {
		snprintf(err, errlen, "cannot add a worker: the pool has %d "
		    "workers, the maximum (tcp.pool.max_workers)", P.target);
		return -1;
	}
	P.target++;
	spawn_worker();
	return 0;
}

void
pool_remove_worker(void)
{
	struct worker *pick = NULL;

	if (in_service() <= 1)
		return;		/* RR: removing the last worker is a no-op */
	for (struct worker *w = P.all; w; w = w->w_next) {
		if (w->w_phase != WORKER_RUNNING || atomic_load(&w->pub.w_dead))
			continue;
		pick = w;
		if (atomic_load(&w->pub.w_holder) == NULL)
			break;		/* prefer an idle one */
	}
	if (pick == NULL)
		return;
	P.target--;
	take_out_of_service(pick, WS_STOPPING, "removed by informer.RemoveWorker");
	sweep_idle_if_due();
}

int
pool_reconfigure(const struct rr_config *cfg, char *err, size_t errlen)
{
	if (worker_configure(cfg) == -1) {
		snprintf(err, errlen, "cannot build the worker environment");
		return -1;
	}
	P.cfg = cfg;
	atomic_store(&P.dynamic, cfg->pool.dynamic.enabled);
	P.target = (int)cfg->pool.num_workers + P.extra;
	arm_supervisor();
	P.gen++;
	log_info("rolling reload of workers", "workers=%d", P.target);
	P.failures = 0;
	spawn_worker();
	return 0;
}

size_t
pool_snapshot(struct rpc_worker_state *out, size_t max)
{
	struct timespec ts;
	int64_t now_ns;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	for (struct worker *w = P.all; w && n < max; w = w->w_next)
		if (w->w_phase != WORKER_EXITED)
			supervisor_describe(w, now_ns, &out[n++]);
	return n;
}

/* --- the supervisor's timers (3.10) -------------------------------------------- */

static void
on_watch_tick(struct ev *loop, struct ev_timer *t)
{
	const struct rr_supervisor_conf *sv = &P.cfg->pool.supervisor;
	int64_t now = ev_now(loop);
	char why[96];

	for (struct worker *w = P.all; w; w = w->w_next) {
		int verdict;

		if (w->w_phase != WORKER_RUNNING || atomic_load(&w->pub.w_dead))
			continue;
		verdict = supervisor_check(sv, w, now,
		    atomic_load(&w->pub.w_holder) == NULL, why, sizeof(why));
		if (verdict == WS_IDLE_TTL) {
			/* Only while idle: a busy worker is not idle. */
			if (!claim_idle(w))
				continue;
			unclaim(w);
		}
		if (verdict != 0)
			take_out_of_service(w, verdict, why);
	}
	sweep_idle_if_due();
	spawn_worker();
	ev_timer_arm(loop, t, sv->watch_tick_ms);
}

void
pool_note_starved(void)
{
	if (atomic_load_explicit(&P.dynamic, memory_order_relaxed)) {
		atomic_store(&P.starved, 1);
		ev_wake(P.control);
	}
}

static void
grow_dynamic(void)
{
	const struct rr_dynamic_conf *dy = &P.cfg->pool.dynamic;
	int add;

	if (!dy->enabled || P.stopping)
		return;
	/* A trigger postpones the shrink. */
	ev_timer_arm(P.control, &P.shrink_timer, dy->idle_timeout_ms);
	add = supervisor_grow(dy, P.extra, P.target, pool_max(),
	    ev_now(P.control), &P.last_burst);
	if (add <= 0)
		return;
	P.extra += add;
	P.target += add;
	log_info("dynamic allocator adds workers", "added=%d extra=%d", add,
	    P.extra);
	spawn_worker();
}

static void
on_shrink_timer(struct ev *loop, struct ev_timer *t)
{
	const struct rr_dynamic_conf *dy = &P.cfg->pool.dynamic;
	int n = supervisor_shrink(dy, P.extra);

	for (int i = 0; i < n; i++)
		pool_remove_worker();
	P.extra -= n;
	if (n > 0)
		log_info("dynamic allocator removes workers", "removed=%d "
		    "extra=%d", n, P.extra);
	if (P.extra > 0)
		ev_timer_arm(loop, t, dy->idle_timeout_ms);
}
