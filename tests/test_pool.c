/*
 * test_pool.c - worker processes: spawn, pid handshake, environment, lease,
 * retirement and replacement, max_jobs, output a worker writes while idle.
 *
 * The workers are tests/fake_worker (FAKE_WORKER, else next to this test
 * binary).  The test thread runs the pool's control loop and, in turn, a
 * second loop that stands in for a reactor: pool_lease() moves a worker's
 * stdout there and the test's own pool_io_fn reads the answers.  Every loop
 * run is bounded by a timer.
 */
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"

#include "config.h"
#include "frame.h"
#include "lease.h"
#include "log.h"
#include "worker.h"

#define WAIT_MS		5000	/* bound on any one wait; ASan is slow */

static struct {
	struct rr_config cfg;
	char		*argv[3];
	char		*env[8];
	int		 nenv;
	char		 dir[64];
	char		 log[128];
	char		 pids[128];
	struct ev	*control;
	struct ev	*reactor;	/* a reactor's loop, run on this thread */

	int		 ready;		/* -1 until the ready callback */
	char		 reason[256];

	int		 got;		/* 0 waiting, 1 answer, -1 broken */
	uint8_t		 flags;
	char		 ctx[64];
	char		 body[256];
	size_t		 bodylen;

	int		 stopped;	/* pool_stop_all's callback ran */
	pid_t		 gone;		/* wait_reaped() */
	struct rr_worker *leased;	/* lease_new() */
	pid_t		 not_pid;
} T;

/* --- helpers -------------------------------------------------------------- */


/* How many lines of the log hold every one of the given strings. */
static int
log_lines(const char *a, const char *b, const char *c)
{
	return log_lines_in(T.log, a, b, c);
}

/* The pids the fake workers wrote at start, in spawn order. */
static int
pids(pid_t *out, int max)
{
	char *s = slurp(T.pids, NULL), *p = s;
	int n = 0;

	while (n < max && *p != '\0') {
		out[n++] = (pid_t)strtol(p, &p, 10);
		while (*p == '\n')
			p++;
	}
	free(s);
	return n;
}

static void
addenv(const char *fmt, const char *arg)
{
	cr_assert_lt(T.nenv, 7);
	cr_assert_neq(asprintf(&T.env[T.nenv++], fmt, arg), -1);
	T.env[T.nenv] = NULL;
}

/* A pool of n fake workers in the given mode; pool_start is up to the test. */
static void
setup(const char *mode, unsigned n)
{
	signal(SIGPIPE, SIG_IGN);	/* as rrtcp: EPIPE, not death */
	snprintf(T.dir, sizeof(T.dir), "/tmp/rrtcp-test-pool-XXXXXX");
	cr_assert_not_null(mkdtemp(T.dir));
	snprintf(T.log, sizeof(T.log), "%s/log", T.dir);
	snprintf(T.pids, sizeof(T.pids), "%s/pids", T.dir);
	log_setup(LOG_INFO, 0);
	cr_assert_eq(log_open(T.log), 0);

	T.argv[0] = (char *)(uintptr_t)fake_worker();
	T.argv[1] = (char *)(uintptr_t)mode;
	T.argv[2] = NULL;
	T.nenv = 0;
	addenv("FAKE_PIDS=%s", T.pids);
	T.cfg.env = T.env;
	T.cfg.pool.command = T.argv;
	T.cfg.pool.num_workers = n;
	T.cfg.pool.allocate_timeout_ms = WAIT_MS;
	T.cfg.pool.destroy_timeout_ms = 1000;
	T.cfg.max_frame_size = 1 << 20;
	T.cfg.close_timeout_ms = 1000;
	T.ready = -1;
	cr_assert_not_null(T.control = ev_new(64, NULL));
	cr_assert_not_null(T.reactor = ev_new(64, NULL));
}

static void
on_ready(int ok, const char *reason)
{
	T.ready = ok;
	snprintf(T.reason, sizeof(T.reason), "%s", reason ? reason : "");
	ev_stop(T.control);
}

static int
is_ready(void)
{
	return T.ready != -1;
}

static void test_io(struct ev *, struct rr_worker *, uint32_t);

static void
start(void)
{
	char err[256] = "";

	cr_assert_eq(pool_start(T.control, &T.cfg, test_io, on_ready, err,
	    sizeof(err)), 0, "pool_start: %s", err);
	cr_assert(run_until(T.control, is_ready, 2 * WAIT_MS),
	    "no ready callback");
}

static void
on_stopped(void)
{
	T.stopped = 1;
}

static int
is_stopped(void)
{
	return T.stopped;
}

