/*
 * test_rpc.c - the goridge RPC server and client against rrtcp-protocol(7) 5 and
 * the R1-R5 vectors: byte-exact JSON and gob replies, net/rpc error texts,
 * codec pick order, frames that close the connection, pipelining and
 * back-pressure, rpc_call() against the server and against fakes.
 *
 * The server runs on its own ev loop in a thread; the tests talk to it with
 * plain blocking sockets.  Expected bytes are written as hex copied from the
 * spec, never produced by the code under test.
 */
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "ev.h"
#include "frame.h"
#include "log.h"

#define R1_UUID	"\"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a\""

/* rrtcp-protocol(7) 5.4, verbatim. */
#define HEX_STRINGS_DEF	"0c ff81 02 01 02 ff82 00 01 0c 00 00"
#define HEX_STRINGS_TCP	"08 ff82 00 01 03 746370"
#define HEX_WL_DEF1 \
	"25ff830301010a576f726b65724c69737401ff840001010107576f726b657273" \
	"01ff88000000"
#define HEX_WL_DEF2 \
	"1fff87020101105b5d2a70726f636573732e537461746501ff880001ff860000"
#define HEX_WL_DEF3 \
	"71ff85030102ff86000108010350696401040001065374617475730104000108" \
	"4e756d4578656373010600010743726561746564010400010b4d656d6f727955" \
	"73616765010600010a43505550657263656e740108000107436f6d6d616e6401" \
	"0c000109537461747573537472010c000000"
#define HEX_WL_ONE \
	"29 ff84 01 01 01 fe2124 01 02 01 07 01 f82f2f39fc7b0b9a2a " \
	"01 fc01400000 01 fee03f 02 05 7265616479 00 00"
#define HEX_WL_EMPTY	"03 ff84 00"
#define HEX_JOBS \
	"0dff8b020102ff8c0001ff8a00007aff89030102ff8a0001090108506970656c" \
	"696e65010c000106447269766572010c0001055175657565010c000106416374" \
	"697665010400010744656c617965640104000108526573657276656401040001" \
	"05526561647901020001085072696f72697479010600010c4572726f724d6573" \
	"73616765010c00000004ff8c0000"
/* One process.State of HEX_WL_ONE, as a slice element. */
#define HEX_STATE \
	"01 fe2124 01 02 01 07 01 f82f2f39fc7b0b9a2a " \
	"01 fc01400000 01 fee03f 02 05 7265616479 00"

#define WORKER_JSON	"{\"pid\":4242,\"status\":1,\"numExecs\":7," \
	"\"created\":1700000000123456789,\"memoryUsage\":20971520," \
	"\"CPUPercent\":0.5,\"command\":\"\",\"statusStr\":\"ready\"}"

/* --- handlers ------------------------------------------------------------- */

static const char *const plugins[] = { "tcp" };

static const struct rpc_worker_state worker1 = {
	.pid = 4242, .status = 1, .num_execs = 7,
	.created = 1700000000123456789LL, .memory = 20971520, .cpu = 0.5,
	.status_str = "ready",
};

static int
h_true(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_BOOL;
	out->b = 1;
	return 0;
}

static int
h_reset(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	if (arg->is_string && strcmp(arg->s, "tcp") == 0) {
		out->type = RV_BOOL;
		out->b = 1;
		return 0;
	}
	snprintf(err, errlen, "no such plugin: %s", arg->is_string ? arg->s : "");
	return -1;
}

static int
h_list(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_STRINGS;
	out->strs = plugins;
	out->nstrs = 1;
	return 0;
}

/*
 * "tcp": one worker; "four": four; "cpu:<f>": one with that CPU; "max": one
 * with every number at its extreme; else none.
 */
static int
h_workers(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	static struct rpc_worker_state ws[4];

	out->type = RV_WORKERS;
	out->workers = ws;
	out->nworkers = 0;
	for (int i = 0; i < 4; i++)
		ws[i] = worker1;
	if (!arg->is_string)
		return 0;
	if (strcmp(arg->s, "tcp") == 0)
		out->nworkers = 1;
	else if (strcmp(arg->s, "four") == 0)
		out->nworkers = 4;
	else if (strncmp(arg->s, "cpu:", 4) == 0) {
		ws[0].cpu = strtod(arg->s + 4, NULL);
		out->nworkers = 1;
	} else if (strcmp(arg->s, "max") == 0) {
		ws[0].pid = INT64_MIN;
		ws[0].status = INT64_MAX;
		ws[0].num_execs = UINT64_MAX;
		ws[0].created = INT64_MIN;
		ws[0].memory = UINT64_MAX;
		ws[0].cpu = DBL_MAX;
		out->nworkers = 1;
	}
	return 0;
}

static int
h_null(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_NULL;
	return 0;
}

/* Replies with a description of the argument it got. */
static int
h_echo(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	static char text[256];

	if (!arg->present)
		snprintf(text, sizeof(text), "none");
	else if (arg->is_string)
		snprintf(text, sizeof(text), "string:%s:%zu", arg->s, arg->slen);
	else if (arg->is_bool)
		snprintf(text, sizeof(text), "bool:%s", arg->b ? "true" : "false");
	else
		snprintf(text, sizeof(text), "other");
	out->type = RV_STRING;
	out->s = text;
	return 0;
}

static int
h_fail_silently(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	return -1;
}

static const struct rpc_method methods[] = {
	{ "tcp.Close", h_true },
	{ "resetter.Reset", h_reset },
	{ "resetter.List", h_list },
	{ "informer.List", h_list },
	{ "informer.Workers", h_workers },
	{ "informer.Jobs", h_null },
	{ "test.Echo", h_echo },
	{ "test.Fail", h_fail_silently },
};
#define NMETHODS	(sizeof(methods) / sizeof(methods[0]))

/* --- server in a thread --------------------------------------------------- */

static struct ev	*loop;
static pthread_t	 loop_thread;
static char		 addr[128];
static int		 port;

static void
on_wake(struct ev *l, void *arg)
{
	ev_stop(l);
}

static void *
loop_main(void *arg)
{
	ev_run(loop);
	return NULL;
}

/* A port nobody listens on right now (memcached's free_port). */
static int
free_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	p = ntohs(in.sin_port);
	close(fd);
	return p;
}

