/*
 * test_conn.c - conn.c on its own: the event sequence of a connection
 * (CONNECTED, one DATA per message, exactly one CLOSE, never two in
 * flight), replies reaching the client, flushing before a close, resets
 * when output is lost, failed and retried events, drain and tcp.Close.
 *
 * A real ev loop, the real scheduler with tests/double_pool.c (always a
 * worker) and tests/double_relay.c in place of relay.c: each event is
 * recorded, and the test ends it with the outcome it wants.  The client is
 * the other end of a TCP connection on 127.0.0.1 (so a reset is a real
 * RST); the test thread runs both the loop and the client.  Log lines go to
 * a temporary file at debug level.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"
#include "double_pool.h"
#include "double_relay.h"

#include "config.h"
#include "log.h"
#include "net.h"

#define WAIT_MS		5000	/* bound on any one wait; ASan is slow */
#define BIG		(4 << 20)	/* a reply far beyond the socket buffers */

struct cli {
	int		 fd;
	uint8_t		*in;		/* every byte read */
	size_t		 len, cap;
	int		 eof;
	int		 err;		/* errno of a failed read, 0 if none */
	char		 uuid[NET_UUIDLEN + 1];
	int		 slot;		/* in T.cli_fd/T.cli_in, for teardown */
};

static struct {
	struct rr_config cfg;
	struct rr_server_conf srv;
	struct ev	*loop;
	struct sched	 sched;
	struct conn_set	 cs;
	struct ev_timer	 stop;
	int		 lfd;
	char		 dir[64];
	char		 log[128];
	/* What the clients hold, freed at teardown if a failed assertion
	 * left the test early. */
	int		 cli_fd[8];
	uint8_t		*cli_in[8];
	int		 nclis;
	char		*pattern;	/* the one big reply of a test */
} T;

/* --- the loop --------------------------------------------------------------- */

static void
on_stop(struct ev *loop, struct ev_timer *t)
{
	ev_stop(loop);
}

static void
before_sleep(struct ev *loop, void *arg)
{
	conn_set_collect(&T.cs);
}

static void
spin(int64_t ms)
{
	ev_timer_arm(T.loop, &T.stop, ms);
	ev_run(T.loop);
	ev_timer_cancel(T.loop, &T.stop);
}

/* Runs the loop until cond holds (then asserts it). */
#define UNTIL(cond) do {						\
	int64_t until_ = ev_clock_ms() + WAIT_MS;			\
	while (!(cond) && ev_clock_ms() < until_)			\
		spin(1);						\
	cr_assert(cond, "timed out waiting for %s", #cond);		\
} while (0)

