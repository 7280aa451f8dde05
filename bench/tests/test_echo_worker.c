/*
 * test_echo_worker.c - drives bench/build/echo_worker over pipes with the
 * vectors of rrtcp-protocol(7) section 6, playing the server's part.
 *
 * The worker must answer the pid request (V4a) with a V4b-shaped frame
 * carrying its own pid, CONNECTED (V1) and CLOSE with CONTINUE (V3) byte for
 * byte, DATA (V1b) with a WRITE whose header is byte-exact (it equals V2's,
 * same length), big bodies and requests split over several writes, and the
 * stop command (V5) with exit status 0.  With $ECHO_SLEEP_US a DATA reply
 * comes no sooner than that, and with $ECHO_SLOW_PREFIX only for bodies
 * starting with the prefix.
 *
 * Usage: test_echo_worker path/to/echo_worker.  Prints "N passed, M failed".
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../frame.h"

struct w {
	pid_t	 pid;
	int	 to;		/* worker's stdin */
	int	 from;		/* worker's stdout */
};

static int npass, nfail;
static const char *worker;

static const char ctx_connected[] =
    "{\"remote_addr\":\"127.0.0.1:50000\",\"server\":\"smtp\","
    "\"uuid\":\"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a\",\"event\":\"CONNECTED\"}";
static const char ctx_data[] =
    "{\"remote_addr\":\"127.0.0.1:50000\",\"server\":\"smtp\","
    "\"uuid\":\"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a\",\"event\":\"DATA\"}";
static const char ctx_close[] =
    "{\"remote_addr\":\"127.0.0.1:50000\",\"server\":\"smtp\","
    "\"uuid\":\"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a\",\"event\":\"CLOSE\"}";

/* rrtcp-protocol(7) section 6, header bytes as printed there. */
static const uint8_t v1_hdr[] = { 0x14, 0x00, 0x73, 0x00, 0x00, 0x00, 0x5c,
    0xee, 0x0f, 0x50, 0x00, 0x00, 0x73, 0x00, 0x00, 0x00 };
static const uint8_t v1b_hdr[] = { 0x14, 0x00, 0x76, 0x00, 0x00, 0x00, 0x6e,
    0x1e, 0xd1, 0x67, 0x00, 0x00, 0x6e, 0x00, 0x00, 0x00 };
static const uint8_t v2_hdr[] = { 0x14, 0x00, 0x0d, 0x00, 0x00, 0x00, 0xf3,
    0x39, 0xef, 0xdb, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00 };
static const uint8_t v3[] = { 0x14, 0x00, 0x08, 0x00, 0x00, 0x00, 0xc1, 0xc9,
    0x31, 0xec, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 'C', 'O', 'N', 'T', 'I',
    'N', 'U', 'E' };
static const uint8_t v4a[] = { 0x13, 0x09, 0x0c, 0x00, 0x00, 0x00, 0x5f, 0x0c,
    0x46, 0x73, 0x00, 0x00, '{', '"', 'p', 'i', 'd', '"', ':', '4', '2', '0',
    '0', '}' };
static const uint8_t v4b[] = { 0x13, 0x01, 0x0c, 0x00, 0x00, 0x00, 0x9e, 0x47,
    0x36, 0x43, 0x00, 0x00, '{', '"', 'p', 'i', 'd', '"', ':', '4', '2', '4',
    '2', '}' };
static const uint8_t v5[] = { 0x13, 0x09, 0x0d, 0x00, 0x00, 0x00, 0x3a, 0x6b,
    0xfa, 0xcb, 0x00, 0x00, '{', '"', 's', 't', 'o', 'p', '"', ':', 't', 'r',
    'u', 'e', '}' };

static void
check(const char *name, int ok, const char *detail)
{
	if (ok) {
		npass++;
		printf("ok    %s\n", name);
	} else {
		nfail++;
		printf("FAIL  %s: %s\n", name, detail != NULL ? detail : "");
	}
}