static void
start_at(const char *a)
{
	char err[256] = "";

	log_setup(LOG_ERROR, 0);
	loop = ev_new(64, NULL);
	cr_assert_not_null(loop);
	ev_set_wake(loop, on_wake, NULL);
	snprintf(addr, sizeof(addr), "%s", a);
	cr_assert_eq(rpc_serve(loop, addr, methods, NMETHODS, NULL, err,
	    sizeof(err)), 0, "rpc_serve: %s", err);
	cr_assert_eq(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
}

static void
setup(void)
{
	char a[128];

	port = free_port();
	snprintf(a, sizeof(a), "tcp://127.0.0.1:%d", port);
	start_at(a);
}

static void
teardown(void)
{
	if (loop == NULL)
		return;
	ev_wake(loop);
	pthread_join(loop_thread, NULL);
	rpc_close();
	ev_free(loop);
	loop = NULL;
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 30);

/* --- client helpers ------------------------------------------------------- */

static size_t
hex(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s != '\0') {
		unsigned v;

		if (*s == ' ') {
			s++;
			continue;
		}
		cr_assert_eq(sscanf(s, "%2x", &v), 1, "bad hex at %s", s);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static void
set_timeout(int fd)
{
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int
dial(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&in, sizeof(in)), 0,
	    "connect: %s", strerror(errno));
	set_timeout(fd);
	return fd;
}

static void
send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		cr_assert(w > 0, "send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

/* Reads exactly n bytes; returns how many came before EOF. */
static size_t
recv_n(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		cr_assert(r >= 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Reads one whole frame into buf; returns its size, 0 on EOF before it. */
static size_t
recv_frame(int fd, uint8_t *buf, size_t cap)
{
	struct frame f;
	const char *why = NULL;
	ssize_t r;

	if (recv_n(fd, buf, FRAME_HDR_MIN) < FRAME_HDR_MIN)
		return 0;
	r = frame_decode(buf, FRAME_HDR_MIN, cap, &f, &why);
	cr_assert(r != FRAME_BAD, "bad reply header: %s", why);
	cr_assert(f.total <= cap);
	cr_assert_eq(recv_n(fd, buf + FRAME_HDR_MIN, f.total - FRAME_HDR_MIN),
	    f.total - FRAME_HDR_MIN, "EOF inside a reply");
	return f.total;
}

static void
expect_eof(int fd)
{
	uint8_t b;

	cr_assert_eq(read(fd, &b, 1), 0, "expected EOF, no data");
}

/* A request frame: HL 5, options [seq, len(method)], method || body. */
static size_t
req(uint8_t *out, uint8_t flags, uint32_t seq, const char *method,
    const void *body, size_t blen)
{
	size_t ml = strlen(method), hl;
	uint32_t opts[2] = { seq, (uint32_t)ml };

	hl = frame_encode_header(out, flags, 0, opts, 2, (uint32_t)(ml + blen));
	memcpy(out + hl, method, ml);
	if (blen > 0)
		memcpy(out + hl + ml, body, blen);
	return hl + ml + blen;
}

/* One request, one reply: returns the reply's size in rep. */
static size_t
call(uint8_t flags, uint32_t seq, const char *method, const void *body,
    size_t blen, uint8_t *rep, size_t cap)
{
	static uint8_t q[1 << 16];
	int fd = dial();
	size_t n = req(q, flags, seq, method, body, blen);

	send_all(fd, q, n);
	n = recv_frame(fd, rep, cap);
	cr_assert(n > 0, "no reply to %s", method);
	close(fd);
	return n;
}

/*
 * Checks a reply's frame: HL 5, flags, options [seq, len(method)], payload
 * method || body.  Returns a pointer to the body and its length in *blen.
 */
static const uint8_t *
check_reply(const uint8_t *rep, size_t n, uint8_t flags, uint32_t seq,
    const char *method, size_t *blen)
{
	struct frame f;
	const char *why = NULL;
	size_t ml = strlen(method);

	cr_assert_eq(frame_decode(rep, n, n, &f, &why), (ssize_t)n, "%s", why);
	cr_assert_eq(rep[0], 0x15);
	cr_assert_eq(f.flags, flags, "flags %#x, want %#x", f.flags, flags);
	cr_assert_eq(f.nopts, 2);
	cr_assert_eq(f.opts[0], seq);
	cr_assert_eq(f.opts[1], ml);
	cr_assert(f.len >= ml);
	cr_assert_eq(memcmp(f.payload, method, ml), 0);
	*blen = f.len - ml;
	return f.payload + ml;
}

static void
expect_body(const uint8_t *rep, size_t n, uint8_t flags, uint32_t seq,
    const char *method, const void *want, size_t wantlen)
{
	size_t blen;
	const uint8_t *b = check_reply(rep, n, flags, seq, method, &blen);

	cr_assert_eq(blen, wantlen, "body %zu bytes, want %zu: %.*s", blen,
	    wantlen, (int)blen, (const char *)b);
	cr_assert_eq(memcmp(b, want, wantlen), 0, "body %.*s", (int)blen,
	    (const char *)b);
}

static void
expect_text(const uint8_t *rep, size_t n, uint8_t flags, uint32_t seq,
    const char *method, const char *want)
{
	expect_body(rep, n, flags, seq, method, want, strlen(want));
}

static void
expect_hex(const uint8_t *rep, size_t n, uint8_t flags, uint32_t seq,
    const char *method, const char *want_hex)
{
	static uint8_t want[4096];
	size_t wn = hex(want_hex, want);

	expect_body(rep, n, flags, seq, method, want, wn);
}

/* --- the spec vectors ----------------------------------------------------- */

Test(rpc, r1_close_gets_r2_byte_exact)
{
	uint8_t r1[256], r2[64], rep[256];
	size_t n = hex("15 08 2f 00 00 00 22 c6 f8 2a 00 00 01 00 00 00 "
	    "09 00 00 00", r1);
	size_t r2n = hex("15 08 0d 00 00 00 97 a1 c3 20 00 00 01 00 00 00 09 00 "
	    "00 00 74 63 70 2e 43 6c 6f 73 65 74 72 75 65", r2);
	int fd;

	memcpy(r1 + n, "tcp.Close" R1_UUID, 9 + 38);
	n += 47;
	/* The test's own frame builder agrees with R1's header. */
	cr_assert_eq(req(rep, 0x08, 1, "tcp.Close", R1_UUID, 38), n);
	cr_assert_eq(memcmp(rep, r1, n), 0);

	fd = dial();
	send_all(fd, r1, n);
	cr_assert_eq(recv_frame(fd, rep, sizeof(rep)), r2n);
	cr_assert_eq(memcmp(rep, r2, r2n), 0);
	close(fd);
}

Test(rpc, reset_error_is_r3_byte_exact)
{
	uint8_t r3[128], rep[128];
	size_t n = hex("15 48 1f 00 00 00 ca 66 20 82 00 00 04 00 00 00 0e 00 "
	    "00 00", r3);

	memcpy(r3 + n, "resetter.Reset" "no such plugin: x", 14 + 17);
	n += 31;
	cr_assert_eq(call(0x08, 4, "resetter.Reset", "\"x\"", 3, rep,
	    sizeof(rep)), n);
	cr_assert_eq(memcmp(rep, r3, n), 0);
}

Test(rpc, gob_r4_gets_r5_byte_exact)
{
	uint8_t r4[128], r5[128], rep[128];
	size_t n4 = hex("15 20 15 00 00 00 22 ba df 44 00 00 05 00 00 00 0e 00 "
	    "00 00", r4), n5;
	int fd;

	memcpy(r4 + n4, "resetter.Reset", 14);
	n4 += 14;
	n4 += hex("06 0c 00 03 74 63 70", r4 + n4);
	n5 = hex("15 20 12 00 00 00 9b 82 08 d9 00 00 05 00 00 00 0e 00 00 00",
	    r5);
	memcpy(r5 + n5, "resetter.Reset", 14);
	n5 += 14;
	n5 += hex("03 02 00 01", r5 + n5);

	fd = dial();
	send_all(fd, r4, n4);
	cr_assert_eq(recv_frame(fd, rep, sizeof(rep)), n5);
	cr_assert_eq(memcmp(rep, r5, n5), 0);
	close(fd);
}

/* --- gob replies (5.4 table) ---------------------------------------------- */

static const uint8_t gob_tcp[] = { 0x06, 0x0c, 0x00, 0x03, 't', 'c', 'p' };
static const uint8_t gob_true[] = { 0x03, 0x02, 0x00, 0x01 };

static size_t
gob_str(uint8_t *out, const char *s)
{
	size_t n = strlen(s);

	cr_assert(n < 100);
	out[0] = (uint8_t)(n + 3);
	out[1] = 0x0c;
	out[2] = 0x00;
	out[3] = (uint8_t)n;
	memcpy(out + 4, s, n);
	return n + 4;
}

Test(rpc, gob_workers_one_worker_is_three_defs_and_the_value)
{
	static uint8_t rep[4096];
	size_t n = call(0x20, 7, "informer.Workers", gob_tcp, sizeof(gob_tcp),
	    rep, sizeof(rep));

	expect_hex(rep, n, 0x20, 7, "informer.Workers",
	    HEX_WL_DEF1 HEX_WL_DEF2 HEX_WL_DEF3 HEX_WL_ONE);
}

Test(rpc, gob_workers_empty_ends_with_03_ff84_00)
{
	static uint8_t rep[4096];
	uint8_t body[16];
	size_t n = call(0x20, 8, "informer.Workers", body,
	    gob_str(body, "nope"), rep, sizeof(rep));

	expect_hex(rep, n, 0x20, 8, "informer.Workers",
	    HEX_WL_DEF1 HEX_WL_DEF2 HEX_WL_DEF3 HEX_WL_EMPTY);
}

Test(rpc, gob_workers_message_over_127_bytes_uses_long_length)
{
	static uint8_t rep[4096];
	uint8_t body[16];
	size_t n = call(0x20, 9, "informer.Workers", body,
	    gob_str(body, "four"), rep, sizeof(rep));

	/* 2 (id) + 1 (field) + 1 (count) + 4 * 36 + 1 (end) = 149 = 0x95. */
	expect_hex(rep, n, 0x20, 9, "informer.Workers",
	    HEX_WL_DEF1 HEX_WL_DEF2 HEX_WL_DEF3
	    "ff95 ff84 01 04" HEX_STATE HEX_STATE HEX_STATE HEX_STATE "00");
}

Test(rpc, gob_string_list_is_def_and_value)
{
	uint8_t rep[256];
	size_t n = call(0x20, 1, "resetter.List", gob_true, sizeof(gob_true),
	    rep, sizeof(rep));

	expect_hex(rep, n, 0x20, 1, "resetter.List",
	    HEX_STRINGS_DEF HEX_STRINGS_TCP);
}

Test(rpc, gob_jobs_empty_is_two_defs_and_value)
{
	uint8_t rep[512];
	size_t n = call(0x20, 2, "informer.Jobs", gob_tcp, sizeof(gob_tcp),
	    rep, sizeof(rep));

	expect_hex(rep, n, 0x20, 2, "informer.Jobs", HEX_JOBS);
}

Test(rpc, gob_bool_and_string_arguments_decode)
{
	uint8_t rep[256], want[64], body[64];
	size_t n, wn, bn;

	n = call(0x20, 1, "test.Echo", gob_true, sizeof(gob_true), rep,
	    sizeof(rep));
	expect_body(rep, n, 0x20, 1, "test.Echo", want,
	    gob_str(want, "bool:true"));
	bn = hex("03 02 00 00", body);
	n = call(0x20, 2, "test.Echo", body, bn, rep, sizeof(rep));
	expect_body(rep, n, 0x20, 2, "test.Echo", want,
	    gob_str(want, "bool:false"));
	n = call(0x20, 3, "test.Echo", gob_tcp, sizeof(gob_tcp), rep,
	    sizeof(rep));
	expect_body(rep, n, 0x20, 3, "test.Echo", want,
	    gob_str(want, "string:tcp:3"));
	/* A type definition first (negative id) is skipped. */
	bn = hex("03 ff81 00" "06 0c 00 03 746370", body);
	n = call(0x20, 4, "test.Echo", body, bn, rep, sizeof(rep));
	expect_body(rep, n, 0x20, 4, "test.Echo", want,
	    gob_str(want, "string:tcp:3"));
	/* Empty body: argument left zero. */
	n = call(0x20, 5, "test.Echo", NULL, 0, rep, sizeof(rep));
	wn = gob_str(want, "none");
	expect_body(rep, n, 0x20, 5, "test.Echo", want, wn);
}

Test(rpc, gob_bad_bodies_get_error_replies)
{
	static const char *const bodies[] = {
		"06 0c 00 09 746370",	/* string longer than the message */
		"09 0c 00 03 746370",	/* message longer than the body */
		"02 ff",		/* truncated type id */
		"05 ff84 00 01 01",	/* a user type: unsupported */
		"03 02 01 01",		/* no 00 before a singleton */
		"04 02 00 01 01",	/* extra data in the message */
		"03 ff81 00",		/* definitions only, no value */
		"80",			/* invalid length form */
	};
	uint8_t rep[512], body[64];

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t bn = hex(bodies[i], body), blen;
		size_t n = call(0x20, (uint32_t)i, "test.Echo", body, bn, rep,
		    sizeof(rep));
		const uint8_t *b = check_reply(rep, n, 0x60, (uint32_t)i,
		    "test.Echo", &blen);

		cr_assert(blen > 5 && memcmp(b, "gob: ", 5) == 0,
		    "body %zu: %.*s", i, (int)blen, (const char *)b);
	}
}

Test(rpc, gob_string_reply)
{
	uint8_t rep[256], want[64];
	size_t n = call(0x00, 6, "test.Echo", gob_tcp, sizeof(gob_tcp), rep,
	    sizeof(rep));

	/* No codec bit at all: gob, and the reply says so. */
	expect_body(rep, n, 0x20, 6, "test.Echo", want,
	    gob_str(want, "string:tcp:3"));
}

/* --- JSON replies --------------------------------------------------------- */

Test(rpc, json_workers_exact_with_integer_fields)
{
	static uint8_t rep[4096];
	size_t n = call(0x08, 3, "informer.Workers", "\"tcp\"", 5, rep,
	    sizeof(rep));

	expect_text(rep, n, 0x08, 3, "informer.Workers",
	    "{\"workers\":[" WORKER_JSON "]}");
}

Test(rpc, json_workers_extreme_numbers_are_exact)
{
	static uint8_t rep[4096];
	size_t n = call(0x08, 3, "informer.Workers", "\"max\"", 5, rep,
	    sizeof(rep));

	expect_text(rep, n, 0x08, 3, "informer.Workers", "{\"workers\":["
	    "{\"pid\":-9223372036854775808,\"status\":9223372036854775807,"
	    "\"numExecs\":18446744073709551615,"
	    "\"created\":-9223372036854775808,"
	    "\"memoryUsage\":18446744073709551615,"
	    "\"CPUPercent\":1.7976931348623157e+308,\"command\":\"\","
	    "\"statusStr\":\"ready\"}]}");
}

Test(rpc, gob_workers_extreme_numbers_use_eight_byte_forms)
{
	static uint8_t rep[4096];
	uint8_t body[16];
	size_t n = call(0x20, 3, "informer.Workers", body, gob_str(body, "max"),
	    rep, sizeof(rep));

	/* int64 min -> ~i<<1|1 = all ones; max -> ...fe; DBL_MAX reversed. */
	expect_hex(rep, n, 0x20, 3, "informer.Workers",
	    HEX_WL_DEF1 HEX_WL_DEF2 HEX_WL_DEF3 "49 ff84 01 01"
	    "01 f8ffffffffffffffff" "01 f8fffffffffffffffe"
	    "01 f8ffffffffffffffff" "01 f8ffffffffffffffff"
	    "01 f8ffffffffffffffff" "01 f8ffffffffffffef7f"
	    "02 05 7265616479 00 00");
}

Test(rpc, json_workers_empty_is_an_empty_array_not_null)
{
	uint8_t rep[256];
	size_t n = call(0x08, 3, "informer.Workers", "\"php\"", 5, rep,
	    sizeof(rep));

	expect_text(rep, n, 0x08, 3, "informer.Workers", "{\"workers\":[]}");
	n = call(0x08, 4, "informer.Workers", NULL, 0, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 4, "informer.Workers", "{\"workers\":[]}");
}

Test(rpc, json_cpu_percent_prints_as_go_does)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "cpu:0", "0" },
		{ "cpu:12.25", "12.25" },
		{ "cpu:100", "100" },
		{ "cpu:33.333333333333336", "33.333333333333336" },
		{ "cpu:0.1", "0.1" },
		{ "cpu:0.000001", "0.000001" },
		{ "cpu:1e-7", "1e-7" },
		{ "cpu:1.5e-10", "1.5e-10" },
		{ "cpu:1e21", "1e+21" },
		{ "cpu:123456789012345680000", "123456789012345680000" },
		{ "cpu:-2.5", "-2.5" },
	};
	static uint8_t rep[4096];
	char arg[64], *want;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n, blen;
		const uint8_t *b;

		snprintf(arg, sizeof(arg), "\"%s\"", cases[i].in);
		n = call(0x08, 1, "informer.Workers", arg, strlen(arg), rep,
		    sizeof(rep));
		b = check_reply(rep, n, 0x08, 1, "informer.Workers", &blen);
		cr_assert(asprintf(&want, "\"CPUPercent\":%s,", cases[i].out) > 0);
		cr_assert(memmem(b, blen, want, strlen(want)) != NULL,
		    "%s: %.*s", cases[i].in, (int)blen, (const char *)b);
		free(want);
	}
}