static void
setup(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	signal(SIGPIPE, SIG_IGN);
	snprintf(T.dir, sizeof(T.dir), "/tmp/rrtcp-test-conn-XXXXXX");
	cr_assert_not_null(mkdtemp(T.dir));
	snprintf(T.log, sizeof(T.log), "%s/log", T.dir);
	log_setup(LOG_DEBUG, 0);
	cr_assert_eq(log_open(T.log), 0);

	T.srv.name = (char *)(uintptr_t)"tst";
	T.srv.delim = (char *)(uintptr_t)"\r\n";
	T.srv.delim_len = 2;
	T.srv.max_message_size = 64 * 1024;
	T.srv.max_output_buffer = (64 << 20) + (256 << 10);
	T.cfg.servers = &T.srv;
	T.cfg.nservers = 1;
	T.cfg.max_connections = 100;
	T.cfg.max_frame_size = 64 << 20;
	T.cfg.close_timeout_ms = 2000;
	T.cfg.pool.allocate_timeout_ms = WAIT_MS;
	T.cfg.pool.supervisor.exec_ttl_ms = 3000;

	memset(&dpool, 0, sizeof(dpool));
	dpool.always = 1;
	cr_assert_not_null(T.loop = ev_new(64, NULL));
	cr_assert_eq(sched_init(&T.sched, T.loop), 0);
	conn_set_init(&T.cs, T.loop, &T.sched, &T.cfg);
	ev_set_before_sleep(T.loop, before_sleep, NULL);
	ev_timer_init(&T.stop, on_stop, NULL);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(T.lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(T.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(T.lfd, 16), 0);
}

static void
teardown(void)
{
	for (int i = 0; i < T.nclis; i++) {
		if (T.cli_fd[i] != -1)
			close(T.cli_fd[i]);
		free(T.cli_in[i]);
	}
	free(T.pattern);
	conn_set_destroy(&T.cs);
	sched_fini(&T.sched);
	ev_free(T.loop);
	close(T.lfd);
	drelay_clear();
	log_open(NULL);
	unlink(T.log);
	rmdir(T.dir);
}

TestSuite(conn, .init = setup, .fini = teardown, .timeout = 60);

/* --- the client -------------------------------------------------------------- */

/*
 * Connects a client and hands the accepted socket to conn_new().  small:
 * tiny socket buffers on both sides, so a big reply stays in c_out.
 */
static void
client(struct cli *cl, int small)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(sin), sslen = sizeof(ss);
	int sz = 4096, fd;
	const char *p;

	memset(cl, 0, sizeof(*cl));
	cr_assert_eq(getsockname(T.lfd, (struct sockaddr *)&sin, &sl), 0);
	cr_assert_geq(cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	if (small)
		cr_assert_eq(setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &sz,
		    sizeof(sz)), 0);
	cr_assert_lt(T.nclis, 8);
	cl->slot = T.nclis++;
	T.cli_fd[cl->slot] = cl->fd;
	cr_assert_eq(connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_geq(fd = accept4(T.lfd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC), 0);
	if (small)
		cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz,
		    sizeof(sz)), 0);
	cr_assert_eq(fcntl(cl->fd, F_SETFL, O_NONBLOCK), 0);
	conn_new(&T.cs, &T.srv, fd, &ss, sslen, NULL);
	/* With a worker always free, CONNECTED starts inside conn_new. */
	cr_assert_gt(drelay.n, 0);
	cr_assert_str_eq(drelay.calls[drelay.n - 1].event, "CONNECTED");
	p = strstr(drelay.calls[drelay.n - 1].ctx, "\"uuid\":\"");
	cr_assert_not_null(p);
	memcpy(cl->uuid, p + 8, NET_UUIDLEN);
	cl->uuid[NET_UUIDLEN] = '\0';
}

/* Reads whatever the socket has now. */
static void
cli_read(struct cli *cl)
{
	for (;;) {
		ssize_t n;

		if (cl->cap - cl->len < 65536) {
			cl->cap = cl->cap ? cl->cap * 2 : 1 << 17;
			cr_assert_not_null(cl->in = realloc(cl->in, cl->cap));
			T.cli_in[cl->slot] = cl->in;
		}
		n = read(cl->fd, cl->in + cl->len, cl->cap - cl->len);
		if (n > 0) {
			cl->len += (size_t)n;
			continue;
		}
		if (n == 0)
			cl->eof = 1;
		else if (errno == EINTR)
			continue;
		else if (errno != EAGAIN)
			cl->err = errno;
		return;
	}
}

/* Runs the loop for ms, the client reading all along. */
static void
cli_spin(struct cli *cl, int64_t ms)
{
	int64_t end = ev_clock_ms() + ms;

	do {
		spin(1);
		cli_read(cl);
	} while (ev_clock_ms() < end);
}

/* Reads until EOF or an error, the loop running. */
static void
cli_read_to_end(struct cli *cl)
{
	int64_t end = ev_clock_ms() + WAIT_MS * 4;

	while (!cl->eof && cl->err == 0 && ev_clock_ms() < end) {
		spin(1);
		cli_read(cl);
	}
	cr_assert(cl->eof || cl->err, "the socket did not close "
	    "(%zu bytes read)", cl->len);
}

