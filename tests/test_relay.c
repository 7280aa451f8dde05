/*
 * test_relay.c - the connection <-> worker exchange, through a real reactor:
 * request frames byte for byte (rrtcp-protocol(7) 2, 4.3), replies reaching the
 * client, one DATA per message, error frames, broken and exiting workers,
 * Worker::stop(), stray frames, and requests larger than a pipe.
 *
 * Each test runs what rrtcp.c runs: the pool's control loop on its own
 * thread, one reactor thread (conn.c) with a listener on 127.0.0.1, port 0,
 * and tests/fake_worker processes (FAKE_WORKER, else next to this binary)
 * that append every request they read to a file.  The test thread is the
 * TCP client.
 */
#include "relay.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"

#include "config.h"
#include "reactor.h"
#include "log.h"
#include "net.h"
#include "pool.h"

#define WAIT_MS		5000	/* bound on any one wait; ASan is slow */

struct req {
	const uint8_t	*raw;		/* the whole frame as the worker read it */
	size_t		 total;
	uint32_t	 len;		/* payload length from the header */
	uint32_t	 ctxlen;	/* options[0] */
	char		 ctx[256];
	const uint8_t	*body;
	size_t		 bodylen;
};

static struct {
	struct rr_config cfg;
	struct rr_server_conf srv;
	char		*argv[3];
	char		*env[8];
	int		 nenv;
	char		 dir[64];
	char		 log[128];
	char		 rec[128];
	char		 pids[128];

	struct ev	*control;
	pthread_t	 control_thread;
	int		 control_running;
	struct ev_timer	 quit_timer;
	_Atomic int	 quit;
	int		 stopping;
	int64_t		 stop_deadline;
	int		 stopped;
	struct rr_reactor r;
	int		 reactor_running;
	int		 port;
	int		 ready;
	char		 reason[256];

	uint8_t		*recbuf;	/* what the workers read, see requests() */
	struct req	 reqs[64];
} T;

/* --- helpers -------------------------------------------------------------- */


/* How many lines of the log hold every one of the given strings. */
static int
log_lines(const char *a, const char *b, const char *c)
{
	return log_lines_in(T.log, a, b, c);
}