/* Stops what a test left running, so no worker outlives its test. */
static void
teardown(void)
{
	if (T.control != NULL && T.ready != -1) {
		pool_stop_all(1000, on_stopped);
		run_until(T.control, is_stopped, 3000);
	}
	log_open(NULL);
	rmtree(T.dir);
}

TestSuite(pool, .fini = teardown, .timeout = 30);

/* The pool_io_fn: decodes one answer for the request the test wrote. */
static void
test_io(struct ev *loop, struct rr_worker *w, uint32_t events)
{
	struct frame f;
	const char *bad;
	ssize_t rc;
	int st;

	if (!(events & EV_READ) || T.got != 0)
		return;
	st = worker_read_stdout(worker_of(w), EV_HUP);
	rc = frame_decode(buf_rptr(&w->w_rbuf), buf_len(&w->w_rbuf),
	    T.cfg.max_frame_size, &f, &bad);
	if (rc > 0) {
		size_t ctxlen = f.nopts == 1 ? f.opts[0] : 0;

		T.flags = f.flags;
		snprintf(T.ctx, sizeof(T.ctx), "%.*s", (int)ctxlen,
		    (const char *)f.payload);
		T.bodylen = f.len - ctxlen;
		snprintf(T.body, sizeof(T.body), "%.*s", (int)T.bodylen,
		    (const char *)f.payload + ctxlen);
		buf_consume(&w->w_rbuf, (size_t)rc);
		T.got = 1;
	} else if (rc == FRAME_BAD || st != 0)
		T.got = -1;
	else
		return;
	ev_stop(loop);
}

static int
answered(void)
{
	return T.got != 0;
}

/*
 * One exchange as relay.c does it: the request frame on the worker's stdin
 * (counted as an exec), the answer through test_io on loop.
 */
static int
exchange_on(struct ev *loop, struct rr_worker *w, const char *body)
{
	static const char ctx[] = "{\"event\":\"DATA\"}";
	uint8_t req[256];
	uint32_t opt = sizeof(ctx) - 1;
	size_t n = frame_encode_header(req, 0, 0, &opt, 1,
	    (uint32_t)(opt + strlen(body)));

	memcpy(req + n, ctx, opt);
	memcpy(req + n + opt, body, strlen(body));
	n += opt + strlen(body);
	T.got = 0;
	atomic_fetch_add(&w->w_execs, 1);
	cr_assert_eq(write(w->w_in, req, n), (ssize_t)n);
	run_until(loop, answered, WAIT_MS);
	return T.got;
}

static int
exchange(struct rr_worker *w, const char *body)
{
	return exchange_on(T.reactor, w, body);
}

static int
reaped(void)
{
	/* The pool waits for its children: ESRCH means exited and reaped. */
	return kill(T.gone, 0) == -1 && errno == ESRCH;
}

/* Runs the control loop until pid is reaped. */
static int
wait_reaped(pid_t pid)
{
	T.gone = pid;
	return run_until(T.control, reaped, WAIT_MS);
}

static int
leased_new(void)
{
	if (T.leased == NULL) {
		T.leased = pool_lease(T.reactor);
		if (T.leased != NULL && T.leased->w_pid == T.not_pid) {
			pool_release(T.leased);
			T.leased = NULL;
		}
	}
	return T.leased != NULL;
}

/* Runs the control loop until a worker other than pid can be leased. */
static struct rr_worker *
lease_new(pid_t pid)
{
	T.leased = NULL;
	T.not_pid = pid;
	run_until(T.control, leased_new, WAIT_MS);
	return T.leased;
}

static int
stray_logged(void)
{
	return log_lines("msg=\"frame from worker with no request in flight, "
	    "dropped\"", "ctx=\"WRITE\"", NULL) > 0;
}

/* --- start --------------------------------------------------------------- */

