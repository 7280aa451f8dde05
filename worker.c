/*
 * worker.c - one PHP worker process: its environment, posix_spawn, the pid
 * handshake, stderr lines, its exit (pidfd or SIGCHLD), the stop command and
 * SIGKILL, its references and the recycling of its struct.
 *
 * Threads: everything here runs on the control thread, except what a
 * reactor that holds (or peeks at) a worker calls: worker_read_stdout,
 * worker_drain_stray, worker_log_stray, worker_ping, and the reference
 * counting.  The pool (pool.c) decides when to spawn, stop and replace;
 * this file reports back through struct worker_hooks and never calls the
 * pool.
 *
 * Worker structs are recycled through a free list and never freed while the
 * server runs, so a stale epoll event can only point at a valid struct; a
 * struct is reused only after every loop has finished the batch of events
 * it was in when the last reference went.
 */
#include "worker.h"

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
#include "sig.h"

#ifndef RRTCP_VERSION
#define RRTCP_VERSION	"0.1.0"
#endif

#define STOP_PAYLOAD	"{\"stop\":true}"

/*
 * One worker's stderr may not hold the control loop: each wake-up reads at
 * most ERR_BUDGET bytes of it, and logs at most logs.worker_lines_per_second
 * lines a second of it on average, in bursts of up to ERR_BURST_S seconds'
 * worth; the rest is counted and reported once a second.
 */
#define ERR_BUDGET	65536
#define ERR_BURST_S	5
#define ERR_REPORT_MS	1000
#define ERR_EXIT_BUDGET	(1 << 20)	/* the default pipe-max-size */
#define ERR_SLOW_MS	10	/* between budgets while lines are dropped */

static struct {
	struct ev		*control;
	struct worker_hooks	 hooks;
	const struct rr_config	*cfg;
	char			**envp;
	uint8_t			 pid_req[64];	/* V4a with our pid */
	size_t			 pid_req_len;
	uint8_t			 stop_req[FRAME_HDR_MIN + sizeof(STOP_PAYLOAD)];
	size_t			 stop_req_len;	/* V5, the one stop command */
	_Atomic size_t		 max_frame;	/* what reactors need of cfg */
	int			 warned_pidfd;
	int			 structs;	/* ever allocated */
	struct ev		*loops[WORKER_MAX_LOOPS];
	int			 nloops;
} W;

static pthread_mutex_t	 free_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct worker	*free_list;

static const char *const status_names[] = {
	"inactive", "ready", "working", "invalid", "stopping", "stopped",
	"destroyed", "maxJobsReached", "errored", "idleTTLReached",
	"ttlReached", "maxMemoryReached", "execTTLReached"
};

const char *
worker_status_str(int status)
{
	if (status < 0 || status > WS_EXEC_TTL)
		return "undefined";
	return status_names[status];
}

static const char *const phase_names[] = {
	"free", "handshake", "running", "stopping", "killed", "exited"
};

const char *
worker_phase_str(enum worker_phase phase)
{
	if ((unsigned)phase > WORKER_EXITED)
		return "undefined";
	return phase_names[phase];
}

void
worker_set_phase(struct worker *w, enum worker_phase to)
{
	log_debug("worker phase", "worker=%d from=%s to=%s", (int)w->pub.w_pid,
	    worker_phase_str(w->w_phase), worker_phase_str(to));
	w->w_phase = to;
}

void
worker_setup(struct ev *control, const struct worker_hooks *h)
{
	char body[32];
	int n;

	W.control = control;
	W.hooks = *h;
	/* The pid request (V4a) carries our own pid: PHP only needs it > 0. */
	n = snprintf(body, sizeof(body), "{\"pid\":%d}", (int)getpid());
	W.pid_req_len = frame_encode_header(W.pid_req,
	    FRAME_CONTROL | FRAME_CODEC_JSON, 0, NULL, 0, (uint32_t)n);
	memcpy(W.pid_req + W.pid_req_len, body, (size_t)n);
	W.pid_req_len += (size_t)n;
	W.stop_req_len = frame_encode_header(W.stop_req,
	    FRAME_CONTROL | FRAME_CODEC_JSON, 0, NULL, 0,
	    sizeof(STOP_PAYLOAD) - 1);
	memcpy(W.stop_req + W.stop_req_len, STOP_PAYLOAD,
	    sizeof(STOP_PAYLOAD) - 1);
	W.stop_req_len += sizeof(STOP_PAYLOAD) - 1;
}

