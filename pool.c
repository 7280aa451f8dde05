/*
 * pool.c - PHP worker processes and the idle-worker queue.
 *
 * Ownership and threads
 *   The control thread (main) owns a worker's life: posix_spawn, the pid
 *   handshake, stderr lines, the pidfd that reports its exit, stop commands,
 *   SIGKILL and replacement.  Reactor threads only lease idle workers from a
 *   lock-free bounded MPMC ring (Vyukov), talk to them while they hold the
 *   lease, and release or retire them.  Retire requests reach the control
 *   thread through a small mutex-protected inbox and an eventfd wake-up.
 *
 *   A worker's stdout stays registered (edge-triggered) in the epoll set of
 *   the last loop that used it (w_owner).  A reactor that leases a worker
 *   owned by another loop moves the registration to its own set.  Events
 *   that arrive for a worker the loop does not hold only set w_stray; the
 *   next leaser reads that output and logs it as frames with no request in
 *   flight, so a stray frame is never taken for the answer to a new request.
 *
 *   Worker structs are recycled through a free list and never freed while the
 *   server runs, so a stale epoll event can only point at a valid struct;
 *   handlers check w_owner / w_holder before touching the pipes.  The fds
 *   are closed when the last reference goes (process, idle ring, holder).
 */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "ring.h"
#include "rpc.h"

#ifndef RRTCP_VERSION
#define RRTCP_VERSION	"0.1.0"
#endif

/*
 * The idle ring holds each live worker at most once.  The pool never grows
 * past POOL_MAX workers (num_workers <= 500 by config, plus AddWorker and
 * the dynamic allocator, both capped here), and a rolling reload at most
 * doubles that for a while: the ring has room for all of them, with slack.
 */
#define POOL_MAX	1024
#define RING_CAP	4096	/* power of two > 2 * (POOL_MAX + 500) */
#define MAX_LOOPS	64
#define KILL_AFTER_MS	10000	/* RR's hard-coded stop -> SIGKILL fallback */

/* w_holder while a loop reads an idle worker's stray output. */
static char peeking_tag;
#define PEEKING ((struct ev *)(void *)&peeking_tag)

enum phase {
	PH_FREE,
	PH_HANDSHAKE,
	PH_RUNNING,
	PH_STOPPING,
	PH_KILLED,
	PH_EXITED
};

/* What an inbox entry hands to the control thread (w_retire). */
enum retire_kind {
	RETIRE_NONE,
	RETIRE_STOP,		/* the holder retires it: stop command */
	RETIRE_KILL,		/* the holder retires it: SIGKILL */
	RETIRE_DROP_IDLE	/* a leaser popped it dead from the idle ring */
};

/* --- pool state ---------------------------------------------------------- */

static struct {
	const struct rr_config	*cfg;
	struct ev		*control;
	pool_io_fn		*io_fn;
	pool_ready_fn		*ready_cb;
	char			**envp;
	char			 rr_pid_req[64];	/* V4a with our pid */
	size_t			 rr_pid_req_len;
	struct rr_worker	*all;		/* every worker not on the free list */
	int			 target;	/* workers we want alive */
	int			 live;		/* spawned and not yet exited */
	int			 starting;	/* boot handshakes outstanding */
	int			 booted;
	int			 stopping;	/* pool_stop_all called */
	void			(*stopped_cb)(void);
	int			 failures;	/* consecutive failed spawns */
	int			 backoff_done;	/* the backoff timer allowed one spawn */
	int			 warned_pidfd;
	unsigned		 gen;		/* worker generation, bumped by reload */
	/* P.cfg belongs to the control thread; what reactors need of it: */
	_Atomic size_t		 max_frame;
	_Atomic int		 dynamic;
	struct ev_timer		 respawn_timer;
	struct ev_timer		 watch_timer;	/* supervisor */
	struct ev_timer		 shrink_timer;	/* dynamic allocator */
	_Atomic int		 starved;	/* an event timed out waiting */
	int			 extra;		/* dynamic workers on top of num_workers */
	int64_t			 last_burst;
	_Atomic int		 nwaiting;
	struct ev		*loops[MAX_LOOPS];
	_Atomic int		*loop_waiting[MAX_LOOPS];
	int			 nloops;
	int			 sweep_due;	/* control: an idle worker died */
	_Atomic int		 sweep_wanted;	/* a reactor asks for a sweep */
} P;

static struct ring	 idle;		/* idle workers, shared by all reactors */
static pthread_mutex_t	 free_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct rr_worker	*free_list;
static pthread_mutex_t	 inbox_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct rr_worker	*inbox;

/*
 * Any thread: hands one reference to w to the control thread, which acts on
 * it as kind says and then drops the reference.  The mutex orders the
 * sender's writes (w_retire, w_retire_reason) before the control thread's
 * reads.  A worker is in the inbox at most once: only its holder retires
 * it, and only the thread that popped it dead from the ring drops it.
 */
static void
to_control(struct rr_worker *w, enum retire_kind kind)
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

static const char *const status_names[] = {
	"inactive", "ready", "working", "invalid", "stopping", "stopped",
	"destroyed", "maxJobsReached", "errored", "idleTTLReached",
	"ttlReached", "maxMemoryReached", "execTTLReached"
};