Test(pool, start_handshakes_all_workers_and_each_is_leased_once)
{
	struct rr_worker *w[3];
	pid_t spawned[8];

	setup("echo", 3);
	start();
	cr_assert_eq(T.ready, 1, "ready failed: %s", T.reason);
	cr_assert_eq(pool_size(), 3);
	cr_assert_eq(pids(spawned, 8), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_not_null(w[i] = pool_lease(T.reactor), "lease %d", i);
		cr_assert_eq(atomic_load(&w[i]->w_status), WS_WORKING);
		for (int j = 0; j < i; j++)
			cr_assert_neq(w[i], w[j]);
		cr_assert(w[i]->w_pid == spawned[0] ||
		    w[i]->w_pid == spawned[1] || w[i]->w_pid == spawned[2]);
	}
	cr_assert_eq(log_lines("msg=\"worker started\"", NULL, NULL), 3);
	cr_assert_null(pool_lease(T.reactor), "a fourth lease from three");
	/* Each one's pipes now answer on the reactor loop. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(exchange(w[i], "hello"), 1);
		cr_assert_str_eq(T.ctx, "WRITE");
		cr_assert_str_eq(T.body, "hello");
		cr_assert_eq(pool_finish(w[i]), 1);
		pool_release(w[i]);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_not_null(pool_lease(T.reactor));
	cr_assert_null(pool_lease(T.reactor));
}

Test(pool, handshake_timeout_kills_worker)
{
	int64_t t0;
	pid_t pid;
	char w[32];

	setup("silent", 1);
	T.cfg.pool.allocate_timeout_ms = 300;
	t0 = ev_clock_ms();
	start();
	cr_assert_eq(T.ready, 0);
	cr_assert(strstr(T.reason, "allocate_timeout") != NULL, "%s", T.reason);
	cr_assert(strstr(T.reason, "300ms") != NULL, "%s", T.reason);
	cr_assert_geq(ev_clock_ms() - t0, 290);
	cr_assert_eq(pids(&pid, 1), 1);
	cr_assert(wait_reaped(pid), "silent worker %d still alive", (int)pid);
	snprintf(w, sizeof(w), "worker=%d ", (int)pid);
	cr_assert_eq(log_lines("msg=\"worker failed to start\"", w,
	    "allocate_timeout"), 1);
	cr_assert_eq(log_lines("msg=\"worker exited\"", w, "signal=KILL"), 1);
	cr_assert_null(pool_lease(T.reactor));
}

Test(pool, missing_command_fails_start_with_exec_error)
{
	static char *argv[] = { "/nonexistent/rrtcp-no-such-worker", NULL };
	char err[256] = "";

	setup("echo", 2);
	T.cfg.pool.command = argv;
	cr_assert_eq(pool_start(T.control, &T.cfg, test_io, on_ready, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "exec /nonexistent/rrtcp-no-such-worker") != NULL,
	    "%s", err);
	cr_assert(strstr(err, strerror(ENOENT)) != NULL, "%s", err);
	cr_assert_eq(T.ready, -1, "no ready callback after a start error");
}

Test(pool, worker_environment_has_rr_variables_and_no_duplicates)
{
	char path[160], *env, *line, *save = NULL;
	char *names[512];
	int n = 0;

	setup("env", 1);
	snprintf(path, sizeof(path), "%s/env", T.dir);
	/* The server's own environment: overridden below, or passed on. */
	setenv("RR_RELAY", "sockets", 1);
	setenv("FAKE_DUP", "from_process", 1);
	setenv("FAKE_KEEP", "kept", 1);
	addenv("FAKE_ENV_OUT=%s", path);
	addenv("FAKE_DUP=%s", "from_config");
	addenv("APP_KEY=%s", "a b=c");
	addenv("RR_MODE=%s", "http");	/* the TCP plugin's value wins */
	T.cfg.rpc_listen = (char *)(uintptr_t)"tcp://127.0.0.1:6001";
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);

	env = slurp(path, NULL);
	for (line = strtok_r(env, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		size_t klen = strcspn(line, "=");
		for (int i = 0; i < n; i++)
			cr_assert(strlen(names[i]) != klen ||
			    strncmp(names[i], line, klen) != 0,
			    "%.*s appears twice", (int)klen, line);
		cr_assert_lt(n, 512);
		names[n++] = line;
	}
	/* Look each up in the list the worker wrote. */
#define HAS(kv) do {							\
		int found = 0;						\
		for (int i = 0; i < n; i++)				\
			found |= strcmp(names[i], kv) == 0;		\
		cr_assert(found, "worker environment lacks %s", kv);	\
	} while (0)
	HAS("RR_RELAY=pipes");
	HAS("RR_MODE=tcp");
	HAS("RR_RPC=tcp://127.0.0.1:6001");
	HAS("FAKE_DUP=from_config");
	HAS("FAKE_KEEP=kept");
	HAS("APP_KEY=a b=c");
#undef HAS
	{
		int found = 0;
		for (int i = 0; i < n; i++)
			if (strncmp(names[i], "RR_VERSION=", 11) == 0 &&
			    names[i][11] != '\0')
				found = 1;
		cr_assert(found, "no RR_VERSION");
	}
	free(env);
}

Test(pool, worker_stderr_lines_are_logged)
{
	pid_t pid;
	char line[96];

	setup("echo", 1);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_eq(pids(&pid, 1), 1);
	snprintf(line, sizeof(line), "line=\"fake_worker pid=%d mode=echo\"",
	    (int)pid);
	run_until(T.control, NULL, 100);
	cr_assert_eq(log_lines("msg=\"worker output\"", line, NULL), 1);
}

/* --- retire, max_jobs, crashes ------------------------------------------ */

