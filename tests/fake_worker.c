/*
 * fake_worker.c - a stand-in for a PHP worker in the pool and relay tests.
 *
 * Speaks goridge v1 on fds 0/1 as roadrunner-php does: answers every pid
 * request ({"pid":N}, flags 0x01), and on the stop command ({"stop":true},
 * control) writes the CLOSE response TcpWorker writes (rrtcp-protocol(7) 3.6) and
 * exits 0.  Each data frame is answered according to argv[1]:
 *
 *	echo	WRITE with the request body (also: env)
 *	error	ERROR frame "boom"
 *	garbage	bytes that are no frame
 *	silent	never answers the pid request (nor anything else)
 *	exit	exits with status 3 without answering
 *	stray	CONTINUE, then an unsolicited WRITE "STRAY"
 *	stop	the stop request ({"stop":true} data frame, rrtcp-protocol(7) 3.5)
 *		once, then echo
 *	env	writes its environment to $FAKE_ENV_OUT before the handshake,
 *		then echo
 *
 * The modes that misbehave (error, garbage, exit, stray, stop) do so only on
 * requests with a body; a request with an empty body (CONNECTED, CLOSE) gets
 * CONTINUE, so the misbehaviour lands on a DATA event.
 *
 * Environment:
 *	FAKE_RECORD	append every data frame it reads (the requests, not the
 *			control frames), raw, to this file
 *	FAKE_PIDS	append "<pid>\n" to this file at start
 *	FAKE_ENV_OUT	mode env: the file for the environment, one per line
 *	FAKE_DELAY_MS	stray: pause before the unsolicited frame
 *	FAKE_STOP_DELAY_MS  pause between the CLOSE answer to the stop command
 *			and the exit
 *	FAKE_ONCE	stop: a marker file, so that only the first worker of a
 *			pool asks to stop (its replacement then echoes)
 *
 * One line goes to stderr at start ("fake_worker pid=N mode=M") so the
 * tests can see the pool log worker output.  The worker gives up after 60 s
 * whatever happens, so a broken test never leaves it behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"

extern char **environ;

static const char *mode;
static uint8_t	*frame;		/* the request being read (global: no leak
				 * report when a mode exits mid-request) */

static void
die(const char *what)
{
	fprintf(stderr, "fake_worker: %s\n", what);
	exit(2);
}

/* Reads exactly n bytes: 1, or 0 on EOF before the first byte. */
static int
read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r > 0)
			got += (size_t)r;
		else if (r == 0) {
			if (got == 0)
				return 0;
			die("EOF inside a frame");
		} else if (errno != EINTR)
			die("read error");
	}
	return 1;
}

static void
write_full(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w > 0) {
			p = (const char *)p + w;
			n -= (size_t)w;
		} else if (w == -1 && errno != EINTR)
			exit(4);	/* the server closed the pipe */
	}
}

/* Writes one frame: the header and payload in a single write, as PHP does. */
static void
send_frame(uint8_t flags, const uint32_t *opts, unsigned nopts,
    const void *ctx, size_t ctxlen, const void *body, size_t bodylen)
{
	size_t plen = ctxlen + bodylen, hlen;
	uint8_t *f = malloc(FRAME_HDR_MAX + plen);

	if (f == NULL)
		die("out of memory");
	hlen = frame_encode_header(f, flags, 0, opts, nopts, (uint32_t)plen);
	if (ctxlen)
		memcpy(f + hlen, ctx, ctxlen);
	if (bodylen)
		memcpy(f + hlen + ctxlen, body, bodylen);
	write_full(1, f, hlen + plen);
	free(f);
}

static void
respond(const char *ctx, const void *body, size_t bodylen)
{
	uint32_t opt = (uint32_t)strlen(ctx);

	send_frame(0, &opt, 1, ctx, opt, body, bodylen);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
append_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd == -1)
		die("cannot open a FAKE_ file");
	write_full(fd, p, n);
	close(fd);
}

static void
dump_env(void)
{
	const char *path = getenv("FAKE_ENV_OUT");
	char *tmp;
	FILE *fp;

	if (path == NULL)
		die("mode env needs FAKE_ENV_OUT");
	/* Written aside and renamed: the test never sees half a file. */
	if (asprintf(&tmp, "%s.tmp", path) == -1 ||
	    (fp = fopen(tmp, "w")) == NULL)
		die("cannot write FAKE_ENV_OUT");
	for (char **e = environ; *e != NULL; e++)
		fprintf(fp, "%s\n", *e);
	if (fclose(fp) == EOF || rename(tmp, path) == -1)
		die("cannot write FAKE_ENV_OUT");
	free(tmp);
}