static void
cli_send(struct cli *cl, const char *s)
{
	size_t n = strlen(s);

	cr_assert_eq(send(cl->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
cli_free(struct cli *cl)
{
	close(cl->fd);
	free(cl->in);
	T.cli_fd[cl->slot] = -1;
	T.cli_in[cl->slot] = NULL;
}

/* --- what happened ----------------------------------------------------------- */

/* Calls (0-based, in order) made for the connection whose CONNECTED was
 * call first, with the given event (NULL: any); -1 if fewer. */
static int
nth_call(const struct cli *cl, const char *event, int nth)
{
	for (int i = 0; i < drelay.n; i++) {
		const struct drelay_call *c = &drelay.calls[i];

		if (strstr(c->ctx, cl->uuid) == NULL)
			continue;
		if (event != NULL && strcmp(c->event, event) != 0)
			continue;
		if (nth-- == 0)
			return i;
	}
	return -1;
}

static int
count_calls(const struct cli *cl, const char *event)
{
	int n = 0;

	while (nth_call(cl, event, n) != -1)
		n++;
	return n;
}

/* The last call for this client, which must be an event still running. */
static int
running(const struct cli *cl, const char *event)
{
	int i = -1;

	for (int k = 0; nth_call(cl, NULL, k) != -1; k++)
		i = nth_call(cl, NULL, k);
	cr_assert_neq(i, -1, "no call for the client");
	cr_assert_str_eq(drelay.calls[i].event, event);
	cr_assert(!drelay.calls[i].finished, "call %d (%s) is not running",
	    i, event);
	return i;
}

/* How many lines of the log hold every one of the given strings. */
static int
log_lines(const char *a, const char *b, const char *c)
{
	return log_lines_in(T.log, a, b, c);
}

/* The connection of this client in the set, or NULL once freed. */
static struct rr_conn *
conn_of(const struct cli *cl)
{
	struct rr_conn *c;

	TAILQ_FOREACH(c, &T.cs.cs_conns, c_link)
		if (memmem(c->c_ctx, c->c_ctxlen, cl->uuid, NET_UUIDLEN))
			return c;
	return NULL;
}

/* A reply of n bytes that a shifted or cut copy does not match; freed at
 * teardown. */
static char *
pattern(size_t n)
{
	char *p = malloc(n + 1);

	cr_assert_null(T.pattern);
	cr_assert_not_null(T.pattern = p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + i / 4093) % 26);
	p[n] = '\0';
	return p;
}

/* CONNECTED answered, the connection open and idle. */
static void
connected(struct cli *cl, int small)
{
	client(cl, small);
	drelay_reply(running(cl, "CONNECTED"), REPLY_CONTINUE, NULL);
}

/* --- events ----------------------------------------------------------------- */

Test(conn, connected_first_then_one_data_per_message_one_at_a_time)
{
	struct cli cl;
	int i;

	client(&cl, 0);
	i = running(&cl, "CONNECTED");
	cr_assert_eq(i, 0);
	cr_assert_eq(drelay.calls[i].body_len, 0);
	cr_assert_eq(drelay.calls[i].ttl_ms, T.cfg.pool.supervisor.exec_ttl_ms);
	cr_assert(strstr(drelay.calls[i].ctx, "\"server\":\"tst\""));

	/* Messages sent while CONNECTED runs wait for it. */
	cli_send(&cl, "one\r\ntwo\r\nthr");
	spin(20);
	cr_assert_eq(drelay.n, 1);

	drelay_reply(i, REPLY_CONTINUE, NULL);
	spin(5);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "one\r\n");
	spin(20);
	cr_assert_eq(drelay.n, 2, "a second event while DATA runs");

	drelay_reply(i, REPLY_CONTINUE, NULL);
	spin(5);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "two\r\n");
	drelay_reply(i, REPLY_CONTINUE, NULL);

	/* "thr" has no delimiter yet: no event until it has. */
	spin(20);
	cr_assert_eq(drelay.n, 3);
	cli_send(&cl, "ee\r\n");
	UNTIL(drelay.n == 4);
	cr_assert_str_eq((char *)drelay.calls[3].body, "three\r\n");
	cr_assert_str_eq(drelay.calls[3].event, "DATA");
	cr_assert_eq(drelay.overlaps, 0);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 0);
	cli_free(&cl);
}

Test(conn, delimiter_split_across_reads_is_found)
{
	struct cli cl;
	int i;

	connected(&cl, 0);
	cli_send(&cl, "AB\r");
	spin(20);
	cr_assert_eq(count_calls(&cl, "DATA"), 0);
	cli_send(&cl, "\nCD\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "AB\r\n");
	drelay_reply(i, REPLY_CONTINUE, NULL);
	spin(5);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "CD\r\n");
	cli_free(&cl);
}