static struct w
w_start(const char *arg, const char *env_greeting)
{
	struct w w;
	int a[2], b[2];

	if (pipe(a) < 0 || pipe(b) < 0) {
		perror("pipe");
		exit(1);
	}
	w.pid = fork();
	if (w.pid == 0) {
		dup2(a[0], 0);
		dup2(b[1], 1);
		close(a[0]); close(a[1]); close(b[0]); close(b[1]);
		if (env_greeting != NULL)
			setenv("ECHO_GREETING", env_greeting, 1);
		else
			unsetenv("ECHO_GREETING");
		execl(worker, worker, arg, (char *)NULL);
		_exit(127);
	}
	close(a[0]);
	close(b[1]);
	w.to = a[1];
	w.from = b[0];
	return w;
}

static int
w_send(struct w *w, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t k = write(w->to, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends a request frame: ctx + body, one option. */
static int
w_request(struct w *w, const char *ctx, const void *body, size_t bodylen)
{
	uint8_t hdr[FRAME_HDR_MAX];
	uint32_t opt = (uint32_t)strlen(ctx);
	size_t hl = frame_encode_header(hdr, 0, 0, &opt, 1,
	    (uint32_t)(opt + bodylen));

	if (w_send(w, hdr, hl) < 0 || w_send(w, ctx, opt) < 0)
		return -1;
	return bodylen > 0 ? w_send(w, body, bodylen) : 0;
}

/* Reads exactly n bytes, 3 s at most. */
static int
w_read(struct w *w, uint8_t *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = w->from, .events = POLLIN };
		ssize_t k;

		if (poll(&pfd, 1, 3000) <= 0)
			return -1;
		k = read(w->from, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads one whole frame into buf (cap bytes); returns its size or -1. */
static ssize_t
w_frame(struct w *w, uint8_t *buf, size_t cap, struct frame *f)
{
	const char *why;
	ssize_t r;

	if (w_read(w, buf, FRAME_HDR_MIN) < 0)
		return -1;
	r = frame_decode(buf, FRAME_HDR_MIN, cap, f, &why);
	if (r == FRAME_BAD || f->total > cap)
		return -1;
	if (r == FRAME_NEED_MORE &&
	    w_read(w, buf + FRAME_HDR_MIN, f->total - FRAME_HDR_MIN) < 0)
		return -1;
	r = frame_decode(buf, f->total, cap, f, &why);
	return r;
}

static int
w_exit_status(struct w *w)
{
	int st, i;

	for (i = 0; i < 300; i++) {
		pid_t r = waitpid(w->pid, &st, WNOHANG);

		if (r == w->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 +
			    WTERMSIG(st);
		usleep(10000);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
	return -1;
}

static void
w_stop(struct w *w)
{
	close(w->to);
	close(w->from);
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
}

/* The codec we link must itself agree with section 6. */
static void
test_codec(void)
{
	uint8_t hdr[FRAME_HDR_MAX];
	uint32_t opt = 5;

	check("crc32_check_value",
	    frame_crc32("123456789", 9) == 0xCBF43926u, NULL);
	frame_encode_header(hdr, FRAME_CONTROL, 0, NULL, 0, 12);
	check("codec_v4b_header", memcmp(hdr, v4b, 12) == 0, NULL);
	frame_encode_header(hdr, 0, 0, &opt, 1, 13);
	check("codec_v2_header", memcmp(hdr, v2_hdr, 16) == 0, NULL);
}

static void
test_session(void)
{
	struct w w = w_start(NULL, NULL);
	uint8_t buf[256 * 1024], hdr[FRAME_HDR_MAX], want[64];
	struct frame f;
	char pidjson[32], detail[128];
	ssize_t r;
	int n;
	size_t i;
	uint8_t *big;

	/* V4a -> V4b shape with the worker's own pid. */
	w_send(&w, v4a, sizeof(v4a));
	r = w_frame(&w, buf, sizeof(buf), &f);
	n = snprintf(pidjson, sizeof(pidjson), "{\"pid\":%d}", (int)w.pid);
	frame_encode_header(want, FRAME_CONTROL, 0, NULL, 0, (uint32_t)n);
	snprintf(detail, sizeof(detail), "got %zd bytes, want %s", r, pidjson);
	check("v4a_pid_reply", r == 12 + n && memcmp(buf, want, 12) == 0 &&
	    buf[0] == 0x13 && buf[1] == 0x01 && buf[10] == 0 && buf[11] == 0 &&
	    memcmp(buf + 12, pidjson, (size_t)n) == 0, detail);

	/* V1 CONNECTED (the exact 131 bytes) -> V3. */
	w_send(&w, v1_hdr, sizeof(v1_hdr));
	w_send(&w, ctx_connected, strlen(ctx_connected));
	r = w_frame(&w, buf, sizeof(buf), &f);
	check("v1_connected_continue", r == sizeof(v3) &&
	    memcmp(buf, v3, sizeof(v3)) == 0, NULL);

	/* V1b DATA "HELO x\r\n" -> WRITE, header equal to V2's. */
	w_send(&w, v1b_hdr, sizeof(v1b_hdr));
	w_send(&w, ctx_data, strlen(ctx_data));
	w_send(&w, "HELO x\r\n", 8);
	r = w_frame(&w, buf, sizeof(buf), &f);
	check("v1b_data_write", r == 29 && memcmp(buf, v2_hdr, 16) == 0 &&
	    memcmp(buf + 16, "WRITEHELO x\r\n", 13) == 0, NULL);

	/* A request split mid-header, with a pause: partial reads. */
	{
		uint32_t opt = (uint32_t)strlen(ctx_data);
		size_t hl = frame_encode_header(hdr, 0, 0, &opt, 1, opt + 6);

		w_send(&w, hdr, 5);
		usleep(20000);
		w_send(&w, hdr + 5, hl - 5);
		w_send(&w, ctx_data, 30);
		usleep(20000);
		w_send(&w, ctx_data + 30, opt - 30);
		w_send(&w, "abc\r\n", 5);
		usleep(20000);
		w_send(&w, "!", 1);
		r = w_frame(&w, buf, sizeof(buf), &f);
		check("split_request", r == 16 + 5 + 6 &&
		    memcmp(buf + 16, "WRITEabc\r\n!", 11) == 0, NULL);
	}

	/* A 200 KiB body, more than the pipe holds: echoed whole. */
	big = malloc(200 * 1024);
	for (i = 0; i < 200 * 1024; i++)
		big[i] = (uint8_t)('a' + i % 26);
	{
		uint32_t opt = (uint32_t)strlen(ctx_data);
		size_t hl = frame_encode_header(hdr, 0, 0, &opt, 1,
		    opt + 200 * 1024);
		pid_t wr = fork();

		/* A writer process, since the worker replies while we send. */
		if (wr == 0) {
			w_send(&w, hdr, hl);
			w_send(&w, ctx_data, opt);
			w_send(&w, big, 200 * 1024);
			_exit(0);
		}
		r = w_frame(&w, buf, sizeof(buf), &f);
		waitpid(wr, NULL, 0);
		check("big_body", r == 16 + 5 + 200 * 1024 && f.nopts == 1 &&
		    f.opts[0] == 5 && memcmp(buf + 16, "WRITE", 5) == 0 &&
		    memcmp(buf + 21, big, 200 * 1024) == 0, NULL);
	}
	free(big);

	/* Empty DATA body -> WRITE with empty body. */
	w_request(&w, ctx_data, NULL, 0);
	r = w_frame(&w, buf, sizeof(buf), &f);
	check("empty_body", r == 16 + 5 && f.opts[0] == 5 &&
	    memcmp(buf + 16, "WRITE", 5) == 0, NULL);

	/* CLOSE -> V3. */
	w_request(&w, ctx_close, NULL, 0);
	r = w_frame(&w, buf, sizeof(buf), &f);
	check("close_continue", r == sizeof(v3) &&
	    memcmp(buf, v3, sizeof(v3)) == 0, NULL);

	/* A second pid request is answered the same way. */
	w_send(&w, v4a, sizeof(v4a));
	r = w_frame(&w, buf, sizeof(buf), &f);
	check("second_pid_request", r == 12 + n &&
	    memcmp(buf + 12, pidjson, (size_t)n) == 0, NULL);

	/* V5 -> no reply, exit 0. */
	w_send(&w, v5, sizeof(v5));
	{
		uint8_t b;
		struct pollfd pfd = { .fd = w.from, .events = POLLIN };
		int eof = poll(&pfd, 1, 3000) == 1 && read(w.from, &b, 1) == 0;

		check("v5_stop_eof", eof, "expected EOF on stdout");
	}
	n = w_exit_status(&w);
	snprintf(detail, sizeof(detail), "exit status %d", n);
	check("v5_stop_exit0", n == 0, detail);
	close(w.to);
	close(w.from);
}

static void
test_greeting(const char *arg, const char *env, const char *name,
    const char *text)
{
	struct w w = w_start(arg, env);
	uint8_t buf[1024];
	struct frame f;
	ssize_t r;
	size_t tl = strlen(text);

	w_send(&w, v1_hdr, sizeof(v1_hdr));
	w_send(&w, ctx_connected, strlen(ctx_connected));
	r = w_frame(&w, buf, sizeof(buf), &f);
	check(name, r == (ssize_t)(16 + 5 + tl) && f.opts[0] == 5 &&
	    memcmp(buf + 16, "WRITE", 5) == 0 &&
	    memcmp(buf + 21, text, tl) == 0, NULL);
	w_stop(&w);
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Milliseconds until the echo of body arrives whole, or -1. */
static double
timed_echo(struct w *w, const char *body)
{
	uint8_t buf[1024];
	struct frame f;
	size_t bl = strlen(body);
	double t0 = mono_ms();
	ssize_t r;

	if (w_request(w, ctx_data, body, bl) < 0)
		return -1;
	r = w_frame(w, buf, sizeof(buf), &f);
	if (r != (ssize_t)(16 + 5 + bl) || memcmp(buf + 16, "WRITE", 5) != 0 ||
	    memcmp(buf + 21, body, bl) != 0)
		return -1;
	return mono_ms() - t0;
}

/*
 * 300 ms asked: a reply sooner than that means no sleep; a fast reply must
 * come well before it even on a loaded machine.
 */
static void
test_sleep(void)
{
	struct w w;
	char detail[128];
	double slow, fast, all;

	setenv("ECHO_SLEEP_US", "300000", 1);
	setenv("ECHO_SLOW_PREFIX", "SLOW", 1);
	w = w_start(NULL, NULL);
	slow = timed_echo(&w, "SLOW query\r\n");
	fast = timed_echo(&w, "quick query\r\n");
	w_stop(&w);
	snprintf(detail, sizeof(detail), "took %.1f ms", slow);
	check("sleep_prefix_slow", slow >= 300, detail);
	snprintf(detail, sizeof(detail), "took %.1f ms", fast);
	check("sleep_prefix_fast", fast >= 0 && fast < 150, detail);

	unsetenv("ECHO_SLOW_PREFIX");
	w = w_start(NULL, NULL);
	all = timed_echo(&w, "quick query\r\n");
	w_stop(&w);
	unsetenv("ECHO_SLEEP_US");
	snprintf(detail, sizeof(detail), "took %.1f ms", all);
	check("sleep_every_data", all >= 300, detail);
}

static void
test_eof(void)
{
	struct w w = w_start(NULL, NULL);
	int st;

	close(w.to);
	st = w_exit_status(&w);
	check("stdin_eof_exits", st == 0, NULL);
	close(w.from);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_echo_worker path/to/echo_worker\n");
		return 2;
	}
	worker = argv[1];
	signal(SIGPIPE, SIG_IGN);
	unsetenv("ECHO_SLEEP_US");
	unsetenv("ECHO_SLOW_PREFIX");
	test_codec();
	test_session();
	test_greeting("-g", NULL, "greeting_option",
	    "220 echo_worker ready\r\n");
	test_greeting(NULL, "hello there\r\n", "greeting_env",
	    "hello there\r\n");
	test_sleep();
	test_eof();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail == 0 ? 0 : 1;
}