/* --- references and recycling --------------------------------------------- */

void
worker_register_loop(struct ev *loop)
{
	if (W.nloops < WORKER_MAX_LOOPS)
		W.loops[W.nloops++] = loop;
}

void
worker_unregister_loop(struct ev *loop)
{
	/* The slot stays (w_freed_at indexes by it); NULL counts as a loop
	 * that has moved past every batch. */
	for (int i = 0; i < W.nloops; i++)
		if (W.loops[i] == loop)
			W.loops[i] = NULL;
}

void
worker_ref(struct worker *w)
{
	atomic_fetch_add_explicit(&w->w_refs, 1, memory_order_relaxed);
}

static void
free_put(struct worker *w)
{
	pthread_mutex_lock(&free_mtx);
	w->w_next = free_list;
	free_list = w;
	pthread_mutex_unlock(&free_mtx);
}

void
worker_unref(struct worker *w)
{
	/* acq_rel: the last owner must see every other owner's writes. */
	if (atomic_fetch_sub_explicit(&w->w_refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Closing removes the fds from whatever epoll set holds them. */
	close(w->pub.w_in);
	close(w->pub.w_out);
	buf_free(&w->pub.w_rbuf);
	buf_free(&w->pub.w_wbuf);
	atomic_store_explicit(&w->w_owner, NULL, memory_order_release);
	/* Reused only after every loop finished the batch it is in now: a
	 * stale event from that batch may still look at this struct. */
	for (int i = 0; i < W.nloops; i++)
		w->w_freed_at[i] = W.loops[i] ? ev_iterations(W.loops[i]) : 0;
	w->w_freed_at[W.nloops] = ev_iterations(W.control);
	free_put(w);
	/*
	 * A loop asleep in epoll_wait has no batch in flight, but its counter
	 * moves only when it wakes: on a quiet server it may sleep for hours,
	 * and every spawn would allocate a new struct.  Nudge every loop once.
	 */
	for (int i = 0; i < W.nloops; i++)
		if (W.loops[i] != NULL)
			ev_wake(W.loops[i]);
	ev_wake(W.control);
}

static int
grace_over(const struct worker *w)
{
	for (int i = 0; i < W.nloops; i++)
		if (W.loops[i] != NULL &&
		    ev_iterations(W.loops[i]) <= w->w_freed_at[i])
			return 0;
	return ev_iterations(W.control) > w->w_freed_at[W.nloops];
}

/* --- environment (rrtcp-protocol(7) 3.1) ---------------------------------------- */

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

int
worker_configure(const struct rr_config *cfg)
{
	char **envp = build_env(cfg);

	if (envp == NULL)
		return -1;
	for (char **e = W.envp; e && *e; e++)
		free(*e);
	free(W.envp);
	W.envp = envp;
	W.cfg = cfg;
	atomic_store_explicit(&W.max_frame, cfg->max_frame_size,
	    memory_order_relaxed);
	return 0;
}

size_t
pool_max_frame(void)
{
	return atomic_load_explicit(&W.max_frame, memory_order_relaxed);
}

/* --- spawning ------------------------------------------------------------- */

static void	on_stderr(struct ev *loop, struct ev_io *io, uint32_t ev);
static void	on_stderr_more(struct ev *loop, struct ev_timer *t);
static void	on_stderr_report(struct ev *loop, struct ev_timer *t);
static void	on_pidfd(struct ev *loop, struct ev_io *io, uint32_t ev);
static void	on_worker_timer(struct ev *loop, struct ev_timer *t);

static struct worker *
worker_alloc(void)
{
	struct worker *w = NULL;

	pthread_mutex_lock(&free_mtx);
	for (struct worker **pp = &free_list; *pp; pp = &(*pp)->w_next)
		if (grace_over(*pp)) {
			w = *pp;
			*pp = w->w_next;
			break;
		}
	pthread_mutex_unlock(&free_mtx);
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return NULL;
		log_debug("worker struct allocated", "structs=%d", ++W.structs);
		/* Set once: a stale epoll event may read these at any time. */
		w->w_out_io.fn = W.hooks.on_out;
		w->w_out_io.arg = w;
		w->pub.w_in_io.fn = W.hooks.on_in;
		w->pub.w_in_io.arg = w;
	}
	/* Keep the atomics' identity; reset everything else. */
	w->pub.w_pid = -1;
	w->w_pidfd = w->pub.w_in = w->pub.w_out = w->w_err = -1;
	w->pub.w_in_loop = NULL;
	atomic_store(&w->pub.w_holder, NULL);
	atomic_store(&w->pub.w_status, WS_INACTIVE);
	atomic_store(&w->w_refs, 0);
	atomic_store(&w->w_stray, 0);
	atomic_store(&w->pub.w_dead, 0);
	atomic_store(&w->pub.w_fence, 0);
	atomic_store(&w->pub.w_execs, 0);
	atomic_store(&w->pub.w_last_exec_ms, 0);
	w->w_max_execs = 0;
	memset(&w->pub.w_lease, 0, sizeof(w->pub.w_lease));
	ev_timer_init(&w->pub.w_lease.ls_timer, NULL, w);	/* relay.c's */
	worker_set_phase(w, WORKER_FREE);
	w->w_deliberate = 0;
	w->w_retire = RETIRE_NONE;
	w->w_kill_idle = 0;
	w->w_errlen = 0;
	ev_timer_init(&w->w_err_more, on_stderr_more, w);
	ev_timer_init(&w->w_err_report, on_stderr_report, w);
	w->w_err_dropped = 0;
	w->w_reason[0] = '\0';
	w->w_next = w->w_inbox_next = NULL;
	memset(&w->pub.w_rbuf, 0, sizeof(w->pub.w_rbuf));
	memset(&w->pub.w_wbuf, 0, sizeof(w->pub.w_wbuf));
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
	if (W.cfg->pool.debug)
		return 1;	/* debug: a fresh worker for every event */
	if (n == 0)
		return 0;
	return n + n * (uint64_t)(random() % 15) / 100;
}

/*
 * Starts one worker process and its handshake.  Returns the worker (holding
 * the process reference), or NULL with why set (spawn errors such as a
 * missing binary).
 */
struct worker *
worker_spawn(unsigned gen, char *why, size_t whylen)
{
	const struct rr_config *cfg = W.cfg;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, all;
	struct timespec ts;
	struct worker *w;
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
	    cfg->pool.command, W.envp);
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
	w->pub.w_pid = pid;
	w->pub.w_in = in[1];
	w->pub.w_out = out[0];
	w->w_err = err[0];
	set_nonblock(w->pub.w_in);
	set_nonblock(w->pub.w_out);
	set_nonblock(w->w_err);
	w->w_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	w->w_created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	w->w_spawned_ms = ev_now(W.control);
	w->w_err_refill_ms = w->w_spawned_ms;
	w->w_err_tokens = (int64_t)cfg->worker_lines * ERR_BURST_S * 1000;
	w->w_max_execs = jittered_max_jobs(cfg->pool.max_jobs);
	worker_set_phase(w, WORKER_HANDSHAKE);
	w->w_gen = gen;
	atomic_store(&w->w_refs, 1);	/* the process reference */
	atomic_store(&w->w_owner, W.control);
	ev_add(W.control, &w->w_err_io, w->w_err, EV_READ | EV_EDGE,
	    on_stderr, w);
	if (w->w_pidfd != -1)
		ev_add(W.control, &w->w_pidfd_io, w->w_pidfd, EV_READ,
		    on_pidfd, w);
	else if (!W.warned_pidfd) {
		/* Old kernels, valgrind, seccomp: fall back to SIGCHLD. */
		W.warned_pidfd = 1;
		log_info("pidfd_open unavailable, reaping workers on SIGCHLD",
		    "error=\"%s\"", strerror(errno));
	}
	w->w_out_io.fd = w->pub.w_out;
	ev_attach(W.control, &w->w_out_io, EV_READ | EV_EDGE);
	ev_timer_arm(W.control, &w->w_timer, cfg->pool.allocate_timeout_ms);
	/* 20 bytes into an empty pipe: one write, never partial. */
	if (write(w->pub.w_in, W.pid_req, W.pid_req_len) !=
	    (ssize_t)W.pid_req_len)
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
	free_put(w);
	return NULL;
}