static int
npids(void)
{
	char *s = (char *)slurp(T.pids, NULL);
	int n = 0;

	for (char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

static pid_t
first_pid(void)
{
	char *s = (char *)slurp(T.pids, NULL);
	pid_t pid = (pid_t)atoi(s);

	free(s);
	return pid;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* CRC-32/ISO-HDLC, bit by bit: independent of frame.c's table. */
static uint32_t
crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320 : c >> 1;
	}
	return ~c;
}

/*
 * Parses the requests the workers recorded, in order.  Returns how many whole
 * frames there are; T.reqs points into T.recbuf until the next call.
 */
static int
requests(void)
{
	size_t len, off = 0;
	int n = 0;

	free(T.recbuf);
	T.recbuf = slurp(T.rec, &len);
	while (off + 12 <= len && n < 64) {
		const uint8_t *f = T.recbuf + off;
		size_t hl = (size_t)(f[0] & 0x0f) * 4;
		struct req *r = &T.reqs[n];

		if (off + hl > len || off + hl + le32(f + 2) > len)
			break;
		r->raw = f;
		r->len = le32(f + 2);
		r->total = hl + r->len;
		r->ctxlen = hl >= 16 ? le32(f + 12) : 0;
		snprintf(r->ctx, sizeof(r->ctx), "%.*s",
		    (int)(r->ctxlen < r->len ? r->ctxlen : r->len),
		    (const char *)f + hl);
		r->body = f + hl + r->ctxlen;
		r->bodylen = r->len - r->ctxlen;
		off += r->total;
		n++;
	}
	return n;
}

/* Waits until the workers have read at least n requests; returns the count. */
static int
wait_requests(int n)
{
	int64_t end = ev_clock_ms() + WAIT_MS;
	int got;

	while ((got = requests()) < n && ev_clock_ms() < end)
		usleep(5000);
	return got;
}

static int
wait_log(const char *a, const char *b)
{
	int64_t end = ev_clock_ms() + WAIT_MS;

	while (log_lines(a, b, NULL) == 0 && ev_clock_ms() < end)
		usleep(5000);
	return log_lines(a, b, NULL);
}

static int
wait_log_n(const char *a, int n)
{
	int64_t end = ev_clock_ms() + WAIT_MS;

	while (log_lines(a, NULL, NULL) < n && ev_clock_ms() < end)
		usleep(5000);
	return log_lines(a, NULL, NULL);
}

static const char *
event_of(const struct req *r)
{
	static const char *const names[] = { "CONNECTED", "DATA", "CLOSE" };
	char want[32];

	for (int i = 0; i < 3; i++) {
		size_t n = (size_t)snprintf(want, sizeof(want),
		    "\"event\":\"%s\"}", names[i]);
		if (strlen(r->ctx) >= n &&
		    strcmp(r->ctx + strlen(r->ctx) - n, want) == 0)
			return names[i];
	}
	return "?";
}

static void
addenv(const char *fmt, const char *arg)
{
	cr_assert_lt(T.nenv, 7);
	cr_assert_neq(asprintf(&T.env[T.nenv++], fmt, arg), -1);
	T.env[T.nenv] = NULL;
}

/* One server "tst" on 127.0.0.1, n workers in the given mode; see start(). */
static void
setup(const char *mode, unsigned n)
{
	signal(SIGPIPE, SIG_IGN);	/* as rrtcp.c */
	snprintf(T.dir, sizeof(T.dir), "/tmp/rrtcp-test-relay-XXXXXX");
	cr_assert_not_null(mkdtemp(T.dir));
	snprintf(T.log, sizeof(T.log), "%s/log", T.dir);
	snprintf(T.rec, sizeof(T.rec), "%s/requests", T.dir);
	snprintf(T.pids, sizeof(T.pids), "%s/pids", T.dir);
	log_setup(LOG_INFO, 0);
	cr_assert_eq(log_open(T.log), 0);

	T.srv.name = (char *)(uintptr_t)"tst";
	T.srv.addr = (char *)(uintptr_t)"127.0.0.1:0";
	T.srv.host = (char *)(uintptr_t)"127.0.0.1";
	T.srv.port = (char *)(uintptr_t)"0";
	T.srv.delim = (char *)(uintptr_t)"\r\n";
	T.srv.delim_len = 2;
	T.srv.max_message_size = 64 * 1024;

	T.argv[0] = (char *)(uintptr_t)fake_worker();
	T.argv[1] = (char *)(uintptr_t)mode;
	T.argv[2] = NULL;
	T.nenv = 0;
	addenv("FAKE_RECORD=%s", T.rec);
	addenv("FAKE_PIDS=%s", T.pids);
	T.cfg.env = T.env;
	T.cfg.servers = &T.srv;
	T.cfg.nservers = 1;
	T.cfg.read_buf_size = 1 << 20;
	T.cfg.reactors = 1;
	T.cfg.max_connections = 100;
	T.cfg.max_frame_size = 64 << 20;
	T.cfg.close_timeout_ms = 2000;
	T.cfg.pool.command = T.argv;
	T.cfg.pool.num_workers = n;
	T.cfg.pool.allocate_timeout_ms = WAIT_MS;
	T.cfg.pool.destroy_timeout_ms = 1000;
	T.ready = -1;
}

static void
on_ready(int ok, const char *reason)
{
	T.ready = ok;
	snprintf(T.reason, sizeof(T.reason), "%s", reason ? reason : "");
	ev_stop(T.control);
}

static void
on_ready_timeout(struct ev *loop, struct ev_timer *t)
{
	ev_stop(loop);
}

static void
on_stopped(void)
{
	T.stopped = 1;
}

/* Control thread: stops the pool when the test is over, then the loop. */
static void
on_quit_poll(struct ev *loop, struct ev_timer *t)
{
	if (atomic_load(&T.quit) && !T.stopping) {
		T.stopping = 1;
		T.stop_deadline = ev_clock_ms() + 3000;
		pool_stop_all(1000, on_stopped);
	}
	if (T.stopping && (T.stopped || ev_clock_ms() > T.stop_deadline)) {
		ev_stop(loop);
		return;
	}
	ev_timer_arm(loop, t, 5);
}

static void *
control_main(void *arg)
{
	ev_timer_init(&T.quit_timer, on_quit_poll, NULL);
	ev_timer_arm(T.control, &T.quit_timer, 5);
	ev_run(T.control);
	return NULL;
}

/* Starts the pool, waits for its workers, then the reactor and control. */
static void
start(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct ev_timer t;
	char err[256] = "";
	int fd;

	cr_assert_not_null(T.control = ev_new(256, NULL));
	cr_assert_eq(reactor_init(&T.r, 0, &T.cfg), 0);
	cr_assert_eq(net_listen(&T.srv, 0, 0, &fd, 1, err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	T.port = ntohs(sin.sin_port);
	cr_assert_eq(reactor_add_listener(&T.r, 0, fd), 0);
	cr_assert_eq(pool_start(T.control, &T.cfg, relay_on_worker_io,
	    on_ready, err, sizeof(err)), 0, "pool_start: %s", err);
	ev_timer_init(&t, on_ready_timeout, NULL);
	ev_timer_arm(T.control, &t, 2 * WAIT_MS);
	ev_run(T.control);
	ev_timer_cancel(T.control, &t);
	cr_assert_eq(T.ready, 1, "pool not ready: %s", T.reason);
	cr_assert_eq(reactor_start(&T.r), 0);
	T.reactor_running = 1;
	cr_assert_eq(pthread_create(&T.control_thread, NULL, control_main,
	    NULL), 0);
	T.control_running = 1;
}

/*
 * The workers first, then the reactor: rrtcp.c does it the other way round,
 * which worker_exiting_after_the_reactor_is_joined_is_reaped_safely covers.
 */
static void
teardown(void)
{
	if (T.control_running) {
		atomic_store(&T.quit, 1);
		pthread_join(T.control_thread, NULL);
	}
	if (T.reactor_running) {
		reactor_stop(&T.r);
		reactor_join(&T.r);
	}
	free(T.recbuf);
	log_open(NULL);
	rmtree(T.dir);
}

TestSuite(relay, .fini = teardown, .timeout = 30);

/* --- the client ----------------------------------------------------------- */

static int
client(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)T.port) };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_neq(fd, -1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "connect: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	return ntohs(sin.sin_port);
}

static void
send_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		cr_assert_gt(w, 0, "send: %s", strerror(errno));
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Reads n bytes, or fewer on EOF, error or timeout. */
static size_t
recv_n(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, (char *)p + got, n - got, 0);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void
expect_reply(int fd, const char *want)
{
	char buf[256];
	size_t n = strlen(want);

	cr_assert_lt(n, sizeof(buf));
	cr_assert_eq(recv_n(fd, buf, n), n, "short reply for %s", want);
	buf[n] = '\0';
	cr_assert_str_eq(buf, want);
}

/* The server closes: EOF with nothing before it. */
static void
expect_eof(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, 0);

	cr_assert_eq(r, 0, "want EOF, got %zd (%s)", r,
	    r == 1 ? "a byte" : strerror(errno));
}

