/*
 * test_loadgen.c - checks that loadgen counts replies by delimiter right when
 * the server splits and coalesces them in every possible way.
 *
 * An in-process test server (one blocking thread per connection) answers
 * each delimited message it receives, writing its replies byte by byte, all
 * coalesced in one write, in random chunks across reply boundaries, or with
 * the delimiter itself split over two writes.  loadgen runs as a child
 * process with -n; its RESULT line must show at least that many replies, no
 * more than the server started to write, and no errors.  Two negative cases check that
 * wrong-length replies and resets are counted, not fatal.
 *
 * Usage: test_loadgen path/to/loadgen.  Prints "N passed, M failed".
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum srv_mode {
	SRV_BYTES,		/* every reply byte in its own write */
	SRV_COALESCE,		/* all replies ready now in one write */
	SRV_RANDOM,		/* coalesced, then cut in 1..7 byte chunks */
	SRV_DELIMSPLIT,		/* reply minus its last byte, pause, last byte */
	SRV_SHORT,		/* replies one byte too short (negative) */
	SRV_DROP		/* close after 3 replies (negative) */
};

struct srv {
	enum srv_mode	 mode;
	int		 tricky;	/* last body byte = first delimiter byte */
	char		 delim[8];
	size_t		 dlen;
	const char	*greeting;	/* sent byte by byte on connect */
	atomic_ulong	 sent;		/* replies fully written */
	int		 lfd;
	int		 port;
};

struct cl {
	struct srv	*s;
	int		 fd;
};

static int npass, nfail;
static const char *loadgen;

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
write_bytes(int fd, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (write_all(fd, p + i, 1) < 0)
			return -1;
		/* Let each byte leave as its own segment. */
		usleep(100);
	}
	return 0;
}

static void *
client_thread(void *arg)
{
	struct cl *cl = arg;
	struct srv *s = cl->s;
	char in[65536], out[65536];
	size_t inlen = 0, outlen = 0;
	unsigned nout = 0, replies = 0;
	int fd = cl->fd, one = 1;

	free(cl);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->greeting != NULL &&
	    write_bytes(fd, s->greeting, strlen(s->greeting)) < 0)
		goto done;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *p;

		/*
		 * Coalescing modes wait briefly for more requests so several
		 * replies go out in one write.
		 */
		if (outlen > 0 && poll(&pfd, 1, 3) == 0) {
			/*
			 * Counted before the bytes leave: loadgen may count
			 * and exit before this thread runs again.
			 */
			atomic_fetch_add(&s->sent, nout);
			if (s->mode == SRV_RANDOM) {
				size_t off = 0;

				while (off < outlen) {
					size_t k = 1 + (size_t)(rand() % 7);

					if (k > outlen - off)
						k = outlen - off;
					if (write_all(fd, out + off, k) < 0)
						goto done;
					off += k;
					usleep(50);
				}
			} else if (write_all(fd, out, outlen) < 0)
				goto done;
			outlen = 0;
			nout = 0;
			continue;
		}
		n = read(fd, in + inlen, sizeof(in) - inlen);
		if (n <= 0)
			goto done;
		inlen += (size_t)n;
		while ((p = memmem(in, inlen, s->delim, s->dlen)) != NULL) {
			size_t len = (size_t)(p - in) + s->dlen;
			char rep[4096];

			if (len > sizeof(rep))
				goto done;
			memcpy(rep, in, len);
			if (s->tricky && len > s->dlen)
				rep[len - s->dlen - 1] = s->delim[0];
			inlen -= len;
			memmove(in, in + len, inlen);
			switch (s->mode) {
			case SRV_BYTES:
				atomic_fetch_add(&s->sent, 1);
				if (write_bytes(fd, rep, len) < 0)
					goto done;
				break;
			case SRV_COALESCE:
			case SRV_RANDOM:
				if (outlen + len > sizeof(out))
					goto done;
				memcpy(out + outlen, rep, len);
				outlen += len;
				nout++;
				break;
			case SRV_DELIMSPLIT:
				atomic_fetch_add(&s->sent, 1);
				if (write_all(fd, rep, len - 1) < 0)
					goto done;
				usleep(2000);
				if (write_all(fd, rep + len - 1, 1) < 0)
					goto done;
				break;
			case SRV_SHORT:
				/* Drop the first body byte. */
				atomic_fetch_add(&s->sent, 1);
				if (write_all(fd, rep + 1, len - 1) < 0)
					goto done;
				break;
			case SRV_DROP:
				atomic_fetch_add(&s->sent, 1);
				if (write_all(fd, rep, len) < 0)
					goto done;
				if (++replies == 3)
					goto done;
				break;
			}
		}
	}
done:
	close(fd);
	return NULL;
}

static void *
accept_thread(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		pthread_t t;
		struct cl *cl;
		int fd = accept(s->lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		cl = malloc(sizeof(*cl));
		if (cl == NULL) {
			close(fd);
			continue;
		}
		cl->s = s;
		cl->fd = fd;
		if (pthread_create(&t, NULL, client_thread, cl) != 0) {
			close(fd);
			free(cl);
			continue;
		}
		pthread_detach(t);
	}
}

/* Starts a server on an ephemeral loopback port; never stopped. */
static struct srv *
srv_start(enum srv_mode mode, const char *delim, int tricky,
    const char *greeting)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	pthread_t t;

	s->mode = mode;
	s->tricky = tricky;
	s->dlen = strlen(delim);
	memcpy(s->delim, delim, s->dlen);
	s->greeting = greeting;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, 128) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &alen) < 0) {
		perror("test_loadgen: listen");
		exit(1);
	}
	s->port = ntohs(a.sin_port);
	pthread_create(&t, NULL, accept_thread, s);
	pthread_detach(t);
	return s;
}