Test(rpc, json_list_jobs_and_string_replies)
{
	uint8_t rep[256];
	size_t n;

	n = call(0x08, 1, "informer.List", "true", 4, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 1, "informer.List", "[\"tcp\"]");
	n = call(0x08, 2, "informer.Jobs", "\"tcp\"", 5, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 2, "informer.Jobs", "null");
	/* Strings are escaped the Go way. */
	n = call(0x08, 3, "test.Echo", "\"a<\\\"\"", 6, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 3, "test.Echo",
	    "\"string:a\\u003c\\\":3\"");
}

Test(rpc, json_arguments_decode)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "\"tcp\"", "\"string:tcp:3\"" },
		{ " \"tcp\"\r\n", "\"string:tcp:3\"" },
		{ "true", "\"bool:true\"" },
		{ "false", "\"bool:false\"" },
		{ "", "\"none\"" },
		{ "null", "\"none\"" },
		{ "42", "\"other\"" },
		{ "{\"a\":[1,2]}", "\"other\"" },
		{ "\"\\u00e9\"", "\"string:\xc3\xa9:2\"" },
	};
	uint8_t rep[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = call(0x08, (uint32_t)i, "test.Echo", cases[i].body,
		    strlen(cases[i].body), rep, sizeof(rep));

		expect_text(rep, n, 0x08, (uint32_t)i, "test.Echo",
		    cases[i].want);
	}
}