Test(conn, three_byte_delimiter_split_over_three_reads)
{
	struct cli cl;
	int i;

	T.srv.delim = (char *)(uintptr_t)"<|>";
	T.srv.delim_len = 3;
	connected(&cl, 0);
	cli_send(&cl, "x<");
	spin(10);
	cli_send(&cl, "|");
	spin(10);
	cr_assert_eq(count_calls(&cl, "DATA"), 0);
	cli_send(&cl, ">y<|");
	UNTIL(count_calls(&cl, "DATA") == 1);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "x<|>");
	drelay_reply(i, REPLY_CONTINUE, NULL);
	spin(20);
	cr_assert_eq(count_calls(&cl, "DATA"), 1, "\"y<|\" is not a message");
	cli_free(&cl);
}

Test(conn, client_eof_sends_the_rest_as_data_then_exactly_one_close)
{
	struct cli cl;
	int i;

	connected(&cl, 0);
	cli_send(&cl, "a\r\nb");
	cr_assert_eq(shutdown(cl.fd, SHUT_WR), 0);
	UNTIL(count_calls(&cl, "DATA") == 1);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "a\r\n");
	drelay_reply(i, REPLY_WRITE, "A");
	spin(5);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "b");
	drelay_reply(i, REPLY_WRITE, "B");

	cli_read_to_end(&cl);
	cr_assert_eq(cl.err, 0);
	cr_assert_eq(cl.len, 2);
	cr_assert_eq(memcmp(cl.in, "AB", 2), 0);
	i = running(&cl, "CLOSE");
	cr_assert_eq(drelay.calls[i].body_len, 0);
	cr_assert_eq(drelay.calls[i].ttl_ms, T.cfg.close_timeout_ms);
	drelay_reply(i, REPLY_WRITE, "ignored");
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_eq(count_calls(&cl, NULL), 4);
	cr_assert_null(conn_of(&cl), "the connection is freed");
	cr_assert_eq(drelay.overlaps, 0);
	cli_free(&cl);
}

Test(conn, write_reply_bytes_reach_the_client)
{
	struct cli cl;

	connected(&cl, 0);
	cli_send(&cl, "ping\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	drelay_reply(running(&cl, "DATA"), REPLY_WRITE, "pong\n");
	cli_spin(&cl, 20);
	cr_assert_eq(cl.len, 5);
	cr_assert_eq(memcmp(cl.in, "pong\n", 5), 0);
	cr_assert(!cl.eof);

	/* CONTINUE writes nothing and keeps the connection. */
	cli_send(&cl, "again\r\n");
	UNTIL(count_calls(&cl, "DATA") == 2);
	drelay_reply(running(&cl, "DATA"), REPLY_CONTINUE, NULL);
	cli_spin(&cl, 20);
	cr_assert_eq(cl.len, 5);
	cr_assert(!cl.eof);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 0);
	cli_free(&cl);
}

/* --- flushing and closing ------------------------------------------------------ */

Test(conn, writeclose_bigger_than_the_socket_flushes_then_closes_then_close)
{
	struct cli cl;
	char *big = pattern(BIG);
	struct rr_conn *c;

	connected(&cl, 1);
	cli_send(&cl, "give\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	drelay_reply(running(&cl, "DATA"), REPLY_WRITECLOSE, big);
	cr_assert_not_null(c = conn_of(&cl));
	cr_assert_eq(c->c_state, CONN_FLUSHING, "state %s",
	    conn_state_str(c->c_state));
	cr_assert_eq(count_calls(&cl, "CLOSE"), 0,
	    "CLOSE before the reply was out");

	cli_read_to_end(&cl);
	cr_assert_eq(cl.err, 0, "read: %s", strerror(cl.err));
	cr_assert_eq(cl.len, (size_t)BIG);
	cr_assert_eq(memcmp(cl.in, big, BIG), 0);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	drelay_reply(running(&cl, "CLOSE"), REPLY_CONTINUE, NULL);
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_eq(log_lines("connection closed", "unsent=", NULL), 0);
	cli_free(&cl);
}

Test(conn, half_close_with_a_big_reply_pending_gets_every_byte_then_close)
{
	struct cli cl;
	char *big = pattern(BIG);

	connected(&cl, 1);
	cli_send(&cl, "give\r\n");
	cr_assert_eq(shutdown(cl.fd, SHUT_WR), 0);
	UNTIL(count_calls(&cl, "DATA") == 1);
	drelay_reply(running(&cl, "DATA"), REPLY_WRITE, big);
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 0);

	cli_read_to_end(&cl);
	cr_assert_eq(cl.err, 0, "read: %s (after %zu bytes)", strerror(cl.err),
	    cl.len);
	cr_assert_eq(cl.len, (size_t)BIG);
	cr_assert_eq(memcmp(cl.in, big, BIG), 0);
	UNTIL(count_calls(&cl, "CLOSE") == 1);
	drelay_reply(running(&cl, "CLOSE"), REPLY_CONTINUE, NULL);
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_eq(count_calls(&cl, "DATA"), 1);
	cr_assert_eq(log_lines("connection closed", "unsent=", NULL), 0);
	cli_free(&cl);
}