Test(pool, retire_with_kill_kills_worker_and_replacement_handshakes)
{
	struct rr_worker *w;
	pid_t old;
	char who[32];

	setup("echo", 1);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_not_null(w = pool_lease(T.reactor));
	old = w->w_pid;
	pool_retire(w, WS_ERRORED, 1, "test says so");
	cr_assert(wait_reaped(old), "retired worker %d still alive", (int)old);
	snprintf(who, sizeof(who), "worker=%d ", (int)old);
	cr_assert_eq(log_lines("msg=\"worker killed\"", who,
	    "reason=\"test says so\""), 1);
	cr_assert_eq(log_lines("msg=\"worker exited\"", who, "signal=KILL"), 1);

	cr_assert_not_null(w = lease_new(old), "no replacement");
	cr_assert_neq(w->w_pid, old);
	cr_assert_eq(log_lines("msg=\"worker started\"", NULL, NULL), 2);
	cr_assert_eq(exchange(w, "again"), 1);
	cr_assert_str_eq(T.body, "again");
	cr_assert_eq(pool_size(), 1);
}

Test(pool, max_jobs_1_retires_worker_after_one_exec)
{
	struct rr_worker *w;
	pid_t old;
	char who[32];

	setup("echo", 1);
	T.cfg.pool.max_jobs = 1;	/* RR's jitter adds 0 below 8 */
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_not_null(w = pool_lease(T.reactor));
	old = w->w_pid;
	cr_assert_eq(exchange(w, "one"), 1);
	cr_assert_eq(pool_finish(w), 0, "worker not retired by max_jobs");
	cr_assert_eq(atomic_load(&w->w_status), WS_MAX_JOBS);
	/* Retired, not killed: it gets the stop command and exits 0. */
	cr_assert(wait_reaped(old));
	snprintf(who, sizeof(who), "worker=%d ", (int)old);
	cr_assert_eq(log_lines("msg=\"worker retired\"", who,
	    "reason=\"max_jobs reached\""), 1);
	cr_assert_eq(log_lines("msg=\"worker exited\"", who,
	    "status=0 state=maxJobsReached"), 1);
	cr_assert_not_null(w = lease_new(old), "no replacement");
	cr_assert_eq(exchange(w, "two"), 1);
	cr_assert_str_eq(T.body, "two");
}

Test(pool, finish_below_max_jobs_keeps_worker)
{
	struct rr_worker *w;
	pid_t pid;

	setup("echo", 1);
	T.cfg.pool.max_jobs = 2;
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_not_null(w = pool_lease(T.reactor));
	pid = w->w_pid;
	cr_assert_eq(exchange(w, "one"), 1);
	cr_assert_eq(pool_finish(w), 1);
	pool_release(w);
	cr_assert_eq(atomic_load(&w->w_status), WS_READY);
	cr_assert_not_null(w = pool_lease(T.reactor));
	cr_assert_eq(w->w_pid, pid);
	cr_assert_eq(exchange(w, "two"), 1);
	cr_assert_eq(pool_finish(w), 0);
}

Test(pool, crashed_idle_worker_is_skipped_by_lease_and_replaced)
{
	struct rr_worker *w;
	pid_t pid;
	char who[32];

	setup("echo", 1);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_eq(pids(&pid, 1), 1);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert(wait_reaped(pid));
	snprintf(who, sizeof(who), "worker=%d ", (int)pid);
	cr_assert_eq(log_lines("msg=\"worker exited\"", who, "signal=KILL"), 1);
	cr_assert_not_null(w = lease_new(pid), "no replacement");
	cr_assert_eq(exchange(w, "alive"), 1);
	cr_assert_str_eq(T.body, "alive");
}

Test(pool, stop_all_stops_every_worker_gracefully)
{
	pid_t p[2];
	char who[32];

	setup("echo", 2);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_eq(pids(p, 2), 2);
	pool_stop_all(2000, on_stopped);
	cr_assert(run_until(T.control, is_stopped, WAIT_MS));
	cr_assert_eq(pool_size(), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(who, sizeof(who), "worker=%d ", (int)p[i]);
		cr_assert_eq(log_lines("msg=\"worker exited\"", who,
		    "status=0"), 1);
	}
	T.ready = -1;		/* nothing left for teardown */
}

/* --- output while idle (stray frames) ----------------------------------- */

/*
 * Worker mode stray answers CONTINUE, then 150 ms later writes a WRITE frame
 * nobody asked for: by then the worker is back in the idle ring.
 */