Test(rpc, json_bad_bodies_get_error_replies)
{
	static const char *const bodies[] = { "\"abc", "\"a\" x", "tru",
	    "[1,", "\"a\"\0" };
	static const size_t lens[] = { 4, 5, 3, 3, 4 };
	uint8_t rep[512];

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t blen, n = call(0x08, 1, "test.Echo", bodies[i], lens[i],
		    rep, sizeof(rep));
		const uint8_t *b = check_reply(rep, n, 0x48, 1, "test.Echo",
		    &blen);

		cr_assert(blen > 6 && memcmp(b, "json: ", 6) == 0,
		    "body %zu: %.*s", i, (int)blen, (const char *)b);
	}
}

Test(rpc, handler_error_without_text_still_has_one)
{
	uint8_t rep[256];
	size_t n = call(0x08, 1, "test.Fail", "true", 4, rep, sizeof(rep));

	expect_text(rep, n, 0x48, 1, "test.Fail", "test.Fail failed");
}

/* --- net/rpc texts and codecs --------------------------------------------- */

Test(rpc, unknown_method_service_and_ill_formed_texts)
{
	uint8_t rep[256];
	size_t n;

	n = call(0x08, 1, "tcp.Nope", "true", 4, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 1, "tcp.Nope",
	    "rpc: can't find method tcp.Nope");
	n = call(0x08, 2, "nope.Close", "true", 4, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 2, "nope.Close",
	    "rpc: can't find service nope.Close");
	n = call(0x08, 3, "tcpClose", "true", 4, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 3, "tcpClose",
	    "rpc: service/method request ill-formed: tcpClose");
	n = call(0x20, 4, "", NULL, 0, rep, sizeof(rep));
	expect_text(rep, n, 0x60, 4, "",
	    "rpc: service/method request ill-formed: ");
	/* The service is what precedes the last dot, as in net/rpc. */
	n = call(0x08, 5, "tcp.Close.x", "true", 4, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 5, "tcp.Close.x",
	    "rpc: can't find service tcp.Close.x");
	/* Lookup errors come before body errors. */
	n = call(0x10, 6, "nope.X", NULL, 0, rep, sizeof(rep));
	expect_text(rep, n, 0x50, 6, "nope.X",
	    "rpc: can't find service nope.X");
}

