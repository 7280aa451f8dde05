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
struct rr_conn;

/* Worker states as RoadRunner reports them over RPC (PROTOCOL.md 3.11). */
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

/*
 * What a reactor sees of a worker it holds (relay.c).  The pool's own state
 * of the worker (its process, phase, references) is private: struct worker
 * in worker.h, which embeds this one.
 */
struct rr_worker {
	pid_t		 w_pid;
	int		 w_in;		/* our end of the worker's stdin */
	int		 w_out;		/* our end of its stdout: frames only */
	struct ev_io	 w_in_io;	/* w_in, only while a request is partly written */
	struct ev	*w_in_loop;	/* loop whose epoll holds w_in, or NULL */
	_Atomic(struct ev *) w_holder;	/* reactor holding the lease, NULL if idle */
	_Atomic int	 w_status;	/* enum worker_status */
	_Atomic int	 w_dead;	/* out of service: never leased again */
	_Atomic int	 w_fence;	/* it sent a stray frame once: ping after answers */
	int		 w_fencing;	/* holder: waiting for the ping's pid reply */
	_Atomic uint64_t w_execs;
	_Atomic int64_t	 w_last_exec_ms; /* monotonic start of the last exec */
	struct rr_buf	 w_rbuf;	/* frames read from stdout (holder) */
	struct rr_buf	 w_wbuf;	/* unwritten tail of a request (holder) */
	struct rr_conn	*w_conn;	/* request in flight (holder) */
};

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
/* Puts a held, usable worker back on the idle queue and wakes waiters. */
void		 pool_release(struct rr_worker *w);

/*
 * The holder gives up w for good: the control thread sends it the stop
 * command (kill = 0) or SIGKILL (kill = 1), and starts a replacement.
 */
void		 pool_retire(struct rr_worker *w, enum worker_status why,
		    int kill, const char *reason);

/* Reads the worker's stdout into w_rbuf: 0 on EAGAIN, 1 on EOF, -1 on error. */
int		 pool_read_stdout(struct rr_worker *w);
/* The same, told the epoll bits: without a hang-up a short read ends it. */
int		 pool_read_stdout_ev(struct rr_worker *w, uint32_t events);
/*
 * Reads and logs frames a held worker sent with no request in flight.
 * Returns 0, or -1 with why set when the worker must be killed.
 */
int		 pool_drain_stray(struct rr_worker *w, char *why, size_t whylen);

/* Sends the pid request as a ping (a fence after a fenced worker's answer). */
int		 pool_ping(struct rr_worker *w);

struct frame;
/* Logs a frame w sent with no request in flight (it is dropped). */
void		 pool_log_stray(const struct rr_worker *w, const struct frame *f);

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
/* informer.AddWorker / RemoveWorker ("can't remove the last worker" is a no-op). */
void		 pool_add_worker(void);
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