/* Sends SIGKILL to the worker (pidfd: no pid-reuse race) and says why. */
void
worker_kill(struct worker *w, const char *why)
{
	char q[LOG_QMAX];

	if (w->w_phase == WORKER_EXITED || w->w_phase == WORKER_KILLED)
		return;
	log_warn("worker killed", "worker=%d state=%s reason=%s",
	    (int)w->pub.w_pid, worker_status_str(atomic_load(
	    &w->pub.w_status)), log_q(q, sizeof(q), why, strlen(why)));
	worker_set_phase(w, WORKER_KILLED);
	atomic_store(&w->pub.w_dead, 1);
	if (w->w_pidfd != -1)
		syscall(SYS_pidfd_send_signal, w->w_pidfd, SIGKILL, NULL, 0);
	else
		kill(w->pub.w_pid, SIGKILL);
}

/* Sends the stop command (V5) and arms the SIGKILL fallback. */
void
worker_stop(struct worker *w, int64_t kill_after_ms)
{
	if (w->w_phase != WORKER_RUNNING && w->w_phase != WORKER_HANDSHAKE)
		return;
	worker_set_phase(w, WORKER_STOPPING);
	w->w_deliberate = 1;
	atomic_store(&w->pub.w_dead, 1);
	/* Anything it writes to stdout from now on (TcpWorker's stray CLOSE
	 * frame, Q21) is never read: nobody leases a dead worker. */
	if (write(w->pub.w_in, W.stop_req, W.stop_req_len) !=
	    (ssize_t)W.stop_req_len) {
		worker_kill(w, "cannot write the stop command");
		return;
	}
	ev_timer_arm(W.control, &w->w_timer, kill_after_ms);
}