Test(rpc, codec_pick_order_and_unsupported_codecs)
{
	uint8_t rep[256];
	size_t n;

	n = call(0x10, 1, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0x50, 1, "tcp.Close",
	    "msgpack codec is not supported");
	n = call(0x80, 2, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0xc0, 2, "tcp.Close", "proto codec is not supported");
	n = call(0x04, 3, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0x44, 3, "tcp.Close", "raw codec is not supported");
	/* PROTO before JSON, JSON before RAW, MSGPACK and GOB. */
	n = call(0x88, 4, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0xc0, 4, "tcp.Close", "proto codec is not supported");
	n = call(0x3c, 5, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 5, "tcp.Close", "true");
	n = call(0x34, 6, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0x44, 6, "tcp.Close", "raw codec is not supported");
	n = call(0x30, 7, "tcp.Close", "\"x\"", 3, rep, sizeof(rep));
	expect_text(rep, n, 0x50, 7, "tcp.Close",
	    "msgpack codec is not supported");
	/* Other flag bits (CONTROL, 0x02) do not matter; the reply has none. */
	n = call(0x23, 8, "tcp.Close", gob_tcp, sizeof(gob_tcp), rep,
	    sizeof(rep));
	expect_hex(rep, n, 0x20, 8, "tcp.Close", "03 02 00 01");
}

/* --- frames that end the connection --------------------------------------- */

static void
expect_closed_after(const uint8_t *p, size_t n)
{
	int fd = dial();

	send_all(fd, p, n);
	expect_eof(fd);
	close(fd);
}

Test(rpc, frame_with_one_option_closes_without_reply)
{
	uint8_t q[64];
	uint32_t opt = 9;
	size_t hl = frame_encode_header(q, 0x08, 0, &opt, 1, 13);

	memcpy(q + hl, "tcp.Closetrue", 13);
	expect_closed_after(q, hl + 13);
}

Test(rpc, frames_with_zero_or_three_options_close)
{
	uint8_t q[64];
	uint32_t opts[3] = { 1, 9, 0 };
	size_t hl;

	hl = frame_encode_header(q, 0x08, 0, opts, 0, 0);
	expect_closed_after(q, hl);
	hl = frame_encode_header(q, 0x08, 0, opts, 3, 13);
	memcpy(q + hl, "tcp.Closetrue", 13);
	expect_closed_after(q, hl + 13);
}

Test(rpc, bad_crc_hl_and_method_length_close)
{
	uint8_t q[128];
	size_t n = req(q, 0x08, 1, "tcp.Close", "true", 4);
	uint32_t opts[2] = { 1, 99 };
	size_t hl;

	q[6] ^= 0xff;
	expect_closed_after(q, n);
	expect_closed_after((const uint8_t *)"\x12", 1);
	expect_closed_after((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18);
	hl = frame_encode_header(q, 0x08, 0, opts, 2, 13);
	memcpy(q + hl, "tcp.Closetrue", 13);
	expect_closed_after(q, hl + 13);
}

/* Today's 16 MiB input limit is gone: the 1 MiB default frame cap answers
 * a request over it from its header alone, with seq and no method name. */
Test(rpc, payload_over_the_limit_gets_an_error_reply_then_eof)
{
	uint8_t q[64], rep[512];
	uint32_t opts[2] = { 7, 9 };
	size_t hl = frame_encode_header(q, 0x08, 0, opts, 2, 0x7fffffff), n;
	int fd = dial();

	memcpy(q + hl, "tcp.Close", 9);
	send_all(fd, q, hl + 9);
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 7, "", "rpc: request of 2147483647 bytes "
	    "is over the server's rpc.max_frame_size of 1048576 bytes");
	shutdown(fd, SHUT_WR);
	expect_eof(fd);
	close(fd);
}

Test(rpc, good_request_then_garbage_answers_then_closes)
{
	uint8_t q[256], rep[256];
	size_t n = req(q, 0x08, 3, "tcp.Close", "true", 4);
	int fd = dial();

	memcpy(q + n, "\x15garbage-garbage", 16);
	send_all(fd, q, n + 16);
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 3, "tcp.Close", "true");
	expect_eof(fd);
	close(fd);
}

Test(rpc, eof_after_requests_answers_then_closes)
{
	uint8_t q[256], rep[256];
	size_t n = req(q, 0x08, 3, "tcp.Close", "true", 4);
	int fd = dial();

	send_all(fd, q, n);
	shutdown(fd, SHUT_WR);
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 3, "tcp.Close", "true");
	expect_eof(fd);
	close(fd);
}

Test(rpc, request_split_across_writes_is_reassembled)
{
	uint8_t q[256], rep[256];
	size_t n = req(q, 0x08, 3, "tcp.Close", R1_UUID, 38);
	int fd = dial();

	for (size_t i = 0; i < n; i++) {
		send_all(fd, q + i, 1);
		if (i % 8 == 0)
			usleep(1000);
	}
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 3, "tcp.Close", "true");
	close(fd);
}

/* --- pipelining and back-pressure ----------------------------------------- */

Test(rpc, two_pipelined_requests_answered_in_order)
{
	uint8_t q[256], rep[256];
	size_t n = req(q, 0x08, 10, "tcp.Close", R1_UUID, 38);
	int fd = dial();

	n += req(q + n, 0x08, 11, "resetter.Reset", "\"x\"", 3);
	send_all(fd, q, n);
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x08, 10, "tcp.Close", "true");
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 11, "resetter.Reset", "no such plugin: x");
	close(fd);
}

Test(rpc, many_pipelined_requests_past_the_wakeup_budget)
{
	static uint8_t q[300 * 64];
	uint8_t rep[256];
	size_t n = 0;
	int fd = dial();

	for (uint32_t i = 0; i < 300; i++)
		n += req(q + n, 0x08, 1000 + i, "tcp.Close", "true", 4);
	send_all(fd, q, n);
	for (uint32_t i = 0; i < 300; i++) {
		n = recv_frame(fd, rep, sizeof(rep));
		expect_text(rep, n, 0x08, 1000 + i, "tcp.Close", "true");
	}
	close(fd);
}

struct writer {
	int		 fd;
	const uint8_t	*p;
	size_t		 n;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;

	while (off < w->n) {
		ssize_t r = send(w->fd, w->p + off, w->n - off, MSG_NOSIGNAL);

		if (r <= 0)
			break;
		off += (size_t)r;
	}
	return NULL;
}