/* Value of key=... in a RESULT line, or -1. */
static long
field(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p == NULL ? -1 : atol(p + strlen(pat));
}

/* Runs loadgen against s with extra args; fills line with its RESULT. */
static int
run_loadgen(struct srv *s, const char *args, char *line, size_t cap)
{
	char cmd[1024];
	FILE *f;
	int found = 0;

	snprintf(cmd, sizeof(cmd), "%s -q -p %d %s", loadgen, s->port, args);
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, (int)cap, f) != NULL)
		if (strncmp(line, "RESULT ", 7) == 0) {
			found = 1;
			break;
		}
	pclose(f);
	return found ? 0 : -1;
}

static void
check(const char *name, int ok, const char *detail)
{
	if (ok) {
		npass++;
		printf("ok    %s\n", name);
	} else {
		nfail++;
		printf("FAIL  %s: %s\n", name, detail);
	}
}

/*
 * Positive case: loadgen -n want must finish with want <= msgs <= replies
 * the server wrote, and no errors at all.
 */
static void
expect_exact(const char *name, enum srv_mode mode, const char *delim,
    int tricky, const char *greeting, const char *args, long want)
{
	struct srv *s = srv_start(mode, delim, tricky, greeting);
	char line[2048], a2[512];
	long msgs, errs, sent;

	snprintf(a2, sizeof(a2), "%s -n %ld -t 30 -T 5", args, want);
	if (run_loadgen(s, a2, line, sizeof(line)) < 0) {
		check(name, 0, "no RESULT line");
		return;
	}
	msgs = field(line, "msgs");
	errs = field(line, "errors");
	sent = (long)atomic_load(&s->sent);
	if (msgs >= want && msgs <= sent && errs == 0)
		check(name, 1, NULL);
	else {
		char d[2300];

		snprintf(d, sizeof(d), "want %ld, server sent %ld: %s", want,
		    sent, line);
		check(name, 0, d);
	}
}

int
main(int argc, char **argv)
{
	struct srv *s;
	char line[2048];

	if (argc != 2) {
		fprintf(stderr, "usage: test_loadgen path/to/loadgen\n");
		return 2;
	}
	loadgen = argv[1];
	signal(SIGPIPE, SIG_IGN);
	srand(42);

	expect_exact("bytes_1conn", SRV_BYTES, "\r\n", 0, NULL,
	    "-c 1 -d 1 -s 16", 30);
	expect_exact("bytes_pipelined", SRV_BYTES, "\r\n", 0, NULL,
	    "-c 3 -d 2 -s 12", 60);
	expect_exact("coalesced_depth8", SRV_COALESCE, "\r\n", 0, NULL,
	    "-c 1 -d 8 -s 64", 800);
	expect_exact("coalesced_4conns_depth16", SRV_COALESCE, "\r\n", 0, NULL,
	    "-c 4 -d 16 -s 64", 5000);
	expect_exact("random_chunks", SRV_RANDOM, "\r\n", 0, NULL,
	    "-c 2 -d 4 -s 20", 400);
	expect_exact("delimiter_split", SRV_DELIMSPLIT, "\r\n", 0, NULL,
	    "-c 2 -d 1 -s 32", 50);
	expect_exact("crlf_after_cr_bytes", SRV_BYTES, "\r\n", 1, NULL,
	    "-c 1 -d 2 -s 10", 40);
	expect_exact("kmp_delim_aab_random", SRV_RANDOM, "aab", 1, NULL,
	    "-c 2 -d 3 -s 24 -D aab", 150);
	expect_exact("lf_delim_coalesced", SRV_COALESCE, "\n", 0, NULL,
	    "-c 2 -d 16 -s 4096 -D '\\n'", 2000);
	expect_exact("greeting_split", SRV_BYTES, "\r\n", 0, "220 hi\r\n",
	    "-c 2 -d 1 -s 16 -g", 40);
	expect_exact("churn_bytes", SRV_BYTES, "\r\n", 0, "220 hi\r\n",
	    "-C -c 2 -s 16 -g", 30);

	/* Idle mode: all connections open and greeted, then held. */
	s = srv_start(SRV_BYTES, "\r\n", 0, "220 hi\r\n");
	if (run_loadgen(s, "-I -g -c 20 -t 0.2", line, sizeof(line)) == 0)
		check("idle_20", field(line, "open") == 20 &&
		    field(line, "conn_fail") == 0, line);
	else
		check("idle_20", 0, "no RESULT line");

	/* Negative: replies of the wrong length are counted as short. */
	s = srv_start(SRV_SHORT, "\r\n", 0, NULL);
	if (run_loadgen(s, "-c 1 -n 20 -t 10", line, sizeof(line)) == 0)
		check("short_counted", field(line, "short") >= 20 &&
		    field(line, "msgs") >= 20, line);
	else
		check("short_counted", 0, "no RESULT line");

	/* Negative: a server that hangs up is a reset, then a reconnect. */
	s = srv_start(SRV_DROP, "\r\n", 0, NULL);
	if (run_loadgen(s, "-c 1 -n 12 -t 10", line, sizeof(line)) == 0)
		check("reset_counted", field(line, "resets") >= 3 &&
		    field(line, "msgs") >= 12, line);
	else
		check("reset_counted", 0, "no RESULT line");

	printf("%d passed, %d failed\n", npass, nfail);
	return nfail == 0 ? 0 : 1;
}
