/*
 * pool.h - the PHP worker processes: spawn (posix_spawn), pid handshake,
 * the lock-free idle queue shared by all reactors, retirement, reaping and
 * replacement.
 *
 * Threads: the control thread (main) spawns, reaps, stops and kills
 * workers and reads their stderr.  Reactor threads lease idle workers,
 * do the request/response I/O on the worker's pipes while they hold the
 * lease, and release or retire them.  See pool.c for the ownership rules;
 * worker.c runs one worker process, supervisor.c holds the periodic checks.
 */
#ifndef RRTCP_POOL_H
#define RRTCP_POOL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "ev.h"

struct rr_config;
struct relay_xchg;

/* Worker states as RoadRunner reports them over RPC (rrtcp-protocol(7) 3.11). */
enum worker_status {
	WS_INACTIVE = 0,
	WS_READY,
	WS_WORKING,
	WS_INVALID,
	WS_STOPPING,
	WS_STOPPED,
	WS_DESTROYED,
	WS_MAX_JOBS,
	WS_ERRORED,
	WS_IDLE_TTL,
	WS_TTL,
	WS_MAX_MEMORY,
	WS_EXEC_TTL
};

/* A worker: opaque outside the pool's files (worker.h has it); a holder
 * uses it through lease.h. */
struct rr_worker;

/* Called on the reactor that holds w: EPOLLIN for stdout, EPOLLOUT for stdin. */
typedef void pool_io_fn(struct ev *loop, struct rr_worker *w, uint32_t events);

/*
 * Spawns num_workers workers from the control loop.  Their handshakes run in
 * parallel; ready_cb(ok, reason) is called on the control thread once all have
 * answered (ok = 1) or one has failed (ok = 0, reason says why).
 */
typedef void pool_ready_fn(int ok, const char *reason);
int		 pool_start(struct ev *control, const struct rr_config *cfg,
		    pool_io_fn *io_fn, pool_ready_fn *ready_cb, char *err,
		    size_t errlen);

/*
 * Takes an idle worker for loop (a reactor), or NULL when none is idle.
 * The worker's stdout is moved into loop's epoll, and output it produced
 * while idle (stray frames) is read and logged before it is handed out.
 */
struct rr_worker *pool_lease(struct ev *loop);

/*
 * Counts a completed exchange.  Returns 1 if the worker stays usable (the
 * caller then reuses it or calls pool_release), 0 if max_jobs retired it.
 */
int		 pool_finish(struct rr_worker *w);
/* A held worker goes straight on to another exchange on the same loop. */
void		 pool_keep(struct rr_worker *w);
/* Largest frame a worker may send (max_frame_size), any thread. */
size_t		 pool_max_frame(void);
/* Puts a held, usable worker back on the idle queue and wakes waiters. */
void		 pool_release(struct rr_worker *w);

/*
 * The holder gives up w for good: the control thread sends it the stop
 * command (kill = 0) or SIGKILL (kill = 1), and starts a replacement.
 */
void		 pool_retire(struct rr_worker *w, enum worker_status why,
		    int kill, const char *reason);

/* Waiter bookkeeping for the reactors (see conn.c). */
void		 pool_register_loop(struct ev *loop, _Atomic int *waiting);
void		 pool_waiting_add(int delta);
/* Events waiting for a worker on all reactors. */
int		 pool_waiting_total(void);
/* Wakes the reactors that have waiters (an idle worker may be theirs). */
void		 pool_kick(void);
/* Before a reactor's loop is freed (control thread, reactor joined). */
void		 pool_unregister_loop(struct ev *loop);

/* Graceful stop of every worker; done_cb runs when all have exited. */
void		 pool_stop_all(int64_t kill_after_ms, void (*done_cb)(void));
/* SIGKILL every worker's process group (second signal). */
void		 pool_kill_all(void);

int		 pool_size(void);	/* live workers */
/* Entries in the idle ring (exact when no reactor is leasing or releasing). */
int		 pool_idle_count(void);
/* SIGCHLD: reaps the workers that have no pidfd. */
void		 pool_reap(void);

/* --- operating the pool: control thread only --------------------------- */

struct rpc_worker_state;
/* Fills out[] with the workers in service; returns how many. */
size_t		 pool_snapshot(struct rpc_worker_state *out, size_t max);
/*
 * informer.AddWorker: 0, or -1 with err set when the pool is at
 * tcp.pool.max_workers.
 */
int		 pool_add_worker(char *err, size_t errlen);
/* informer.RemoveWorker ("can't remove the last worker" is a no-op). */
void		 pool_remove_worker(void);
/* Replaces every worker; events meanwhile wait for the new ones. */
void		 pool_reset(const char *why);
/* Takes a reloaded config: new command, env and pool settings, applied by a
 * rolling replacement of the workers (capacity never drops). */
int		 pool_reconfigure(const struct rr_config *cfg, char *err,
		    size_t errlen);
/* Any thread: an event gave up waiting for a worker (dynamic allocator). */
void		 pool_note_starved(void);
const char	*pool_status_str(int status);

#endif