/* --- handshake (control loop) --------------------------------------------- */

/*
 * The handshake ended: fail is NULL or why it failed.  A worker that failed
 * is killed unless it has already exited (exiting), then the pool decides.
 */
static void
handshake_end(struct worker *w, const char *fail, int exiting)
{
	char q[LOG_QMAX];

	ev_timer_cancel(W.control, &w->w_timer);
	if (fail != NULL) {
		log_error("worker failed to start", "worker=%d reason=%s",
		    (int)w->pub.w_pid, log_q(q, sizeof(q), fail, strlen(fail)));
		atomic_store(&w->pub.w_status, WS_ERRORED);
		atomic_store(&w->pub.w_dead, 1);	/* not in service */
		w->w_deliberate = 1;	/* replaced now, not on exit */
		snprintf(w->w_reason, sizeof(w->w_reason), "%s", fail);
		if (!exiting)
			worker_kill(w, fail);
		W.hooks.handshake(w, fail);
		return;
	}
	worker_set_phase(w, WORKER_RUNNING);
	buf_consume(&w->pub.w_rbuf, buf_len(&w->pub.w_rbuf));
	atomic_store(&w->pub.w_status, WS_READY);
	log_info("worker started", "worker=%d", (int)w->pub.w_pid);
	W.hooks.handshake(w, NULL);
}