const char *
pool_status_str(int status)
{
	if (status < 0 || status > WS_EXEC_TTL)
		return "undefined";
	return status_names[status];
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

static void	spawn_worker(void);
static void	sweep_idle_if_due(void);
static void	idle_ring_full(struct rr_worker *w);
static void	worker_exited(struct rr_worker *w, int status);
static int	take_out_of_service(struct rr_worker *w, enum worker_status why,
		    const char *reason);

static void
worker_ref(struct rr_worker *w)
{
	atomic_fetch_add_explicit(&w->w_refs, 1, memory_order_relaxed);
}

static void
worker_unref(struct rr_worker *w)
{
	/* acq_rel: the last owner must see every other owner's writes. */
	if (atomic_fetch_sub_explicit(&w->w_refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Closing removes the fds from whatever epoll set holds them. */
	close(w->w_in);
	close(w->w_out);
	buf_free(&w->w_rbuf);
	buf_free(&w->w_wbuf);
	atomic_store_explicit(&w->w_owner, NULL, memory_order_release);
	/* Reused only after every loop finished the batch it is in now: a
	 * stale event from that batch may still look at this struct. */
	for (int i = 0; i < P.nloops; i++)
		w->w_freed_at[i] = P.loops[i] ? ev_iterations(P.loops[i]) : 0;
	w->w_freed_at[P.nloops] = ev_iterations(P.control);
	pthread_mutex_lock(&free_mtx);
	w->w_next = free_list;
	free_list = w;
	pthread_mutex_unlock(&free_mtx);
}

static int
grace_over(const struct rr_worker *w)
{
	for (int i = 0; i < P.nloops; i++)
		if (P.loops[i] != NULL &&
		    ev_iterations(P.loops[i]) <= w->w_freed_at[i])
			return 0;
	return ev_iterations(P.control) > w->w_freed_at[P.nloops];
}

/* --- environment (PROTOCOL.md 3.1) ---------------------------------------- */

extern char **environ;

/* Adds or replaces NAME=value: later entries win, and no name appears twice. */
static int
env_set(char ***envp, size_t *n, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	char *dup = strdup(kv), **p;

	if (dup == NULL)
		return -1;
	for (size_t i = 0; i < *n; i++)
		if (strncmp((*envp)[i], kv, klen) == 0 &&
		    (*envp)[i][klen] == '=') {
			free((*envp)[i]);
			(*envp)[i] = dup;
			return 0;
		}
	if ((p = realloc(*envp, (*n + 2) * sizeof(*p))) == NULL) {
		free(dup);
		return -1;
	}
	p[(*n)++] = dup;
	p[*n] = NULL;
	*envp = p;
	return 0;
}

static char **
build_env(const struct rr_config *cfg)
{
	char **envp = NULL, buf[4096];
	size_t n = 0;
	int rc = 0;

	for (char **e = environ; e && *e; e++)
		rc |= env_set(&envp, &n, *e);
	rc |= env_set(&envp, &n, "RR_RELAY=pipes");
	if (cfg->rpc_listen != NULL) {
		snprintf(buf, sizeof(buf), "RR_RPC=%s", cfg->rpc_listen);
		rc |= env_set(&envp, &n, buf);
	}
	for (char **e = cfg->env; e && *e; e++)
		rc |= env_set(&envp, &n, *e);
	rc |= env_set(&envp, &n, "RR_VERSION=" RRTCP_VERSION);
	rc |= env_set(&envp, &n, "RR_MODE=tcp");
	if (rc != 0 || envp == NULL)
		return NULL;
	return envp;
}

/* --- spawning ------------------------------------------------------------- */

static void	on_worker_out(struct ev *loop, struct ev_io *io, uint32_t ev);
static void	on_worker_in(struct ev *loop, struct ev_io *io, uint32_t ev);
static void	on_stderr(struct ev *loop, struct ev_io *io, uint32_t ev);
static void	on_pidfd(struct ev *loop, struct ev_io *io, uint32_t ev);
static void	on_worker_timer(struct ev *loop, struct ev_timer *t);

static struct rr_worker *
worker_alloc(void)
{
	struct rr_worker *w = NULL;

	pthread_mutex_lock(&free_mtx);
	for (struct rr_worker **pp = &free_list; *pp; pp = &(*pp)->w_next)
		if (grace_over(*pp)) {
			w = *pp;
			*pp = w->w_next;
			break;
		}
	pthread_mutex_unlock(&free_mtx);
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return NULL;
		/* Set once: a stale epoll event may read these at any time. */
		w->w_out_io.fn = on_worker_out;
		w->w_out_io.arg = w;
		w->w_in_io.fn = on_worker_in;
		w->w_in_io.arg = w;
	}
	/* Keep the atomics' identity; reset everything else. */
	w->w_pid = -1;
	w->w_pidfd = w->w_in = w->w_out = w->w_err = -1;
	w->w_in_loop = NULL;
	atomic_store(&w->w_holder, NULL);
	atomic_store(&w->w_status, WS_INACTIVE);
	atomic_store(&w->w_refs, 0);
	atomic_store(&w->w_stray, 0);
	atomic_store(&w->w_dead, 0);
	atomic_store(&w->w_fence, 0);
	w->w_fencing = 0;
	atomic_store(&w->w_execs, 0);
	atomic_store(&w->w_last_exec_ms, 0);
	w->w_max_execs = 0;
	w->w_conn = NULL;
	w->w_phase = PH_FREE;
	w->w_deliberate = 0;
	w->w_retire = RETIRE_NONE;
	w->w_kill_idle = 0;
	w->w_errlen = 0;
	w->w_reason[0] = '\0';
	w->w_next = w->w_inbox_next = NULL;
	memset(&w->w_rbuf, 0, sizeof(w->w_rbuf));
	memset(&w->w_wbuf, 0, sizeof(w->w_wbuf));
	ev_timer_init(&w->w_timer, on_worker_timer, w);
	return w;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static uint64_t
jittered_max_jobs(uint64_t n)
{
	/* RR: N + floor(N * p / 100), p uniform in 0..14, so workers do not all
	 * retire at once. */
	if (P.cfg->pool.debug)
		return 1;	/* debug: a fresh worker for every event */
	if (n == 0)
		return 0;
	return n + n * (uint64_t)(random() % 15) / 100;
}

/*
 * Starts one worker process and its handshake.  Returns the worker, or NULL
 * with the reason logged (spawn errors such as a missing binary).
 */
static struct rr_worker *
worker_spawn(char *why, size_t whylen)
{
	const struct rr_config *cfg = P.cfg;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, all;
	struct rr_worker *w;
	pid_t pid;
	int rc;

	if ((w = worker_alloc()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	/* dup2 clears FD_CLOEXEC on 0/1/2; every other fd of ours is CLOEXEC. */
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	/* Workers inherit our cwd: rrtcp.c has entered the work dir. */
	posix_spawnattr_init(&sa);
	sigemptyset(&none);
	sigfillset(&all);
	/* Our signals are blocked for signalfd; a blocked mask survives exec. */
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &all);
	/* Own process group, as RR: a terminal ^C reaches only the server. */
	posix_spawnattr_setpgroup(&sa, 0);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(&pid, cfg->pool.command[0], &fa, &sa,
	    cfg->pool.command, P.envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	if (rc != 0) {
		snprintf(why, whylen, "exec %s: %s", cfg->pool.command[0],
		    strerror(rc));
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	w->w_pid = pid;
	w->w_in = in[1];
	w->w_out = out[0];
	w->w_err = err[0];
	set_nonblock(w->w_in);
	set_nonblock(w->w_out);
	set_nonblock(w->w_err);
	w->w_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	w->w_created_ns = 0;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		w->w_created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	w->w_spawned_ms = ev_now(P.control);
	w->w_max_execs = jittered_max_jobs(P.cfg->pool.max_jobs);
	w->w_phase = PH_HANDSHAKE;
	w->w_gen = P.gen;
	atomic_store(&w->w_refs, 1);	/* the process reference */
	atomic_store(&w->w_owner, P.control);
	w->w_next = P.all;
	P.all = w;
	P.live++;
	ev_add(P.control, &w->w_err_io, w->w_err, EV_READ | EV_EDGE,
	    on_stderr, w);
	if (w->w_pidfd != -1)
		ev_add(P.control, &w->w_pidfd_io, w->w_pidfd, EV_READ,
		    on_pidfd, w);
	else if (!P.warned_pidfd) {
		/* Old kernels, valgrind, seccomp: fall back to SIGCHLD. */
		P.warned_pidfd = 1;
		log_info("pidfd_open unavailable, reaping workers on SIGCHLD",
		    "error=\"%s\"", strerror(errno));
	}
	w->w_out_io.fd = w->w_out;
	ev_attach(P.control, &w->w_out_io, EV_READ | EV_EDGE);
	ev_timer_arm(P.control, &w->w_timer, P.cfg->pool.allocate_timeout_ms);
	/* 20 bytes into an empty pipe: one write, never partial. */
	if (write(w->w_in, P.rr_pid_req, P.rr_pid_req_len) !=
	    (ssize_t)P.rr_pid_req_len)
		log_warn("worker handshake write failed", "worker=%d", pid);
	log_debug("worker spawned", "worker=%d", (int)pid);
	return w;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
	}
	pthread_mutex_lock(&free_mtx);
	w->w_next = free_list;
	free_list = w;
	pthread_mutex_unlock(&free_mtx);
	return NULL;
}

/* Sends SIGKILL to the worker (pidfd: no pid-reuse race). */
static void
worker_kill(struct rr_worker *w)
{
	if (w->w_phase == PH_EXITED)
		return;
	w->w_phase = PH_KILLED;
	atomic_store(&w->w_dead, 1);
	if (w->w_pidfd != -1)
		syscall(SYS_pidfd_send_signal, w->w_pidfd, SIGKILL, NULL, 0);
	else
		kill(w->w_pid, SIGKILL);
}

/* Sends the stop command (V5) and arms the SIGKILL fallback. */
static void
worker_stop(struct rr_worker *w, int64_t kill_after_ms)
{
	static const char stop[] = "{\"stop\":true}";
	uint8_t frame[FRAME_HDR_MIN + sizeof(stop) - 1];

	if (w->w_phase != PH_RUNNING && w->w_phase != PH_HANDSHAKE)
		return;
	w->w_phase = PH_STOPPING;
	w->w_deliberate = 1;
	atomic_store(&w->w_dead, 1);
	frame_encode_header(frame, FRAME_CONTROL | FRAME_CODEC_JSON, 0, NULL, 0,
	    sizeof(stop) - 1);
	memcpy(frame + FRAME_HDR_MIN, stop, sizeof(stop) - 1);
	/* Anything it writes to stdout from now on (TcpWorker's stray CLOSE
	 * frame, Q21) is never read: nobody leases a dead worker. */
	if (write(w->w_in, frame, sizeof(frame)) != (ssize_t)sizeof(frame))
		worker_kill(w);
	ev_timer_arm(P.control, &w->w_timer, kill_after_ms);
}

/* Copies the settings reactor threads read, so a reload can swap P.cfg. */
static void
publish_limits(const struct rr_config *cfg)
{
	atomic_store_explicit(&P.max_frame, cfg->max_frame_size,
	    memory_order_relaxed);
	atomic_store_explicit(&P.dynamic, cfg->pool.dynamic.enabled,
	    memory_order_relaxed);
}

/* --- keeping the pool at its size ------------------------------------------ */

static int
in_service(void)
{
	int n = 0;

	/* Only the current generation: during a rolling reload the old
	 * workers serve on but no longer count towards the pool's size. */
	for (struct rr_worker *w = P.all; w; w = w->w_next)
		if ((w->w_phase == PH_HANDSHAKE || w->w_phase == PH_RUNNING) &&
		    !atomic_load(&w->w_dead) && w->w_gen == P.gen)
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
	struct rr_worker *pick = NULL;

	for (struct rr_worker *w = P.all; w; w = w->w_next) {
		if (w->w_phase != PH_RUNNING || atomic_load(&w->w_dead))
			continue;
		if (w->w_gen == P.gen)
			ready++;
		else {
			old++;
			if (pick == NULL || atomic_load(&w->w_holder) == NULL)
				pick = w;
		}
	}
	if (old == 0)
		return;
	if (ready < P.target) {
		take_out_of_service(pick, WS_STOPPING, "replaced by a reload");
		return;
	}
	for (struct rr_worker *w = P.all; w; w = w->w_next)
		if (w->w_gen != P.gen)
			take_out_of_service(w, WS_STOPPING, "replaced by a reload");
}

static void
on_respawn_timer(struct ev *loop, struct ev_timer *t)
{
	P.backoff_done = 1;
	spawn_worker();
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
		if (worker_spawn(why, sizeof(why)) == NULL) {
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
	if (P.nloops < MAX_LOOPS) {
		P.loops[P.nloops] = loop;
		P.loop_waiting[P.nloops++] = waiting;
	}
}

void
pool_unregister_loop(struct ev *loop)
{
	/* The slot stays (w_freed_at indexes by it); NULL counts as a loop
	 * that has moved past every batch. */
	for (int i = 0; i < P.nloops; i++)
		if (P.loops[i] == loop)
			P.loops[i] = NULL;
}

void
pool_waiting_add(int delta)
{
	atomic_fetch_add_explicit(&P.nwaiting, delta, memory_order_seq_cst);
}

/* --- handshake, stderr, exit (control thread) ------------------------------- */

static void
handshake_done(struct rr_worker *w, const char *fail)
{
	char q[LOG_QMAX];

	ev_timer_cancel(P.control, &w->w_timer);
	if (fail != NULL) {
		w->w_phase = PH_STOPPING;	/* dying: reported once */
		log_error("worker failed to start", "worker=%d reason=%s",
		    (int)w->w_pid, log_q(q, sizeof(q), fail, strlen(fail)));
		atomic_store(&w->w_status, WS_ERRORED);
		w->w_deliberate = 1;	/* replaced below, not on exit */
		snprintf(w->w_reason, sizeof(w->w_reason), "%s", fail);
		worker_kill(w);
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
	w->w_phase = PH_RUNNING;
	P.failures = 0;
	buf_consume(&w->w_rbuf, buf_len(&w->w_rbuf));
	atomic_store(&w->w_status, WS_READY);
	log_info("worker started", "worker=%d", (int)w->w_pid);
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
}

/* Makes a readable text of what a worker wrote instead of a frame. */
static void
stdout_text(struct rr_worker *w, const char *what, char *out, size_t outlen)
{
	size_t n = buf_len(&w->w_rbuf), o;
	const uint8_t *p = buf_rptr(&w->w_rbuf);

	o = (size_t)snprintf(out, outlen, "%s: ", what);
	for (size_t i = 0; i < n && o + 5 < outlen && i < 120; i++) {
		uint8_t c = p[i];
		if (c == '\n' || c == '\r')
			out[o++] = ' ';
		else if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

int
pool_read_stdout(struct rr_worker *w)
{
	return pool_read_stdout_ev(w, EV_HUP);
}

int
pool_read_stdout_ev(struct rr_worker *w, uint32_t events)
{
	for (;;) {
		size_t want;
		ssize_t n;

		if (buf_reserve(&w->w_rbuf, 4096, 4096,
		    atomic_load_explicit(&P.max_frame, memory_order_relaxed) +
		    FRAME_HDR_MAX) == -1)
			return -1;
		want = buf_avail(&w->w_rbuf);
		n = read(w->w_out, buf_wptr(&w->w_rbuf), want);
		if (n > 0) {
			w->w_rbuf.wpos += (size_t)n;
			/* A short read drained the pipe; the next write raises a
			 * new edge.  Unless it hung up: then read to the EOF. */
			if ((size_t)n < want && !(events & EV_HUP))
				return 0;
		} else if (n == 0)
			return 1;
		else if (errno == EAGAIN)
			return 0;
		else if (errno != EINTR)
			return -1;
	}
}

static void
handshake_io(struct rr_worker *w)
{
	static const char php_missing[] = "Could not op";
	char why[256];
	struct frame f;
	const char *bad;
	ssize_t rc;
	int64_t pid;
	int st;

	st = pool_read_stdout(w);
	/* php-cli prints "Could not open input file: x" on stdout (3.2). */
	if (buf_len(&w->w_rbuf) >= 12 &&
	    memcmp(buf_rptr(&w->w_rbuf), php_missing, 12) == 0) {
		if (st == 0)
			return;		/* wait for the whole text */
		stdout_text(w, "worker wrote to stdout", why, sizeof(why));
		handshake_done(w, why);
		return;
	}
	rc = frame_decode(buf_rptr(&w->w_rbuf), buf_len(&w->w_rbuf),
	    P.cfg->max_frame_size, &f, &bad);
	if (rc == FRAME_BAD) {
		char what[96];
		snprintf(what, sizeof(what), "invalid frame on stdout (%s)", bad);
		stdout_text(w, what, why, sizeof(why));
		handshake_done(w, why);
		return;
	}
	if (rc == FRAME_NEED_MORE) {
		if (st != 0) {
			if (buf_len(&w->w_rbuf) > 0)
				stdout_text(w, "exited during the handshake",
				    why, sizeof(why));
			else
				snprintf(why, sizeof(why),
				    "exited before answering the pid handshake");
			handshake_done(w, why);
		}
		return;
	}
	if (!(f.flags & FRAME_CONTROL) || json_control((const char *)f.payload,
	    f.len, &pid) != 0) {
		stdout_text(w, "unexpected handshake reply", why, sizeof(why));
		handshake_done(w, why);
		return;
	}
	buf_consume(&w->w_rbuf, (size_t)rc);
	handshake_done(w, NULL);
}

/* Every stdout event of every worker lands here, on whichever loop it is. */
static void
on_worker_out(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_worker *w = io->arg;

	if (atomic_load_explicit(&w->w_owner, memory_order_acquire) != loop)
		return;		/* stale event: the worker moved on */
	if (atomic_load_explicit(&w->w_holder, memory_order_acquire) == loop) {
		P.io_fn(loop, w, events);
		return;
	}
	if (loop == P.control && w->w_phase == PH_HANDSHAKE) {
		handshake_io(w);
		return;
	}
	/*
	 * Output while idle (a stray frame, or its death).  Claim the worker
	 * for a moment and read it now, so the log says so at once; a leaser
	 * that pops it meanwhile waits for the claim to end.  If someone holds
	 * it, the flag makes the next leaser read it instead.
	 */
	{
		struct ev *expected = NULL;
		char why[128];

		if (!atomic_compare_exchange_strong_explicit(&w->w_holder,
		    &expected, PEEKING, memory_order_acq_rel,
		    memory_order_relaxed)) {
			atomic_store_explicit(&w->w_stray, 1,
			    memory_order_release);
			return;
		}
		if (atomic_load_explicit(&w->w_owner, memory_order_acquire) ==
		    loop && !atomic_load(&w->w_dead) &&
		    pool_drain_stray(w, why, sizeof(why)) == -1) {
			/*
			 * It sits in the idle ring and nobody holds it: mark
			 * it dead, say why, and let the control thread's
			 * sweep take it out and kill it.  The claim orders
			 * these writes before whoever pops it next.
			 */
			snprintf(w->w_retire_reason,
			    sizeof(w->w_retire_reason), "%s", why);
			w->w_kill_idle = 1;
			atomic_store(&w->w_status, WS_ERRORED);
			atomic_store(&w->w_dead, 1);
			request_sweep();
		}
		atomic_store_explicit(&w->w_holder, NULL, memory_order_release);
	}
}

/* The unwritten tail of a request can go on: only the holder cares. */
static void
on_worker_in(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_worker *w = io->arg;

	if (atomic_load_explicit(&w->w_holder, memory_order_acquire) == loop &&
	    w->w_in_loop == loop)
		P.io_fn(loop, w, EV_WRITE);
}

static void
log_stderr_line(struct rr_worker *w, const char *s, size_t n)
{
	char q[LOG_QMAX];

	while (n > 0 && (s[n - 1] == '\r'))
		n--;
	log_info("worker output", "worker=%d line=%s", (int)w->w_pid,
	    log_q(q, sizeof(q), s, n));
}

static void
on_stderr(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_worker *w = io->arg;
	char buf[8192];

	for (;;) {
		ssize_t n = read(w->w_err, buf, sizeof(buf));

		if (n > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n') {
					log_stderr_line(w, w->w_errline,
					    w->w_errlen);
					w->w_errlen = 0;
				} else if (w->w_errlen < sizeof(w->w_errline))
					w->w_errline[w->w_errlen++] = buf[i];
				else {
					/* An over-long line goes out in pieces. */
					log_stderr_line(w, w->w_errline,
					    w->w_errlen);
					w->w_errline[0] = buf[i];
					w->w_errlen = 1;
				}
			}
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			/* PHP's Logger writes records without a newline: what
			 * one burst left unterminated is one record. */
			if (w->w_errlen > 0)
				log_stderr_line(w, w->w_errline, w->w_errlen);
			w->w_errlen = 0;
			return;
		}
		/* EOF or error: flush the partial line, stop watching. */
		if (w->w_errlen > 0)
			log_stderr_line(w, w->w_errline, w->w_errlen);
		w->w_errlen = 0;
		ev_del(P.control, &w->w_err_io);
		close(w->w_err);
		w->w_err = -1;
		return;
	}
}

static void
worker_exited(struct rr_worker *w, int status)
{
	struct rr_worker **pp;
	char how[64];
	int was_handshake = w->w_phase == PH_HANDSHAKE;

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "status=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "signal=%s",
		    sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(how, sizeof(how), "status=?");
	if (was_handshake && !w->w_deliberate) {
		/* Read what it printed before dying: PHP's "Could not open". */
		handshake_io(w);
		if (w->w_phase == PH_HANDSHAKE)
			handshake_done(w, "exited before answering the pid handshake");
	}
	if (w->w_err != -1)
		on_stderr(P.control, &w->w_err_io, EV_READ);
	ev_timer_cancel(P.control, &w->w_timer);
	w->w_phase = PH_EXITED;
	atomic_store(&w->w_dead, 1);
	if (!w->w_deliberate)
		atomic_store(&w->w_status, WS_ERRORED);
	{
		char q[LOG_QMAX];
		int lvl = w->w_deliberate ? LOG_INFO : LOG_WARN;
		log_emit(lvl, "worker exited", "worker=%d %s state=%s%s%s",
		    (int)w->w_pid, how,
		    pool_status_str(atomic_load(&w->w_status)),
		    w->w_reason[0] ? " reason=" : "",
		    w->w_reason[0] ? log_q(q, sizeof(q), w->w_reason,
		    strlen(w->w_reason)) : "");
	}
	if (w->w_pidfd != -1) {
		ev_del(P.control, &w->w_pidfd_io);
		close(w->w_pidfd);
		w->w_pidfd = -1;
	}
	if (w->w_err != -1) {
		ev_del(P.control, &w->w_err_io);
		close(w->w_err);
		w->w_err = -1;
	}
	for (pp = &P.all; *pp; pp = &(*pp)->w_next)
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

	/* Only workers without a pidfd: the others are reaped in on_pidfd.
	 * worker_exited() edits the list, so scan again after each one. */
	while (again) {
		again = 0;
		for (struct rr_worker *w = P.all; w; w = w->w_next) {
			int status;

			if (w->w_pidfd != -1 || w->w_phase == PH_EXITED)
				continue;
			if (waitpid(w->w_pid, &status, WNOHANG) == w->w_pid) {
				worker_exited(w, status);
				again = 1;
				break;
			}
		}
	}
}

static void
on_pidfd(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_worker *w = io->arg;
	int status;

	if (waitpid(w->w_pid, &status, WNOHANG) == w->w_pid)
		worker_exited(w, status);
}

static void
on_worker_timer(struct ev *loop, struct ev_timer *t)
{
	struct rr_worker *w = t->arg;
	char why[128];

	if (w->w_phase == PH_HANDSHAKE) {
		snprintf(why, sizeof(why),
		    "no pid handshake within allocate_timeout (%lldms)",
		    (long long)P.cfg->pool.allocate_timeout_ms);
		handshake_done(w, why);
	} else if (w->w_phase == PH_STOPPING) {
		log_warn("worker did not stop in time, killing", "worker=%d",
		    (int)w->w_pid);
		worker_kill(w);
	}
}

static void	grow_dynamic(void);

/* --- retire inbox (reactors -> control) ---------------------------------- */

/*
 * w is dead and was in the idle ring, and nobody has stopped it yet (phase
 * running): a reactor found garbage on its stdout while idle (w_kill_idle),
 * or take_out_of_service() marked it dead while a holder or peeker had it
 * and that one let it go without seeing the mark.  Stop or kill it now.
 */
static void
retire_dead_idle(struct rr_worker *w)
{
	char q[LOG_QMAX];

	if (w->w_phase != PH_RUNNING)
		return;
	w->w_deliberate = 1;
	if (w->w_kill_idle) {
		snprintf(w->w_reason, sizeof(w->w_reason), "%s",
		    w->w_retire_reason);
		log_warn("worker killed", "worker=%d state=%s reason=%s",
		    (int)w->w_pid, pool_status_str(atomic_load(&w->w_status)),
		    log_q(q, sizeof(q), w->w_reason, strlen(w->w_reason)));
		worker_kill(w);
		return;
	}
	atomic_store(&w->w_status, atomic_load(&w->w_retire_status));
	log_info("worker retired", "worker=%d state=%s reason=%s",
	    (int)w->w_pid, pool_status_str(atomic_load(&w->w_status)),
	    log_q(q, sizeof(q), w->w_reason, strlen(w->w_reason)));
	worker_stop(w, KILL_AFTER_MS);
}

/* Control thread: waits out a reactor that is reading w's idle output. */
static void
claim_idle_wait(struct rr_worker *w)
{
	struct ev *expected = NULL;

	while (!atomic_compare_exchange_weak_explicit(&w->w_holder, &expected,
	    PEEKING, memory_order_acq_rel, memory_order_relaxed))
		expected = NULL;
}

/*
 * Control thread: w is idle, live and holds a ring reference that could not
 * be queued (the ring is full, which POOL_MAX should make impossible).
 * Retire it rather than leak it, and say so.
 */
static void
idle_ring_full(struct rr_worker *w)
{
	log_error("idle worker queue is full, retiring the worker",
	    "worker=%d capacity=%d workers=%d", (int)w->w_pid, RING_CAP, P.live);
	claim_idle_wait(w);
	if (w->w_phase == PH_RUNNING) {
		snprintf(w->w_reason, sizeof(w->w_reason),
		    "idle worker queue is full");
		atomic_store(&w->w_retire_status, WS_ERRORED);
		atomic_store(&w->w_dead, 1);
		retire_dead_idle(w);
	}
	P.failures++;		/* its replacement backs off */
	atomic_store_explicit(&w->w_holder, NULL, memory_order_release);
	worker_unref(w);	/* the ring's reference */
}

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
 *    writer of w_dead (this thread) stores it and then issues a seq_cst
 *    fence before it reads the mark; pool_release() pushes, issues a seq_cst
 *    fence, then loads w_dead.  By the fence rules, either the mark covers
 *    the push or the releaser sees w_dead and asks for another sweep.
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
	static struct rr_worker *keep[RING_CAP];
	struct rr_worker *w;
	size_t n = 0, mark;

	P.sweep_due = 0;
	atomic_store(&P.sweep_wanted, 0);
	/* Orders every w_dead store before the mark (see above). */
	atomic_thread_fence(memory_order_seq_cst);
	mark = ring_mark(&idle);
	while ((w = ring_pop_before(&idle, mark)) != NULL) {
		if (!atomic_load(&w->w_dead)) {
			keep[n++] = w;
			continue;
		}
		claim_idle_wait(w);
		retire_dead_idle(w);
		atomic_store_explicit(&w->w_holder, NULL, memory_order_release);
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

static void
on_control_wake(struct ev *loop, void *arg)
{
	struct rr_worker *list, *w;

	pthread_mutex_lock(&inbox_mtx);
	list = inbox;
	inbox = NULL;
	pthread_mutex_unlock(&inbox_mtx);
	while ((w = list) != NULL) {
		char q[LOG_QMAX];
		int kill = w->w_retire == RETIRE_KILL;

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
		if (w->w_phase != PH_EXITED) {
			log_emit(kill ? LOG_WARN : LOG_INFO,
			    kill ? "worker killed" : "worker retired",
			    "worker=%d state=%s reason=%s", (int)w->w_pid,
			    pool_status_str(atomic_load(&w->w_status)),
			    log_q(q, sizeof(q), w->w_reason,
			    strlen(w->w_reason)));
			w->w_deliberate = 1;
			if (kill)
				worker_kill(w);
			else
				worker_stop(w, KILL_AFTER_MS);
		}
		worker_unref(w);	/* the holder's reference */
	}
	sweep_idle_if_due();
	if (atomic_exchange(&P.starved, 0))
		grow_dynamic();
	/* Replace at once (Q4): nobody waits for the old one to exit. */
	spawn_worker();
}

void
pool_retire(struct rr_worker *w, enum worker_status why, int kill,
    const char *reason)
{
	w->w_conn = NULL;
	/* Later events for it on this loop are stale: ignore them. */
	atomic_store_explicit(&w->w_owner, NULL, memory_order_release);
	if (w->w_in_loop != NULL) {
		ev_del(w->w_in_loop, &w->w_in_io);
		w->w_in_loop = NULL;
	}
	atomic_store(&w->w_status, why);
	atomic_store(&w->w_dead, 1);
	snprintf(w->w_retire_reason, sizeof(w->w_retire_reason), "%s", reason);
	to_control(w, kill ? RETIRE_KILL : RETIRE_STOP);
}

/* --- lease / release (reactor threads) -------------------------------------- */

/*
 * Reads what a worker wrote while nobody asked it anything.  Whole frames are
 * logged and dropped.  Returns 0 when the worker is clean, -1 when it must go
 * (EOF, garbage, or half a frame that would be mistaken for an answer).
 */
void
pool_log_stray(const struct rr_worker *w, const struct frame *f)
{
	char q[LOG_QMAX];
	size_t ctxlen = f->nopts == 1 && f->opts[0] <= f->len ? f->opts[0] : 0;

	log_warn("frame from worker with no request in flight, dropped",
	    "worker=%d flags=0x%02x ctx=%s bytes=%u", (int)w->w_pid, f->flags,
	    log_q(q, sizeof(q), (const char *)f->payload, ctxlen), f->len);
}

int
pool_drain_stray(struct rr_worker *w, char *why, size_t whylen)
{
	int st = pool_read_stdout(w);

	while (buf_len(&w->w_rbuf) > 0) {
		struct frame f;
		const char *bad;
		ssize_t rc = frame_decode(buf_rptr(&w->w_rbuf),
		    buf_len(&w->w_rbuf), atomic_load_explicit(&P.max_frame,
		    memory_order_relaxed), &f, &bad);

		if (rc == FRAME_BAD) {
			snprintf(why, whylen, "invalid frame on stdout (%s)", bad);
			return -1;
		}
		if (rc == FRAME_NEED_MORE) {
			snprintf(why, whylen,
			    "partial frame with no request in flight");
			return -1;
		}
		/* From now on every answer of this worker is fenced (relay.c). */
		atomic_store(&w->w_fence, 1);
		pool_log_stray(w, &f);
		buf_consume(&w->w_rbuf, (size_t)rc);
	}
	if (st != 0) {
		snprintf(why, whylen, st == 1 ? "stdout closed" :
		    "stdout read error");
		return -1;
	}
	return 0;
}

struct rr_worker *
pool_lease(struct ev *loop)
{
	struct rr_worker *w;
	char why[128];

	while ((w = ring_pop(&idle)) != NULL) {
		struct ev *owner;

		struct ev *expected = NULL;

		/* Wait out a loop that is reading its stray output. */
		while (!atomic_compare_exchange_weak_explicit(&w->w_holder,
		    &expected, loop, memory_order_acq_rel, memory_order_relaxed))
			expected = NULL;
		/* The ring's reference becomes the holder's, unless it is
		 * dead: then the control thread takes it (and stops it if
		 * nobody has). */
		if (atomic_load_explicit(&w->w_dead, memory_order_acquire)) {
			to_control(w, RETIRE_DROP_IDLE);
			atomic_store_explicit(&w->w_holder, NULL,
			    memory_order_release);
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
		if (pool_drain_stray(w, why, sizeof(why)) == -1) {
			pool_retire(w, WS_ERRORED, 1, why);
			continue;
		}
		atomic_store_explicit(&w->w_status, WS_WORKING,
		    memory_order_relaxed);
		return w;
	}
	return NULL;
}

int
pool_ping(struct rr_worker *w)
{
	/* The pipe is empty (the worker answered), so this is one write. */
	return write(w->w_in, P.rr_pid_req, P.rr_pid_req_len) ==
	    (ssize_t)P.rr_pid_req_len ? 0 : -1;
}

int
pool_finish(struct rr_worker *w)
{
	uint64_t n = atomic_load_explicit(&w->w_execs, memory_order_relaxed);

	w->w_conn = NULL;
	/* seq_cst: pairs with take_out_of_service() (see there). */
	if (atomic_load(&w->w_dead)) {
		pool_retire(w, atomic_load(&w->w_retire_status), 0, w->w_reason);
		return 0;
	}
	if (w->w_max_execs != 0 && n >= w->w_max_execs) {
		pool_retire(w, WS_MAX_JOBS, 0, "max_jobs reached");
		return 0;
	}
	return 1;
}

void
pool_release(struct rr_worker *w)
{
	atomic_store_explicit(&w->w_status, WS_READY, memory_order_relaxed);
	atomic_store_explicit(&w->w_holder, NULL, memory_order_release);
	if (ring_push(&idle, w) == -1) {
		/* Never with POOL_MAX < RING_CAP; if it happens, say so and
		 * retire the worker instead of leaking it. */
		struct ev *expected = NULL;

		log_error("idle worker queue is full, retiring the worker",
		    "worker=%d capacity=%d", (int)w->w_pid, RING_CAP);
		while (!atomic_compare_exchange_weak_explicit(&w->w_holder,
		    &expected, PEEKING, memory_order_acq_rel,
		    memory_order_relaxed))
			expected = NULL;
		pool_retire(w, WS_ERRORED, 0, "idle worker queue is full");
		return;
	}
	/*
	 * If the control thread marked it dead while we let go, its sweep may
	 * have missed this push: ask for another (idle_sweep() explains the
	 * fences).
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->w_dead, memory_order_relaxed))
		request_sweep();
	notify_waiters();
}

static void	on_watch_tick(struct ev *loop, struct ev_timer *t);
static void	on_shrink_timer(struct ev *loop, struct ev_timer *t);

/* --- start / stop ------------------------------------------------------------- */

int
pool_start(struct ev *control, const struct rr_config *cfg, pool_io_fn *io_fn,
    pool_ready_fn *ready_cb, char *err, size_t errlen)
{
	char body[32];
	int n;

	if (ring_init(&idle, RING_CAP) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	P.cfg = cfg;
	publish_limits(cfg);
	P.control = control;
	P.io_fn = io_fn;
	P.ready_cb = ready_cb;
	P.target = (int)cfg->pool.num_workers;
	ev_timer_init(&P.respawn_timer, on_respawn_timer, NULL);
	ev_timer_init(&P.watch_timer, on_watch_tick, NULL);
	ev_timer_init(&P.shrink_timer, on_shrink_timer, NULL);
	if (cfg->pool.supervisor.enabled && cfg->pool.supervisor.watch_tick_ms > 0)
		ev_timer_arm(control, &P.watch_timer,
		    cfg->pool.supervisor.watch_tick_ms);
	ev_set_wake(control, on_control_wake, NULL);
	srandom((unsigned)getpid() ^ (unsigned)ev_clock_ms());
	if ((P.envp = build_env(cfg)) == NULL) {
		snprintf(err, errlen, "cannot build the worker environment");
		return -1;
	}
	/* The pid request (V4a) carries our own pid: PHP only needs it > 0. */
	n = snprintf(body, sizeof(body), "{\"pid\":%d}", (int)getpid());
	P.rr_pid_req_len = frame_encode_header((uint8_t *)P.rr_pid_req,
	    FRAME_CONTROL | FRAME_CODEC_JSON, 0, NULL, 0, (uint32_t)n);
	memcpy(P.rr_pid_req + P.rr_pid_req_len, body, (size_t)n);
	P.rr_pid_req_len += (size_t)n;
	P.starting = P.target;
	/* All spawns first: the handshakes then run in parallel. */
	for (int i = 0; i < P.target; i++) {
		char why[256];
		if (worker_spawn(why, sizeof(why)) == NULL) {
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
	for (struct rr_worker *w = P.all; w; w = w->w_next) {
		if (w->w_phase == PH_HANDSHAKE) {
			w->w_deliberate = 1;
			ev_timer_cancel(P.control, &w->w_timer);
			w->w_phase = PH_STOPPING;	/* not a failed start */
			worker_kill(w);
		} else if (w->w_phase == PH_RUNNING) {
			atomic_store(&w->w_status, WS_STOPPING);
			worker_stop(w, kill_after_ms);
		} else if (w->w_phase == PH_STOPPING)
			ev_timer_arm(P.control, &w->w_timer, kill_after_ms);
	}
	if (P.live == 0 && done_cb)
		done_cb();
}

void
pool_kill_all(void)
{
	for (struct rr_worker *w = P.all; w; w = w->w_next)
		if (w->w_phase != PH_EXITED && w->w_pid > 0)
			kill(-w->w_pid, SIGKILL);
}

/* --- operating the pool (control thread) ------------------------------------ */

static int
claim_idle(struct rr_worker *w)
{
	struct ev *expected = NULL;

	return atomic_compare_exchange_strong(&w->w_holder, &expected, PEEKING);
}

static void
unclaim(struct rr_worker *w)
{
	atomic_store_explicit(&w->w_holder, NULL, memory_order_release);
}

/*
 * Takes w out of service for why.  An idle worker is stopped now (it stays in
 * the idle ring, dead, until a leaser drops it); a busy one is marked dead and
 * its holder retires it when the exchange ends (pool_finish).  The order
 * matters: w_dead is stored before the second claim attempt, and the holder
 * loads w_dead before it lets go, so one side always sees the other (seq_cst).
 */
static int
take_out_of_service(struct rr_worker *w, enum worker_status why,
    const char *reason)
{
	if (w->w_phase == PH_HANDSHAKE) {
		w->w_deliberate = 1;
		atomic_store(&w->w_dead, 1);
		snprintf(w->w_reason, sizeof(w->w_reason), "%s", reason);
		ev_timer_cancel(P.control, &w->w_timer);
		w->w_phase = PH_STOPPING;	/* not a failed start */
		worker_kill(w);
		return 1;
	}
	if (w->w_phase != PH_RUNNING || atomic_load(&w->w_dead))
		return 0;
	snprintf(w->w_reason, sizeof(w->w_reason), "%s", reason);
	atomic_store(&w->w_retire_status, why);
	/* Dead in the ring, or a holder lets go unaware: sweep. */
	P.sweep_due = 1;
	if (!claim_idle(w)) {
		atomic_store(&w->w_dead, 1);
		if (!claim_idle(w))
			return 1;	/* its holder retires it */
	}
	atomic_store(&w->w_dead, 1);
	atomic_store(&w->w_status, why);
	log_info("worker retired", "worker=%d state=%s reason=\"%s\"",
	    (int)w->w_pid, pool_status_str(why), reason);
	worker_stop(w, KILL_AFTER_MS);
	unclaim(w);
	return 1;
}

void
pool_reset(const char *why)
{
	log_info("resetting workers", "reason=\"%s\" workers=%d", why,
	    in_service());
	for (struct rr_worker *w = P.all; w; w = w->w_next)
		take_out_of_service(w, WS_STOPPING, why);
	sweep_idle_if_due();
	spawn_worker();
}

void
pool_add_worker(void)
{
	if (P.target >= POOL_MAX) {
		log_warn("worker not added: the pool is at its maximum",
		    "workers=%d", P.target);
		return;
	}
	P.target++;
	spawn_worker();
}

void
pool_remove_worker(void)
{
	struct rr_worker *pick = NULL;

	if (in_service() <= 1)
		return;		/* RR: removing the last worker is a no-op */
	for (struct rr_worker *w = P.all; w; w = w->w_next) {
		if (w->w_phase != PH_RUNNING || atomic_load(&w->w_dead))
			continue;
		pick = w;
		if (atomic_load(&w->w_holder) == NULL)
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
	char **envp = build_env(cfg);

	if (envp == NULL) {
		snprintf(err, errlen, "cannot build the worker environment");
		return -1;
	}
	for (char **e = P.envp; e && *e; e++)
		free(*e);
	free(P.envp);
	P.envp = envp;
	P.cfg = cfg;
	publish_limits(cfg);
	P.target = (int)cfg->pool.num_workers + P.extra;
	ev_timer_cancel(P.control, &P.watch_timer);
	if (cfg->pool.supervisor.enabled && cfg->pool.supervisor.watch_tick_ms > 0)
		ev_timer_arm(P.control, &P.watch_timer,
		    cfg->pool.supervisor.watch_tick_ms);
	P.gen++;
	log_info("rolling reload of workers", "workers=%d", P.target);
	P.failures = 0;
	spawn_worker();
	return 0;
}

static uint64_t
proc_rss(pid_t pid)
{
	char path[64];
	unsigned long long size = 0, rss = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(fp, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(fp);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* CPU time over wall time since start, in percent. */
static double
proc_cpu(const struct rr_worker *w, int64_t now_ns)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	double wall = (double)(now_ns - w->w_created_ns) / 1e9;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)w->w_pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields after the ")" that closes comm: state is field 3, utime 14. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2 || wall <= 0)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) / wall * 100.0;
}

size_t
pool_snapshot(struct rpc_worker_state *out, size_t max)
{
	struct timespec ts;
	int64_t now_ns;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	for (struct rr_worker *w = P.all; w && n < max; w = w->w_next) {
		int st = atomic_load(&w->w_status);

		if (w->w_phase == PH_EXITED)
			continue;
		/* A held worker between exchanges still reads "working". */
		out[n].pid = w->w_pid;
		out[n].status = st;
		out[n].num_execs = atomic_load(&w->w_execs);
		out[n].created = w->w_created_ns;
		out[n].memory = proc_rss(w->w_pid);
		out[n].cpu = proc_cpu(w, now_ns);
		out[n].status_str = pool_status_str(st);
		n++;
	}
	return n;
}

/* The supervisor (3.10): ttl, idle_ttl (from spawn for unused workers, Q7),
 * max_worker_memory.  exec_ttl is a per-event timer in conn.c. */
static void
on_watch_tick(struct ev *loop, struct ev_timer *t)
{
	const struct rr_supervisor_conf *sv = &P.cfg->pool.supervisor;
	int64_t now = ev_now(loop);
	char why[96];

	for (struct rr_worker *w = P.all; w; w = w->w_next) {
		int64_t last;

		if (w->w_phase != PH_RUNNING || atomic_load(&w->w_dead))
			continue;
		last = atomic_load(&w->w_last_exec_ms);
		if (last < w->w_spawned_ms)
			last = w->w_spawned_ms;
		if (sv->ttl_ms > 0 && now - w->w_spawned_ms >= sv->ttl_ms) {
			snprintf(why, sizeof(why), "ttl reached (%lldms)",
			    (long long)sv->ttl_ms);
			take_out_of_service(w, WS_TTL, why);
		} else if (sv->idle_ttl_ms > 0 && now - last >= sv->idle_ttl_ms &&
		    atomic_load(&w->w_holder) == NULL) {
			snprintf(why, sizeof(why), "idle_ttl reached (%lldms)",
			    (long long)sv->idle_ttl_ms);
			/* Only while idle: a busy worker is not idle. */
			if (claim_idle(w)) {
				unclaim(w);
				take_out_of_service(w, WS_IDLE_TTL, why);
			}
		} else if (sv->max_worker_memory_mb > 0 &&
		    proc_rss(w->w_pid) >= sv->max_worker_memory_mb << 20) {
			snprintf(why, sizeof(why), "max_worker_memory reached "
			    "(%lluMiB)", (unsigned long long)sv->max_worker_memory_mb);
			take_out_of_service(w, WS_MAX_MEMORY, why);
		}
	}
	sweep_idle_if_due();
	spawn_worker();
	ev_timer_arm(loop, t, sv->watch_tick_ms);
}

/* --- dynamic allocator (3.10) ------------------------------------------------ */

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
	int64_t now = ev_now(P.control);
	int add;

	if (!dy->enabled || P.stopping)
		return;
	/* A trigger postpones the shrink; at most one burst a second. */
	ev_timer_arm(P.control, &P.shrink_timer, dy->idle_timeout_ms);
	if (now - P.last_burst < 1000)
		return;
	add = (int)dy->spawn_rate;
	/* max_workers is unbounded in the config: compare without casts. */
	if ((long long)P.extra + add > (long long)dy->max_workers)
		add = (int)((long long)dy->max_workers - P.extra);
	if (P.target + add > POOL_MAX)
		add = POOL_MAX - P.target;
	if (add <= 0)
		return;
	P.last_burst = now;
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
	int n = (int)dy->spawn_rate;

	if (n > P.extra)
		n = P.extra;
	for (int i = 0; i < n; i++)
		pool_remove_worker();
	P.extra -= n;
	if (n > 0)
		log_info("dynamic allocator removes workers", "removed=%d "
		    "extra=%d", n, P.extra);
	if (P.extra > 0)
		ev_timer_arm(loop, t, dy->idle_timeout_ms);
}