Test(rpc, replies_over_the_high_water_mark_all_arrive_in_order)
{
	enum { N = 12000 };
	static uint8_t q[N * 64];
	static uint8_t rep[4096];
	uint8_t body[16];
	size_t bn = gob_str(body, "four"), n = 0;
	struct writer w;
	pthread_t t;
	int fd = dial();

	/* ~340 bytes per reply: about 4 MiB of replies, more than the
	 * server keeps pending before it stops reading. */
	for (uint32_t i = 0; i < N; i++)
		n += req(q + n, 0x20, i, "informer.Workers", body, bn);
	w.fd = fd;
	w.p = q;
	w.n = n;
	/* Not reading while the requests go out would deadlock both sides. */
	cr_assert_eq(pthread_create(&t, NULL, writer_main, &w), 0);
	usleep(200000);
	for (uint32_t i = 0; i < N; i++) {
		size_t blen;

		n = recv_frame(fd, rep, sizeof(rep));
		cr_assert(n > 0, "reply %u missing", i);
		check_reply(rep, n, 0x20, i, "informer.Workers", &blen);
		cr_assert_eq(blen, 38 + 32 + 114 + 2 + 149);
	}
	pthread_join(t, NULL);
	close(fd);
}

/* --- limits: rpc.max_connections, max_frame_size, read_timeout ------------ */

#define LIM_CONNS	3
#define LIM_FRAME	1024
#define LIM_TIMEOUT_MS	300

static void
setup_limits(void)
{
	struct rr_config cfg = { .rpc_max_connections = LIM_CONNS,
	    .rpc_max_frame_size = LIM_FRAME,
	    .rpc_read_timeout_ms = LIM_TIMEOUT_MS };

	rpc_configure(&cfg);
	setup();
}

TestSuite(rpc_limits, .init = setup_limits, .fini = teardown, .timeout = 30);

/* A test.Echo request whose payload (method and body) is exactly plen bytes:
 * a JSON string of 'a's.  out needs plen + FRAME_HDR_MAX bytes. */
static size_t
echo_req(uint8_t *out, uint32_t seq, size_t plen)
{
	static uint8_t body[2u << 20];
	size_t blen = plen - strlen("test.Echo");

	cr_assert(blen >= 2 && blen <= sizeof(body));
	memset(body, 'a', blen);
	body[0] = body[blen - 1] = '"';
	return req(out, 0x08, seq, "test.Echo", body, blen);
}

/* One call on an open connection; the reply must be a good one for seq. */
static void
call_on(int fd, uint32_t seq)
{
	uint8_t q[128], rep[256];
	size_t n = req(q, 0x08, seq, "tcp.Close", "true", 4);

	send_all(fd, q, n);
	n = recv_frame(fd, rep, sizeof(rep));
	cr_assert(n > 0, "no reply on a connection that should be served");
	expect_text(rep, n, 0x08, seq, "tcp.Close", "true");
}

/* Waits (up to 10 s) for EOF or a reset; returns the ms it took. */
static int64_t
ms_until_closed(int fd)
{
	int64_t t0 = ev_clock_ms();
	uint8_t b[4096];
	ssize_t r;

	while ((r = read(fd, b, sizeof(b))) > 0)
		;
	cr_assert(r == 0 || errno == ECONNRESET, "read: %s",
	    strerror(errno));
	return ev_clock_ms() - t0;
}

/* Stops the loop thread so the test may look at the server's state. */
static size_t
buffered_now(void)
{
	size_t n;

	ev_wake(loop);
	pthread_join(loop_thread, NULL);
	n = rpc_buffered();
	cr_assert_eq(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
	return n;
}

Test(rpc_limits, frame_at_the_cap_is_answered)
{
	static uint8_t q[LIM_FRAME + FRAME_HDR_MAX];
	uint8_t rep[1024];
	size_t n = echo_req(q, 5, LIM_FRAME), blen;
	int fd = dial();

	send_all(fd, q, n);
	n = recv_frame(fd, rep, sizeof(rep));
	cr_assert(n > 0);
	check_reply(rep, n, 0x08, 5, "test.Echo", &blen);
	call_on(fd, 6);
	close(fd);
}

Test(rpc_limits, frame_over_the_cap_is_refused_from_its_header)
{
	static uint8_t q[64 * 1024];
	uint8_t rep[512];
	size_t n = echo_req(q, 9, LIM_FRAME + 1);
	int fd = dial();

	send_all(fd, q, n);		/* one byte over: the whole frame */
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 9, "", "rpc: request of 1025 bytes is over "
	    "the server's rpc.max_frame_size of 1024 bytes");
	cr_assert_lt(ms_until_closed(fd), 5000);
	close(fd);

	fd = dial();
	call_on(fd, 1);		/* answered before; the connection is fine */
	echo_req(q, 2, 60 * 1024);
	send_all(fd, q, FRAME_HDR_MIN + 8);	/* the header only */
	n = recv_frame(fd, rep, sizeof(rep));
	expect_text(rep, n, 0x48, 2, "", "rpc: request of 61440 bytes is over "
	    "the server's rpc.max_frame_size of 1024 bytes");
	/* The server lingers: the rest of the body still goes out. */
	send_all(fd, q + FRAME_HDR_MIN + 8, 60 * 1024);
	shutdown(fd, SHUT_WR);
	cr_assert_lt(ms_until_closed(fd), 5000);
	close(fd);
}

Test(rpc_limits, partial_frame_is_closed_after_read_timeout)
{
	uint8_t q[128];
	size_t n = req(q, 0x08, 1, "tcp.Close", "true", 4);
	int fd = dial();
	int64_t ms;

	send_all(fd, q, n - 3);
	ms = ms_until_closed(fd);
	cr_assert_geq(ms, LIM_TIMEOUT_MS - 50, "closed after %lld ms",
	    (long long)ms);
	cr_assert_lt(ms, LIM_TIMEOUT_MS + 2000, "closed after %lld ms",
	    (long long)ms);
	close(fd);
}

/* The deadline runs from a frame's first byte, so a byte now and then does
 * not keep a frame (and its buffer) alive. */
Test(rpc_limits, trickled_frame_is_closed_at_its_deadline)
{
	static uint8_t q[LIM_FRAME + FRAME_HDR_MAX];
	size_t n = echo_req(q, 1, 600), i;
	int64_t t0 = ev_clock_ms(), ms;
	uint8_t b;
	int fd = dial();

	for (i = 0; i < n; i++) {
		if (send(fd, q + i, 1, MSG_NOSIGNAL) != 1)
			break;
		if (recv(fd, &b, 1, MSG_DONTWAIT) == 0)
			break;
		usleep(20000);
	}
	ms = ev_clock_ms() - t0;
	cr_assert_lt(i, n, "the whole trickled frame was taken");
	cr_assert_lt(ms, LIM_TIMEOUT_MS + 2000, "closed after %lld ms",
	    (long long)ms);
	close(fd);
}

/* PHP workers keep their RPC connection open between calls. */
Test(rpc_limits, idle_connection_between_calls_stays_open)
{
	int fd = dial();

	call_on(fd, 1);
	usleep(3 * LIM_TIMEOUT_MS * 1000);
	cr_assert_lt(buffered_now(), 4096, "an idle connection holds buffers");
	call_on(fd, 2);
	close(fd);
}