/* Makes a readable text of what a worker wrote instead of a frame. */
static void
stdout_text(struct worker *w, const char *what, char *out, size_t outlen)
{
	size_t n = buf_len(&w->pub.w_rbuf), o;
	const uint8_t *p = buf_rptr(&w->pub.w_rbuf);

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
worker_read_stdout(struct worker *w, uint32_t events)
{
	struct rr_buf *b = &w->pub.w_rbuf;

	for (;;) {
		size_t want;
		ssize_t n;

		if (buf_reserve(b, 4096, 4096, atomic_load_explicit(
		    &W.max_frame, memory_order_relaxed) + FRAME_HDR_MAX) == -1)
			return -1;
		want = buf_avail(b);
		n = read(w->pub.w_out, buf_wptr(b), want);
		if (n > 0) {
			b->wpos += (size_t)n;
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
handshake_read(struct worker *w, int exiting)
{
	static const char php_missing[] = "Could not op";
	struct rr_buf *b = &w->pub.w_rbuf;
	char why[256];
	struct frame f;
	const char *bad;
	ssize_t rc;
	int64_t pid;
	int st;

	st = worker_read_stdout(w, EV_HUP);
	/* php-cli prints "Could not open input file: x" on stdout (3.2). */
	if (buf_len(b) >= 12 && memcmp(buf_rptr(b), php_missing, 12) == 0) {
		if (st == 0)
			return;		/* wait for the whole text */
		stdout_text(w, "worker wrote to stdout", why, sizeof(why));
		handshake_end(w, why, exiting);
		return;
	}
	rc = frame_decode(buf_rptr(b), buf_len(b), W.cfg->max_frame_size, &f,
	    &bad);
	if (rc == FRAME_BAD) {
		char what[96];
		snprintf(what, sizeof(what), "invalid frame on stdout (%s)", bad);
		stdout_text(w, what, why, sizeof(why));
		handshake_end(w, why, exiting);
		return;
	}
	if (rc == FRAME_NEED_MORE) {
		if (st != 0) {
			if (buf_len(b) > 0)
				stdout_text(w, "exited during the handshake",
				    why, sizeof(why));
			else
				snprintf(why, sizeof(why),
				    "exited before answering the pid handshake");
			handshake_end(w, why, exiting);
		}
		return;
	}
	if (!(f.flags & FRAME_CONTROL) || json_control((const char *)f.payload,
	    f.len, &pid) != 0) {
		stdout_text(w, "unexpected handshake reply", why, sizeof(why));
		handshake_end(w, why, exiting);
		return;
	}
	buf_consume(b, (size_t)rc);
	handshake_end(w, NULL, exiting);
}

void
worker_handshake_io(struct worker *w)
{
	handshake_read(w, 0);
}

/* --- stderr, exit, timers (control loop) ---------------------------------- */

/* Logs the lines dropped since the last report, if any. */
static void
report_dropped(struct worker *w)
{
	ev_timer_cancel(W.control, &w->w_err_report);
	if (w->w_err_dropped == 0)
		return;
	log_warn("worker output dropped", "worker=%d dropped=%llu "
	    "lines_per_second=%llu", (int)w->pub.w_pid,
	    (unsigned long long)w->w_err_dropped,
	    (unsigned long long)W.cfg->worker_lines);
	w->w_err_dropped = 0;
}

static void
on_stderr_report(struct ev *loop, struct ev_timer *t)
{
	report_dropped(t->arg);
}

/* A token bucket per worker: rate lines a second, ERR_BURST_S s of burst. */
static int
line_allowed(struct worker *w)
{
	int64_t rate = (int64_t)W.cfg->worker_lines, now = ev_now(W.control);
	int64_t cap = rate * ERR_BURST_S * 1000;

	if (rate == 0)
		return 1;
	if (now > w->w_err_refill_ms) {
		/* rate lines a second is rate thousandths of a line a ms */
		w->w_err_tokens += (now - w->w_err_refill_ms) * rate;
		if (w->w_err_tokens > cap)
			w->w_err_tokens = cap;
		w->w_err_refill_ms = now;
	}
	if (w->w_err_tokens >= 1000) {
		w->w_err_tokens -= 1000;
		return 1;
	}
	if (w->w_err_dropped++ == 0)
		ev_timer_arm(W.control, &w->w_err_report, ERR_REPORT_MS);
	return 0;
}

static void
log_stderr_line(struct worker *w, const char *s, size_t n)
{
	char q[LOG_QMAX];

	if (!line_allowed(w))
		return;
	while (n > 0 && (s[n - 1] == '\r'))
		n--;
	log_info("worker output", "worker=%d line=%s", (int)w->pub.w_pid,
	    log_q(q, sizeof(q), s, n));
}

static void
stderr_close(struct worker *w)
{
	if (w->w_errlen > 0)
		log_stderr_line(w, w->w_errline, w->w_errlen);
	w->w_errlen = 0;
	ev_timer_cancel(W.control, &w->w_err_more);
	ev_del(W.control, &w->w_err_io);
	close(w->w_err);
	w->w_err = -1;
}

/*
 * Reads the worker's stderr, at most budget bytes.  The fd is
 * edge-triggered: when the budget runs out first, no new edge may ever come
 * (the worker blocks on a full pipe), so a 1 ms timer comes back for the
 * rest; the control loop serves its other events and timers in between.
 * While its lines are being dropped, a worker is read once every 10 ms
 * whatever the edges say: its writes block, and we do not spend our time
 * reading lines only to drop them.
 */
static void
stderr_read(struct worker *w, size_t budget)
{
	char buf[8192];
	size_t total = 0;

	for (;;) {
		ssize_t n;

		if (total >= budget) {
			/* Lines are being dropped: slow the worker down (its
			 * writes block) rather than spend our time reading. */
			ev_timer_arm(W.control, &w->w_err_more,
			    w->w_err_dropped > 0 ? ERR_SLOW_MS : 1);
			return;
		}
		n = read(w->w_err, buf, sizeof(buf));
		if (n > 0) {
			total += (size_t)n;
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
			if (w->w_err_dropped > 0)	/* edges wait */
				ev_timer_arm(W.control, &w->w_err_more,
				    ERR_SLOW_MS);
			return;
		}
		/* EOF or error: flush the partial line, stop watching. */
		stderr_close(w);
		return;
	}
}

static void
on_stderr(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct worker *w = io->arg;

	/* The timer is coming back anyway; this edge adds nothing. */
	if (!ev_timer_armed(&w->w_err_more))
		stderr_read(w, ERR_BUDGET);
}

static void
on_stderr_more(struct ev *loop, struct ev_timer *t)
{
	struct worker *w = t->arg;

	if (w->w_err != -1)
		stderr_read(w, ERR_BUDGET);
}


static void
worker_exited(struct worker *w, int status)
{
	char how[64], q[LOG_QMAX];
	int was_handshake = w->w_phase == WORKER_HANDSHAKE;

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "status=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "signal=%s",
		    sig_abbrev(WTERMSIG(status)) ?
		    sig_abbrev(WTERMSIG(status)) : "?");
	else
		snprintf(how, sizeof(how), "status=?");
	if (was_handshake && !w->w_deliberate) {
		/* Read what it printed before dying: PHP's "Could not open". */
		handshake_read(w, 1);
		if (w->w_phase == WORKER_HANDSHAKE && !w->w_deliberate)
			handshake_end(w, "exited before answering the pid "
			    "handshake", 1);
	}
	/*
	 * Read what it left in the pipe.  A child of the worker may hold the
	 * pipe open and keep writing: the read is bounded all the same, and
	 * the rest goes with the pipe.
	 */
	if (w->w_err != -1) {
		stderr_read(w, ERR_EXIT_BUDGET);
		if (w->w_err != -1)	/* EOF closes it; a writer may not */
			stderr_close(w);
	}
	report_dropped(w);
	ev_timer_cancel(W.control, &w->w_timer);
	worker_set_phase(w, WORKER_EXITED);
	atomic_store(&w->pub.w_dead, 1);
	if (!w->w_deliberate)
		atomic_store(&w->pub.w_status, WS_ERRORED);
	log_emit(w->w_deliberate ? LOG_INFO : LOG_WARN, "worker exited",
	    "worker=%d %s state=%s%s%s", (int)w->pub.w_pid, how,
	    worker_status_str(atomic_load(&w->pub.w_status)),
	    w->w_reason[0] ? " reason=" : "",
	    w->w_reason[0] ? log_q(q, sizeof(q), w->w_reason,
	    strlen(w->w_reason)) : "");
	if (w->w_pidfd != -1) {
		ev_del(W.control, &w->w_pidfd_io);
		close(w->w_pidfd);
		w->w_pidfd = -1;
	}
	W.hooks.exited(w, was_handshake);
}

void
worker_reap(struct worker *w)
{
	int status;

	if (w->w_phase != WORKER_EXITED &&
	    waitpid(w->pub.w_pid, &status, WNOHANG) == w->pub.w_pid)
		worker_exited(w, status);
}

static void
on_pidfd(struct ev *loop, struct ev_io *io, uint32_t events)
{
	worker_reap(io->arg);
}

static void
on_worker_timer(struct ev *loop, struct ev_timer *t)
{
	struct worker *w = t->arg;
	char why[128];

	if (w->w_phase == WORKER_HANDSHAKE) {
		snprintf(why, sizeof(why),
		    "no pid handshake within allocate_timeout (%lldms)",
		    (long long)W.cfg->pool.allocate_timeout_ms);
		handshake_end(w, why, 0);
	} else if (w->w_phase == WORKER_STOPPING)
		worker_kill(w, "did not stop in time after the stop command");
}

/* --- a held or peeked worker (any thread) --------------------------------- */

void
worker_log_stray(const struct rr_worker *w, const struct frame *f)
{
	char q[LOG_QMAX];
	size_t ctxlen = f->nopts == 1 && f->opts[0] <= f->len ? f->opts[0] : 0;

	log_warn("frame from worker with no request in flight, dropped",
	    "worker=%d flags=0x%02x ctx=%s bytes=%u", (int)w->w_pid, f->flags,
	    log_q(q, sizeof(q), (const char *)f->payload, ctxlen), f->len);
}

/*
 * Reads what a worker wrote while nobody asked it anything.  Whole frames are
 * logged and dropped.  Returns 0 when the worker is clean, -1 when it must go
 * (EOF, garbage, or half a frame that would be mistaken for an answer).
 */
int
worker_drain_stray(struct worker *w, char *why, size_t whylen)
{
	struct rr_buf *b = &w->pub.w_rbuf;
	int st = worker_read_stdout(w, EV_HUP);

	while (buf_len(b) > 0) {
		struct frame f;
		const char *bad;
		ssize_t rc = frame_decode(buf_rptr(b), buf_len(b),
		    atomic_load_explicit(&W.max_frame, memory_order_relaxed),
		    &f, &bad);

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
		atomic_store(&w->pub.w_fence, 1);
		worker_log_stray(&w->pub, &f);
		buf_consume(b, (size_t)rc);
	}
	if (st != 0) {
		snprintf(why, whylen, st == 1 ? "stdout closed" :
		    "stdout read error");
		return -1;
	}
	return 0;
}

int
worker_ping(struct worker *w)
{
	/* The pipe is empty (the worker answered), so this is one write. */
	return write(w->pub.w_in, W.pid_req, W.pid_req_len) ==
	    (ssize_t)W.pid_req_len ? 0 : -1;
}