/* The first caller (across processes, with FAKE_ONCE) gets 1. */
static int
first_time(void)
{
	static int done;
	const char *path = getenv("FAKE_ONCE");
	int fd;

	if (path == NULL)
		return done++ == 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1)
		return 0;
	close(fd);
	return 1;
}

static void
on_data(const uint8_t *ctx, size_t ctxlen, const uint8_t *body,
    size_t bodylen)
{
	static const char stop[] = "{\"stop\":true}";

	(void)ctx;
	(void)ctxlen;
	if (strcmp(mode, "echo") == 0 || strcmp(mode, "env") == 0) {
		respond("WRITE", body, bodylen);
		return;
	}
	if (bodylen == 0) {
		respond("CONTINUE", NULL, 0);
		return;
	}
	if (strcmp(mode, "error") == 0)
		send_frame(FRAME_ERROR, NULL, 0, "boom", 4, NULL, 0);
	else if (strcmp(mode, "garbage") == 0) {
		static const char junk[] = "this is not a goridge frame\n";
		write_full(1, junk, sizeof(junk) - 1);
	} else if (strcmp(mode, "exit") == 0)
		exit(3);
	else if (strcmp(mode, "stray") == 0) {
		const char *d = getenv("FAKE_DELAY_MS");
		respond("CONTINUE", NULL, 0);
		if (d != NULL)
			sleep_ms(atoi(d));
		respond("WRITE", "STRAY", 5);
	} else if (strcmp(mode, "stop") == 0) {
		if (first_time()) {
			uint32_t opt = sizeof(stop) - 1;
			send_frame(0, &opt, 1, stop, opt, NULL, 0);
		} else
			respond("WRITE", body, bodylen);
	} else
		die("unknown mode");
}

int
main(int argc, char **argv)
{
	const char *d;

	if (argc < 2)
		die("usage: fake_worker mode");
	mode = argv[1];
	alarm(60);
	signal(SIGPIPE, SIG_DFL);
	if ((d = getenv("FAKE_PIDS")) != NULL) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
		append_file(d, line, (size_t)n);
	}
	if (strcmp(mode, "env") == 0)
		dump_env();
	fprintf(stderr, "fake_worker pid=%d mode=%s\n", (int)getpid(), mode);

	for (;;) {
		uint8_t hdr[FRAME_HDR_MAX], *p;
		uint32_t len, opts[FRAME_MAX_OPTS];
		size_t hl, nopts;
		const char *rec = getenv("FAKE_RECORD");

		if (!read_full(0, hdr, FRAME_HDR_MIN))
			return 0;	/* the server went away */
		hl = hdr[0] & 0x0f;
		if (hl < 3 || hl > 13)
			die("bad header length");
		nopts = hl - 3;
		memcpy(&len, hdr + 2, 4);	/* little-endian host */
		if ((p = realloc(frame, hl * 4 + len)) == NULL)
			die("out of memory");
		frame = p;
		memcpy(frame, hdr, FRAME_HDR_MIN);
		if (!read_full(0, frame + FRAME_HDR_MIN,
		    hl * 4 - FRAME_HDR_MIN + len))
			die("EOF inside a frame");
		if (rec != NULL && !(frame[1] & FRAME_CONTROL))
			append_file(rec, frame, hl * 4 + len);
		memcpy(opts, frame + FRAME_HDR_MIN, nopts * 4);

		if (frame[1] & FRAME_CONTROL) {
			int64_t pid;
			int rc = json_control((const char *)frame + hl * 4, len,
			    &pid);

			if (rc == 1) {
				/* TcpWorker answers the stop with CLOSE (3.6). */
				respond("CLOSE", NULL, 0);
				if ((d = getenv("FAKE_STOP_DELAY_MS")) != NULL)
					sleep_ms(atoi(d));
				free(frame);
				return 0;
			}
			if (rc != 0)
				die("undefined control package");
			if (strcmp(mode, "silent") != 0) {
				char body[32];
				int n = snprintf(body, sizeof(body),
				    "{\"pid\":%d}", (int)getpid());
				send_frame(FRAME_CONTROL, NULL, 0, body,
				    (size_t)n, NULL, 0);
			}
		} else if (strcmp(mode, "silent") != 0) {
			const uint8_t *payload = frame + hl * 4;

			if (nopts != 1 || opts[0] > len)
				die("data frame without a context length");
			on_data(payload, opts[0], payload + opts[0],
			    len - opts[0]);
		}
	}
}