Test(rpc_limits, connections_over_the_cap_are_closed_at_once)
{
	int fds[LIM_CONNS], extra, fd;

	for (int i = 0; i < LIM_CONNS; i++) {
		fds[i] = dial();
		call_on(fds[i], 1);
	}
	extra = dial();
	cr_assert_lt(ms_until_closed(extra), 1000);
	close(extra);
	for (int i = 0; i < LIM_CONNS; i++)
		call_on(fds[i], 2);

	close(fds[0]);
	/* The server sees the hang-up on its own time: retry briefly. */
	for (int tries = 0;; tries++) {
		uint8_t q[128], rep[256];
		size_t n = req(q, 0x08, 3, "tcp.Close", "true", 4);

		fd = dial();
		send_all(fd, q, n);
		if ((n = recv_frame(fd, rep, sizeof(rep))) > 0) {
			expect_text(rep, n, 0x08, 3, "tcp.Close", "true");
			break;
		}
		close(fd);
		cr_assert_lt(tries, 100, "no slot came free");
		usleep(20000);
	}
	close(fd);
	for (int i = 1; i < LIM_CONNS; i++)
		close(fds[i]);
}

Test(rpc, buffers_shrink_after_a_big_frame)
{
	static uint8_t q[(1u << 20) + FRAME_HDR_MAX];
	uint8_t rep[1024];
	size_t n = echo_req(q, 1, 1u << 20), blen, peak;
	int fd = dial();

	send_all(fd, q, n - 1);
	usleep(100000);
	peak = buffered_now();
	cr_assert_geq(peak, (1u << 20) - 1, "a partial frame of 1 MiB is "
	    "buffered: %zu", peak);
	send_all(fd, q + n - 1, 1);
	n = recv_frame(fd, rep, sizeof(rep));
	cr_assert(n > 0);
	check_reply(rep, n, 0x08, 1, "test.Echo", &blen);
	n = buffered_now();
	cr_assert_lt(n, 64u * 1024, "%zu bytes kept after the frame", n);
	call_on(fd, 2);		/* and the connection is still served */
	close(fd);
}

/* --- rpc_call ------------------------------------------------------------- */

Test(rpc, call_round_trips_json)
{
	char *reply = NULL;

	cr_assert_eq(rpc_call(addr, "resetter.Reset", "\"tcp\"", &reply, 5000),
	    0, "%s", reply);
	cr_assert_str_eq(reply, "true");
	free(reply);
	cr_assert_eq(rpc_call(addr, "informer.Workers", "\"tcp\"", &reply,
	    5000), 0, "%s", reply);
	cr_assert_str_eq(reply, "{\"workers\":[" WORKER_JSON "]}");
	free(reply);
	cr_assert_eq(rpc_call(addr, "informer.List", NULL, &reply, 0), 0);
	cr_assert_str_eq(reply, "[\"tcp\"]");
	free(reply);
}

Test(rpc, call_returns_error_text)
{
	char *reply = NULL;

	cr_assert_eq(rpc_call(addr, "resetter.Reset", "\"x\"", &reply, 5000), 1);
	cr_assert_str_eq(reply, "no such plugin: x");
	free(reply);
	cr_assert_eq(rpc_call(addr, "tcp.Open", "\"x\"", &reply, 5000), 1);
	cr_assert_str_eq(reply, "rpc: can't find method tcp.Open");
	free(reply);
}

Test(rpc, serve_twice_fails)
{
	char err[256];

	cr_assert_eq(rpc_serve(loop, "tcp://127.0.0.1:0", methods, NMETHODS,
	    NULL, err, sizeof(err)), -1);
	cr_assert(strstr(err, "already") != NULL, "%s", err);
}

/* --- unix sockets --------------------------------------------------------- */

static char sock_path[108];

static void
setup_unix(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char a[160];
	int fd;

	snprintf(sock_path, sizeof(sock_path), "/tmp/rrtcp-test-rpc-%d.sock",
	    (int)getpid());
	/* A stale socket file, as a crashed earlier run leaves it. */
	unlink(sock_path);
	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	snprintf(a, sizeof(a), "unix://%s", sock_path);
	start_at(a);
}

Test(rpc_unix, serves_over_a_stale_socket_file_and_removes_it,
    .init = setup_unix, .fini = teardown, .timeout = 30)
{
	char *reply = NULL;
	struct stat st;

	cr_assert_eq(rpc_call(addr, "tcp.Close", R1_UUID, &reply, 5000), 0,
	    "%s", reply);
	cr_assert_str_eq(reply, "true");
	free(reply);
	ev_wake(loop);
	pthread_join(loop_thread, NULL);
	rpc_close();
	cr_assert_eq(stat(sock_path, &st), -1, "socket file left behind");
	ev_free(loop);
	loop = NULL;
}