Test(conn, conn_close_while_an_event_runs_defers_close_until_it_reports)
{
	struct cli cl;
	struct rr_conn *c;
	int data;

	connected(&cl, 0);
	cli_send(&cl, "slow\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	data = running(&cl, "DATA");
	cr_assert_not_null(c = conn_of(&cl));
	cr_assert_eq(c->c_slot, SLOT_RUNNING);

	conn_close(c, STATS_CLOSE_TCP_CLOSE, LOG_INFO,
	    "closed by the test");
	cli_read_to_end(&cl);
	cr_assert_eq(cl.len, 0);
	cr_assert_eq(log_lines("connection closed", "reason=\"closed by the "
	    "test\"", "worker=4242"), 1);
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 0,
	    "CLOSE while DATA still runs");

	/* The late reply goes nowhere; then CLOSE. */
	drelay_reply(data, REPLY_WRITE, "late");
	spin(5);
	running(&cl, "CLOSE");
	cr_assert_eq(drelay.overlaps, 0);
	drelay_reply(running(&cl, "CLOSE"), REPLY_CONTINUE, NULL);
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_null(conn_of(&cl));
	cli_free(&cl);
}

Test(conn, relay_failed_closes_the_client_and_sends_one_close)
{
	struct cli cl;

	connected(&cl, 0);
	cli_send(&cl, "boom\r\nnext\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	drelay_fail(running(&cl, "DATA"), "worker error: boom");
	cli_read_to_end(&cl);
	cr_assert_eq(cl.len, 0);
	cr_assert_eq(cl.err, 0, "a failed event is a clean close");
	cr_assert_eq(log_lines("connection closed",
	    "reason=\"worker error: boom\"", NULL), 1);
	drelay_reply(running(&cl, "CLOSE"), REPLY_CONTINUE, NULL);
	spin(20);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_eq(count_calls(&cl, "DATA"), 1, "the next message is dropped");
	cli_free(&cl);
}

Test(conn, failed_close_is_not_retried)
{
	struct cli cl;

	connected(&cl, 0);
	cr_assert_eq(shutdown(cl.fd, SHUT_WR), 0);
	UNTIL(count_calls(&cl, "CLOSE") == 1);
	drelay_fail(running(&cl, "CLOSE"), "worker crashed");
	spin(30);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_eq(count_calls(&cl, NULL), 2);
	cr_assert_null(conn_of(&cl));
	cr_assert_eq(log_lines("CLOSE event not delivered",
	    "reason=\"worker crashed\"", NULL), 1);
	cli_free(&cl);
}

Test(conn, retry_reruns_the_same_event_and_fails_after_three_retries)
{
	struct cli cl;
	int i;

	connected(&cl, 0);
	cli_send(&cl, "stop me\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	for (int k = 1; k <= 3; k++) {
		drelay_retry(running(&cl, "DATA"));
		spin(2);
		cr_assert_eq(count_calls(&cl, "DATA"), k + 1);
		i = running(&cl, "DATA");
		cr_assert_str_eq((char *)drelay.calls[i].body, "stop me\r\n");
		cr_assert(!cl.eof);
	}
	drelay_retry(running(&cl, "DATA"));
	cli_read_to_end(&cl);
	cr_assert_eq(count_calls(&cl, "DATA"), 4);
	cr_assert_eq(log_lines("connection closed", "tried 3 times", NULL), 1);
	drelay_reply(running(&cl, "CLOSE"), REPLY_CONTINUE, NULL);
	spin(10);
	cr_assert_eq(count_calls(&cl, "CLOSE"), 1);
	cr_assert_eq(drelay.overlaps, 0);
	cli_free(&cl);
}

Test(conn, retry_of_a_message_that_succeeds_resets_the_count)
{
	struct cli cl;

	connected(&cl, 0);
	cli_send(&cl, "m1\r\nm2\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	for (int k = 0; k < 3; k++) {
		drelay_retry(running(&cl, "DATA"));
		spin(2);
	}
	drelay_reply(running(&cl, "DATA"), REPLY_CONTINUE, NULL);
	spin(2);
	/* m2 has three retries of its own. */
	for (int k = 0; k < 3; k++) {
		cr_assert_str_eq((char *)drelay.calls[running(&cl,
		    "DATA")].body, "m2\r\n");
		drelay_retry(running(&cl, "DATA"));
		spin(2);
	}
	drelay_reply(running(&cl, "DATA"), REPLY_WRITE, "ok");
	cli_spin(&cl, 10);
	cr_assert(!cl.eof);
	cr_assert_eq(cl.len, 2);
	cr_assert_eq(count_calls(&cl, "DATA"), 8);
	cli_free(&cl);
}

Test(conn, relay_start_that_cannot_frame_fails_the_event_and_hands_back_the_worker)
{
	struct cli cl;

	connected(&cl, 0);
	drelay.next_rc = -2;
	cli_send(&cl, "huge\r\n");
	UNTIL(count_calls(&cl, "CLOSE") == 1);
	cr_assert_eq(count_calls(&cl, "DATA"), 0);
	/* CONNECTED's worker (released after its reply), then DATA's. */
	cr_assert_eq(dpool.nreleased, 2);
	cr_assert_eq(log_lines("connection closed", "too large to frame",
	    NULL), 1);
	cli_read_to_end(&cl);
	cli_free(&cl);
}

Test(conn, relay_start_refused_by_a_worker_asks_for_another)
{
	struct cli cl;
	int i;

	connected(&cl, 0);
	drelay.next_rc = -1;
	cli_send(&cl, "hello\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	i = running(&cl, "DATA");
	cr_assert_str_eq((char *)drelay.calls[i].body, "hello\r\n");
	/* Leases: CONNECTED, the refusing worker, the one that took it. */
	cr_assert_eq(dpool.leases, 3);
	cr_assert_neq(drelay.calls[i].w, drelay.calls[0].w);
	cli_free(&cl);
}

/* --- the set ------------------------------------------------------------------ */

Test(conn, drain_ends_idle_connections_after_flushing_and_busy_after_their_event)
{
	struct cli idle, busy;
	char *reply = pattern(200 * 1024);
	struct rr_conn *c;
	int data;

	connected(&idle, 1);
	connected(&busy, 0);
	cli_send(&idle, "give\r\n");
	UNTIL(count_calls(&idle, "DATA") == 1);
	drelay_reply(running(&idle, "DATA"), REPLY_WRITE, reply);
	cli_send(&busy, "work\r\n");
	UNTIL(count_calls(&busy, "DATA") == 1);
	data = running(&busy, "DATA");
	cr_assert_not_null(c = conn_of(&idle));
	cr_assert_gt(buf_len(&c->c_out), 0, "precondition: output pending");

	conn_set_drain(&T.cs);
	cr_assert_eq(c->c_state, CONN_FLUSHING, "state %s",
	    conn_state_str(c->c_state));
	spin(20);
	cr_assert_eq(count_calls(&idle, "CLOSE"), 0);
	cr_assert_eq(count_calls(&busy, "CLOSE"), 0);

	/* The idle one: every byte, then the close, then CLOSE. */
	cli_read_to_end(&idle);
	cr_assert_eq(idle.err, 0);
	cr_assert_eq(idle.len, 200 * 1024);
	cr_assert_eq(memcmp(idle.in, reply, idle.len), 0);
	UNTIL(count_calls(&idle, "CLOSE") == 1);
	cr_assert_eq(log_lines("connection closed", "server shutting down",
	    NULL), 1);

	/* The busy one is left alone until its event reports. */
	cli_spin(&busy, 20);
	cr_assert(!busy.eof);
	cr_assert_eq(count_calls(&busy, "CLOSE"), 0);
	drelay_reply(data, REPLY_WRITE, "bye");
	cli_read_to_end(&busy);
	cr_assert_eq(busy.len, 3);
	cr_assert_eq(memcmp(busy.in, "bye", 3), 0);
	UNTIL(count_calls(&busy, "CLOSE") == 1);
	cr_assert_eq(log_lines("connection closed", "server shutting down",
	    NULL), 2);
	cli_free(&idle);
	cli_free(&busy);
}

Test(conn, drain_starts_no_new_event_for_a_message_already_read)
{
	struct cli cl;

	connected(&cl, 0);
	cli_send(&cl, "m1\r\nm2\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	conn_set_drain(&T.cs);
	drelay_reply(running(&cl, "DATA"), REPLY_WRITE, "r1");
	cli_spin(&cl, 20);
	/* conn.h: busy connections end "when their event is done"; the
	 * set is "shutting down: no new events". */
	cr_assert_eq(count_calls(&cl, "DATA"), 1,
	    "a DATA event was started after the drain began");
	cr_assert(cl.eof);
	cli_free(&cl);
}

Test(conn, close_uuid_closes_the_right_connection)
{
	struct cli a, b;
	char bogus[NET_UUIDLEN + 1];

	connected(&a, 0);
	connected(&b, 0);
	cr_assert_str_neq(a.uuid, b.uuid);
	cr_assert_eq(conn_set_close_uuid(&T.cs, b.uuid), 1);
	cli_read_to_end(&b);
	cr_assert_eq(b.err, 0);
	UNTIL(count_calls(&b, "CLOSE") == 1);
	cr_assert_eq(log_lines("connection closed", "closed by tcp.Close",
	    NULL), 1);

	cli_spin(&a, 20);
	cr_assert(!a.eof);
	cr_assert_eq(count_calls(&a, "CLOSE"), 0);
	cr_assert_not_null(conn_of(&a));

	/* An unknown uuid, and b's again (already closing): nothing. */
	memcpy(bogus, a.uuid, sizeof(bogus));
	bogus[0] = bogus[0] == 'f' ? '0' : 'f';
	cr_assert_eq(conn_set_close_uuid(&T.cs, bogus), 0);
	cr_assert_eq(conn_set_close_uuid(&T.cs, b.uuid), 0);
	cli_spin(&a, 10);
	cr_assert(!a.eof);
	cli_free(&a);
	cli_free(&b);
}

Test(conn, close_with_unsent_output_resets_and_logs_unsent)
{
	struct cli cl;
	char *big = pattern(BIG);

	connected(&cl, 1);
	cli_send(&cl, "give\r\n");
	UNTIL(count_calls(&cl, "DATA") == 1);
	drelay_reply(running(&cl, "DATA"), REPLY_WRITE, big);
	spin(10);
	cr_assert_eq(conn_set_close_uuid(&T.cs, cl.uuid), 1);
	cli_read_to_end(&cl);
	cr_assert_eq(cl.err, ECONNRESET, "read: %s after %zu bytes",
	    strerror(cl.err), cl.len);
	cr_assert_lt(cl.len, (size_t)BIG);
	cr_assert_eq(log_lines("connection closed", "unsent=", "reset=1"), 1);
	UNTIL(count_calls(&cl, "CLOSE") == 1);
	cli_free(&cl);
}

Test(conn, max_message_size_without_a_delimiter_closes_with_a_reason)
{
	struct cli cl;

	T.srv.max_message_size = 16;
	connected(&cl, 0);
	cli_send(&cl, "0123456789abcdef0123456789abcdef0123456789");
	cli_read_to_end(&cl);
	cr_assert_eq(cl.len, 0);
	UNTIL(count_calls(&cl, "CLOSE") == 1);
	cr_assert_eq(count_calls(&cl, "DATA"), 0);
	cr_assert_eq(log_lines("connection closed", "max_message_size (16 "
	    "bytes)", "level=warn"), 1);
	cli_free(&cl);
}