static struct rr_worker *
stray_setup(void)
{
	struct rr_worker *w;

	setup("stray", 1);
	addenv("FAKE_DELAY_MS=%s", "150");
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_not_null(w = pool_lease(T.reactor));
	cr_assert_eq(exchange(w, "x"), 1);
	cr_assert_str_eq(T.ctx, "CONTINUE");
	cr_assert_eq(pool_finish(w), 1);
	pool_release(w);
	return w;
}

/* Is there unread output on the worker's stdout? */
static int
stdout_pending(struct rr_worker *w)
{
	struct pollfd pfd = { .fd = w->w_out, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

Test(pool, stray_frame_from_idle_worker_is_logged_and_worker_stays)
{
	struct rr_worker *w = stray_setup();
	pid_t pid = w->w_pid;

	/* The owner loop sees the output at once and reads it (the claim). */
	cr_assert(run_until(T.reactor, stray_logged, WAIT_MS),
	    "stray frame not logged");
	cr_assert_eq(log_lines("msg=\"frame from worker with no request in "
	    "flight, dropped\"", "flags=0x00 ctx=\"WRITE\" bytes=10", NULL), 1);
	cr_assert_not(stdout_pending(w));
	cr_assert_not_null(w = pool_lease(T.reactor));
	cr_assert_eq(w->w_pid, pid, "the worker was replaced");
	cr_assert_eq(exchange(w, "y"), 1);
	cr_assert_str_eq(T.ctx, "CONTINUE", "answer %s %s", T.ctx, T.body);
	cr_assert_eq(log_lines("msg=\"worker killed\"", NULL, NULL), 0);
}

Test(pool, stray_frame_is_read_by_a_lease_on_another_loop)
{
	struct rr_worker *w = stray_setup();
	struct ev *other = ev_new(64, NULL);
	pid_t pid = w->w_pid;

	cr_assert_not_null(other);
	/* The owner loop sleeps through it; another reactor leases. */
	usleep(400 * 1000);
	cr_assert_not(stray_logged());
	cr_assert_not_null(w = pool_lease(other));
	cr_assert_eq(w->w_pid, pid);
	cr_assert(stray_logged(), "lease did not read the stray frame");
	cr_assert_not(stdout_pending(w));
	cr_assert_eq(exchange_on(other, w, "y"), 1);
	cr_assert_str_eq(T.ctx, "CONTINUE", "answer %s %s", T.ctx, T.body);
}

/*
 * pool.h: "output it produced while idle (stray frames) is read and logged
 * before it is handed out".  Here the stray frame is in the pipe but the
 * owner loop has not yet run its event (a reactor busy with the rest of an
 * epoll batch leases that very worker for another connection).
 */
Test(pool, stray_frame_is_read_by_a_lease_on_the_owner_loop)
{
	struct rr_worker *w = stray_setup();
	pid_t pid = w->w_pid;

	usleep(400 * 1000);
	cr_assert_not_null(w = pool_lease(T.reactor));
	cr_assert_eq(w->w_pid, pid);
	cr_expect(stray_logged() && !stdout_pending(w),
	    "worker handed out with a stray frame unread on its stdout");
	cr_assert_eq(exchange(w, "y"), 1);
	cr_assert_str_eq(T.ctx, "CONTINUE",
	    "the stray frame was taken for the answer: %s %s", T.ctx, T.body);
}

/* --- an idle pool that keeps retiring its workers ----------------------- */

/* Open descriptors of this process. */
static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* the DIR's own descriptor */
}

static int	churn_started, churn_exited, churn_size, fds_target;

/* The pool is at its size, every worker idle in the ring, and it holds
 * fds_target descriptors (-1: any number). */
static int
fds_settled(void)
{
	return pool_size() == 2 && pool_idle_count() == 2 &&
	    (fds_target == -1 || open_fds() == fds_target);
}

/* Every replacement has handshaken and every retired worker is reaped. */
static int
churn_settled(void)
{
	return log_lines("msg=\"worker started\"", NULL, NULL) ==
	    churn_started &&
	    log_lines("msg=\"worker exited\"", NULL, NULL) == churn_exited &&
	    pool_size() == churn_size;
}

/*
 * Leases every idle worker: the ring must hold exactly the live workers,
 * each once, none of them retired.
 */
static void
assert_ring_holds_the_live_workers(int n)
{
	struct rr_worker *w[16];

	cr_assert_eq(pool_idle_count(), n, "idle ring holds %d entries, "
	    "the pool has %d live workers", pool_idle_count(), n);
	for (int i = 0; i < n; i++) {
		cr_assert_not_null(w[i] = pool_lease(T.reactor), "lease %d", i);
		cr_assert_not(atomic_load(&w[i]->w_dead));
		cr_assert_eq(kill(w[i]->w_pid, 0), 0, "leased worker %d is "
		    "not alive", (int)w[i]->w_pid);
		for (int j = 0; j < i; j++)
			cr_assert_neq(w[i], w[j]);
	}
	cr_assert_null(pool_lease(T.reactor), "more idle entries than workers");
	for (int i = 0; i < n; i++) {
		cr_assert_eq(exchange(w[i], "still"), 1);
		cr_assert_str_eq(T.body, "still");
		pool_release(w[i]);
	}
}

Test(pool, reset_idle_pool_many_times_keeps_ring_exact_and_fds)
{
	int fds;

	setup("echo", 3);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	run_until(T.control, NULL, 50);		/* stderr lines read */
	fds = open_fds();
	churn_size = 3;
	churn_started = 3;
	churn_exited = 0;
	for (int i = 0; i < 40; i++) {
		pool_reset("test reset");
		churn_started += 3;
		churn_exited += 3;
		cr_assert(run_until(T.control, churn_settled, WAIT_MS),
		    "round %d: started %d/%d exited %d/%d live %d", i,
		    log_lines("msg=\"worker started\"", NULL, NULL),
		    churn_started, log_lines("msg=\"worker exited\"", NULL,
		    NULL), churn_exited, pool_size());
		cr_assert_eq(pool_idle_count(), 3, "round %d: %d idle entries",
		    i, pool_idle_count());
	}
	run_until(T.control, NULL, 50);
	cr_assert_eq(open_fds(), fds, "descriptors leaked by retired workers");
	assert_ring_holds_the_live_workers(3);
}

Test(pool, ttl_churn_on_a_quiet_pool_keeps_ring_exact_and_fds)
{
	int fds;

	setup("echo", 2);
	T.cfg.pool.supervisor.enabled = 1;
	T.cfg.pool.supervisor.watch_tick_ms = 10;
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	/* The baseline before any churn: with the ttl set from the start, a
	 * slow build had retirements under way when it counted. */
	fds_target = -1;
	run_until(T.control, fds_settled, 5000);
	fds = open_fds();
	T.cfg.pool.supervisor.ttl_ms = 40;
	/* Many generations retire by ttl, none is ever leased. */
	run_until(T.control, NULL, 1500);
	cr_assert_geq(log_lines("msg=\"worker retired\"", "state=ttlReached",
	    NULL), 20);
	/* Settle: stop the churn, let the last ones finish (a sanitizer
	 * build on a busy machine takes a while). */
	T.cfg.pool.supervisor.ttl_ms = 0;
	fds_target = fds;
	run_until(T.control, fds_settled, 5000);
	cr_assert_eq(pool_size(), 2);
	cr_assert_eq(open_fds(), fds, "descriptors leaked by retired workers: "
	    "%d open, %d before; idle %d", open_fds(), fds, pool_idle_count());
	assert_ring_holds_the_live_workers(2);
}

Test(pool, crashing_idle_workers_leave_the_ring)
{
	int fds;
	pid_t all[64];

	setup("echo", 2);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	run_until(T.control, NULL, 50);
	fds = open_fds();
	churn_size = 2;
	churn_started = 2;
	churn_exited = 0;
	for (int i = 0; i < 10; i++) {
		int n = pids(all, 64);

		cr_assert_eq(kill(all[n - 1], SIGKILL), 0);
		churn_started++;
		churn_exited++;
		cr_assert(run_until(T.control, churn_settled, WAIT_MS),
		    "round %d", i);
		/* A crash soon after start counts as a failure: back off. */
	}
	run_until(T.control, NULL, 50);
	cr_assert_eq(pool_idle_count(), 2);
	cr_assert_eq(open_fds(), fds, "descriptors leaked by crashed workers");
	assert_ring_holds_the_live_workers(2);
}

/* --- phases and kill reasons ----------------------------------------------- */

Test(pool, phase_changes_are_logged_at_debug_and_kills_say_why)
{
	struct rr_worker *w;
	char who[32];
	pid_t pid;

	setup("echo", 1);
	log_setup(LOG_DEBUG, 0);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_not_null(w = pool_lease(T.reactor));
	pid = w->w_pid;
	snprintf(who, sizeof(who), "worker=%d ", (int)pid);
	cr_assert_eq(log_lines("msg=\"worker phase\"", who,
	    "from=free to=handshake"), 1);
	cr_assert_eq(log_lines("msg=\"worker phase\"", who,
	    "from=handshake to=running"), 1);
	pool_retire(w, WS_ERRORED, 1, "bad answer");
	cr_assert(wait_reaped(pid));
	cr_assert_eq(log_lines("msg=\"worker phase\"", who,
	    "from=running to=killed"), 1);
	cr_assert_eq(log_lines("msg=\"worker phase\"", who,
	    "from=killed to=exited"), 1);
	cr_assert_eq(log_lines("msg=\"worker killed\"", who,
	    "reason=\"bad answer\""), 1);
}

Test(pool, stop_timeout_kill_names_its_reason)
{
	struct rr_worker *w;
	char who[32];
	pid_t pid;

	setup("echo", 1);
	/* The worker answers the stop command, then lingers past the
	 * SIGKILL fallback that pool_stop_all arms. */
	addenv("FAKE_STOP_DELAY_MS=%s", "3000");
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_not_null(w = pool_lease(T.reactor));
	pid = w->w_pid;
	pool_release(w);
	pool_stop_all(200, on_stopped);
	cr_assert(run_until(T.control, is_stopped, WAIT_MS));
	T.ready = -1;
	snprintf(who, sizeof(who), "worker=%d ", (int)pid);
	cr_assert_eq(log_lines("msg=\"worker killed\"", who,
	    "reason=\"did not stop in time after the stop command\""), 1);
	cr_assert_eq(log_lines("msg=\"worker exited\"", who, "signal=KILL"), 1);
}

/*
 * The holder has passed pool_finish (the worker stays) when a reset marks
 * the worker dead, and then releases it to the idle ring unaware.  The
 * control thread must still stop it and take it out of the ring; it used
 * to stay there, and its process ran on unleased and unstopped.
 */
Test(pool, worker_reset_between_finish_and_release_is_stopped)
{
	struct rr_worker *w;
	char who[32];
	pid_t pid;
	int fds;

	setup("echo", 1);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	run_until(T.control, NULL, 50);
	fds = open_fds();
	cr_assert_not_null(w = pool_lease(T.reactor));
	pid = w->w_pid;
	cr_assert_eq(exchange(w, "one"), 1);
	cr_assert_eq(pool_finish(w), 1);
	pool_reset("test reset");	/* busy: its holder should retire it */
	pool_release(w);		/* ...but it has already decided */
	cr_assert(wait_reaped(pid), "worker %d never stopped", (int)pid);
	snprintf(who, sizeof(who), "worker=%d ", (int)pid);
	cr_assert_eq(log_lines("msg=\"worker retired\"", who,
	    "reason=\"test reset\""), 1);
	cr_assert_eq(log_lines("msg=\"worker exited\"", who, "status=0"), 1);
	churn_size = 1;
	churn_started = 2;
	churn_exited = 1;
	cr_assert(run_until(T.control, churn_settled, WAIT_MS));
	run_until(T.control, NULL, 50);
	cr_assert_eq(open_fds(), fds);
	assert_ring_holds_the_live_workers(1);
}

/* --- hardening: stderr floods, failure streaks, resets, the maximum ------- */

static char	*sh_argv[4];

/* setup(), but each worker runs `sh -c script`; "%s" in it is the fake worker. */
static void
setup_sh(const char *script, unsigned n)
{
	setup("echo", n);
	sh_argv[0] = (char *)(uintptr_t)"/bin/sh";
	sh_argv[1] = (char *)(uintptr_t)"-c";
	cr_assert_neq(asprintf(&sh_argv[2], script, fake_worker()), -1);
	sh_argv[3] = NULL;
	T.cfg.pool.command = sh_argv;
}

/* The sum of the dropped=N counts in the log. */
static long
dropped_total(void)
{
	char *s = slurp(T.log, NULL), *p = s;
	long n = 0;

	while ((p = strstr(p, "dropped=")) != NULL) {
		p += strlen("dropped=");
		n += strtol(p, &p, 10);
	}
	free(s);
	return n;
}

static int
drop_reported(void)
{
	return log_lines("msg=\"worker output dropped\"", NULL, NULL) > 0;
}

Test(pool, stderr_lines_past_the_rate_are_dropped_and_counted)
{
	int logged;

	/* 2 lines a second: a burst of 10, then the rest is counted. */
	setup_sh("i=0; while [ $i -lt 200 ]; do echo spam $i >&2; "
	    "i=$((i+1)); done; exec %s echo", 1);
	T.cfg.worker_lines = 2;
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert(run_until(T.control, drop_reported, 3000),
	    "no report of dropped lines");
	logged = log_lines("msg=\"worker output\"", NULL, NULL);
	cr_assert(logged >= 10 && logged <= 12, "%d lines logged", logged);
	cr_assert_eq(log_lines("msg=\"worker output\"", "line=\"spam 0\"",
	    NULL), 1, "the burst keeps the first lines");
	/* 200 spam lines and the fake worker's own start line */
	cr_assert_eq(logged + dropped_total(), 201, "%d logged, %ld dropped",
	    logged, dropped_total());
	cr_assert_eq(log_lines("msg=\"worker output dropped\"",
	    "lines_per_second=2", NULL), 1);
}

static int	want_started;

static int
started_enough(void)
{
	return log_lines("msg=\"worker started\"", NULL, NULL) >=
	    want_started;
}

Test(pool, first_success_after_a_failure_streak_refills_at_once)
{
	char flag[128];
	int64_t t_first;

	setup_sh("test -e \"$FLAG\" || exit 1; exec %s echo", 4);
	snprintf(flag, sizeof(flag), "%s/flag", T.dir);
	addenv("FLAG=%s", flag);
	cr_assert_eq(close(open(flag, O_CREAT | O_WRONLY, 0600)), 0);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	unlink(flag);
	pool_reset("test");
	/* the four of the reset fail, then 800, 1600 ms of backoff */
	run_until(T.control, NULL, 1500);
	cr_assert_geq(log_lines("msg=\"worker failed to start\"", NULL, NULL),
	    5);
	cr_assert_eq(close(open(flag, O_CREAT | O_WRONLY, 0600)), 0);
	want_started = 4 + 1;
	cr_assert(run_until(T.control, started_enough, 8000),
	    "no worker started after the flag");
	t_first = ev_clock_ms();
	want_started = 4 + 4;
	cr_assert(run_until(T.control, started_enough, 8000),
	    "the pool did not refill");
	/* The backoff is 1.6 s or more by now: the three after the first
	 * do not wait for it. */
	cr_assert_lt(ev_clock_ms() - t_first, 500, "%lld ms after the first",
	    (long long)(ev_clock_ms() - t_first));
	cr_assert_eq(pool_size(), 4);
}

static int
two_started_after_resets(void)
{
	return log_lines("msg=\"worker started\"", NULL, NULL) >= 2 + 2 &&
	    pool_size() == 2;
}

Test(pool, second_reset_leaves_workers_in_their_handshake_alone)
{
	setup_sh("sleep 0.5; exec %s echo", 2);
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	pool_reset("first");
	run_until(T.control, NULL, 100);
	pool_reset("second");
	cr_assert(run_until(T.control, two_started_after_resets, 5000),
	    "the pool did not converge");
	run_until(T.control, NULL, 200);
	cr_assert_eq(log_lines("msg=\"worker killed\"", NULL, NULL), 0);
	cr_assert_eq(log_lines("msg=\"worker failed to start\"", NULL, NULL),
	    0);
	cr_assert_eq(log_lines("msg=\"worker started\"", NULL, NULL), 4);
	cr_assert_eq(pool_idle_count(), 2);
}

Test(pool, add_worker_past_max_workers_fails_with_a_reason)
{
	char err[128] = "";

	setup("echo", 1);
	T.cfg.pool.max_workers = 2;
	start();
	cr_assert_eq(T.ready, 1, "%s", T.reason);
	cr_assert_eq(pool_add_worker(err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pool_add_worker(err, sizeof(err)), -1);
	cr_assert_str_eq(err, "cannot add a worker: the pool has 2 workers, "
	    "the maximum (tcp.pool.max_workers)");
	run_until(T.control, NULL, 300);
	cr_assert_eq(pool_size(), 2);
}

/* --- a request's tail ------------------------------------------------------ */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
static size_t
vm_size(void)
{
	char *s = slurp("/proc/self/status", NULL), *p = strstr(s, "VmSize:");
	size_t kb = p != NULL ? strtoul(p + 7, NULL, 10) : 0;

	free(s);
	return kb << 10;
}
#endif

/*
 * Room for the part of a request the pipe does not take is reserved before
 * a byte is written: without memory for it, lease_send writes nothing and
 * says so (-3), so the worker never holds half a frame, and its next
 * request goes through whole.
 */
Test(pool, request_tail_without_memory_writes_nothing)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	cr_skip_test("RLIMIT_AS cannot bound a sanitizer's shadow memory");
#else
	size_t big = 256u << 20;
	struct rlimit old, lim;
	struct rr_worker *w;
	struct iovec iov;
	char why[128] = "";
	void *body;
	int rc;

	setup("echo", 1);
	start();
	cr_assert_not_null(w = lease_new(0));
	body = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(body, MAP_FAILED);
	iov.iov_base = body;
	iov.iov_len = big;
	cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
	lim = old;
	lim.rlim_cur = vm_size() + (64u << 20);
	cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
	rc = lease_send(w, T.reactor, &iov, 1, why, sizeof(why));
	cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
	munmap(body, big);
	cr_assert_eq(rc, -3, "lease_send: %d %s", rc, why);
	cr_assert_eq(lease_unsent(w), 0);
	cr_assert_eq(exchange(w, "after\r\n"), 1,
	    "the worker got part of the refused request");
#endif
}