/* Nothing arrives for ms. */
static void
expect_silence(int fd, int ms)
{
	struct timeval tv = { .tv_usec = ms * 1000 };
	char c;
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = recv(fd, &c, 1, 0);
	cr_assert(r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK),
	    "want nothing, got %zd%s%c", r, r == 1 ? ": " : "", r == 1 ? c : ' ');
	tv.tv_sec = WAIT_MS / 1000;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* --- request frames ------------------------------------------------------- */

/* Checks the fixed header of a request (rrtcp-protocol(7) 2, first row). */
static void
check_header(const struct req *r, size_t ctxlen, size_t bodylen)
{
	cr_assert_eq(r->raw[0], 0x14, "HL 4, version 1: got 0x%02x", r->raw[0]);
	cr_assert_eq(r->raw[1], 0x00, "flags 0");
	cr_assert_eq(r->len, ctxlen + bodylen);
	cr_assert_eq(le32(r->raw + 6), crc32_ref(r->raw, 6), "header CRC");
	cr_assert_eq(r->raw[10], 0);
	cr_assert_eq(r->raw[11], 0);
	cr_assert_eq(r->ctxlen, ctxlen, "options[0] = len(ctx)");
	cr_assert_eq(r->bodylen, bodylen);
}

Test(relay, request_frames_have_hl4_ctx_length_option_and_crc)
{
	char prefix[128], want[256], uuid[NET_UUIDLEN + 1];
	size_t plen;
	regex_t re;
	int fd;

	setup("echo", 1);
	start();
	fd = client();
	send_str(fd, "HELO x\r\n");
	expect_reply(fd, "HELO x\r\n");
	cr_assert_eq(wait_requests(2), 2);

	/* {"remote_addr":R,"server":S,"uuid":U,"event":E}, no blanks (4.3). */
	plen = (size_t)snprintf(prefix, sizeof(prefix), "{\"remote_addr\":"
	    "\"127.0.0.1:%d\",\"server\":\"tst\",\"uuid\":\"", local_port(fd));
	cr_assert(strncmp(T.reqs[0].ctx, prefix, plen) == 0,
	    "ctx %s\nwant prefix %s", T.reqs[0].ctx, prefix);
	snprintf(uuid, sizeof(uuid), "%s", T.reqs[0].ctx + plen);
	cr_assert_eq(regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
	    "[89ab][0-9a-f]{3}-[0-9a-f]{12}$", REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(regexec(&re, uuid, 0, NULL, 0), 0, "uuid %s", uuid);
	regfree(&re);

	snprintf(want, sizeof(want), "%s%s\",\"event\":\"CONNECTED\"}", prefix,
	    uuid);
	cr_assert_str_eq(T.reqs[0].ctx, want);
	check_header(&T.reqs[0], strlen(want), 0);

	/* The same context, but DATA, and the message with its delimiter. */
	snprintf(want, sizeof(want), "%s%s\",\"event\":\"DATA\"}", prefix, uuid);
	cr_assert_str_eq(T.reqs[1].ctx, want);
	check_header(&T.reqs[1], strlen(want), 8);
	cr_assert(memcmp(T.reqs[1].body, "HELO x\r\n", 8) == 0);
	close(fd);

	/* Client EOF: exactly one CLOSE, same context, empty body. */
	cr_assert_eq(wait_requests(3), 3);
	snprintf(want, sizeof(want), "%s%s\",\"event\":\"CLOSE\"}", prefix, uuid);
	cr_assert_str_eq(T.reqs[2].ctx, want);
	check_header(&T.reqs[2], strlen(want), 0);
	usleep(100 * 1000);
	cr_assert_eq(requests(), 3);
}

Test(relay, echo_worker_reply_reaches_the_client)
{
	int a, b;

	setup("echo", 2);
	start();
	a = client();
	b = client();
	send_str(a, "one\r\n");
	send_str(b, "two\r\n");
	expect_reply(b, "two\r\n");
	expect_reply(a, "one\r\n");
	send_str(a, "three\r\n");
	expect_reply(a, "three\r\n");
	close(a);
	close(b);
}

Test(relay, two_messages_in_one_write_are_two_data_requests)
{
	int fd;

	setup("echo", 1);
	start();
	fd = client();
	send_str(fd, "A\r\nB\r\n");
	expect_reply(fd, "A\r\nB\r\n");
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_str_eq(event_of(&T.reqs[0]), "CONNECTED");
	cr_assert_str_eq(event_of(&T.reqs[1]), "DATA");
	cr_assert_eq(T.reqs[1].bodylen, 3);
	cr_assert(memcmp(T.reqs[1].body, "A\r\n", 3) == 0);
	cr_assert_str_eq(event_of(&T.reqs[2]), "DATA");
	cr_assert_eq(T.reqs[2].bodylen, 3);
	cr_assert(memcmp(T.reqs[2].body, "B\r\n", 3) == 0);
	close(fd);
}

Test(relay, delimiter_split_over_two_writes_is_one_data_request)
{
	int fd;

	setup("echo", 1);
	start();
	fd = client();
	send_str(fd, "HEL");
	usleep(50 * 1000);
	send_str(fd, "O\r");
	usleep(50 * 1000);
	send_str(fd, "\n");
	expect_reply(fd, "HELO\r\n");
	cr_assert_eq(wait_requests(2), 2);
	cr_assert_eq(T.reqs[1].bodylen, 6);
	cr_assert(memcmp(T.reqs[1].body, "HELO\r\n", 6) == 0);
	close(fd);
}

Test(relay, client_eof_sends_the_rest_as_data_then_one_close)
{
	int fd;

	setup("echo", 1);
	start();
	fd = client();
	send_str(fd, "abc");
	shutdown(fd, SHUT_WR);
	expect_reply(fd, "abc");
	expect_eof(fd);
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_str_eq(event_of(&T.reqs[1]), "DATA");
	cr_assert_eq(T.reqs[1].bodylen, 3);
	cr_assert_str_eq(event_of(&T.reqs[2]), "CLOSE");
	usleep(100 * 1000);
	cr_assert_eq(requests(), 3);
	close(fd);
}

/* --- failures --------------------------------------------------------------- */

Test(relay, error_frame_closes_client_with_no_data)
{
	int fd;

	setup("error", 1);
	start();
	fd = client();
	send_str(fd, "hello\r\n");
	expect_eof(fd);
	cr_assert_eq(log_lines("msg=\"connection closed\"",
	    "reason=\"worker error: boom\"", NULL), 1);
	/* rrtcp policy (4.7): one CLOSE event, to the same worker (3.4). */
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_str_eq(event_of(&T.reqs[2]), "CLOSE");
	usleep(100 * 1000);
	cr_assert_eq(requests(), 3);
	cr_assert_eq(npids(), 1, "a soft error must not replace the worker");
	cr_assert_eq(log_lines("msg=\"worker killed\"", NULL, NULL), 0);
	close(fd);
}

Test(relay, garbage_reply_kills_worker_and_closes_client)
{
	int fd;

	setup("garbage", 1);
	start();
	fd = client();
	send_str(fd, "hello\r\n");
	expect_eof(fd);
	cr_assert_eq(wait_log("msg=\"worker killed\"",
	    "reason=\"invalid frame on stdout"), 1);
	/* The CLOSE event goes to the replacement. */
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_str_eq(event_of(&T.reqs[2]), "CLOSE");
	cr_assert_eq(npids(), 2);
	close(fd);
}

Test(relay, worker_exit_during_event_closes_client_and_is_replaced)
{
	int fd;

	setup("exit", 1);
	start();
	fd = client();
	send_str(fd, "hello\r\n");
	expect_eof(fd);
	cr_assert_eq(wait_log("msg=\"connection closed\"",
	    "worker closed its stdout"), 1);
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_str_eq(event_of(&T.reqs[2]), "CLOSE");
	cr_assert_eq(npids(), 2);
	cr_assert_eq(wait_log("msg=\"worker exited\"", "status=3"), 1);
	close(fd);
}

Test(relay, stop_request_reruns_the_event_on_another_worker)
{
	char once[160];
	int fd;

	setup("stop", 1);
	snprintf(once, sizeof(once), "%s/once", T.dir);
	addenv("FAKE_ONCE=%s", once);
	start();
	fd = client();
	send_str(fd, "hi\r\n");
	expect_reply(fd, "hi\r\n");
	cr_assert_eq(log_lines("msg=\"worker retired\"",
	    "reason=\"worker asked to stop\"", NULL), 1);
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_str_eq(event_of(&T.reqs[1]), "DATA");
	cr_assert_str_eq(event_of(&T.reqs[2]), "DATA");
	cr_assert_eq(T.reqs[2].bodylen, 4);
	cr_assert_eq(npids(), 2);
	cr_assert_eq(wait_log("msg=\"worker exited\"", "status=0"), 1);
	close(fd);
}

Test(relay, stray_frame_after_reply_is_dropped_not_sent_to_client)
{
	int fd;

	setup("stray", 1);
	start();
	fd = client();
	send_str(fd, "a\r\n");
	cr_assert_eq(wait_log("msg=\"frame from worker with no request in "
	    "flight, dropped\"", "ctx=\"WRITE\" bytes=10"), 1);
	expect_silence(fd, 200);
	/* From now on its answers are fenced (a pid request after each):
	 * the next stray frame is caught the same way. */
	send_str(fd, "b\r\n");
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_eq(wait_log_n("msg=\"frame from worker with no request in "
	    "flight, dropped\"", 2), 2);
	expect_silence(fd, 200);
	cr_assert_eq(npids(), 1);
	cr_assert_eq(log_lines("msg=\"worker killed\"", NULL, NULL), 0);
	close(fd);
}

Test(relay, max_jobs_retires_worker_after_its_reply)
{
	pid_t first;
	char who[32];
	int fd;

	setup("echo", 1);
	T.cfg.pool.max_jobs = 2;	/* CONNECTED + one DATA */
	start();
	fd = client();
	send_str(fd, "one\r\n");
	expect_reply(fd, "one\r\n");
	/* The reply goes out first, then the worker is retired and replaced. */
	first = first_pid();
	snprintf(who, sizeof(who), "worker=%d ", (int)first);
	cr_assert_eq(wait_log("msg=\"worker retired\"", who), 1);
	cr_assert_eq(log_lines("msg=\"worker retired\"", who,
	    "reason=\"max_jobs reached\""), 1);
	send_str(fd, "two\r\n");
	expect_reply(fd, "two\r\n");
	cr_assert_eq(npids(), 2, "two was not served by a replacement");
	cr_assert_eq(wait_log("msg=\"worker exited\"", who), 1);
	close(fd);
}

/* --- big requests --------------------------------------------------------- */

/*
 * A pipe takes 64 KiB: the rest of the request waits in w_wbuf and goes on
 * EPOLLOUT (relay.c flush_request).  The worker must read the very bytes the
 * client sent, and the echo (larger than the socket buffers) come back whole.
 */
Test(relay, request_bigger_than_the_pipe_reaches_the_worker_intact)
{
	size_t n = (1 << 20) + 2;
	uint8_t *msg = malloc(n), *back = malloc(n);
	int fd;

	cr_assert_not_null(msg);
	cr_assert_not_null(back);
	for (size_t i = 0; i < n - 2; i++)
		msg[i] = (uint8_t)('a' + (i * 7 + i / 4096) % 26);
	memcpy(msg + n - 2, "\r\n", 2);
	setup("echo", 1);
	T.srv.max_message_size = 4 << 20;
	start();
	fd = client();
	send_all(fd, msg, n);
	cr_assert_eq(recv_n(fd, back, n), n, "short echo");
	cr_assert(memcmp(back, msg, n) == 0, "echo differs");
	cr_assert_eq(wait_requests(2), 2);
	cr_assert_str_eq(event_of(&T.reqs[1]), "DATA");
	check_header(&T.reqs[1], T.reqs[1].ctxlen, n);
	cr_assert(memcmp(T.reqs[1].body, msg, n) == 0,
	    "the worker read other bytes than the client sent");
	/* And the next exchange on that worker is clean. */
	send_str(fd, "after\r\n");
	expect_reply(fd, "after\r\n");
	close(fd);
	free(msg);
	free(back);
}

Test(relay, two_big_requests_back_to_back_reach_the_worker_intact)
{
	size_t n = 300 * 1024 + 2;
	uint8_t *msg = malloc(2 * n), *back = malloc(2 * n);
	int fd;

	cr_assert_not_null(msg);
	cr_assert_not_null(back);
	for (size_t i = 0; i < 2 * n; i++)
		msg[i] = (uint8_t)('A' + (i * 13 + i / 1000) % 26);
	memcpy(msg + n - 2, "\r\n", 2);
	memcpy(msg + 2 * n - 2, "\r\n", 2);
	setup("echo", 1);
	T.srv.max_message_size = 1 << 20;
	start();
	fd = client();
	send_all(fd, msg, 2 * n);	/* one write, two messages */
	cr_assert_eq(recv_n(fd, back, 2 * n), 2 * n, "short echo");
	cr_assert(memcmp(back, msg, 2 * n) == 0, "echo differs");
	cr_assert_eq(wait_requests(3), 3);
	cr_assert_eq(T.reqs[1].bodylen, n);
	cr_assert(memcmp(T.reqs[1].body, msg, n) == 0);
	cr_assert_eq(T.reqs[2].bodylen, n);
	cr_assert(memcmp(T.reqs[2].body, msg + n, n) == 0);
	close(fd);
	free(msg);
	free(back);
}

/* --- shutdown ------------------------------------------------------------- */

/*
 * rrtcp.c's shutdown (on_stop_timer) joins the reactors, which frees their
 * loops, and only then stops the pool.  A worker retired just before, whose
 * process exits just after, drops its last reference on the control thread
 * then.  Fails under ASan only: the plain build reads freed memory quietly.
 */
Test(relay, worker_exiting_after_the_reactor_is_joined_is_reaped_safely)
{
	int fd;

	setup("echo", 1);
	T.cfg.pool.max_jobs = 1;	/* the CONNECTED event retires it */
	addenv("FAKE_STOP_DELAY_MS=%s", "300");
	start();
	fd = client();
	cr_assert_eq(wait_log("msg=\"worker retired\"",
	    "reason=\"max_jobs reached\""), 1);
	reactor_stop(&T.r);		/* as on_stop_timer, before pool_stop_all */
	reactor_join(&T.r);
	T.reactor_running = 0;
	cr_assert_eq(wait_log("msg=\"worker exited\"", "state=maxJobsReached"),
	    1);
	usleep(200 * 1000);	/* the exit's last worker_unref() comes next */
	close(fd);
}