Test(rpc_unix, a_regular_file_is_not_removed)
{
	struct ev *l = ev_new(16, NULL);
	char path[64], a[80], err[256];
	struct stat st;
	int fd;

	log_setup(LOG_ERROR, 0);
	snprintf(path, sizeof(path), "/tmp/rrtcp-test-rpc-file-%d",
	    (int)getpid());
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	close(fd);
	snprintf(a, sizeof(a), "unix://%s", path);
	cr_assert_eq(rpc_serve(l, a, methods, NMETHODS, NULL, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "listen") != NULL, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	unlink(path);
	rpc_close();
	ev_free(l);
}

/* --- serve errors, addresses, client failures ----------------------------- */

Test(rpc_serve, bad_addresses_fail_with_a_message)
{
	static const char *const bad[] = { "garbage://x", "tcp://127.0.0.1",
	    "tcp://[::1", "unix://", "tcp://no.such.host.invalid:1" };
	struct ev *l = ev_new(16, NULL);
	char err[256];

	log_setup(LOG_ERROR, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(rpc_serve(l, bad[i], methods, NMETHODS, NULL, err,
		    sizeof(err)), -1, "%s", bad[i]);
		cr_assert(err[0] != '\0');
	}
	cr_assert_eq(rpc_serve(l, "garbage://x", methods, NMETHODS, NULL, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "invalid Protocol") != NULL, "%s", err);
	rpc_close();
	ev_free(l);
}

Test(rpc_serve, port_in_use_fails)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	struct ev *l = ev_new(16, NULL);
	char a[64], err[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	log_setup(LOG_ERROR, 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&in, &len);
	snprintf(a, sizeof(a), "tcp://127.0.0.1:%d", ntohs(in.sin_port));
	cr_assert_eq(rpc_serve(l, a, methods, NMETHODS, NULL, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "listen") != NULL, "%s", err);
	/* A failed serve leaves nothing behind: the next one works. */
	cr_assert_eq(rpc_serve(l, "tcp://127.0.0.1:0", methods, NMETHODS, NULL,
	    err, sizeof(err)), 0, "%s", err);
	rpc_close();
	rpc_close();
	close(fd);
	ev_free(l);
}

Test(rpc_addr, is_local)
{
	cr_assert_eq(rpc_addr_is_local("unix:///run/rr.sock"), 1);
	cr_assert_eq(rpc_addr_is_local("unix://rr.sock"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://127.0.0.1:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://127.1.2.3:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://localhost:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://LocalHost:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://[::1]:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://[::ffff:127.0.0.1]:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("127.0.0.1:6001"), 1);
	cr_assert_eq(rpc_addr_is_local("tcp://0.0.0.0:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://[::]:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://10.0.0.1:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://128.0.0.1:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://example.com:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://[::2]:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("http://127.0.0.1:6001"), 0);
	cr_assert_eq(rpc_addr_is_local("tcp://127.0.0.1"), 0);
}

Test(rpc_client, connection_refused_is_a_transport_error)
{
	char a[64], *reply = NULL;

	snprintf(a, sizeof(a), "tcp://127.0.0.1:%d", free_port());
	cr_assert_eq(rpc_call(a, "tcp.Close", "\"x\"", &reply, 2000), -1);
	cr_assert(strstr(reply, "connect") != NULL, "%s", reply);
	free(reply);
	cr_assert_eq(rpc_call("garbage://x", "tcp.Close", "\"x\"", &reply,
	    2000), -1);
	cr_assert_not_null(reply);
	free(reply);
	cr_assert_eq(rpc_call("unix:///nonexistent/rrtcp.sock", "tcp.Close",
	    "\"x\"", &reply, 2000), -1);
	cr_assert(strstr(reply, "connect") != NULL, "%s", reply);
	free(reply);
}

/* A fake server: accepts one connection and runs fake_fn on it. */
static int	fake_lfd;
static void	(*fake_fn)(int fd);

static void *
fake_main(void *arg)
{
	int fd = accept(fake_lfd, NULL, NULL);

	if (fd >= 0) {
		set_timeout(fd);
		fake_fn(fd);
		close(fd);
	}
	return NULL;
}

static pthread_t
fake_start(void (*fn)(int), char *a, size_t alen)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	pthread_t t;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake_lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(fake_lfd, (struct sockaddr *)&in, sizeof(in)), 0);
	cr_assert_eq(listen(fake_lfd, 4), 0);
	getsockname(fake_lfd, (struct sockaddr *)&in, &len);
	snprintf(a, alen, "tcp://127.0.0.1:%d", ntohs(in.sin_port));
	fake_fn = fn;
	cr_assert_eq(pthread_create(&t, NULL, fake_main, NULL), 0);
	return t;
}

static uint8_t	fake_req[256];
static size_t	fake_reqlen;

/* Records the request and answers with the wrong seq. */
static void
fake_wrong_seq(int fd)
{
	uint8_t rep[64];
	uint32_t opts[2] = { 77, 9 };
	size_t hl;

	fake_reqlen = recv_frame(fd, fake_req, sizeof(fake_req));
	hl = frame_encode_header(rep, 0x08, 0, opts, 2, 13);
	memcpy(rep + hl, "tcp.Closetrue", 13);
	send_all(fd, rep, hl + 13);
}

Test(rpc_client, sends_json_frame_with_seq_1_and_checks_the_reply_seq)
{
	char a[64], *reply = NULL;
	pthread_t t = fake_start(fake_wrong_seq, a, sizeof(a));
	uint8_t want[128];
	size_t n;
	int rc;

	rc = rpc_call(a, "tcp.Close", R1_UUID, &reply, 5000);
	pthread_join(t, NULL);
	/* The first call of the process is R1 exactly. */
	n = hex("15 08 2f 00 00 00 22 c6 f8 2a 00 00 01 00 00 00 09 00 00 00",
	    want);
	memcpy(want + n, "tcp.Close" R1_UUID, 47);
	n += 47;
	cr_assert_eq(fake_reqlen, n);
	cr_assert_eq(memcmp(fake_req, want, n), 0);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(reply, "seq") != NULL, "%s", reply);
	free(reply);
	close(fake_lfd);
}

static void
fake_one_option(int fd)
{
	uint8_t rep[64];
	uint32_t opt = 1;
	size_t hl;

	fake_reqlen = recv_frame(fd, fake_req, sizeof(fake_req));
	hl = frame_encode_header(rep, 0x08, 0, &opt, 1, 4);
	memcpy(rep + hl, "true", 4);
	send_all(fd, rep, hl + 4);
}

Test(rpc_client, reply_without_two_options_is_rejected)
{
	char a[64], *reply = NULL;
	pthread_t t = fake_start(fake_one_option, a, sizeof(a));
	int rc = rpc_call(a, "tcp.Close", "\"x\"", &reply, 5000);

	pthread_join(t, NULL);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(reply, "2 options") != NULL, "%s", reply);
	free(reply);
	close(fake_lfd);
}

static void
fake_silent(int fd)
{
	uint8_t b[256];

	fake_reqlen = recv_frame(fd, fake_req, sizeof(fake_req));
	/* Hold the connection open without answering until the client
	 * gives up and closes. */
	while (read(fd, b, sizeof(b)) > 0)
		;
}

Test(rpc_client, silent_server_times_out)
{
	char a[64], *reply = NULL;
	pthread_t t = fake_start(fake_silent, a, sizeof(a));
	struct timespec t0, t1;
	int rc;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = rpc_call(a, "tcp.Close", "\"x\"", &reply, 300);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(t, NULL);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_eq(rc, -1);
	cr_assert(strstr(reply, "timed out") != NULL, "%s", reply);
	cr_assert(ms >= 250 && ms < 3000, "took %ld ms", ms);
	free(reply);
	close(fake_lfd);
}

static void
fake_seq_two_calls(int fd)
{
	uint8_t rep[64];
	struct frame f;
	const char *why;
	uint32_t opts[2];
	size_t hl;

	fake_reqlen = recv_frame(fd, fake_req, sizeof(fake_req));
	cr_assert(frame_decode(fake_req, fake_reqlen, 256, &f, &why) > 0);
	opts[0] = f.opts[0];
	opts[1] = f.opts[1];
	hl = frame_encode_header(rep, 0x48, 0, opts, 2, f.opts[1] + 4);
	memcpy(rep + hl, f.payload, f.opts[1]);
	memcpy(rep + hl + f.opts[1], "oops", 4);
	send_all(fd, rep, hl + f.opts[1] + 4);
}

Test(rpc_client, seq_increments_per_call)
{
	char a[64], *reply = NULL;
	pthread_t t;
	struct frame f;
	const char *why;

	for (uint32_t want = 1; want <= 3; want++) {
		t = fake_start(fake_seq_two_calls, a, sizeof(a));
		cr_assert_eq(rpc_call(a, "x.Y", "true", &reply, 5000), 1, "%s",
		    reply);
		pthread_join(t, NULL);
		cr_assert_str_eq(reply, "oops");
		free(reply);
		close(fake_lfd);
		cr_assert(frame_decode(fake_req, fake_reqlen, 256, &f, &why) > 0);
		cr_assert_eq(f.flags, 0x08);
		cr_assert_eq(f.opts[0], want);
	}
}
