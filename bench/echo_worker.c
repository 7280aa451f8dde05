/*
 * echo_worker.c - the cheapest rrtcp worker: goridge over stdin/stdout.
 *
 * It speaks the same protocol as the PHP worker (rrtcp-protocol(7) 2, 3.2, 4.3-4.4)
 * with nothing on top, so rrtcp + this worker measures the server and the
 * pipe hop, not PHP:
 *
 *   pid request (CONTROL, {"pid":N})   -> CONTROL {"pid":<getpid()>}
 *   stop command (CONTROL, {"stop":true}) -> exit 0
 *   CONNECTED  -> CONTINUE, or WRITE <greeting> with -g / $ECHO_GREETING
 *   DATA       -> WRITE with the same body, after sleeping $ECHO_SLEEP_US
 *                 microseconds (only when the body starts with
 *                 $ECHO_SLOW_PREFIX, if that is set): a worker blocked on a
 *                 database call, for the bench's workload cases
 *   CLOSE (and anything else) -> CONTINUE
 *   stream STOP / PONG bits   -> ignored, as PHP does
 *
 * Blocking read()/write() on fds 0 and 1, one request at a time, and one
 * write() per frame: PHP's reader needs the 12 header bytes in one piece
 * (rrtcp-protocol(7) 1.6), and rrtcp's reader is cheapest when a whole frame
 * arrives at once.  Errors go to stderr, which rrtcp logs.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../frame.h"

#define MAX_PAYLOAD	(256U * 1024 * 1024)

static uint8_t	*in;		/* request bytes read so far */
static size_t	 inlen, incap;
static uint8_t	*out;		/* the frame being answered */
static size_t	 outcap;
static const char *greeting;	/* sent on CONNECTED when set */
static size_t	 greetlen;
static long	 sleep_us;	/* per DATA event, 0 = none */
static const char *slow_prefix;	/* sleep only on bodies starting so */
static size_t	 slow_len;

static void
die(const char *what)
{
	fprintf(stderr, "echo_worker: %s\n", what);
	exit(1);
}

static void
reserve(uint8_t **p, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 64 * 1024;

	if (need <= *cap)
		return;
	while (ncap < need)
		ncap *= 2;
	*p = realloc(*p, ncap);
	if (*p == NULL)
		die("out of memory");
	*cap = ncap;
}

