/*
 * worker.h - one PHP worker process, private to the pool (pool.c,
 * worker.c, supervisor.c): its state, its phase, and the calls that spawn,
 * handshake, stop, kill and reap it.  Reactors see only struct rr_worker
 * (pool.h), which struct worker embeds.
 */
#ifndef RRTCP_WORKER_H
#define RRTCP_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "lease.h"
#include "pool.h"

struct frame;
struct rr_config;

/*
 * The part of a worker a holder's thread touches (through lease.c); the rest
 * of struct worker below is the control thread's.
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
	_Atomic uint64_t w_execs;
	_Atomic int64_t	 w_last_exec_ms; /* monotonic start of the last exec */
	struct rr_buf	 w_rbuf;	/* frames read from stdout (holder) */
	struct rr_buf	 w_wbuf;	/* unwritten tail of a request (holder) */
	struct lease_state w_lease;	/* the holder's own (lease.h) */
};

/* A worker's life, control thread only; see worker_set_phase(). */
enum worker_phase {
	WORKER_FREE,		/* on the free list */
	WORKER_HANDSHAKE,	/* spawned, pid request sent */
	WORKER_RUNNING,		/* answered: in service (unless w_dead) */
	WORKER_STOPPING,	/* stop command sent, SIGKILL timer armed */
	WORKER_KILLED,		/* SIGKILL sent */
	WORKER_EXITED		/* reaped */
};

/* What an inbox entry hands to the control thread (w_retire). */
enum retire_kind {
	RETIRE_NONE,
	RETIRE_STOP,		/* the holder retires it: stop command */
	RETIRE_KILL,		/* the holder retires it: SIGKILL */
	RETIRE_DROP_IDLE	/* a leaser popped it dead from the idle ring */
};

#define WORKER_MAX_LOOPS	64

struct worker {
	struct rr_worker pub;		/* what the holder uses (first member) */
	int		 w_pidfd;	/* exit notification and signals */
	int		 w_err;		/* our end of its stderr: log lines */
	struct ev_io	 w_out_io;	/* pub.w_out in w_owner's epoll */
	struct ev_io	 w_err_io;
	struct ev_io	 w_pidfd_io;
	_Atomic(struct ev *) w_owner;	/* loop whose epoll holds pub.w_out */
	_Atomic int	 w_refs;	/* process + idle ring + holder/inbox */
	_Atomic int	 w_stray;	/* stdout became readable while idle */
	_Atomic int	 w_retire_status; /* why the control thread took it out */
	uint64_t	 w_max_execs;	/* max_jobs with RR's jitter, 0 = none */
	int64_t		 w_created_ns;	/* realtime, for informer */
	int64_t		 w_spawned_ms;	/* monotonic */

	/* written by a holder or peeker, read by control after a hand-over */
	enum retire_kind w_retire;	/* its inbox entry */
	int		 w_kill_idle;	/* bad output while idle: kill, don't stop */
	char		 w_retire_reason[160];

	/* control thread only */
	enum worker_phase w_phase;	/* only through worker_set_phase() */
	int		 w_deliberate;	/* stopped on purpose: no crash report */
	unsigned	 w_gen;		/* pool generation at spawn (reloads) */
	struct ev_timer	 w_timer;	/* handshake timeout or kill fallback */
	char		 w_errline[512]; /* partial stderr line */
	size_t		 w_errlen;
	struct ev_timer	 w_err_more;	/* stderr left unread after a budget */
	struct ev_timer	 w_err_report;	/* reports the lines dropped */
	int64_t		 w_err_tokens;	/* lines it may log now, in 1/1000 */
	int64_t		 w_err_refill_ms; /* monotonic, last token refill */
	uint64_t	 w_err_dropped;	/* lines dropped since the last report */
	char		 w_reason[160];	/* why it was stopped/killed */
	struct worker	*w_next;	/* pool's list of workers / free list */
	struct worker	*w_inbox_next;
	uint64_t	 w_freed_at[WORKER_MAX_LOOPS + 1]; /* each loop's
					 * iteration when freed */
};

static inline struct worker *
worker_of(struct rr_worker *p)
{
	return (struct worker *)(void *)p;	/* pub is the first member */
}

/* How worker.c reports to the pool (control thread, except on_out/on_in). */
struct worker_hooks {
	ev_io_fn	*on_out;	/* stdout events, on whichever loop */
	ev_io_fn	*on_in;		/* stdin writable, on the holder's loop */
	/* The handshake ended: fail is NULL, or why it failed (killed). */
	void		(*handshake)(struct worker *w, const char *fail);
	/* Reaped; handshake says it died during its handshake. */
	void		(*exited)(struct worker *w, int handshake);
};

void		 worker_setup(struct ev *control, const struct worker_hooks *h);
/* New command, environment and limits for later spawns: 0 or -1. */
int		 worker_configure(const struct rr_config *cfg);
/* Spawns one process and sends the pid request; NULL with why set. */
struct worker	*worker_spawn(unsigned gen, char *why, size_t whylen);
/* The one place a phase changes; logs it at debug level. */
void		 worker_set_phase(struct worker *w, enum worker_phase to);
const char	*worker_phase_str(enum worker_phase phase);
/* Sends the stop command and arms the SIGKILL fallback. */
void		 worker_stop(struct worker *w, int64_t kill_after_ms);
/* SIGKILL, logged as "worker killed" with why. */
void		 worker_kill(struct worker *w, const char *why);
/* waitpid for a worker without a pidfd (SIGCHLD). */
void		 worker_reap(struct worker *w);
/* Output during the handshake (control loop). */
void		 worker_handshake_io(struct worker *w);

/* References: the process, the idle ring, a holder or an inbox entry. */
void		 worker_ref(struct worker *w);
/* Any thread: the last reference closes the pipes and frees the struct. */
void		 worker_unref(struct worker *w);
void		 worker_register_loop(struct ev *loop);
void		 worker_unregister_loop(struct ev *loop);

/* Holder or peeker: stdout into pub.w_rbuf, 0 EAGAIN, 1 EOF, -1 error. */
int		 worker_read_stdout(struct worker *w, uint32_t events);
int		 worker_drain_stray(struct worker *w, char *why, size_t whylen);
void		 worker_log_stray(const struct rr_worker *w,
		    const struct frame *f);
int		 worker_ping(struct worker *w);
const char	*worker_status_str(int status);

#endif