static void
write_all(const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* rrtcp went away: nothing left to serve. */
			exit(errno == EPIPE ? 0 : 1);
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Sends one frame with header, ctx and body in a single write(). */
static void
send_frame(uint8_t flags, int with_opt, const void *ctx, size_t ctxlen,
    const void *body, size_t bodylen)
{
	uint32_t opt = (uint32_t)ctxlen;
	size_t hl;

	reserve(&out, &outcap, FRAME_HDR_MAX + ctxlen + bodylen);
	hl = frame_encode_header(out, flags, 0, &opt, with_opt ? 1 : 0,
	    (uint32_t)(ctxlen + bodylen));
	memcpy(out + hl, ctx, ctxlen);
	if (bodylen > 0)
		memcpy(out + hl + ctxlen, body, bodylen);
	write_all(out, hl + ctxlen + bodylen);
}

static int
has(const uint8_t *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

static void
on_control(const struct frame *f)
{
	char buf[64];
	int n;

	if (has(f->payload, f->len, "\"stop\":true"))
		exit(0);
	if (!has(f->payload, f->len, "\"pid\":"))
		die("undefined control frame");
	n = snprintf(buf, sizeof(buf), "{\"pid\":%ld}", (long)getpid());
	send_frame(FRAME_CONTROL, 0, buf, (size_t)n, NULL, 0);
}

/*
 * The event is the last key of the context (rrtcp-protocol(7) 4.3), so checking
 * the tail first skips a search through remote_addr and uuid.  tail is
 * "\"event\":\"X\"}"; the search fallback leaves out the closing brace.
 */
static int
ctx_event(const uint8_t *ctx, size_t n, const char *tail, size_t k)
{
	if (n >= k && memcmp(ctx + n - k, tail, k) == 0)
		return 1;
	return memmem(ctx, n, tail, k - 1) != NULL;
}

#define EV_DATA		"\"event\":\"DATA\"}"
#define EV_CONNECTED	"\"event\":\"CONNECTED\"}"

/* Blocks like a worker waiting on a database; signals do not shorten it. */
static void
slow_down(const uint8_t *body, size_t bodylen)
{
	struct timespec ts;

	if (sleep_us <= 0)
		return;
	if (slow_len > 0 && (bodylen < slow_len ||
	    memcmp(body, slow_prefix, slow_len) != 0))
		return;
	ts.tv_sec = sleep_us / 1000000;
	ts.tv_nsec = sleep_us % 1000000 * 1000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
on_data(const struct frame *f)
{
	const uint8_t *ctx, *body;
	size_t ctxlen, bodylen;

	if (f->byte10 & (FRAME_STOP | FRAME_PONG))
		return;		/* no answer expected */
	if (f->nopts != 1 || f->opts[0] > f->len)
		die("data frame without a valid context length");
	ctx = f->payload;
	ctxlen = f->opts[0];
	body = ctx + ctxlen;
	bodylen = f->len - ctxlen;
	if (ctx_event(ctx, ctxlen, EV_DATA, sizeof(EV_DATA) - 1)) {
		slow_down(body, bodylen);
		send_frame(0, 1, "WRITE", 5, body, bodylen);
	} else if (greeting != NULL &&
	    ctx_event(ctx, ctxlen, EV_CONNECTED, sizeof(EV_CONNECTED) - 1))
		send_frame(0, 1, "WRITE", 5, greeting, greetlen);
	else
		send_frame(0, 1, "CONTINUE", 8, NULL, 0);
}

int
main(int argc, char **argv)
{
	const char *s;
	int ch;

	greeting = getenv("ECHO_GREETING");
	if ((s = getenv("ECHO_SLEEP_US")) != NULL)
		sleep_us = strtol(s, NULL, 10);
	if ((s = getenv("ECHO_SLOW_PREFIX")) != NULL && *s != '\0') {
		slow_prefix = s;
		slow_len = strlen(s);
	}
	/*
	 * The default 50 us timer slack would stretch a 1 ms sleep by up to
	 * 5 %; the service time is meant to be the one asked for.
	 */
	if (sleep_us > 0)
		(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	while ((ch = getopt(argc, argv, "g")) != -1) {
		switch (ch) {
		case 'g':
			greeting = "220 echo_worker ready\r\n";
			break;
		default:
			fprintf(stderr, "usage: echo_worker [-g]\n");
			return 2;
		}
	}
	if (greeting != NULL)
		greetlen = strlen(greeting);
	reserve(&in, &incap, 64 * 1024);

	for (;;) {
		struct frame f;
		const char *why = NULL;
		ssize_t n, used;

		used = frame_decode(in, inlen, MAX_PAYLOAD, &f, &why);
		if (used == FRAME_BAD)
			die(why);
		if (used == FRAME_NEED_MORE) {
			/* Room for the whole frame once its length is known. */
			reserve(&in, &incap, f.total > 0 ? f.total :
			    inlen + FRAME_HDR_MAX);
			n = read(0, in + inlen, incap - inlen);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die(strerror(errno));
			if (n == 0)
				return inlen == 0 ? 0 : 1;	/* EOF */
			inlen += (size_t)n;
			continue;
		}
		if (f.flags & FRAME_CONTROL)
			on_control(&f);
		else
			on_data(&f);
		/* RR sends one request at a time, so this is rarely a move. */
		inlen -= (size_t)used;
		if (inlen > 0)
			memmove(in, in + used, inlen);
	}
}
